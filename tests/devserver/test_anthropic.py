"""The local server's Messages API, driven by the real anthropic SDK (directly and through Vertex AI)
and by plain HTTP where the wire itself is the point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam, TextBlock, TextBlockParam, ToolParam

from tokentrace.demo import server as devserver
from tokentrace.demo.server import DevServer

USER: MessageParam = {"role": "user", "content": "Say hello to the team"}  # 3 + 5 tokens
REPLY = "Reply 1: Say hello to the team"  # 7 tokens
KEY = "sk-ant-test-key"
LONG_SYSTEM = " ".join(["Context"] * 40)  # 3 + 40 tokens as a system prompt
TOOL: ToolParam = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def client(server: DevServer) -> Iterator[anthropic.Anthropic]:
    server.reset()
    # Strict validation: every answer must parse into the SDK's typed models without leniency.
    with anthropic.Anthropic(
        base_url=server.origin, api_key=KEY, max_retries=0, _strict_response_validation=True
    ) as sdk:
        yield sdk


@pytest.fixture
def vertex(server: DevServer) -> Iterator[anthropic.AnthropicVertex]:
    server.reset()
    # An access token of its own: the client asks Google for none.
    with anthropic.AnthropicVertex(
        region="us-east5",
        project_id="demo-project",
        access_token="ya29.test",
        base_url=server.origin + "/v1",
        max_retries=0,
        _strict_response_validation=True,
    ) as sdk:
        yield sdk


def _text(message: anthropic.types.Message) -> str:
    return "".join(block.text for block in message.content if isinstance(block, TextBlock))


def _cache(usage: anthropic.types.Usage) -> tuple[int | None, int | None, int]:
    """(cache writes, cache reads, uncached input) of a call."""
    return usage.cache_creation_input_tokens, usage.cache_read_input_tokens, usage.input_tokens


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE event."""
    found = []
    for event in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in event.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


# -- Messages -----------------------------------------------------------------------------------


def test_create_answers_a_message_with_usage_and_the_dated_model(
    client: anthropic.Anthropic, server: DevServer
) -> None:
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[USER])

    assert message.id.startswith("msg_01")
    assert message.model == "claude-sonnet-4-5-20250929"
    assert _text(message) == REPLY
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (8, 7)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (0, 0)
    assert message._request_id is not None
    assert message._request_id.startswith("req_")
    (request,) = server.requests
    assert request.path == "/v1/messages"
    # The key, as x-api-key or (as anthropic 2.x sends it) a bearer token.
    sent = request.headers.get("x-api-key") or request.headers["authorization"].removeprefix("Bearer ")
    assert sent == KEY
    assert "anthropic-version" in request.headers


def test_max_tokens_cuts_the_answer(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=3, messages=[USER])

    assert _text(message) == "Reply 1: Say"
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_system_and_tools_count_and_count_tokens_agrees(client: anthropic.Anthropic) -> None:
    arguments: dict[str, Any] = {"model": "claude-opus-4-1", "system": "You are terse.", "tools": [TOOL]}
    message = client.messages.create(max_tokens=100, messages=[USER], **arguments)
    counted = client.messages.count_tokens(messages=[USER], **arguments)

    assert message.usage.input_tokens == 8 + (3 + 3) + 10
    assert counted.input_tokens == message.usage.input_tokens


def test_stream_sends_the_api_event_sequence(server: DevServer) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [USER], "stream": True}
    response = httpx.post(server.origin + "/v1/messages", json=body, headers={"x-api-key": KEY})

    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 7,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["model"] == "claude-sonnet-4-5-20250929"
    assert start["content"] == []
    assert start["usage"]["input_tokens"] == 8
    assert start["usage"]["output_tokens"] == 1
    assert "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta") == REPLY
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 7


def test_sdk_stream_helper_and_raw_stream(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=4, messages=[USER]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    raw = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[USER], stream=True)
    kinds = [event.type for event in raw]

    assert pieces == ["Reply", " 1:", " Say", " hello"]
    assert final.stop_reason == "max_tokens"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (8, 4)
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]


async def test_async_client_create_and_stream(server: DevServer) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=server.origin, api_key=KEY, max_retries=0, _strict_response_validation=True
    ) as client:
        message = await client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[USER])
        async with client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=100, messages=[USER]
        ) as stream:
            streamed = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()

    assert _text(message) == REPLY
    assert streamed == REPLY
    assert final.usage.output_tokens == 7


# -- prompt caching -----------------------------------------------------------------------------


