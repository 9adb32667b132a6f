"""The real openai SDK against a real HTTP server on 127.0.0.1 (tokentrace's devserver)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

import tokentrace
from tests.conftest import Telemetry
from tests.sdk.conftest import API_KEY
from tokentrace.demo.server import DevServer, default, delay, status

MESSAGES = [{"role": "user", "content": "How much does this cost"}]
# devserver rule: 3 tokens per message + 1 per word -> 3 + 5 words = 8 input tokens;
# the reply is "Reply 1: " + the first 16 words of the last user message -> 2 + 5 = 7 output tokens.
INPUT_TOKENS, OUTPUT_TOKENS = 8, 7


@pytest.fixture
async def async_client(server: DevServer) -> AsyncIterator[openai.AsyncOpenAI]:
    server.reset()
    # Closed inside the test's own event loop: a pooled connection left open would be collected
    # after that loop is gone, as an unclosed socket.
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-loopback-test", max_retries=0
    ) as client:
        yield client


def attrs_of(telemetry: Telemetry) -> dict[str, Any]:
    return dict(telemetry.span().attributes or {})


def test_chat_over_http(instrumented: Telemetry, client: Any, server: DevServer) -> None:
    result = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert result.usage.prompt_tokens == INPUT_TOKENS
    attrs = attrs_of(instrumented)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        INPUT_TOKENS,
        OUTPUT_TOKENS,
    )
    assert attrs["gen_ai.provider.name"] == "127.0.0.1"
    assert attrs["server.port"] == server.port
    assert attrs["gen_ai.response.model"] == "gpt-4.1-2025-04-14"
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx((INPUT_TOKENS * 2 + OUTPUT_TOKENS * 8) / 1e6)


async def test_async_chat_over_http(instrumented: Telemetry, async_client: Any) -> None:
    await async_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert attrs_of(instrumented)["gen_ai.usage.input_tokens"] == INPUT_TOKENS


def test_stream_with_usage_on_a_listed_host(
    instrument: Any, telemetry: Telemetry, client: Any, server: DevServer
) -> None:
    instrument(stream_usage_hosts=["127.0.0.1"])
    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    attrs = attrs_of(telemetry)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        INPUT_TOKENS,
        OUTPUT_TOKENS,
    )
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0


def test_streaming_response_body_is_observed_as_read(instrumented: Telemetry, client: Any) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1", messages=MESSAGES
    ) as response:
        assert instrumented.spans() == []  # the body is not read yet, so the call is not over
        parsed = response.parse()
    assert parsed.usage.completion_tokens == OUTPUT_TOKENS
    assert attrs_of(instrumented)["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS


def test_streaming_response_of_a_stream_read_line_by_line(instrumented: Telemetry, client: Any) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        lines = list(response.iter_lines())
    assert lines[-1] == "data: [DONE]" or lines[-2] == "data: [DONE]"
    attrs = attrs_of(instrumented)
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["tokentrace.stream.end"] == "completed"


def test_raw_response_of_a_stream(instrumented: Telemetry, client: Any) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(raw.parse())
    assert chunks[-1].usage.total_tokens == INPUT_TOKENS + OUTPUT_TOKENS
    assert attrs_of(instrumented)["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS


def test_timeout_over_http(instrumented: Telemetry, client: Any, server: DevServer) -> None:
    server.script(delay(5))
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, timeout=0.3)
    attrs = attrs_of(instrumented)
    assert attrs["error.type"] == "APITimeoutError"
    assert attrs["tokentrace.cost.unknown_reason"] == "error"


def test_rate_limited(instrumented: Telemetry, client: Any, server: DevServer) -> None:
    server.script(status(429))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert attrs_of(instrumented)["http.response.status_code"] == 429


def test_early_close_on_a_live_connection(instrumented: Telemetry, client: Any, server: DevServer) -> None:
    server.script(default(interval=0.01))
    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    for _ in stream:
        break
    stream.close()
    assert attrs_of(instrumented)["tokentrace.stream.end"] == "closed"


def test_threads_with_tracking_ids(instrumented: Telemetry, client: Any) -> None:
    def work(i: int) -> None:
        with tokentrace.track(f"team-{i % 3}"):
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(30)))
    spans = instrumented.spans()
    assert len(spans) == 30
    by_team: dict[str, int] = {}
    for span in spans:
        team = str(dict(span.attributes or {})["tokentrace.tracking_id"])
        by_team[team] = by_team.get(team, 0) + 1
    assert by_team == {"team-0": 10, "team-1": 10, "team-2": 10}
    tokens = {
        (p.attributes["tokentrace.tracking_id"], p.attributes["gen_ai.token.type"]): p.sum
        for p in instrumented.metrics()["gen_ai.client.token.usage"]
    }
    assert tokens[("team-1", "input")] == 10 * INPUT_TOKENS


async def test_tasks_with_tracking_ids_and_streams(instrumented: Telemetry, async_client: Any) -> None:
    async def work(i: int) -> None:
        with tokentrace.track(f"task-{i}"):
            stream = await async_client.chat.completions.create(
                model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            async for _ in stream:
                pass

    await asyncio.gather(*(work(i) for i in range(12)))
    spans: list[dict[str, Any]] = [dict(s.attributes or {}) for s in instrumented.spans()]
    assert sorted(s["tokentrace.tracking_id"] for s in spans) == sorted(f"task-{i}" for i in range(12))
    assert all(s["gen_ai.usage.input_tokens"] == INPUT_TOKENS for s in spans)


def test_secrets_never_exported(instrument: Any, telemetry: Telemetry, client: Any) -> None:
    instrument(capture_content=True)
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    exported = repr([(s.name, dict(s.attributes or {}), s.events) for s in telemetry.spans()])
    exported += repr(telemetry.reader.get_metrics_data())
    assert API_KEY not in exported
    assert "How much does this cost" in exported  # content on: the prompt is there, the key is not
