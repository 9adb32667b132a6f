"""One call is one GenAI span and one cost, whoever else is instrumenting HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import requests
from openai.types.chat import ChatCompletionMessageParam

from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]


def genai_spans(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans() if (s.attributes or {}).get("gen_ai.operation.name")]


def test_sdk_call_is_one_span_although_its_http_client_is_patched(
    instrumented: Telemetry, server: DevServer
) -> None:
    import importlib

    http_module = importlib.import_module("httpx2" if int(openai.__version__.split(".")[0]) >= 3 else "httpx")
    assert hasattr(http_module.Client.send, "__wrapped__"), "the SDK's HTTP client is patched too"
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    client.embeddings.create(model="text-embedding-3-small", input="x")
    spans = genai_spans(instrumented)
    assert len(spans) == 3
    assert len(instrumented.metrics()["gen_ai.client.operation.duration"]) >= 1
    assert sum(p.count for p in instrumented.metrics()["gen_ai.client.operation.duration"]) == 3


@pytest.fixture
def otel_http_instrumentations(telemetry: Telemetry) -> Iterator[None]:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)
    yield
    RequestsInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()


@pytest.mark.parametrize("order", ["theirs-first", "ours-first"])
def test_other_http_instrumentations_keep_their_spans(
    instrument: Any, telemetry: Telemetry, server: DevServer, order: str, request: Any
) -> None:
    if order == "ours-first":
        instrument()
        request.getfixturevalue("otel_http_instrumentations")
    else:
        request.getfixturevalue("otel_http_instrumentations")
        instrument()
    body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES}
    requests.post(f"{server.base_url}/chat/completions", json=body, timeout=30)
    with httpx.Client() as client:
        client.post(f"{server.base_url}/chat/completions", json=body)
    spans = telemetry.spans()
    genai = genai_spans(telemetry)
    http_spans = [
        s
        for s in spans
        if "http.request.method" in (s.attributes or {}) or "http.method" in (s.attributes or {})
    ]
    assert len(genai) == 2, [s.name for s in spans]
    assert len(http_spans) == 2, [s.name for s in spans]
    # One nests in the other (which one depends on patch order); neither is lost.
    genai_ids = {s.context.span_id for s in genai}
    assert any(s.parent is not None and s.parent.span_id in genai_ids for s in http_spans) or any(
        g.parent is not None and g.parent.span_id in {h.context.span_id for h in http_spans} for g in genai
    )