def test_cache_breakpoint_is_written_then_read(client: anthropic.Anthropic, server: DevServer) -> None:
    system: list[TextBlockParam] = [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]

    def usage() -> anthropic.types.Usage:
        return client.messages.create(
            model="claude-sonnet-4-5", max_tokens=100, system=system, messages=[USER]
        ).usage

    first, second = usage(), usage()
    server.reset()
    after_reset = usage()

    # The breakpoint caches the system turn: its 3 overhead tokens and 40 words.
    assert _cache(first) == (43, 0, 8)
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == 43
    assert _cache(second) == (0, 43, 8)
    assert after_reset.cache_creation_input_tokens == 43


def test_one_hour_breakpoint_and_the_longest_cached_prefix(client: anthropic.Anthropic) -> None:
    system: list[TextBlockParam] = [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    turn: MessageParam = {
        "role": "user",
        "content": [{"type": "text", "text": "Say hello", "cache_control": {"type": "ephemeral"}}],
    }
    first = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=10, system=system, messages=[USER]
    ).usage
    second = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=10, system=system, messages=[turn]
    ).usage

    # The first call writes the system prefix (43) for an hour; the second reads it, and writes its
    # user turn (3 + 2) for five minutes.
    assert _cache(first) == (43, 0, 8)
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_1h_input_tokens == 43
    assert _cache(second) == (5, 43, 0)
    assert second.cache_creation is not None
    assert second.cache_creation.ephemeral_5m_input_tokens == 5
    assert second.cache_creation.ephemeral_1h_input_tokens == 0


# -- errors and scripting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("model", "model: Field required"),
        ("max_tokens", "max_tokens: Field required"),
        ("messages", "messages: Field required"),
    ],
)
def test_a_missing_required_field_is_an_anthropic_error(
    server: DevServer, missing: str, message: str
) -> None:
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [USER]}
    del body[missing]
    response = httpx.post(server.origin + "/v1/messages", json=body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["type"] == "error"
    assert answer["error"] == {"type": "invalid_request_error", "message": message}
    assert answer["request_id"].startswith("req_")


def test_a_body_that_is_not_json_is_an_anthropic_error(server: DevServer) -> None:
    response = httpx.post(
        server.origin + "/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_scripted_errors_reach_the_sdk_as_its_exceptions(
    client: anthropic.Anthropic, server: DevServer
) -> None:
    server.script(devserver.anthropic_status(429))
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[USER])
    server.script_model("claude-opus-4-1", devserver.anthropic_status(529))
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model="claude-opus-4-1", max_tokens=10, messages=[USER])
    other = client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[USER])

    assert limited.value.response.headers["retry-after"] == "1"
    assert isinstance(limited.value.body, dict)
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert other.model == "claude-haiku-4-5-20251001"


def test_a_stream_dropped_midway_raises(client: anthropic.Anthropic, server: DevServer) -> None:
    server.script(devserver.default(drop_after=4))  # start, block start, ping, one delta
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIConnectionError),
        client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=[USER]) as stream,
    ):
        received.extend(stream.text_stream)
    assert received == ["Reply"]


# -- Vertex AI ----------------------------------------------------------------------------------


def test_vertex_create_stream_and_count_tokens(vertex: anthropic.AnthropicVertex, server: DevServer) -> None:
    model = "claude-sonnet-4-5@20250929"
    message = vertex.messages.create(model=model, max_tokens=100, messages=[USER])
    with vertex.messages.stream(model=model, max_tokens=3, messages=[USER]) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    counted = vertex.messages.count_tokens(model=model, messages=[USER])

    assert message.id.startswith("msg_vrtx_")
    assert message.model == "claude-sonnet-4-5-20250929"
    assert _text(message) == REPLY
    assert message.usage.input_tokens == 8
    assert streamed == "Reply 1: Say"
    assert final.stop_reason == "max_tokens"
    assert counted.input_tokens == 8
    base = "/v1/projects/demo-project/locations/us-east5/publishers/anthropic/models/"
    paths = [request.path for request in server.requests]
    assert paths == [
        f"{base}{model}:rawPredict",
        f"{base}{model}:streamRawPredict",
        f"{base}count-tokens:rawPredict",
    ]
    created = server.requests[0]
    assert created.headers["authorization"] == "Bearer ya29.test"
    assert "model" not in created.json
    assert "anthropic_version" in created.json


def test_vertex_requires_anthropic_version_and_scripts_by_path_model(
    vertex: anthropic.AnthropicVertex, server: DevServer
) -> None:
    path = (
        "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict"
    )
    response = httpx.post(server.origin + path, json={"max_tokens": 10, "messages": [USER]})
    server.script_model("claude-haiku-4-5@20251001", devserver.anthropic_status(529))

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "anthropic_version: Field required"
    with pytest.raises(anthropic.OverloadedError):
        vertex.messages.create(model="claude-haiku-4-5@20251001", max_tokens=10, messages=[USER])
