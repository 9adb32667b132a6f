"""What tokentrace adds to plain HTTP calls: non-LLM traffic, and LLM calls vs the SDK path.

Each client is driven over an in-process transport (httpx/httpx2 ``MockTransport``, a canned
``requests`` adapter) so the figures are about the patch, not the network. Instrumented and bare
runs alternate, and the median of the repetitions is reported, because this machine is shared.

    python benchmarks/http_overhead.py [--calls 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import requests
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import tokentrace

try:
    import httpx2
except ImportError:
    httpx2 = None

CHAT = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }
).encode()
BODY = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}


class _Drop(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _CannedAdapter(requests.adapters.BaseAdapter):
    def send(self, request: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers["content-type"] = "application/json"
        response._content = CHAT
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def _timed(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def scenarios() -> dict[str, Callable[[], Any]]:
    session = requests.Session()
    session.mount("http://", _CannedAdapter())

    out: dict[str, Callable[[], Any]] = {
        "requests GET (not an LLM call)": lambda: session.get("http://api.example.com/v1/models"),
        "requests POST /v1/files (not an LLM call)": lambda: session.post(
            "http://api.example.com/v1/files", data=b"x"
        ),
        "requests POST /chat/completions (LLM call)": lambda: session.post(
            "http://api.example.com/v1/chat/completions", json=BODY
        ),
    }
    for module in (httpx, httpx2):
        if module is None:
            continue

        def handler(request: Any, response_type: Any = module.Response) -> Any:
            return response_type(200, content=CHAT, headers={"content-type": "application/json"})

        client = module.Client(transport=module.MockTransport(handler))
        name = module.__name__
        out[f"{name} GET (not an LLM call)"] = lambda c=client: c.get("http://api.example.com/v1/models")
        out[f"{name} POST /chat/completions (LLM call)"] = lambda c=client: c.post(
            "http://api.example.com/v1/chat/completions", json=BODY
        )
    return out


def patch_only() -> None:
    """The patch alone on non-LLM requests: the wrapper called around a no-op ``send``."""
    from tokentrace.calls.apis import PathTable
    from tokentrace.patches import httpx_client, requests_session

    recorder = tokentrace.TokenTraceInstrumentor().recorder
    assert recorder is not None
    table = PathTable()
    requests_send = requests_session.make_wrapper_for(recorder, table)
    httpx_send, _ = httpx_client.make_wrappers_for(recorder, table)
    session = requests.Session()
    prepared_get = session.prepare_request(requests.Request("GET", "http://api.example.com/v1/models"))
    prepared_post = session.prepare_request(
        requests.Request("POST", "http://api.example.com/v1/files", data=b"x")
    )
    httpx_get = httpx.Request("GET", "http://api.example.com/v1/models")
    httpx_post = httpx.Request("POST", "http://api.example.com/v1/files", content=b"x")

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    cases = {
        "requests GET": lambda: requests_send(noop, session, (prepared_get,), {}),
        "requests POST /v1/files": lambda: requests_send(noop, session, (prepared_post,), {}),
        "httpx GET": lambda: httpx_send(noop, None, (httpx_get,), {}),
        "httpx POST /v1/files": lambda: httpx_send(noop, None, (httpx_post,), {}),
    }
    baseline = statistics.median(_timed(lambda: noop(None, (None,), {}), 200_000) for _ in range(5))
    print("\n| non-LLM request, patch only | added µs/call (median of 5) |\n|---|---|")
    for name, fn in cases.items():
        print(f"| {name} | {statistics.median(_timed(fn, 200_000) for _ in range(5)) - baseline:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    runs = scenarios()
    bare: dict[str, list[float]] = {name: [] for name in runs}
    instrumented: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():  # warm up
        _timed(fn, 200)
    for _ in range(args.repeats):
        for name, fn in runs.items():
            bare[name].append(_timed(fn, args.calls // 10 if "LLM" in name else args.calls))
        tokentrace.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        for name, fn in runs.items():
            instrumented[name].append(_timed(fn, args.calls // 10 if "LLM" in name else args.calls))
        tokentrace.uninstrument()
    print(f"| scenario | bare µs/call | with tokentrace | added µs (median of {args.repeats}) |")
    print("|---|---|---|---|")
    for name in runs:
        b, i = statistics.median(bare[name]), statistics.median(instrumented[name])
        print(f"| {name} | {b:.1f} | {i:.1f} | {i - b:+.1f} |")
    tokentrace.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    patch_only()
    tokentrace.uninstrument()


if __name__ == "__main__":
    main()
