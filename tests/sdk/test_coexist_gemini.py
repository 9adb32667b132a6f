"""Beside the instrumentations of the google-genai SDK (which opens no span of its own).

The official ``opentelemetry-instrumentation-google-genai`` (1.1: it declares google-genai < 3, so
it is switched on with its version check skipped, as ``opentelemetry-instrument`` would not),
OpenInference's and OpenLLMetry's, each exporting into the same providers as tokentrace. Calls are
answered by the local server with hand-written Gemini API bodies, or, where the provider must be
the real API's (``gcp.gemini``), by a mock transport on the SDK's own httpx2 client. What a user
must see: one span with the call's usage, carrying tokentrace's cost and tracking id, and one
input, one output and one duration point per call, whichever instrumentation recorded them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import types
from opentelemetry.trace import SpanKind

import tokentrace
from tests.conftest import Telemetry
from tests.sdk.peers import OURS, duration_counts, scope_of, token_counts, usage_spans
from tokentrace.demo.server import DevServer
from tokentrace.demo.server._scripted import json as json_reply
from tokentrace.demo.server._scripted import sse

KEY = "AIza-loopback-test"
MODEL = "gemini-2.5-flash"
KINDS = ("plain", "stream", "async", "async-stream")
TOKENS = (30, 12)
OFFICIAL = "opentelemetry.util.genai.handler"  # util-genai 1.1's handler names the scope
OPENINFERENCE = "openinference.instrumentation.google_genai"
OPENLLMETRY = "opentelemetry.instrumentation.google_generativeai"


def candidate(text: str, finished: bool) -> dict[str, Any]:
    part: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finished:
        part["finishReason"] = "STOP"
    return part


def answer() -> dict[str, Any]:
    return {
        "candidates": [candidate("Hello there", True)],
        "usageMetadata": {
            "promptTokenCount": TOKENS[0],
            "candidatesTokenCount": TOKENS[1],
            "totalTokenCount": sum(TOKENS),
        },
        "modelVersion": MODEL,
        "responseId": "resp-coexist-1",
    }


def chunks() -> list[dict[str, Any]]:
    """A stream as the Gemini API sends it: each chunk with the usage so far."""
    first = {
        "candidates": [candidate("Hello", False)],
        "usageMetadata": {"promptTokenCount": TOKENS[0], "totalTokenCount": TOKENS[0]},
        "modelVersion": MODEL,
        "responseId": "resp-coexist-2",
    }
    last = answer()
    last["candidates"] = [candidate(" there", True)]
    last["responseId"] = "resp-coexist-2"
    return [first, last]


async def one_call(client: genai.Client, kind: str) -> str:
    """One ``generate_content`` of ``kind`` inside ``track("checkout")``; what the caller read."""
    with tokentrace.track("checkout"):
        if kind == "plain":
            return client.models.generate_content(model=MODEL, contents="Say hello").text or ""
        if kind == "stream":
            stream = client.models.generate_content_stream(model=MODEL, contents="Say hello")
            return "".join(chunk.text or "" for chunk in stream)
        if kind == "async":
            reply = await client.aio.models.generate_content(model=MODEL, contents="Say hello")
            return reply.text or ""
        astream = await client.aio.models.generate_content_stream(model=MODEL, contents="Say hello")
        return "".join([chunk.text or "" async for chunk in astream])


def served(server: DevServer, kind: str) -> genai.Client:
    """A client of the local server, which answers the next call as the Gemini API would."""
    server.reset()
    server.script(sse(chunks()) if "stream" in kind else json_reply(answer()))
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.origin))


def mocked() -> genai.Client:
    """A client of the real API host (provider ``gcp.gemini``), answered by mock transports."""

    def reply(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith(":streamGenerateContent"):
            body = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks())
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())
        return httpx2.Response(200, json=answer())

    async def areply(request: httpx2.Request) -> httpx2.Response:
        return reply(request)

    options = types.HttpOptions(
        httpx_client=httpx2.Client(transport=httpx2.MockTransport(reply)),
        httpx_async_client=httpx2.AsyncClient(transport=httpx2.MockTransport(areply)),
    )
    return genai.Client(api_key=KEY, http_options=options)


def assert_priced(span: Any) -> None:
    attrs = dict(span.attributes or {})
    assert attrs["tokentrace.tracking_id"] == "checkout"
    assert attrs["gen_ai.usage.cost.amount"] > 0
    assert attrs["gen_ai.usage.cost.currency"] == "USD"
    assert attrs["tokentrace.price.entry"] == "google/gemini-2.5-flash"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == TOKENS


def assert_cost_metric(telemetry: Telemetry, span: Any) -> None:
    (cost,) = telemetry.metrics()["gen_ai.client.cost"]
    assert cost.value == pytest.approx((span.attributes or {})["gen_ai.usage.cost.amount"])
    assert cost.attributes["tokentrace.tracking_id"] == "checkout"


def official_instrumentor() -> Any:
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

    return GoogleGenAiSdkInstrumentor()


@pytest.mark.parametrize("kind", KINDS)
async def test_beside_the_official_instrumentation(
    telemetry: Telemetry, peer: Callable[..., None], instrument: Any, server: DevServer, kind: str
) -> None:
    """Its CLIENT span is current when the SDK sends: enriched; the histograms are its own."""
    peer(official_instrumentor(), skip_dep_check=True)
    instrument()
    assert await one_call(served(server, kind), kind) == "Hello there"

    (span,) = usage_spans(telemetry)
    assert scope_of(span) == OFFICIAL
    assert span.kind is SpanKind.CLIENT
    assert_priced(span)
    assert token_counts(telemetry) == {OFFICIAL: (1, 1, *TOKENS)}
    assert duration_counts(telemetry) == {OFFICIAL: 1}
    assert_cost_metric(telemetry, span)


@pytest.mark.parametrize("mode", ["own", "both"])
async def test_own_and_both_beside_the_official_instrumentation(
    telemetry: Telemetry, peer: Callable[..., None], instrument: Any, server: DevServer, mode: str
) -> None:
    """tokentrace's own span under the official one, and both sets of histograms: it wraps the
    SDK's methods outside tokentrace's patch, so the suppression ``own`` sets comes too late."""
    peer(official_instrumentor(), skip_dep_check=True)
    instrument(coexist=mode)
    await one_call(served(server, "stream"), "stream")

    spans = {scope_of(span): span for span in usage_spans(telemetry)}
    assert set(spans) == {OFFICIAL, OURS}
    parent = spans[OURS].parent
    assert parent is not None
    assert parent.span_id == spans[OFFICIAL].context.span_id
    assert_priced(spans[OURS])
    assert "gen_ai.usage.cost.amount" not in (spans[OFFICIAL].attributes or {})
    assert token_counts(telemetry) == {OFFICIAL: (1, 1, *TOKENS), OURS: (1, 1, *TOKENS)}
    assert duration_counts(telemetry) == {OFFICIAL: 1, OURS: 1}


@pytest.mark.parametrize("kind", KINDS)
async def test_beside_openinference(
    telemetry: Telemetry, peer: Callable[..., None], instrument: Any, server: DevServer, kind: str
) -> None:
    """OpenInference's span (INTERNAL, ``llm.*`` attributes, no metrics) is current when a plain
    call is sent, and is enriched. A stream's request goes out when the caller starts reading,
    after OpenInference's wrapper returned: tokentrace's own span records that call. Either way
    one span carries the usage, and tokentrace records the histograms nobody else records."""
    from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor

    peer(GoogleGenAIInstrumentor())
    instrument()
    assert await one_call(served(server, kind), kind) == "Hello there"

    (span,) = usage_spans(telemetry)
    assert scope_of(span) == (OURS if "stream" in kind else OPENINFERENCE)
    assert_priced(span)
    (theirs,) = [s for s in telemetry.spans() if scope_of(s) == OPENINFERENCE]
    assert theirs.kind is SpanKind.INTERNAL
    assert token_counts(telemetry) == {OURS: (1, 1, *TOKENS)}
    assert duration_counts(telemetry) == {OURS: 1}
    assert_cost_metric(telemetry, span)


@pytest.mark.parametrize("kind", KINDS)
async def test_beside_openllmetry(
    telemetry: Telemetry, peer: Callable[..., None], instrument: Any, kind: str
) -> None:
    """OpenLLMetry's span (CLIENT) is never current, and it records the histograms: tokentrace's own
    span carries the cost beside it, and leaves the histograms to it."""
    from opentelemetry.instrumentation.google_generativeai import GoogleGenerativeAiInstrumentor

    peer(GoogleGenerativeAiInstrumentor())  # type: ignore[no-untyped-call]
    instrument()
    assert await one_call(mocked(), kind) == "Hello there"

    spans = {scope_of(span): span for span in usage_spans(telemetry)}
    assert set(spans) == {OURS, OPENLLMETRY}
    assert_priced(spans[OURS])
    assert "gen_ai.usage.cost.amount" not in (spans[OPENLLMETRY].attributes or {})
    assert token_counts(telemetry) == {OPENLLMETRY: (1, 1, *TOKENS)}
    assert duration_counts(telemetry) == {OPENLLMETRY: 1}
    assert_cost_metric(telemetry, spans[OURS])
