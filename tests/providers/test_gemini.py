"""The Gemini API through the real google-genai SDK and plain HTTP, against the local server.

The model is in the path (``models/{model}:generateContent``), usage in ``usageMetadata``: input is
the prompt (cache reads inside it), output the candidates plus the thoughts. Gemini 2.5 Flash at
$0.30 / $2.50 per million input / output tokens and $0.03 per million cache reads: 100 prompt
tokens of which 40 cached, 20 candidates and 30 thoughts cost 60 x 0.30 + 40 x 0.03 + 50 x 2.50
millionths of a dollar, $0.0001442.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
import requests
from google import genai
from google.genai import types

import tokentrace
from tests.conftest import Telemetry
from tokentrace.activation import set_budgets
from tokentrace.calls.records import CallRecord
from tokentrace.demo.server import DevServer, status
from tokentrace.demo.server._scripted import json as json_reply
from tokentrace.demo.server._scripted import raw, sse
from tokentrace.ledger import read_calls

MODEL = "gemini-2.5-flash"
COST = (60 * 0.30 + 40 * 0.03 + 50 * 2.50) / 1e6
assert round(COST, 10) == 0.0001442
CANARY = "AIza-canary-key-never-recorded"
USAGE = {
    "promptTokenCount": 100,
    "cachedContentTokenCount": 40,
    "candidatesTokenCount": 20,
    "thoughtsTokenCount": 30,
    "totalTokenCount": 150,
}


def answer(
    text: str = "Hello there", usage: dict[str, Any] | None = None, model: str = MODEL
) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": USAGE if usage is None else usage,
        "modelVersion": model,
        "responseId": "resp-gemini-1",
    }


def chunks() -> list[dict[str, Any]]:
    """A stream as the Gemini API sends it: each chunk with the usage so far; the last, the totals."""
    first = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 40, "totalTokenCount": 100},
        "modelVersion": MODEL,
        "responseId": "resp-gemini-2",
    }
    last = answer(" there")
    last["responseId"] = "resp-gemini-2"
    return [first, last]


@pytest.fixture(autouse=True)
def _no_budgets() -> Iterator[None]:
    yield
    set_budgets([])


@pytest.fixture
def client(server: DevServer) -> genai.Client:
    server.reset()
    return genai.Client(api_key=CANARY, http_options=types.HttpOptions(base_url=server.origin))


@pytest.fixture
def records(instrument: Any) -> list[CallRecord]:
    found: list[CallRecord] = []
    instrument().recorder.sinks.append(found.append)
    return found


def assert_one_call(
    telemetry: Telemetry, *, stream: bool = False, tracking_id: str | None = None
) -> dict[str, Any]:
    span = telemetry.span()
    attrs = dict(span.attributes or {})
    assert span.name == f"generate_content {MODEL}"
    assert attrs["gen_ai.operation.name"] == "generate_content"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.response.model"] == MODEL
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (100, 50)
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 40
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 30
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(COST, abs=1e-9)
    assert attrs.get("gen_ai.request.stream", False) is stream
    assert attrs.get("tokentrace.tracking_id") == tracking_id
    assert CANARY not in repr(attrs) and CANARY not in repr(span.events)
    points = telemetry.metrics()["gen_ai.client.token.usage"]
    assert sorted(p.sum for p in points) == [50, 100]
    return attrs


def test_generate_content(
    records: list[CallRecord], telemetry: Telemetry, client: genai.Client, server: DevServer
) -> None:
    server.script(json_reply(answer()))
    config = types.GenerateContentConfig(temperature=0.4, max_output_tokens=200, stop_sequences=["END"])
    with tokentrace.track("gemini-plain"):
        result = client.models.generate_content(
            model=MODEL, contents="How much does this cost", config=config
        )
    assert result.text == "Hello there"  # the caller's result as the SDK made it
    assert result.usage_metadata is not None and result.usage_metadata.thoughts_token_count == 30
    attrs = assert_one_call(telemetry, tracking_id="gemini-plain")
    assert attrs["gen_ai.response.id"] == "resp-gemini-1"
    assert attrs["gen_ai.request.temperature"] == 0.4
    assert attrs["gen_ai.request.max_tokens"] == 200
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    [request] = server.requests
    assert request.path.endswith(f"/models/{MODEL}:generateContent")
    assert "model" not in request.json  # the body went out as the SDK made it
    assert records[0].cost == Decimal("0.0001442")


def test_generate_content_stream(
    telemetry: Telemetry, instrumented: Telemetry, client: genai.Client, server: DevServer
) -> None:
    server.script(sse(chunks()))
    with tokentrace.track("gemini-stream"):
        pieces = [chunk.text for chunk in client.models.generate_content_stream(model=MODEL, contents="Hi")]
    assert pieces == ["Hello", " there"]
    attrs = assert_one_call(telemetry, stream=True, tracking_id="gemini-stream")
    assert attrs["tokentrace.stream.end"] == "completed"
    [request] = server.requests
    assert request.path.endswith(":streamGenerateContent") and request.query == {"alt": "sse"}


async def test_async_generate_content_and_stream(
    instrumented: Telemetry, client: genai.Client, server: DevServer
) -> None:
    server.script(json_reply(answer()), sse(chunks()))
    with tokentrace.track("gemini-async"):
        result = await client.aio.models.generate_content(model=MODEL, contents="Hi")
        stream = await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")
        pieces = [chunk.text async for chunk in stream]
    await client.aio.aclose()  # its aiohttp session, which the client keeps open for its life
    assert result.text == "Hello there" and pieces == ["Hello", " there"]
    spans = instrumented.spans()
    assert [s.name for s in spans] == [f"generate_content {MODEL}"] * 2
    for span in spans:
        attrs = dict(span.attributes or {})
        assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(COST, abs=1e-9)
        assert attrs["tokentrace.tracking_id"] == "gemini-async"


def test_vertex_ai_paths(instrumented: Telemetry, server: DevServer) -> None:
    from google.oauth2.credentials import Credentials

    server.reset()
    vertex = genai.Client(
        vertexai=True,
        project="a-project",
        location="us-central1",
        credentials=Credentials(token="vertex-canary-token"),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(base_url=server.origin),
    )
    server.script(json_reply(answer()))
    result = vertex.models.generate_content(model=MODEL, contents="Hi")
    assert result.text == "Hello there"
    [request] = server.requests
    assert "/projects/a-project/locations/us-central1/publishers/google/models/" in request.path
    assert_one_call(instrumented)
    assert "vertex-canary-token" not in repr(instrumented.span().attributes)


def test_count_tokens_is_not_a_billed_call(
    instrumented: Telemetry, client: genai.Client, server: DevServer
) -> None:
    server.script(json_reply({"totalTokens": 7}))
    assert client.models.count_tokens(model=MODEL, contents="Hi").total_tokens == 7
    assert instrumented.spans() == []
    assert "gen_ai.client.token.usage" not in instrumented.metrics()


def test_embeddings(
    records: list[CallRecord], telemetry: Telemetry, client: genai.Client, server: DevServer
) -> None:
    server.script(
        json_reply({"embeddings": [{"values": [0.1, 0.2]}], "usageMetadata": {"promptTokenCount": 12}}),
        json_reply({"embedding": {"values": [0.3, 0.4]}}),
    )
    client.models.embed_content(model="gemini-embedding-001", contents=["one"])
    response = requests.post(
        f"{server.origin}/v1beta/models/gemini-embedding-001:embedContent",
        json={"content": {"parts": [{"text": "two"}]}},
        headers={"x-goog-api-key": CANARY},
        timeout=30,
    )
    assert response.json()["embedding"]["values"] == [0.3, 0.4]
    assert [s.name for s in telemetry.spans()] == ["embeddings gemini-embedding-001"] * 2
    assert [r.input_tokens for r in records] == [12, None]
    assert records[0].cost == Decimal(12) * Decimal("0.15") / 1_000_000  # $0.15 per million
    assert (records[1].cost, records[1].cost_unknown_reason) == (None, "no_usage")


@pytest.mark.parametrize("how", ["requests", "httpx2", "aiohttp"])
def test_plain_http_with_the_key_in_the_query(
    how: str, instrumented: Telemetry, server: DevServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The Developer API's ``?key=``: the call is recorded, the key reaches no sink, even in an error."""
    caplog.set_level(logging.DEBUG, logger="tokentrace")
    server.reset()
    server.script(json_reply(answer()), status(400))
    url = f"{server.origin}/v1beta/models/{MODEL}:generateContent?key={CANARY}"
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    for _ in range(2):
        if how == "requests":
            got = requests.post(url, json=body, timeout=30).status_code
        elif how == "httpx2":
            with httpx2.Client() as http:
                got = http.post(url, json=body).status_code
        else:

            async def post() -> int:
                async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
                    await response.read()
                    return response.status

            got = asyncio.run(post())
        assert got in (200, 400)
    assert [r.query.get("key") for r in server.requests] == [CANARY, CANARY]
    ok, failed = instrumented.spans()
    assert dict(ok.attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(COST, abs=1e-9)
    assert dict(failed.attributes or {})["error.type"] == "400"
    for span in (ok, failed):
        assert CANARY not in repr(span.attributes) + repr(span.status) + repr(span.events)
    assert CANARY not in repr(instrumented.metrics())
    assert not [r for r in caplog.records if r.name.startswith("tokentrace") and CANARY in r.getMessage()]


def test_stream_as_a_json_array_and_through_a_mock_transport(
    instrumented: Telemetry, server: DevServer
) -> None:
    """Without ``alt=sse`` the stream is one JSON array; an httpx2 MockTransport's stream finishes too."""
    server.reset()
    server.script(json_reply(chunks()))
    url = f"{server.origin}/v1beta/models/{MODEL}:streamGenerateContent"
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    with requests.post(url, json=body, stream=True, timeout=30) as response:
        assert [c["responseId"] for c in json.loads(b"".join(response.iter_content(7)))] == [
            "resp-gemini-2"
        ] * 2
    events = b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks())
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(200, content=events, headers={"content-type": "text/event-stream"})
    )
    with (
        httpx2.Client(transport=transport) as http,
        http.stream("POST", url + "?alt=sse", json=body) as response,
    ):
        assert sum(1 for line in response.iter_lines() if line.startswith("data:")) == 2
    spans = instrumented.spans()
    assert len(spans) == 2
    for span in spans:
        attrs = dict(span.attributes or {})
        assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (100, 50)
        assert attrs["tokentrace.stream.end"] == "completed"


