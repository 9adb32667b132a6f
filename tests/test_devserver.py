"""The local OpenAI-compatible dev server, driven by the real openai SDK and plain HTTP clients."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import math
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import requests
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.responses import FunctionToolParam

from tokentrace.demo import server as devserver
from tokentrace.demo.server import DevServer

SYSTEM: ChatCompletionSystemMessageParam = {"role": "system", "content": "You are terse."}  # 3 + 3 tokens
USER: ChatCompletionUserMessageParam = {"role": "user", "content": "Say hello to the team"}  # 3 + 5 tokens
PROMPT_TOKENS = 14
REPLY = "Reply 1: Say hello to the team"  # 7 tokens
WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer() as running:
        yield running


@pytest.fixture
def client(server: DevServer) -> Iterator[openai.OpenAI]:
    # Strict validation: every answer must parse into the SDK's typed models without leniency.
    with openai.OpenAI(
        base_url=server.base_url, api_key="test", max_retries=0, _strict_response_validation=True
    ) as sdk:
        yield sdk


def _sse_data(text: str) -> list[Any]:
    """The ``data:`` payloads of an SSE body, ``[DONE]`` kept as a string."""
    payloads: list[Any] = []
    for event in text.split("\n\n"):
        for line in event.splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                payloads.append(data if data == "[DONE]" else json.loads(data))
    return payloads


def _ask(client: openai.OpenAI) -> str | None:
    """The text answer to the standard question."""
    return client.chat.completions.create(model="gpt-4.1", messages=[USER]).choices[0].message.content


# -- chat completions ---------------------------------------------------------------------------


def test_chat_completion_reports_documented_usage_and_dated_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4.1", messages=[SYSTEM, USER])

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4.1-2025-04-14"
    assert completion.system_fingerprint is not None
    assert completion.system_fingerprint.startswith("fp_")
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (PROMPT_TOKENS, 7, 21)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_answers_are_deterministic_across_servers() -> None:
    bodies = []
    for _ in range(2):
        with DevServer() as fresh:
            response = httpx.post(
                fresh.base_url + "/chat/completions", json={"model": "gpt-4o", "messages": [USER]}
            )
            body = response.json()
            del body["created"]
            bodies.append(body)
    assert bodies[0] == bodies[1]


def test_unknown_model_is_echoed(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="my-finetune", messages=[USER])
    assert completion.model == "my-finetune"


def test_n_choices_come_in_index_order(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=[USER], n=2)

    assert [c.index for c in completion.choices] == [0, 1]
    assert completion.choices[1].message.content == "Reply 2: Say hello to the team"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 14


def test_tools_make_the_first_choice_call_a_tool(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4.1",
        messages=[{"role": "user", "content": "What is the weather in Paris"}],
        tools=[WEATHER_TOOL],
        n=2,
    )

    first, second = completion.choices
    assert first.finish_reason == "tool_calls"
    assert first.message.content is None
    assert first.message.tool_calls is not None
    call = first.message.tool_calls[0]
    assert call.id.startswith("call_")
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "demo"}
    assert second.finish_reason == "stop"
    assert completion.usage is not None
    # 3 + 6 words + 10 for the tool definition; arguments {"city": "demo"} are 5 JSON tokens + 8 words.
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (19, 13)


def test_tool_choice_none_answers_in_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4.1",
        messages=[USER],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == REPLY


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_output_limit_truncates_with_finish_reason_length(client: openai.OpenAI, limit: str) -> None:
    completion = client.chat.completions.create(
        model="gpt-4.1",
        messages=[USER],
        **{limit: 3},  # type: ignore[call-overload]
    )
    assert completion.choices[0].message.content == "Reply 1: Say"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_reasoning_models_report_reasoning_tokens(client: openai.OpenAI) -> None:
    default = client.chat.completions.create(model="o4-mini", messages=[USER])
    low = client.chat.completions.create(model="o3", messages=[USER], reasoning_effort="low")
    starved = client.chat.completions.create(model="o4-mini", messages=[USER], max_completion_tokens=10)

    assert default.model == "o4-mini-2025-04-16"
    assert default.usage is not None
    assert default.usage.completion_tokens_details is not None
    assert default.usage.completion_tokens_details.reasoning_tokens == 16
    assert default.usage.completion_tokens == 16 + 7
    assert low.usage is not None
    assert low.usage.completion_tokens_details is not None
    assert low.usage.completion_tokens_details.reasoning_tokens == 8
    # Thinking spends the whole budget: no visible answer, like a real o-series model.
    assert starved.choices[0].message.content == ""
    assert starved.choices[0].finish_reason == "length"
    assert starved.usage is not None
    assert starved.usage.completion_tokens == 10


def test_a_long_first_message_is_served_from_the_prompt_cache(client: openai.OpenAI) -> None:
    system = {"role": "system", "content": " ".join(["policy"] * 40)}
    completion = client.chat.completions.create(model="gpt-4.1", messages=[system, USER])  # type: ignore[list-item]

    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 43 + 8
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 43


# -- chat streams -------------------------------------------------------------------------------


def test_stream_without_include_usage_has_no_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=[USER], stream=True))

    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == REPLY
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert {c.id for c in chunks} == {chunks[0].id}
    assert chunks[0].model == "gpt-4.1-2025-04-14"


def test_stream_with_include_usage_ends_with_a_usage_only_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1", messages=[SYSTEM, USER], n=2, stream=True, stream_options={"include_usage": True}
        )
    )

    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (PROMPT_TOKENS, 14)
    finishes = [
        (c.choices[0].index, c.choices[0].finish_reason) for c in chunks[:-1] if c.choices[0].finish_reason
    ]
    assert finishes == [(0, "stop"), (1, "stop")]
    texts = [
        "".join(c.choices[0].delta.content or "" for c in chunks[:-1] if c.choices[0].index == i)
        for i in (0, 1)
    ]
    assert texts == [REPLY, "Reply 2: Say hello to the team"]


def test_stream_wire_format_matches_openai(server: DevServer) -> None:
    body = {"model": "gpt-4.1", "messages": [USER], "stream": True}
    plain = httpx.post(server.base_url + "/chat/completions", json=body)
    with_usage = httpx.post(
        server.base_url + "/chat/completions", json={**body, "stream_options": {"include_usage": True}}
    )

    assert plain.headers["content-type"].startswith("text/event-stream")
    assert plain.headers["transfer-encoding"] == "chunked"
    assert plain.text.endswith("data: [DONE]\n\n")
    chunks = _sse_data(plain.text)[:-1]
    assert all("usage" not in chunk for chunk in chunks)
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    # With include_usage every chunk carries "usage": null except the last, usage-only one.
    usage_chunks = _sse_data(with_usage.text)[:-1]
    assert [chunk["usage"] for chunk in usage_chunks[:-1]] == [None] * (len(usage_chunks) - 1)
    assert usage_chunks[-1]["choices"] == []
    assert usage_chunks[-1]["usage"]["total_tokens"] == 8 + 7


def test_tool_call_streams_in_argument_fragments(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1",
            messages=[USER],
            tools=[WEATHER_TOOL],
            stream=True,
        )
    )
    first = chunks[0].choices[0].delta.tool_calls
    assert first is not None
    assert first[0].function is not None
    assert first[0].function.name == "get_weather"
    arguments = "".join(
        (c.choices[0].delta.tool_calls or [])[0].function.arguments or ""  # type: ignore[union-attr]
        for c in chunks
        if c.choices[0].delta.tool_calls
    )
    assert json.loads(arguments) == {"city": "demo"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_stream_events_are_flushed_as_written(server: DevServer) -> None:
    server.script(devserver.default(interval=0.05))
    arrivals = []
    with httpx.stream(
        "POST",
        server.base_url + "/chat/completions",
        json={"model": "gpt-4.1", "messages": [USER], "stream": True},
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
    assert len(arrivals) == 10  # role, 7 words, finish, [DONE]
    assert arrivals[-1] - arrivals[0] > 0.35


async def test_async_client_chat_and_stream(server: DevServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="test", max_retries=0, _strict_response_validation=True
    ) as client:
        completion = await client.chat.completions.create(model="gpt-4.1", messages=[USER])
        stream = await client.chat.completions.create(
            model="gpt-4.1", messages=[USER], stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]

    assert completion.choices[0].message.content == REPLY
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15


# -- legacy completions, embeddings, models -----------------------------------------------------


def test_legacy_completions(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["a b c", "d"], n=2)

    assert completion.object == "text_completion"
    assert completion.id.startswith("cmpl-")
    assert [c.text for c in completion.choices] == [
        "Reply 1: a b c",
        "Reply 2: a b c",
        "Reply 1: d",
        "Reply 2: d",
    ]
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 16)


def test_legacy_completions_stop_at_16_tokens_by_default(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=" ".join(["word"] * 20))
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == devserver.LEGACY_DEFAULT_MAX_TOKENS


def test_legacy_completion_stream_with_usage(server: DevServer) -> None:
    # Not strict: the SDK types stream chunks as Completion, whose finish_reason may not be null,
    # yet OpenAI sends null on every chunk but the last of each choice.
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        chunks = list(
            client.completions.create(
                model="gpt-3.5-turbo-instruct",
                prompt="a b",
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Reply 1: a b"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 2 + 4


def test_embeddings_honour_dimensions_and_encoding(server: DevServer) -> None:
    # Not strict: the SDK asks for base64 by default and validates before decoding it.
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        decoded = client.embeddings.create(
            model="text-embedding-3-small", input=["hello world", "x"], dimensions=4
        )
        floats = client.embeddings.create(
            model="text-embedding-3-small", input=["hello world", "x"], dimensions=4, encoding_format="float"
        )
        default_size = client.embeddings.create(model="text-embedding-3-small", input="hello world")

    assert [e.embedding for e in decoded.data] == [e.embedding for e in floats.data]
    assert [len(e.embedding) for e in floats.data] == [4, 4]
    assert math.isclose(sum(v * v for v in floats.data[0].embedding), 1.0, rel_tol=1e-5)
    assert len(default_size.data[0].embedding) == devserver.DEFAULT_EMBEDDING_DIMENSIONS
    assert default_size.data[0].embedding == floats.data[0].embedding[:0] + default_size.data[0].embedding
    assert floats.model == "text-embedding-3-small"
    assert (floats.usage.prompt_tokens, floats.usage.total_tokens) == (3, 3)
    raw = httpx.post(
        server.base_url + "/embeddings",
        json={
            "model": "text-embedding-3-small",
            "input": "hello world",
            "dimensions": 4,
            "encoding_format": "base64",
        },
    ).json()
    vector = struct.unpack("<4f", base64.b64decode(raw["data"][0]["embedding"]))
    assert list(vector) == floats.data[0].embedding


def test_models_list(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert "gpt-4.1" in [m.id for m in models.data]
    assert client.models.retrieve("o3").id == "o3"


# -- responses API ------------------------------------------------------------------------------


def test_responses_plain(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4.1", input="Tell me a joke", instructions="Be brief")

    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-4.1-2025-04-14"
    assert response.output_text == "Reply 1: Tell me a joke"
    assert response.output[0].type == "message"
    assert response.output[0].id.startswith("msg_")
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (5 + 7, 6, 18)
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_responses_reasoning_model_and_output_limit(client: openai.OpenAI) -> None:
    thinking = client.responses.create(model="o3", input="Tell me a joke")
    cut = client.responses.create(model="gpt-4.1", input="Tell me a joke", max_output_tokens=2)

    assert [item.type for item in thinking.output] == ["reasoning", "message"]
    assert thinking.usage is not None
    assert thinking.usage.output_tokens_details.reasoning_tokens == 16
    assert thinking.usage.output_tokens == 16 + 6
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output_text == "Reply 1:"


def test_responses_function_call(client: openai.OpenAI) -> None:
    tool: FunctionToolParam = {
        "type": "function",
        "name": "get_weather",
        "parameters": WEATHER_TOOL["function"].get("parameters"),
        "strict": True,
    }
    response = client.responses.create(model="gpt-4.1", input="Weather?", tools=[tool])

    call = response.output[0]
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "demo"}
    assert call.call_id.startswith("call_")


def test_responses_stream_event_sequence(client: openai.OpenAI, server: DevServer) -> None:
    events = list(client.responses.create(model="gpt-4.1", input="Tell me a joke", stream=True))

    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 6,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Reply 1: Tell me a joke"
    created, completed = events[0], events[-1]
    assert created.type == "response.created"
    assert created.response.usage is None
    assert completed.type == "response.completed"
    assert completed.response.usage is not None
    assert completed.response.usage.total_tokens == 7 + 6
    raw = httpx.post(server.base_url + "/responses", json={"model": "gpt-4.1", "input": "hi", "stream": True})
    first = raw.text.split("\n\n")[0].splitlines()
    assert first[0] == "event: response.created"
    assert json.loads(first[1].removeprefix("data: "))["type"] == "response.created"
    assert "[DONE]" not in raw.text


# -- providers ----------------------------------------------------------------------------------


def test_azure_deployment_paths_answer_like_azure(server: DevServer) -> None:
    with openai.AzureOpenAI(
        azure_endpoint=server.origin, api_version="2024-10-21", api_key="test", max_retries=0
    ) as azure:
        completion = azure.chat.completions.create(model="prod-chat", messages=[USER])
        chunks = list(
            azure.chat.completions.create(
                model="gpt-4o-mini", messages=[USER], stream=True, stream_options={"include_usage": True}
            )
        )
        embedding = azure.embeddings.create(model="embedder", input="hi there", encoding_format="float")

    request = server.requests[0]
    assert request.path == "/openai/deployments/prod-chat/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert completion.model == "gpt-4o-2024-11-20"
    extra = completion.model_extra or {}
    assert extra["prompt_filter_results"][0]["content_filter_results"]["jailbreak"]["detected"] is False
    choice_extra = completion.choices[0].model_extra or {}
    assert choice_extra["content_filter_results"]["hate"]["severity"] == "safe"
    # Azure's first chunk announces the prompt filter results, with nothing else in it.
    assert chunks[0].choices == []
    assert chunks[0].model == ""
    assert chunks[1].model == "gpt-4o-mini-2024-07-18"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15
    assert embedding.model == "text-embedding-3-small"


def test_azure_deployment_mapping_and_missing_api_version() -> None:
    with DevServer(azure_deployments={"prod-chat": "gpt-4.1"}) as server:
        with openai.AzureOpenAI(
            azure_endpoint=server.origin, api_version="2024-10-21", api_key="test", max_retries=0
        ) as azure:
            completion = azure.chat.completions.create(model="prod-chat", messages=[USER])
        missing = httpx.post(
            server.origin + "/openai/deployments/prod-chat/chat/completions", json={"messages": [USER]}
        )
    assert completion.model == "gpt-4.1-2025-04-14"
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_openrouter_flavor_reports_cost() -> None:
    with (
        DevServer(flavor="openrouter") as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(model="anthropic/claude-sonnet-4.5", messages=[USER])
        chunks = list(client.chat.completions.create(model="openai/gpt-4o", messages=[USER], stream=True))

    assert server.base_url.endswith("/api/v1")
    assert completion.id.startswith("gen-")
    assert completion.model == "anthropic/claude-sonnet-4.5"
    assert (completion.model_extra or {})["provider"] == "Anthropic"
    usage = completion.usage
    assert usage is not None
    usage_extra = usage.model_extra or {}
    assert usage_extra["is_byok"] is False
    # $1/M input, $4/M output.
    assert math.isclose(usage_extra["cost"], 8 * 1e-6 + 7 * 4e-6)
    # OpenRouter always ends a stream with usage, asked or not.
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None


def test_vllm_flavor_has_no_fingerprint_or_details() -> None:
    with DevServer(flavor="vllm") as server:
        body = httpx.post(
            server.base_url + "/chat/completions",
            json={"model": "meta-llama/Llama-3.1-8B", "messages": [USER]},
        ).json()
    assert "system_fingerprint" not in body
    assert body["model"] == "meta-llama/Llama-3.1-8B"
    assert body["usage"]["prompt_tokens_details"] is None
    assert body["choices"][0]["stop_reason"] is None


def test_gemini_flavor_counts_thinking_only_in_total() -> None:
    with (
        DevServer(flavor="gemini") as server,
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(model="gemini-2.5-flash", messages=[USER])
        chunks = list(
            client.chat.completions.create(
                model="gemini-2.5-flash", messages=[USER], stream=True, stream_options={"include_usage": True}
            )
        )

    assert server.requests[0].path == "/v1beta/openai/chat/completions"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (8, 7, 8 + 7 + 16)
    assert usage.prompt_tokens_details is None
    # Gemini repeats a running usage on every chunk; the last one, with the finish reason, is final.
    assert all(chunk.usage is not None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage == usage


# -- scripted replies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_scripted_status_maps_to_sdk_errors(
    server: DevServer, client: openai.OpenAI, code: int, error: type[openai.APIStatusError]
) -> None:
    server.script(devserver.status(code))
    with pytest.raises(error) as raised:
        client.chat.completions.create(model="gpt-4.1", messages=[USER])
    assert raised.value.status_code == code
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["message"]
    if code == 429:
        assert raised.value.response.headers["retry-after"] == "1"
        assert raised.value.code == "rate_limit_exceeded"


def test_scripted_replies_are_fifo_then_default(server: DevServer, client: openai.OpenAI) -> None:
    canned = client.chat.completions.create(model="x", messages=[USER]).model_dump(mode="json")
    canned["choices"][0]["message"]["content"] = "canned"
    server.script(devserver.status(500, message="boom"), devserver.json(canned))

    with pytest.raises(openai.InternalServerError, match="boom"):
        client.chat.completions.create(model="gpt-4.1", messages=[USER])
    assert _ask(client) == "canned"
    assert _ask(client) == REPLY


def test_scripted_raw_bodies(server: DevServer) -> None:
    completion = {
        "id": "chatcmpl-zip",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-2025-04-14",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "zipped"}, "finish_reason": "stop"}
        ],
    }
    server.script(
        devserver.raw(
            200,
            gzip.compress(json.dumps(completion).encode()),
            {
                "content-type": "application/json",
                "content-encoding": "gzip",
            },
        ),
        devserver.raw(502, "<html><body>Bad gateway</body></html>", {"content-type": "text/html"}),
        devserver.raw(200, "{not json", {"content-type": "application/json"}),
    )
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        assert _ask(client) == "zipped"
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4.1", messages=[USER])
        with pytest.raises(json.JSONDecodeError):
            client.chat.completions.create(model="gpt-4.1", messages=[USER])


def test_scripted_delay_provokes_a_client_timeout_and_stop_interrupts_it() -> None:
    server = DevServer().start()
    server.script(devserver.delay(30))
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="gpt-4.1", messages=[USER])
        assert time.monotonic() - started < 2
    started = time.monotonic()
    server.stop()  # the handler is still sleeping on its 30 s delay
    assert time.monotonic() - started < 2


def test_scripted_delay_then_answers(server: DevServer, client: openai.OpenAI) -> None:
    server.script(devserver.delay(0.2, then=devserver.status(503)), devserver.delay(0.1))
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4.1", messages=[USER])
    assert _ask(client) == REPLY
    assert time.monotonic() - started >= 0.3


def test_scripted_stream_closed_early_raises_connection_error(
    server: DevServer, client: openai.OpenAI
) -> None:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "delta": {"content": "half"}, "finish_reason": None}],
    }
    server.script(devserver.sse([chunk, "data: " + json.dumps(chunk)], close_early=True))
    stream = client.chat.completions.create(model="gpt-4.1", messages=[USER], stream=True)
    received: list[str | None] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(item.choices[0].delta.content for item in stream)
    assert received == ["half", "half"]


def test_scripted_sse_complete_stream(server: DevServer, client: openai.OpenAI) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}
    server.script(devserver.sse([chunk, b"data: [DONE]\n\n"]))
    assert len(list(client.chat.completions.create(model="gpt-4.1", messages=[USER], stream=True))) == 1


def test_default_stream_dropped_midway(server: DevServer, client: openai.OpenAI) -> None:
    server.script(devserver.default(drop_after=3))
    stream = client.chat.completions.create(model="gpt-4.1", messages=[USER], stream=True)
    received: list[str | None] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(item.choices[0].delta.content for item in stream)
    assert received == ["", "Reply", " 1:"]


def test_scripted_disconnect(server: DevServer, client: openai.OpenAI) -> None:
    server.script(devserver.disconnect())
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4.1", messages=[USER])
    assert _ask(client) == REPLY


# -- plain HTTP, recording, errors --------------------------------------------------------------


def test_plain_requests_and_httpx_calls(server: DevServer) -> None:
    url = server.base_url + "/chat/completions"
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": [USER]}
    with requests.Session() as session:
        via_requests = session.post(url, json=body, headers={"Authorization": "Bearer sk-test"}, timeout=5)
        streamed = session.post(url, json={**body, "stream": True}, stream=True, timeout=5)
        lines = [line for line in streamed.iter_lines(decode_unicode=True) if line]
    with httpx.Client() as http:
        via_httpx = http.post(url, json=body)
        chunked_body = http.post(url, content=iter([json.dumps(body).encode()]))

    assert via_requests.status_code == 200
    assert via_requests.json()["usage"]["total_tokens"] == 15
    assert lines[-1] == "data: [DONE]"
    assert via_httpx.json()["choices"][0]["message"]["content"] == REPLY
    assert chunked_body.json()["choices"][0]["message"]["content"] == REPLY
    recorded = server.requests[0]
    assert (recorded.method, recorded.path, recorded.query) == ("POST", "/v1/chat/completions", {})
    assert recorded.headers["authorization"] == "Bearer sk-test"
    assert recorded.json == body
    assert json.loads(recorded.body) == body
    assert len(server.requests) == 4


def test_connections_are_kept_alive(server: DevServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    body = json.dumps({"model": "gpt-4.1", "messages": [USER]})
    sockets = []
    for stream in (False, True, False):
        payload = json.dumps({**json.loads(body), "stream": stream})
        connection.request("POST", "/v1/chat/completions", payload, {"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.getheader("connection") is None
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is sockets[1] is sockets[2]


def test_request_errors_look_like_openai(server: DevServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="gpt-4.1", messages=[])
    with pytest.raises(openai.NotFoundError, match=r"Invalid URL \(POST /v1/nothing\)"):
        client.post("/nothing", cast_to=object, body={})
    unparsable = httpx.post(
        server.base_url + "/chat/completions", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert unparsable.status_code == 400
    assert unparsable.json()["error"]["type"] == "invalid_request_error"
    assert server.requests[-1].json is None
    assert server.errors == []


def test_many_concurrent_requests(server: DevServer, client: openai.OpenAI) -> None:
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                client.chat.completions.create(model="gpt-4.1", messages=[USER])
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(server.requests) == 240


# -- lifecycle ----------------------------------------------------------------------------------


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tokentrace-devserver")]


def test_stop_leaves_no_thread_or_socket() -> None:
    server = DevServer().start()
    port = server.port
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        # The client keeps the connection open, idle, in its pool: stop() must close it anyway.
        client.chat.completions.create(model="gpt-4.1", messages=[USER])
        assert any(t.name.endswith("-conn") for t in _server_threads())
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
    assert _server_threads() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.stop()  # a second stop is harmless


def test_server_restarts_and_rejects_bad_settings() -> None:
    server = DevServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.running
    assert not server.running
    with pytest.raises(ValueError, match="loopback"):
        DevServer(host="0.0.0.0")
    with pytest.raises(ValueError, match="flavor"):
        DevServer(flavor="bedrock")


def test_main_serves_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=devserver.main, args=(["--port", "0"],), kwargs={"stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 5
        output = ""
        while "http://" not in output and time.monotonic() < deadline:
            time.sleep(0.01)
            output += capsys.readouterr().out
        base_url = output.strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        answer = httpx.post(base_url + "/chat/completions", json={"model": "gpt-4.1", "messages": [USER]})
        assert answer.json()["choices"][0]["message"]["content"] == REPLY
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_python_dash_m_serves_until_ctrl_c() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tokentrace.demo.server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()  # blocks until the server is listening
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            answer = httpx.post(base_url + "/chat/completions", json={"model": "gpt-4.1", "messages": [USER]})
            assert answer.json()["choices"][0]["message"]["content"] == REPLY
            server.send_signal(signal.SIGINT)
            assert server.wait(timeout=60) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
