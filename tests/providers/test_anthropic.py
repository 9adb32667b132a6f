"""Anthropic's Messages API through the real anthropic SDK, first party and on Vertex AI.

Claude Sonnet 4.5 at $3 / $15 per million input / output tokens, cache reads at $0.30 and cache
writes at $3.75: 1,000 new, 4,000 cached and 2,000 cache-write input tokens and 50 output tokens
cost 3,000 + 1,200 + 7,500 + 750 millionths of a dollar, $0.01245.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from anthropic import Anthropic, AnthropicVertex, AsyncAnthropic

import tokentrace
from tests.conftest import Telemetry
from tokentrace.activation import set_budgets
from tokentrace.calls.records import CallRecord
from tokentrace.demo.server import DevServer
from tokentrace.demo.server._scripted import json as json_reply
from tokentrace.demo.server._scripted import sse
from tokentrace.ledger import read_calls

MODEL = "claude-sonnet-4-5"
ANSWERING = "claude-sonnet-4-5-20250929"
COST = Decimal("0.01245")
KEY = "sk-ant-canary-never-recorded"
TOKEN = "vertex-canary-access-token"
USAGE = {"input_tokens": 1000, "cache_read_input_tokens": 4000, "cache_creation_input_tokens": 2000}
MESSAGES: Any = [{"role": "user", "content": "How much does this cost"}]


def message(model: str = ANSWERING) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "About a cent."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {**USAGE, "output_tokens": 50},
    }


def events(model: str = ANSWERING) -> list[bytes]:
    """A stream as the Messages API sends it: each event named on an ``event:`` line too."""
    start = {**message(model), "content": [], "stop_reason": None, "usage": {**USAGE, "output_tokens": 1}}
    payloads: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "About "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a cent."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 50}},
        {"type": "message_stop"},
    ]
    return [f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads]


@pytest.fixture(autouse=True)
def _no_budgets() -> Iterator[None]:
    yield
    set_budgets([])


@pytest.fixture
def records(instrument: Any, server: DevServer) -> list[CallRecord]:
    server.reset()
    found: list[CallRecord] = []
    instrument().recorder.sinks.append(found.append)
    return found


def first_party(server: DevServer) -> Anthropic:
    return Anthropic(api_key=KEY, base_url=server.origin, max_retries=0)


def vertex(server: DevServer) -> AnthropicVertex:
    return AnthropicVertex(
        base_url=f"{server.origin}/v1",
        region="us-east5",
        project_id="a-project",
        access_token=TOKEN,
        max_retries=0,
    )


def assert_calls(telemetry: Telemetry, records: list[CallRecord], count: int, model: str = MODEL) -> None:
    spans = telemetry.spans()
    assert [s.name for s in spans] == [f"chat {model}"] * count
    for span in spans:
        attrs = dict(span.attributes or {})
        assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (7000, 50)
        assert attrs["gen_ai.usage.cache_read.input_tokens"] == 4000
        assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 2000
        assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(float(COST), abs=1e-9)
        assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
        for secret in (KEY, TOKEN):
            assert secret not in repr(attrs) + repr(span.events) + repr(span.status)
    assert [r.cost for r in records] == [COST] * count
    points = telemetry.metrics()["gen_ai.client.token.usage"]
    assert sum(p.sum for p in points) == 7050 * count


def test_create_stream_and_stream_helper(
    records: list[CallRecord], telemetry: Telemetry, server: DevServer
) -> None:
    server.script(json_reply(message()), sse(events()), sse(events()))
    sdk = first_party(server)
    with tokentrace.track("claude"):
        result = sdk.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        pieces = [
            e.delta.text
            for e in sdk.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True)
            if e.type == "content_block_delta" and e.delta.type == "text_delta"
        ]
        with sdk.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            text = stream.get_final_text()
    assert result.content[0].type == "text" and result.content[0].text == "About a cent."
    assert pieces == ["About ", "a cent."] and text == "About a cent."
    assert_calls(telemetry, records, 3)
    assert [r.tracking_id for r in records] == ["claude"] * 3
    assert [r.stream for r in records] == [False, True, True]


async def test_async(records: list[CallRecord], telemetry: Telemetry, server: DevServer) -> None:
    server.script(json_reply(message()), sse(events()))
    sdk = AsyncAnthropic(api_key=KEY, base_url=server.origin, max_retries=0)
    with tokentrace.track("claude-async"):
        await sdk.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        async with sdk.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            assert await stream.get_final_text() == "About a cent."
    await sdk.close()
    assert_calls(telemetry, records, 2)
    assert [r.tracking_id for r in records] == ["claude-async"] * 2


def test_vertex_raw_predict_and_stream(
    records: list[CallRecord], telemetry: Telemetry, server: DevServer
) -> None:
    """AnthropicVertex names the model in the path (``:rawPredict``, ``:streamRawPredict``), not the body."""
    server.script(json_reply(message()), sse(events()))
    sdk = vertex(server)
    model = "claude-sonnet-4-5@20250929"
    assert sdk.messages.create(model=model, max_tokens=100, messages=MESSAGES).content[0].type == "text"
    with sdk.messages.stream(model=model, max_tokens=100, messages=MESSAGES) as stream:
        assert stream.get_final_text() == "About a cent."
    paths = [r.path for r in server.requests]
    assert [p.rsplit("/", 1)[-1] for p in paths] == [f"{model}:rawPredict", f"{model}:streamRawPredict"]
    assert all("model" not in r.json for r in server.requests)
    assert_calls(telemetry, records, 2, model)
    assert [r.request_model for r in records] == [model] * 2


def test_count_tokens_and_batches_are_not_billed_calls(instrumented: Telemetry, server: DevServer) -> None:
    server.reset()
    batch = {
        "id": "msgbatch_01",
        "type": "message_batch",
        "processing_status": "in_progress",
        "request_counts": {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
        "created_at": "2026-12-06T00:00:00Z",
        "expires_at": "2026-12-07T00:00:00Z",
        "ended_at": None,
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": None,
    }
    server.script(json_reply({"input_tokens": 12}), json_reply(batch))
    sdk = first_party(server)
    assert sdk.messages.count_tokens(model=MODEL, messages=MESSAGES).input_tokens == 12
    request: Any = {"custom_id": "one", "params": {"model": MODEL, "max_tokens": 100, "messages": MESSAGES}}
    assert sdk.messages.batches.create(requests=[request]).id == "msgbatch_01"
    assert [r.path for r in server.requests] == ["/v1/messages/count_tokens", "/v1/messages/batches"]
    assert instrumented.spans() == []


def test_vertex_downgrade_rewrites_the_path(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    model, cheaper = "claude-sonnet-4-5@20250929", "claude-haiku-4-5@20251001"
    budget = tokentrace.Budget(limit_usd=0.001, model=model, action="downgrade", downgrade_to=cheaper)
    instrument(budgets=[budget])
    server.reset()
    server.script(json_reply(message()), json_reply(message("claude-haiku-4-5-20251001")))
    sdk = vertex(server)
    sdk.messages.create(model=model, max_tokens=100, messages=MESSAGES)
    sdk.messages.create(model=model, max_tokens=100, messages=MESSAGES)
    assert [r.path.rsplit("/", 1)[-1] for r in server.requests] == [
        f"{model}:rawPredict",
        f"{cheaper}:rawPredict",
    ]
    assert all("model" not in r.json for r in server.requests)
    attrs = dict(telemetry.spans()[-1].attributes or {})
    assert (attrs["gen_ai.request.model"], attrs["tokentrace.budget.downgraded_from"]) == (cheaper, model)


def test_ledger_rows(instrument: Any, server: DevServer, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    instrument(ledger=str(ledger))
    server.reset()
    server.script(json_reply(message()), sse(events()))
    with tokentrace.track("claude-ledger"):
        first_party(server).messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        with vertex(server).messages.create(
            model=f"{MODEL}@20250929", max_tokens=100, messages=MESSAGES, stream=True
        ) as stream:
            assert len(list(stream)) == 7
    tokentrace.uninstrument()
    rows = list(read_calls(ledger))
    assert [(r.request_model, r.response_model, r.tracking_id) for r in rows] == [
        (MODEL, ANSWERING, "claude-ledger"),
        (f"{MODEL}@20250929", ANSWERING, "claude-ledger"),
    ]
    assert rows[0].cost == COST and rows[0].status == "ok"
    for secret in (KEY, TOKEN):
        assert secret.encode() not in ledger.read_bytes()


def test_streams_over_a_mock_transport_finish(records: list[CallRecord], telemetry: Telemetry) -> None:
    """A user's own test suite answers the SDK with a MockTransport: its streams end like a socket's."""
    import httpx2

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = b"".join(events())
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    sdk = Anthropic(api_key=KEY, http_client=httpx2.Client(transport=httpx2.MockTransport(answer)))
    with tokentrace.track("mocked"):
        with sdk.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            assert stream.get_final_text() == "About a cent."
        for _ in sdk.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True):
            pass
    assert_calls(telemetry, records, 2)
    ends = [dict(s.attributes or {})["tokentrace.stream.end"] for s in telemetry.spans()]
    assert ends == ["completed", "completed"]


def test_fallback_chain_on_overload(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    """Anthropic's 529 (overloaded) moves the call on to the chain's next model, in the body."""
    from tokentrace.demo.server import status

    chain = (MODEL, "claude-haiku-4-5")
    instrument(fallbacks=[tokentrace.Fallback(chain=chain)])
    server.reset()
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.script(status(529, overloaded), json_reply(message("claude-haiku-4-5-20251001")))
    try:
        result = first_party(server).messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    finally:
        tokentrace.set_fallbacks([])
    assert result.model == "claude-haiku-4-5-20251001"
    assert [r.json["model"] for r in server.requests] == list(chain)
    spans = telemetry.spans()
    assert [s.name for s in spans] == [f"chat {m}" for m in chain]
    assert dict(spans[1].attributes or {})["tokentrace.fallback.from"] == MODEL


def test_the_local_servers_own_answers(records: list[CallRecord], server: DevServer) -> None:
    """Unscripted, cache breakpoint included: the second call reads what the first wrote."""
    system: Any = [
        {
            "type": "text",
            "text": "You answer questions about orders. " * 20,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    sdk = first_party(server)
    results = [
        sdk.messages.create(model=MODEL, max_tokens=100, system=system, messages=MESSAGES) for _ in range(2)
    ]
    with sdk.messages.stream(model=MODEL, max_tokens=100, system=system, messages=MESSAGES) as stream:
        results.append(stream.get_final_message())
    assert len(records) == 3
    for record, result in zip(records, results, strict=True):
        usage = result.usage
        read, write = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
        assert record.input_tokens == usage.input_tokens + read + write
        assert (record.cache_read_tokens or 0, record.cache_write_tokens or 0) == (read, write)
        expected = (usage.input_tokens * 3 + read * 0.30 + write * 3.75 + usage.output_tokens * 15) / 1e6
        assert float(record.cost or 0) == pytest.approx(expected, abs=1e-12)
    assert (records[0].cache_write_tokens or 0) > 0 and (records[1].cache_read_tokens or 0) > 0