def test_long_context_prices_above_200k_prompt_tokens(
    records: list[CallRecord], client: genai.Client, server: DevServer
) -> None:
    """Gemini 2.5 Pro: $1.25 / $10 per million up to 200k prompt tokens, $2.50 / $15 above."""
    usage = {"promptTokenCount": 250_000, "candidatesTokenCount": 1_000, "totalTokenCount": 251_000}
    small = {"promptTokenCount": 1_000, "candidatesTokenCount": 1_000, "totalTokenCount": 2_000}
    server.script(
        json_reply(answer(usage=usage, model="gemini-2.5-pro")),
        json_reply(answer(usage=small, model="gemini-2.5-pro")),
    )
    client.models.generate_content(model="gemini-2.5-pro", contents="a long document")
    client.models.generate_content(model="gemini-2.5-pro", contents="a short one")
    assert [r.cost for r in records] == [Decimal("0.64"), Decimal("0.01125")]


def test_malformed_usage_never_breaks_the_call(
    records: list[CallRecord], client: genai.Client, server: DevServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(
        json_reply(answer(usage={"promptTokenCount": 100, "candidatesTokenCount": -3})),
        raw(200, b'{"candidates": [', {"content-type": "application/json"}),
    )
    with caplog.at_level(logging.WARNING):
        assert client.models.generate_content(model=MODEL, contents="Hi").text == "Hello there"
        with pytest.raises(Exception) as raised:  # the SDK's own error on a truncated body
            client.models.generate_content(model=MODEL, contents="Hi")
    assert "tokentrace" not in type(raised.value).__module__
    # A count that is no count makes the usage unknown, never a wrong cost; so does a cut body.
    assert [(r.input_tokens, r.cost, r.cost_unknown_reason) for r in records] == [
        (None, None, "no_usage")
    ] * 2
    assert not [r for r in caplog.records if r.name.startswith("tokentrace") and r.levelno >= logging.ERROR]


def test_budget_downgrade_rewrites_the_path(
    instrument: Any, telemetry: Telemetry, client: genai.Client, server: DevServer
) -> None:
    instrument(
        budgets=[
            tokentrace.Budget(
                limit_usd=COST / 2, model=MODEL, action="downgrade", downgrade_to="gemini-2.5-flash-lite"
            )
        ]
    )
    server.script(json_reply(answer()), json_reply(answer(model="gemini-2.5-flash-lite")))
    client.models.generate_content(model=MODEL, contents="Hi")
    result = client.models.generate_content(model=MODEL, contents="Hi")
    assert result.model_version == "gemini-2.5-flash-lite"
    assert [r.path.rsplit("/", 1)[-1] for r in server.requests] == [
        f"{MODEL}:generateContent",
        "gemini-2.5-flash-lite:generateContent",
    ]
    assert all("model" not in r.json for r in server.requests)
    attrs = dict(telemetry.spans()[-1].attributes or {})
    assert attrs["gen_ai.request.model"] == "gemini-2.5-flash-lite"
    assert attrs["tokentrace.budget.downgraded_from"] == MODEL


def test_fallback_chain_moves_the_path_to_the_next_model(
    instrument: Any, telemetry: Telemetry, client: genai.Client, server: DevServer
) -> None:
    chain = ("gemini-2.5-pro", MODEL)
    instrument(fallbacks=[tokentrace.Fallback(chain=chain)])
    try:
        server.script(status(429), json_reply(answer()))
        no_retry = types.HttpOptions(base_url=server.origin, retry_options=types.HttpRetryOptions(attempts=1))
        sdk = genai.Client(api_key=CANARY, http_options=no_retry)
        assert sdk.models.generate_content(model=chain[0], contents="Hi").text == "Hello there"
    finally:
        tokentrace.set_fallbacks([])
    assert [r.path.rsplit("/", 1)[-1] for r in server.requests] == [f"{m}:generateContent" for m in chain]
    assert [s.name for s in telemetry.spans()] == [f"generate_content {m}" for m in chain]
    assert dict(telemetry.spans()[-1].attributes or {})["tokentrace.fallback.from"] == chain[0]


def test_ledger_rows(instrument: Any, client: genai.Client, server: DevServer, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    instrument(ledger=str(ledger))
    server.script(json_reply(answer()), sse(chunks()))
    with tokentrace.track("gemini-ledger"):
        client.models.generate_content(model=MODEL, contents="Hi")
        list(client.models.generate_content_stream(model=MODEL, contents="Hi"))
    tokentrace.uninstrument()
    rows = list(read_calls(ledger))
    assert [(r.operation, r.request_model, r.stream, r.tracking_id) for r in rows] == [
        ("generate_content", MODEL, False, "gemini-ledger"),
        ("generate_content", MODEL, True, "gemini-ledger"),
    ]
    assert [r.cost for r in rows] == [Decimal("0.0001442")] * 2
    assert CANARY.encode() not in ledger.read_bytes()


def test_budget_refuses_before_sending_and_prechecks_max_output(
    instrument: Any, telemetry: Telemetry, client: genai.Client, server: DevServer
) -> None:
    """The worst case of a Gemini call reads ``generationConfig.maxOutputTokens`` and ``contents``."""
    instrument(budgets=[tokentrace.Budget(limit_usd="0.001", precheck=True)])
    server.script(json_reply(answer()))
    small = types.GenerateContentConfig(max_output_tokens=100)  # worst case ~ $0.00025
    large = types.GenerateContentConfig(max_output_tokens=1000)  # worst case ~ $0.0025
    client.models.generate_content(model=MODEL, contents="Hi", config=small)
    with pytest.raises(tokentrace.BudgetExceededError, match="could take it to"):
        client.models.generate_content(model=MODEL, contents="Hi", config=large)
    assert len(server.requests) == 1
    refused = dict(telemetry.spans()[-1].attributes or {})
    assert refused["error.type"] == "BudgetExceededError" and refused["gen_ai.request.max_tokens"] == 1000


def test_the_key_in_the_query_is_kept_out_of_error_text(
    instrumented: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """A request that fails (nothing listens) names its URL in the error: never the key in it."""
    caplog.set_level(logging.DEBUG, logger="tokentrace")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}/v1beta/models/{MODEL}:generateContent?key={CANARY}"
    with pytest.raises(requests.ConnectionError) as raised:
        requests.post(url, json={"contents": []}, timeout=30)
    assert CANARY in str(raised.value)  # the caller's own error is left as it was
    span = instrumented.span()
    assert span.status.description and CANARY not in span.status.description
    assert CANARY not in repr(span.attributes) + repr(span.events)
    assert not [r for r in caplog.records if r.name.startswith("tokentrace") and CANARY in r.getMessage()]


def test_content_only_when_opted_in(
    instrument: Any, telemetry: Telemetry, client: genai.Client, server: DevServer
) -> None:
    instrument(capture_content=True)
    server.script(json_reply(answer()), json_reply(answer()))
    config = types.GenerateContentConfig(system_instruction="Answer in one line.")
    client.models.generate_content(model=MODEL, contents="What does it cost?", config=config)
    attrs: dict[str, Any] = dict(telemetry.span().attributes or {})
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What does it cost?"}]}
    ]
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer in one line."}
    ]
    tokentrace.uninstrument()
    telemetry.exporter.clear()
    instrument()
    client.models.generate_content(model=MODEL, contents="What does it cost?", config=config)
    assert not [k for k in dict(telemetry.span().attributes or {}) if "messages" in k or "instructions" in k]


def test_the_local_servers_own_answers(
    records: list[CallRecord], client: genai.Client, server: DevServer
) -> None:
    """Unscripted: whatever usage the server reports, the record holds it and prices it."""
    result = client.models.generate_content(model=MODEL, contents="Summarise the late orders of the day")
    pieces = list(client.models.generate_content_stream(model=MODEL, contents="Summarise the day"))
    usages = [result.usage_metadata, pieces[-1].usage_metadata]
    assert len(records) == 2
    for record, usage in zip(records, usages, strict=True):
        assert usage is not None and usage.prompt_token_count and usage.candidates_token_count
        cached, thoughts = usage.cached_content_token_count or 0, usage.thoughts_token_count or 0
        output = usage.candidates_token_count + thoughts
        assert (record.input_tokens, record.output_tokens) == (usage.prompt_token_count, output)
        assert record.reasoning_tokens == (thoughts or None)
        expected = ((usage.prompt_token_count - cached) * 0.30 + cached * 0.03 + output * 2.50) / 1e6
        assert float(record.cost or 0) == pytest.approx(expected, abs=1e-12)
