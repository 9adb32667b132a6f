"""aiohttp ``ClientSession`` calls to LLM endpoints, against a real server on 127.0.0.1: recorded like
``requests`` and ``httpx`` calls, whatever way the caller sends and reads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

import tokentrace
from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer, delay, raw, status

MESSAGES = [{"role": "user", "content": "How much does this cost"}]
INPUT_TOKENS, OUTPUT_TOKENS = 8, 7  # the devserver's deterministic counts for MESSAGES
COST = (INPUT_TOKENS * 2 + OUTPUT_TOKENS * 8) / 1e6  # gpt-4.1: $2 / $8 per million
SECRET = "sk-aiohttp-secret"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def url(server: DevServer) -> str:
    server.reset()
    return f"{server.base_url}/chat/completions"


def assert_recorded(telemetry: Telemetry, tracking_id: str) -> dict[str, Any]:
    span = telemetry.span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-4.1"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        INPUT_TOKENS,
        OUTPUT_TOKENS,
    )
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(COST)
    assert attrs["tokentrace.tracking_id"] == tracking_id
    assert SECRET not in repr(attrs)
    return attrs


async def test_post_json_read_with_json(instrumented: Telemetry, url: str) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with tokentrace.track("aio-plain"):
            async with session.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}) as response:
                data = await response.json()
    assert data["usage"]["prompt_tokens"] == INPUT_TOKENS
    attrs = assert_recorded(instrumented, "aio-plain")
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.response.model"] == "gpt-4.1-2025-04-14"
    points = instrumented.metrics()["gen_ai.client.token.usage"]
    assert sum(p.sum for p in points) == INPUT_TOKENS + OUTPUT_TOKENS


async def test_request_with_data_bytes_like_openai_0_28(instrumented: Telemetry, url: str) -> None:
    """openai 0.28's ``acreate``: ``session.request("post", url, data=<JSON bytes>)``, lines read."""
    body = json.dumps({"model": "gpt-4.1", "messages": MESSAGES, "stream": True}).encode()
    lines = []
    async with aiohttp.ClientSession() as session:
        with tokentrace.track("aio-legacy-sdk"):
            response = await session.request(
                "post", url, data=body, headers={**AUTH, "Content-Type": "application/json"}
            )
            async for line in response.content:
                lines.append(line)
            response.release()
    assert lines[-2].strip() == b"data: [DONE]" or lines[-1].strip() == b"data: [DONE]"
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["tokentrace.stream.end"] == "completed"
    assert attrs["tokentrace.tracking_id"] == "aio-legacy-sdk"
    # auto: a caller reading the bytes itself is sent nothing it did not ask for, so no usage here
    assert "gen_ai.usage.input_tokens" not in attrs


async def test_sse_stream_with_usage_read_in_chunks(
    instrumented: Telemetry, url: str, server: DevServer
) -> None:
    body = {
        "model": "gpt-4.1",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    received = b""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with tokentrace.track("aio-stream"):
            async with session.post(url, json=body) as response:
                assert instrumented.spans() == []  # the body is not read yet: the call is not over
                async for chunk in response.content.iter_chunked(16):
                    received += chunk
    assert received.rstrip().endswith(b"data: [DONE]")
    attrs = assert_recorded(instrumented, "aio-stream")
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["tokentrace.stream.end"] == "completed"
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert server.requests[-1].json == body  # the caller asked for usage itself: sent as it was


async def test_always_policy_asks_for_usage(
    instrument: Any, telemetry: Telemetry, url: str, server: DevServer
) -> None:
    instrument(stream_usage="always")
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": True}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        async for _ in response.content.iter_any():
            pass
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert body == {"model": "gpt-4.1", "messages": MESSAGES, "stream": True}  # the caller's dict
    assert dict(telemetry.span().attributes or {})["gen_ai.usage.input_tokens"] == INPUT_TOKENS


async def test_error_status(instrumented: Telemetry, url: str, server: DevServer) -> None:
    server.script(status(429))
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with tokentrace.track("aio-error"):
            async with session.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}) as response:
                assert response.status == 429
                error = await response.json()
    assert "error" in error  # the caller reads the error body as it was
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["error.type"] == "429"
    assert attrs["http.response.status_code"] == 429
    assert attrs["tokentrace.tracking_id"] == "aio-error"
    assert attrs["tokentrace.cost.unknown_reason"] == "error"


async def test_timeout_is_recorded_and_raised(instrumented: Telemetry, url: str, server: DevServer) -> None:
    server.script(delay(5))
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(
                url,
                json={"model": "gpt-4.1", "messages": MESSAGES},
                timeout=aiohttp.ClientTimeout(total=0.3),
            )
    attrs = dict(instrumented.span().attributes or {})
    assert "error.type" in attrs
    assert SECRET not in repr(attrs)


async def test_stream_left_early_or_closed_is_finished(instrumented: Telemetry, url: str) -> None:
    """(A response dropped unreleased is aiohttp's own ResourceWarning; the proxy ends it as
    ``abandoned`` when collected, as the requests patch does.)"""
    body = {"model": "gpt-4.1", "messages": MESSAGES, "stream": True}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body) as response:
            await response.content.readline()  # then out of the block: aiohttp releases it
        response = await session.post(url, json=body)
        await response.content.readline()
        response.close()
    ends = [dict(s.attributes or {})["tokentrace.stream.end"] for s in instrumented.spans()]
    assert ends == ["closed", "closed"]


async def test_other_traffic_and_odd_bodies(instrumented: Telemetry, url: str, server: DevServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url.replace("/chat/completions", "/models")) as response:
            await response.read()
        async with session.post(url, data=b"not json at all") as response:
            await response.read()
        server.script(raw(200, b"<html>proxy error</html>", headers={"content-type": "text/html"}))
        async with session.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}) as response:
            assert await response.read() == b"<html>proxy error</html>"
    spans = instrumented.spans()
    assert len(spans) == 1  # the HTML answer to an LLM request, with no usage
    assert "gen_ai.usage.input_tokens" not in dict(spans[0].attributes or {})


async def test_session_base_url_and_relative_path(instrumented: Telemetry, server: DevServer) -> None:
    server.reset()
    async with (
        aiohttp.ClientSession(base_url=server.origin) as session,
        session.post(
            server.base_url.removeprefix(server.origin) + "/chat/completions",
            json={"model": "gpt-4.1", "messages": MESSAGES},
        ) as response,
    ):
        await response.text()
    attrs = dict(instrumented.span().attributes or {})
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == server.port
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS


def test_patched_on_import_and_never_imported_by_tokentrace() -> None:
    from tests.test_instrumentor import run_python

    result = run_python(
        """
        import sys, tokentrace, wrapt
        tokentrace.instrument()
        print("aiohttp" in sys.modules)
        import aiohttp
        print(isinstance(vars(aiohttp.ClientSession)["_request"], wrapt.FunctionWrapper))
        tokentrace.uninstrument()
        print(isinstance(vars(aiohttp.ClientSession)["_request"], wrapt.FunctionWrapper))
        """,
        TOKENTRACE_LEDGER="off",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "False"]
