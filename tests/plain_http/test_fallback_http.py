"""Fallback chains on plain requests / httpx / httpx2 calls: the JSON body's model is rewritten."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import httpx
import pytest
import requests

import tokentrace
from tests.conftest import Telemetry
from tokentrace.calls.records import CallRecord
from tokentrace.demo.server import DevServer, delay, status

try:
    import httpx2
except ImportError:  # openai < 3 environments have no httpx2
    HTTP_CLIENTS: list[ModuleType] = [httpx]
else:
    HTTP_CLIENTS = [httpx, httpx2]

CHAIN = ("deepseek-v3.2", "gemini-2.5-flash")
MESSAGES: Any = [{"role": "user", "content": "How much does this cost"}]


@pytest.fixture
def records(instrument: Any, server: DevServer) -> Iterator[list[CallRecord]]:
    server.reset()
    found: list[CallRecord] = []
    instrument(fallbacks=[tokentrace.Fallback(chain=CHAIN)]).recorder.sinks.append(found.append)
    yield found
    tokentrace.set_fallbacks([])


def sent_models(server: DevServer) -> list[str]:
    return [request.json["model"] for request in server.requests]


def test_requests_post_gets_the_next_models_answer(
    records: list[CallRecord], telemetry: Telemetry, server: DevServer
) -> None:
    server.script_model(CHAIN[0], status(429))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES}
    prepared = requests.Request("POST", f"{server.base_url}/chat/completions", json=body).prepare()
    sent = prepared.body
    with requests.Session() as session:
        response = session.send(prepared)
    assert response.status_code == 200 and response.json()["model"] == CHAIN[1]
    assert sent_models(server) == list(CHAIN)
    assert prepared.body == sent and body["model"] == CHAIN[0]  # the caller's request is left as it was
    assert [r.fallback_from for r in records] == [None, CHAIN[0]]
    assert (records[0].error_type, records[0].cost) == ("429", Decimal(0))
    assert [s.name for s in telemetry.spans()] == [f"chat {m}" for m in CHAIN]


def test_requests_timeout_moves_on(records: list[CallRecord], server: DevServer) -> None:
    server.script_model(CHAIN[0], delay(5))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES}
    response = requests.post(f"{server.base_url}/chat/completions", json=body, timeout=0.3)
    assert response.json()["model"] == CHAIN[1]
    assert records[0].timed_out and records[1].fallback_from == CHAIN[0]


def test_the_last_error_response_reaches_the_caller(records: list[CallRecord], server: DevServer) -> None:
    for model in CHAIN:
        server.script_model(model, status(503))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES}
    response = requests.post(f"{server.base_url}/chat/completions", json=body)
    assert response.status_code == 503
    assert sent_models(server) == list(CHAIN)


def test_a_streamed_plain_call_moves_on_for_an_error_status(
    records: list[CallRecord], server: DevServer
) -> None:
    """An error status reached the caller with nothing yet (``send`` has not returned): the call moves
    on, as the anthropic SDK's and google-genai's (which always send with ``stream=True``) need."""
    server.script_model(CHAIN[0], status(429))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES, "stream": True}
    with requests.post(f"{server.base_url}/chat/completions", json=body, stream=True) as response:
        assert response.status_code == 200
        assert b"data: [DONE]" in response.content
    assert sent_models(server) == list(CHAIN)
    assert [(r.fallback_from, r.error_type) for r in records] == [(None, "429"), (CHAIN[0], None)]


@pytest.mark.parametrize("http", HTTP_CLIENTS, ids=lambda m: m.__name__)
async def test_httpx_streams_move_on_and_let_the_failed_response_go(
    http: Any, records: list[CallRecord], server: DevServer
) -> None:
    """One connection in the pool: the next attempt gets it only when the failed response let it go."""
    server.script_model(CHAIN[0], status(500))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES, "stream": True}
    url = f"{server.base_url}/chat/completions"
    limits = http.Limits(max_connections=1)
    with http.Client(limits=limits, timeout=30) as client, client.stream("POST", url, json=body) as response:
        assert response.status_code == 200 and b"[DONE]" in response.read()
    async with (
        http.AsyncClient(limits=limits, timeout=30) as client,
        client.stream("POST", url, json=body) as response,
    ):
        assert response.status_code == 200 and b"[DONE]" in await response.aread()
    assert sent_models(server) == list(CHAIN) * 2
    assert [r.fallback_from for r in records] == [None, CHAIN[0]] * 2


@pytest.mark.parametrize("http", HTTP_CLIENTS, ids=lambda m: m.__name__)
def test_httpx_sync(http: Any, records: list[CallRecord], server: DevServer) -> None:
    server.script_model(CHAIN[0], status(500))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES}
    with http.Client() as client:
        assert client.post(f"{server.base_url}/chat/completions", json=body).json()["model"] == CHAIN[1]
    assert sent_models(server) == list(CHAIN)
    assert json.loads(server.requests[1].body)["messages"] == MESSAGES


@pytest.mark.parametrize("http", HTTP_CLIENTS, ids=lambda m: m.__name__)
async def test_httpx_async(http: Any, records: list[CallRecord], server: DevServer) -> None:
    server.script_model(CHAIN[0], status(429))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES}
    async with http.AsyncClient() as client:
        response = await client.post(f"{server.base_url}/chat/completions", json=body)
    assert response.json()["model"] == CHAIN[1]
    assert [r.fallback_from for r in records] == [None, CHAIN[0]]


@pytest.mark.parametrize("stream", [False, True])
async def test_aiohttp_gets_the_next_models_answer(
    records: list[CallRecord], server: DevServer, stream: bool
) -> None:
    """aiohttp hands back a response before its body is read: an error status there reached the
    caller with nothing, so a streamed call moves on too, and the failed response is released."""
    import aiohttp

    server.script_model(CHAIN[0], status(429))
    body: dict[str, Any] = {"model": CHAIN[0], "messages": MESSAGES, "stream": stream}
    # One connection: the next attempt gets it only when the failed response has let it go.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        sending = session.post(f"{server.base_url}/chat/completions", json=body)
        response = await asyncio.wait_for(sending, 30)
        assert response.status == 200
        text = await response.text()
    assert CHAIN[1] in text
    assert sent_models(server) == list(CHAIN)
    assert body["model"] == CHAIN[0]  # the caller's dict is left as it was
    assert [(r.fallback_from, r.error_type) for r in records] == [(None, "429"), (CHAIN[0], None)]
    assert records[0].cost == Decimal(0)
