"""Streamed calls: the caller sees exactly the SDK's chunks; the record finishes once, however it ends."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import openai
import pytest

from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, http, make_client, sse, sse_reply

MESSAGES = [{"role": "user", "content": "Stream please"}]
USAGE = {
    "prompt_tokens": 21,
    "completion_tokens": 6,
    "total_tokens": 27,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 0},
}


def streaming_handler(choices: int = 1) -> Recorder:
    """Replies like OpenAI: a usage chunk only when the request asked for it."""

    def reply(body: dict[str, Any], request: Any) -> Any:
        wants_usage = (body.get("stream_options") or {}).get("include_usage") is True
        chunks = payloads.chat_chunks(
            choices=choices, usage=USAGE if wants_usage else None, usage_null_on_chunks=wants_usage
        )
        return sse_reply(sse(chunks))

    return Recorder(reply)


def contents(chunks: list[Any]) -> list[str]:
    return [c.choices[0].delta.content or "" for c in chunks if c.choices]


def test_stream_on_openai_gets_usage_and_hides_the_added_chunk(instrumented: Telemetry) -> None:
    handler = streaming_handler()
    client = make_client(handler)

    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)

    assert handler.bodies[0]["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks), "the usage-only chunk we caused must stay hidden"
    assert "".join(contents(chunks)) == "Hello!"
    span = instrumented.span()
    attrs: dict[str, Any] = dict(span.attributes or {})
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 8
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.response.model"] == "gpt-4.1-2025-04-14"
    assert attrs["gen_ai.response.id"] == "chatcmpl-stream1"
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert attrs["tokentrace.stream.end"] == "completed"
    assert attrs["tokentrace.stream.usage_injected"] is True
    metrics = instrumented.metrics()
    assert metrics["gen_ai.client.operation.time_to_first_chunk"][0].count == 1
    assert sum(p.sum for p in metrics["gen_ai.client.token.usage"]) == 27


def test_caller_usage_request_is_left_alone(instrumented: Telemetry) -> None:
    handler = streaming_handler()
    client = make_client(handler)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 27  # theirs: they see it
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert "tokentrace.stream.usage_injected" not in attrs


def test_unknown_host_in_auto_mode_is_not_sent_extra_fields(instrumented: Telemetry) -> None:
    handler = streaming_handler()
    client = make_client(handler, base_url="http://gateway.internal:8080/v1")
    list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    assert "stream_options" not in handler.bodies[0]
    attrs = dict(instrumented.span().attributes or {})
    assert "gen_ai.usage.input_tokens" not in attrs  # no usage from the provider: none reported
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert "gen_ai.client.token.usage" not in instrumented.metrics()


def test_user_listed_host_gets_usage(instrument: Any, telemetry: Telemetry) -> None:
    instrument(stream_usage_hosts=["gateway.internal"])
    handler = streaming_handler()
    client = make_client(handler, base_url="http://gateway.internal:8080/v1")
    list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    assert handler.bodies[0]["stream_options"] == {"include_usage": True}
    assert dict(telemetry.span().attributes or {})["gen_ai.usage.input_tokens"] == 21


@pytest.mark.parametrize(("policy", "asked"), [("never", False), ("always", True)])
def test_stream_usage_policy(instrument: Any, telemetry: Telemetry, policy: str, asked: bool) -> None:
    instrument(stream_usage=policy)
    handler = streaming_handler()
    client = make_client(handler, base_url="http://gateway.internal:8080/v1")
    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    assert ("stream_options" in handler.bodies[0]) is asked
    assert all(c.choices for c in chunks)
    assert ("gen_ai.usage.input_tokens" in dict(telemetry.span().attributes or {})) is asked


def test_caller_stream_options_dict_is_not_mutated(instrument: Any, telemetry: Telemetry) -> None:
    instrument(stream_usage="always")
    handler = streaming_handler()
    client = make_client(handler)
    options = {"include_usage": False}
    list(
        client.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options=options
        )
    )
    assert options == {"include_usage": False}
    assert handler.bodies[0]["stream_options"] == {"include_usage": True}


def test_n_choices_finish_reasons_in_index_order(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler(choices=2))
    list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True, n=2))
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.response.finish_reasons"] == ("stop", "length")


def test_break_then_close_finishes_once(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler())
    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    for _ in stream:
        break
    assert instrumented.spans() == []
    stream.close()
    stream.close()
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["tokentrace.stream.end"] == "closed"
    assert "gen_ai.usage.input_tokens" not in attrs
    assert len(instrumented.metrics()["gen_ai.client.operation.duration"]) == 1


def test_loop_stopped_early_then_resumed_reads_on_and_finishes_once(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler())
    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    seen = [next(stream)]  # next() and for loops share one position, as on the SDK's stream
    for chunk in stream:
        seen.append(chunk)
        break
    assert instrumented.spans() == []
    seen += list(stream)
    assert "".join(contents(seen)) == "Hello!"
    assert [c for c in seen if not c.choices] == []  # the added usage chunk stays hidden
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["tokentrace.stream.end"] == "completed"
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert list(stream) == []
    assert len(instrumented.spans()) == 1


def test_with_block_exit_finishes(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler())
    with client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True) as stream:
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
    assert dict(instrumented.span().attributes or {})["tokentrace.stream.end"] == "closed"


def test_abandoned_stream_is_finished_when_collected(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler())
    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    next(stream)
    del stream
    gc.collect()
    assert dict(instrumented.span().attributes or {})["tokentrace.stream.end"] == "abandoned"


def test_error_mid_stream_reaches_caller_and_span(instrumented: Telemetry) -> None:
    body = (
        sse(payloads.chat_chunks()[:2], done=False)
        + b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    )
    client = make_client(Recorder(lambda b, r: sse_reply(body)))
    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError):
        list(stream)
    span = instrumented.span()
    assert dict(span.attributes or {})["tokentrace.stream.end"] == "error"
    assert span.status.status_code.name == "ERROR"


def test_stream_helper_manager(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler())
    stream_method = getattr(client.chat.completions, "stream", None) or client.beta.chat.completions.stream
    with stream_method(model="gpt-4.1", messages=MESSAGES) as stream:
        text = "".join(e.delta for e in stream if e.type == "content.delta")
    assert text == "Hello!"
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert attrs["tokentrace.stream.end"] == "completed"


async def test_async_stream(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler(), async_=True)
    stream = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    chunks = [chunk async for chunk in stream]
    assert "".join(contents(chunks)) == "Hello!"
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["tokentrace.stream.end"] == "completed"


async def test_async_loop_stopped_early_then_resumed_finishes_once(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler(), async_=True)
    stream = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    seen = [await stream.__anext__()]
    async for chunk in stream:
        seen.append(chunk)
        break
    assert instrumented.spans() == []
    seen += [chunk async for chunk in stream]
    assert "".join(contents(seen)) == "Hello!"
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["tokentrace.stream.end"] == "completed"
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert len(instrumented.spans()) == 1


async def test_async_stream_close_and_context_manager(instrumented: Telemetry) -> None:
    client = make_client(streaming_handler(), async_=True)
    async with await client.chat.completions.create(
        model="gpt-4.1", messages=MESSAGES, stream=True
    ) as stream:
        async for _ in stream:
            break
    stream2 = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    await stream2.close()
    ends = sorted(str(dict(s.attributes or {})["tokentrace.stream.end"]) for s in instrumented.spans())
    assert ends == ["closed", "closed"]


async def test_async_stream_cancelled(instrumented: Telemetry) -> None:
    gate = asyncio.Event()

    class SlowStream(http.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield sse(payloads.chat_chunks()[:1], done=False)
            gate.set()
            await asyncio.sleep(30)
            yield b""

    client = make_client(
        Recorder(
            lambda b, r: http.Response(
                200, stream=SlowStream(), headers={"content-type": "text/event-stream"}
            )
        ),
        async_=True,
    )

    async def consume() -> None:
        stream = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    await gate.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert dict(instrumented.span().attributes or {})["tokentrace.stream.end"] == "cancelled"


def test_legacy_completions_stream(instrumented: Telemetry) -> None:
    chunks = [
        {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct",
         "choices": [{"text": "Hi", "index": 0, "logprobs": None, "finish_reason": None}]},
        {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct",
         "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "length"}]},
    ]  # fmt: skip
    handler = Recorder(lambda b, r: sse_reply(sse(chunks)))
    client = make_client(handler)
    list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say", stream=True))
    assert "stream_options" not in handler.bodies[0]  # auto mode adds it to chat completions only
    span = instrumented.span()
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    assert dict(span.attributes or {})["gen_ai.response.finish_reasons"] == ("length",)


def test_stream_content_capture_opt_in(instrument: Any, telemetry: Telemetry) -> None:
    import json

    instrument(capture_content=True)
    client = make_client(streaming_handler(choices=2))
    list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True, n=2))
    attrs = dict(telemetry.span().attributes or {})
    output = json.loads(str(attrs["gen_ai.output.messages"]))
    assert [m["parts"][0]["content"] for m in output] == ["Hello!", "Hello!"]
    assert json.loads(str(attrs["gen_ai.input.messages"]))[0]["parts"][0]["content"] == "Stream please"


def test_azure_stream_with_prompt_filter_chunk_first(instrumented: Telemetry) -> None:
    from tests.sdk.mock_transport import make_azure_client

    filter_chunk = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    }
    chunks = [filter_chunk, *payloads.chat_chunks(model="gpt-4o-2024-11-20", usage=USAGE)]
    client = make_azure_client(Recorder(lambda b, r: sse_reply(sse(chunks))))
    list(client.chat.completions.create(model="prod-chat", messages=MESSAGES, stream=True))
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-11-20"
    assert attrs["gen_ai.response.id"] == "chatcmpl-stream1"
    assert attrs["gen_ai.usage.input_tokens"] == 21


def test_groq_usage_in_x_groq(instrumented: Telemetry) -> None:
    chunks = payloads.chat_chunks(model="llama-3.3-70b-versatile")
    chunks[-1]["x_groq"] = {
        "id": "req_01",
        "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45},
    }
    handler = Recorder(lambda b, r: sse_reply(sse(chunks)))
    client = make_client(handler, base_url="https://api.groq.com/openai/v1")
    list(client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MESSAGES, stream=True))
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.provider.name"] == "groq"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (40, 5)


def test_usage_on_last_content_chunk_is_not_hidden(instrumented: Telemetry) -> None:
    """Gemini and Mistral put usage on a chunk that also has choices: the caller must still get it."""
    chunks = payloads.chat_chunks(model="gemini-2.5-flash")
    chunks[-1]["usage"] = {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}
    client = make_client(
        Recorder(lambda b, r: sse_reply(sse(chunks))),
        base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
    )
    got = list(client.chat.completions.create(model="gemini-2.5-flash", messages=MESSAGES, stream=True))
    assert len(got) == len(chunks)
    assert dict(instrumented.span().attributes or {})["gen_ai.usage.input_tokens"] == 8
