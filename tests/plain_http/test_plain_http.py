"""Plain requests / httpx / httpx2 calls to LLM endpoints, against a real server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
from types import ModuleType
from typing import Any

import httpx
import pytest
import requests

from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer, delay, raw, sse, status
from tokentrace.demo.server import json as json_reply

try:
    import httpx2
except ImportError:  # openai < 3 environments have no httpx2
    HTTP_CLIENTS: list[ModuleType] = [httpx]
else:
    HTTP_CLIENTS = [httpx, httpx2]

MESSAGES = [{"role": "user", "content": "How much does this cost"}]
INPUT_TOKENS, OUTPUT_TOKENS = 8, 7  # the devserver's deterministic counts for MESSAGES


@pytest.fixture
def base(server: DevServer) -> str:
    server.reset()
    return server.base_url


def only_span(telemetry: Telemetry) -> dict[str, Any]:
    return dict(telemetry.span().attributes or {})


def test_requests_post_like_the_origin_articles(instrumented: Telemetry, base: str) -> None:
    response = requests.post(
        f"{base}/chat/completions",
        headers={"Authorization": "Bearer sk-plain-http-secret", "Content-Type": "application/json"},
        json={"model": "gpt-4.1", "messages": MESSAGES, "temperature": 0.7, "max_tokens": 2048},
        timeout=30,
    )
    data = response.json()
    assert data["usage"]["prompt_tokens"] == INPUT_TOKENS
    span = instrumented.span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-4.1"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        INPUT_TOKENS,
        OUTPUT_TOKENS,
    )
    assert attrs["gen_ai.request.max_tokens"] == 2048
    assert attrs["gen_ai.response.model"] == "gpt-4.1-2025-04-14"
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx((INPUT_TOKENS * 2 + OUTPUT_TOKENS * 8) / 1e6)
    assert "sk-plain-http-secret" not in repr(attrs)


@pytest.mark.parametrize("http", HTTP_CLIENTS, ids=lambda m: m.__name__)
def test_httpx_client_post(instrumented: Telemetry, base: str, http: Any) -> None:
    with http.Client(timeout=60.0) as client:
        response = client.post(f"{base}/chat/completions", json={"model": "gpt-4.1", "messages": MESSAGES})
    assert response.json()["choices"][0]["finish_reason"] == "stop"
    attrs = only_span(instrumented)
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)


@pytest.mark.parametrize("http", HTTP_CLIENTS, ids=lambda m: m.__name__)
async def test_async_client_post_and_stream(instrumented: Telemetry, base: str, http: Any) -> None:
    payload = {"model": "gpt-4.1", "messages": MESSAGES}
    async with http.AsyncClient() as client:
        await client.post(f"{base}/embeddings", json={"model": "text-embedding-3-small", "input": "a b c"})
        body: dict[str, Any] = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        async with client.stream("POST", f"{base}/chat/completions", json=body) as response:
            lines = [line async for line in response.aiter_lines()]
    assert lines[-2:] == ["data: [DONE]", ""] or lines[-1] == "data: [DONE]"
    embeddings, chat = (dict(s.attributes or {}) for s in instrumented.spans())
    assert embeddings["gen_ai.operation.name"] == "embeddings"
    assert embeddings["gen_ai.usage.input_tokens"] == 3
    assert chat["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert chat["tokentrace.stream.end"] == "completed"


def decoded(line: str | bytes) -> str:
    """A line from ``iter_lines(decode_unicode=True)``: text, since the server names its charset."""
    assert isinstance(line, str), line
    return line


def test_sse_stream_read_line_by_line_with_requests(instrumented: Telemetry, base: str) -> None:
    body: dict[str, Any] = {
        "model": "gpt-4.1",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with requests.post(f"{base}/chat/completions", json=body, stream=True, timeout=30) as response:
        assert instrumented.spans() == []  # the stream is not read yet
        events = [
            json.loads(line[6:])
            for line in map(decoded, response.iter_lines(decode_unicode=True))
            if line.startswith("data: {")
        ]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text.startswith("Reply 1:")
    attrs = only_span(instrumented)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        INPUT_TOKENS,
        OUTPUT_TOKENS,
    )
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert attrs["tokentrace.stream.end"] == "completed"


def test_plain_http_stream_is_not_changed_in_auto_mode(
    instrumented: Telemetry, base: str, server: DevServer
) -> None:
    """The caller parses the bytes itself, so an added usage chunk could break it: auto adds none."""
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": True}
    with requests.post(f"{base}/chat/completions", json=body, stream=True, timeout=30) as response:
        list(response.iter_lines())
    assert "stream_options" not in server.requests[-1].json
    attrs = only_span(instrumented)
    assert "gen_ai.usage.input_tokens" not in attrs
    assert attrs["tokentrace.cost.unknown_reason"] == "no_usage"


def test_always_policy_asks_for_usage_on_plain_http(
    instrument: Any, telemetry: Telemetry, base: str, server: DevServer
) -> None:
    instrument(stream_usage="always")
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": True}
    with httpx.Client() as client, client.stream("POST", f"{base}/chat/completions", json=body) as response:
        response.read()
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert body == {
        "model": "gpt-4.1",
        "messages": MESSAGES,
        "stream": True,
    }  # the caller's dict is untouched
    assert only_span(telemetry)["gen_ai.usage.input_tokens"] == INPUT_TOKENS


def test_requests_timeout(instrumented: Telemetry, base: str, server: DevServer) -> None:
    server.script(delay(5))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            f"{base}/chat/completions", json={"model": "gpt-4.1", "messages": MESSAGES}, timeout=0.3
        )
    attrs = only_span(instrumented)
    assert attrs["error.type"] == "ReadTimeout"
    assert instrumented.span().status.status_code.name == "ERROR"


def test_httpx_timeout(instrumented: Telemetry, base: str, server: DevServer) -> None:
    server.script(delay(5))
    with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=0.3) as client:
        client.post(f"{base}/chat/completions", json={"model": "gpt-4.1", "messages": MESSAGES})
    assert only_span(instrumented)["error.type"] == "ReadTimeout"


def test_http_error_status(instrumented: Telemetry, base: str, server: DevServer) -> None:
    server.script(status(429))
    response = requests.post(
        f"{base}/chat/completions", json={"model": "gpt-4.1", "messages": MESSAGES}, timeout=30
    )
    assert response.status_code == 429
    attrs = only_span(instrumented)
    assert attrs["error.type"] == "429"
    assert attrs["http.response.status_code"] == 429
    assert attrs["tokentrace.cost.unknown_reason"] == "error"


def test_other_traffic_is_left_alone(instrumented: Telemetry, base: str) -> None:
    requests.get(f"{base}/models", timeout=30)
    requests.post(f"{base}/files", data=b"not json", timeout=30)
    with httpx.Client() as client:
        client.get(f"{base}/models")
    requests.post(f"{base}/chat/completions", data=b"not json at all", timeout=30)
    assert instrumented.spans() == []


def test_anthropic_messages_shape(instrumented: Telemetry, base: str, server: DevServer) -> None:
    server.script(
        json_reply(
            {
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": "Hello!"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 12,
                    "cache_creation_input_tokens": 100,
                    "cache_read_input_tokens": 200,
                    "output_tokens": 6,
                },
            }
        )
    )
    origin = base.rsplit("/v1", 1)[0]
    requests.post(
        f"{origin}/v1/messages",
        json={"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": MESSAGES},
        headers={"x-api-key": "sk-ant-secret"},
        timeout=30,
    )
    attrs = only_span(instrumented)
    assert attrs["gen_ai.usage.input_tokens"] == 312  # conventions count cached input inside
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 200
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert "gen_ai.usage.cost.amount" in attrs  # claude-sonnet-4-5 priced at its maker's list price


def test_user_endpoint_table(instrument: Any, telemetry: Telemetry, base: str, server: DevServer) -> None:
    instrument(http_endpoints={"/v1/generate": "chat"})
    server.script(
        json_reply(
            {
                "id": "g1",
                "model": "house-llm",
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4},
            }
        )
    )
    origin = base.rsplit("/v1", 1)[0]
    requests.post(f"{origin}/v1/generate", json={"model": "house-llm", "messages": MESSAGES}, timeout=30)
    assert only_span(telemetry)["gen_ai.usage.output_tokens"] == 4


ODD_BODIES = [
    ("gzip-json", raw(200, gzip.compress(b'{"id":"x","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}'), {"content-type": "application/json", "content-encoding": "gzip"})),
    ("empty", raw(200, b"", {"content-type": "application/json"})),
    ("html-502", raw(502, b"<html><body>Bad gateway</body></html>", {"content-type": "text/html"})),
    ("invalid-json", raw(200, b'{"id": "x", "usage": {', {"content-type": "application/json"})),
    ("half-sse", sse([{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}], close_early=True)),
]  # fmt: skip


def read_all(url: str, streamed: bool) -> tuple[int, bytes]:
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": streamed}
    try:
        if streamed:
            with requests.post(url, json=body, stream=True, timeout=30) as response:
                return response.status_code, b"".join(response.iter_content(chunk_size=7))
        response = requests.post(url, json=body, timeout=30)
        return response.status_code, response.content
    except requests.exceptions.RequestException as exc:
        return -1, type(exc).__name__.encode()


@pytest.mark.parametrize(("name", "reply"), ODD_BODIES, ids=[n for n, _ in ODD_BODIES])
@pytest.mark.parametrize("streamed", [False, True])
def test_odd_bodies_reach_the_caller_unchanged(
    instrument: Any, telemetry: Telemetry, base: str, server: DevServer, name: str, reply: Any, streamed: bool
) -> None:
    url = f"{base}/chat/completions"
    server.script(reply)
    expected = read_all(url, streamed)  # not instrumented yet
    instrument()
    server.script(reply)
    assert read_all(url, streamed) == expected
    spans = telemetry.spans()
    assert len(spans) == 1
    if name == "gzip-json" and expected[0] == 200:
        assert dict(spans[0].attributes or {}).get("gen_ai.usage.input_tokens") == 5


def test_requests_raw_read(instrumented: Telemetry, base: str) -> None:
    body: dict[str, Any] = {
        "model": "gpt-4.1",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = requests.post(f"{base}/chat/completions", json=body, stream=True, timeout=30)
    data = b""
    while chunk := response.raw.read(64):
        data += chunk
    response.close()
    assert data.rstrip().endswith(b"data: [DONE]")
    attrs = only_span(instrumented)
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS


def test_requests_stream_closed_early_and_abandoned(instrumented: Telemetry, base: str) -> None:
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": True}
    with requests.post(f"{base}/chat/completions", json=body, stream=True, timeout=30) as response:
        next(response.iter_lines())
    abandoned = requests.post(f"{base}/chat/completions", json=body, stream=True, timeout=30)
    next(abandoned.iter_lines())
    del abandoned
    import gc

    gc.collect()
    ends = [str(dict(s.attributes or {})["tokentrace.stream.end"]) for s in instrumented.spans()]
    # collecting the abandoned response closes its line iterator first, so it may report "closed"
    assert len(ends) == 2
    assert set(ends) <= {"closed", "abandoned"}


@pytest.mark.parametrize("http", HTTP_CLIENTS, ids=lambda m: m.__name__)
def test_httpx_stream_iter_bytes_gzip(
    instrumented: Telemetry, base: str, server: DevServer, http: Any
) -> None:
    events = (
        b"".join(
            b"data: " + json.dumps(e).encode() + b"\n\n"
            for e in [
                {
                    "id": "c",
                    "model": "m",
                    "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
                },
                {
                    "id": "c",
                    "model": "m",
                    "choices": [],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 2},
                },
            ]
        )
        + b"data: [DONE]\n\n"
    )
    server.script(
        raw(200, gzip.compress(events), {"content-type": "text/event-stream", "content-encoding": "gzip"})
    )
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": True}
    with http.Client() as client, client.stream("POST", f"{base}/chat/completions", json=body) as response:
        received = b"".join(response.iter_bytes())
    assert received == events
    attrs = only_span(instrumented)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (9, 2)
