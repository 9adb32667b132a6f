"""Embeddings, legacy completions and the Responses API through the real SDK."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client, sse, sse_reply

needs_responses_api = pytest.mark.skipif(
    not hasattr(openai.OpenAI, "responses"), reason="this openai SDK predates the Responses API"
)


def test_embeddings(instrumented: Telemetry) -> None:
    client = make_client(Recorder(lambda b, r: json_reply(payloads.embeddings())))
    result = client.embeddings.create(
        model="text-embedding-3-small", input=["a", "b"], encoding_format="float"
    )
    assert len(result.data) == 2
    span = instrumented.span()
    attrs = dict(span.attributes or {})
    assert span.name == "embeddings text-embedding-3-small"
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.request.encoding_formats"] == ("float",)
    assert attrs["gen_ai.usage.input_tokens"] == 8
    assert "gen_ai.usage.output_tokens" not in attrs
    assert attrs["gen_ai.response.model"] == "text-embedding-3-small"
    tokens = instrumented.metrics()["gen_ai.client.token.usage"]
    assert [(p.attributes["gen_ai.token.type"], p.sum) for p in tokens] == [("input", 8)]


async def test_async_embeddings(instrumented: Telemetry) -> None:
    client = make_client(Recorder(lambda b, r: json_reply(payloads.embeddings())), async_=True)
    await client.embeddings.create(model="text-embedding-3-small", input="a")
    assert dict(instrumented.span().attributes or {})["gen_ai.usage.input_tokens"] == 8


def test_legacy_completions(instrumented: Telemetry) -> None:
    client = make_client(Recorder(lambda b, r: json_reply(payloads.legacy_completion())))
    client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say this is a test", max_tokens=7)
    span = instrumented.span()
    attrs = dict(span.attributes or {})
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    assert attrs["gen_ai.operation.name"] == "text_completion"
    assert attrs["gen_ai.request.max_tokens"] == 7
    assert attrs["gen_ai.response.finish_reasons"] == ("length",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (5, 7)


@needs_responses_api
def test_responses_create(instrumented: Telemetry) -> None:
    client = make_client(Recorder(lambda b, r: json_reply(payloads.responses_object())))
    result = client.responses.create(
        model="gpt-4o", input="Say hello", max_output_tokens=100, temperature=0.5
    )
    assert result.output_text == "Hello there!"
    span = instrumented.span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-4o"
    assert attrs["openai.api.type"] == "responses"
    assert attrs["gen_ai.request.max_tokens"] == 100
    assert attrs["gen_ai.response.id"] == "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c9c57dc8"
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == 328
    assert attrs["gen_ai.usage.output_tokens"] == 52
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 128
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 16


@needs_responses_api
def test_responses_function_call_and_incomplete(instrumented: Telemetry) -> None:
    replies = [payloads.responses_object(function_call=True), payloads.responses_object(status="incomplete")]
    client = make_client(Recorder(lambda b, r: json_reply(replies.pop(0))))
    client.responses.create(model="gpt-4o", input="Weather?")
    client.responses.create(model="gpt-4o", input="Long essay")
    reasons = [dict(s.attributes or {})["gen_ai.response.finish_reasons"] for s in instrumented.spans()]
    assert reasons == [("tool_calls",), ("length",)]


@needs_responses_api
def test_responses_stream(instrumented: Telemetry) -> None:
    handler = Recorder(lambda b, r: sse_reply(sse(payloads.responses_events(), done=False, named=True)))
    client = make_client(handler)
    events = list(client.responses.create(model="gpt-4o", input="Say hello", stream=True))
    assert [e.type for e in events][-1] == "response.completed"
    assert "stream_options" not in handler.bodies[0]
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 328
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attrs["tokentrace.stream.end"] == "completed"


@needs_responses_api
def test_responses_stream_helper(instrumented: Telemetry) -> None:
    client = make_client(
        Recorder(lambda b, r: sse_reply(sse(payloads.responses_events(), done=False, named=True)))
    )
    with client.responses.stream(model="gpt-4o", input="Say hello") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.usage is not None and final.usage.total_tokens == 380
    assert dict(instrumented.span().attributes or {})["gen_ai.usage.output_tokens"] == 52


@needs_responses_api
async def test_async_responses_stream(instrumented: Telemetry) -> None:
    client = make_client(
        Recorder(lambda b, r: sse_reply(sse(payloads.responses_events(), done=False, named=True))),
        async_=True,
    )
    stream = await client.responses.create(model="gpt-4o", input="Say hello", stream=True)
    types = [event.type async for event in stream]
    assert types[0] == "response.created"
    assert dict(instrumented.span().attributes or {})["gen_ai.usage.input_tokens"] == 328


def test_latest_semconv_opt_in(instrument: Any, telemetry: Telemetry, monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_latest_experimental")
    instrument()
    client = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat(cached=4, reasoning=2))))
    client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    client = make_client(Recorder(lambda b, r: json_reply(payloads.embeddings())))
    client.embeddings.create(model="text-embedding-3-small", input="a")
    metrics = telemetry.metrics()
    assert "gen_ai.client.token.usage" not in metrics
    assert "gen_ai.client.operation.duration" not in metrics
    assert metrics["gen_ai.client.inference.duration"][0].count == 1
    assert metrics["gen_ai.client.embeddings.duration"][0].count == 1
    assert metrics["gen_ai.client.inference.operation.input_tokens"][0].sum == 19
    assert metrics["gen_ai.client.embeddings.operation.input_tokens"][0].sum == 8
    assert metrics["gen_ai.client.inference.usage.cache_read.input_tokens"][0].value == 4
    assert metrics["gen_ai.client.inference.usage.reasoning.output_tokens"][0].value == 2
    point = metrics["gen_ai.client.inference.usage.input_tokens"][0]
    assert point.value == 19 and point.attributes["gen_ai.token.modality"] == "unknown"
