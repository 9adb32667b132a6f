"""The instrumented app the end-to-end tests run as a process of its own.

It does what a user's service does: sets up a Prometheus metrics endpoint, switches tokentrace on
with one line (traces go wherever the standard ``OTEL_*`` variables say, e.g. OTLP/HTTP to Phoenix),
starts a local OpenAI-compatible server and runs a fixed workload through the real ``openai`` SDK
and plain ``requests`` under two tracking ids, inside one parent span.

It prints one JSON line per call with the usage the server answered (what the tests price by
hand), then a ``done`` line, and keeps serving ``/metrics`` until its standard input closes.

    python tests/e2e/app.py --metrics-port 9464 [--rounds 1] [--pause 0]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import requests
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import tokentrace
from tokentrace.demo.server import DevServer, delay, status

WORKLOAD_SPAN = "e2e workload"
FEATURE_SPAN_PREFIX = "feature "
UNPRICED_MODEL = "house-llm-e2e"
CLIENT_TIMEOUT = 0.3  # seconds; the scripted slow reply waits longer than this


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


@dataclass(frozen=True)
class Call:
    """One call of the workload: how it is made, the model, and a function making it."""

    via: str
    model: str
    run: Callable[[], tuple[int, int]]
    """Makes the call; returns (input tokens, output tokens) as the server answered them."""


@contextlib.contextmanager
def _feature(tracer: trace.Tracer, tracking_id: str) -> Iterator[Callable[[Call], None]]:
    """A span and a tracking id around some calls; yields a function making and reporting one."""

    def make(call: Call) -> None:
        record: dict[str, Any] = {"tracking_id": tracking_id, "via": call.via, "model": call.model}
        try:
            record["input_tokens"], record["output_tokens"] = call.run()
            record["error"] = None
        except openai.APIError as exc:
            record["error"] = type(exc).__name__
        _emit(record)

    with tracer.start_as_current_span(FEATURE_SPAN_PREFIX + tracking_id), tokentrace.track(tracking_id):
        yield make


def _chat(client: openai.OpenAI, model: str, text: str) -> Call:
    def run() -> tuple[int, int]:
        response = client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])
        assert response.usage is not None
        return response.usage.prompt_tokens, response.usage.completion_tokens

    return Call("openai", model, run)


def _chat_stream(client: openai.OpenAI, model: str, text: str) -> Call:
    def run() -> tuple[int, int]:
        # The caller asks for usage itself, so it sees the usage chunk (tokentrace then adds nothing).
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": text}],
            stream=True,
            stream_options={"include_usage": True},
        )
        usage = None
        for chunk in stream:
            usage = chunk.usage or usage
        assert usage is not None
        return usage.prompt_tokens, usage.completion_tokens

    return Call("openai", model, run)


def _plain_http(base_url: str, model: str, text: str) -> Call:
    def run() -> tuple[int, int]:
        response = requests.post(
            f"{base_url}/chat/completions",
            headers={"Authorization": "Bearer e2e-key"},
            json={"model": model, "messages": [{"role": "user", "content": text}]},
            timeout=10,
        )
        response.raise_for_status()
        usage = response.json()["usage"]
        return usage["prompt_tokens"], usage["completion_tokens"]

    return Call("requests", model, run)


def run_workload(server: DevServer, tracer: trace.Tracer) -> str:
    """The fixed workload; returns the parent span's trace id (hex)."""
    client = openai.OpenAI(base_url=server.base_url, api_key="e2e-key", max_retries=0)
    slow = client.with_options(timeout=CLIENT_TIMEOUT)
    with tracer.start_as_current_span(WORKLOAD_SPAN) as parent:
        with _feature(tracer, "support-bot") as call:
            call(_chat(client, "gpt-4.1", "My order has not arrived yet"))
            call(_chat(client, "gpt-4.1", "Where is parcel 42 right now?"))
            call(_chat_stream(client, "gpt-4.1-mini", "Write a short apology to the customer"))
            server.script(status(500))
            call(_chat(client, "gpt-4.1", "This one fails on the server"))
        with _feature(tracer, "nightly-report") as call:
            call(_plain_http(server.base_url, "gpt-4.1", "Summarise yesterday's tickets in three lines"))
            call(_chat(client, "gpt-4.1-mini", "List the three most common complaints"))
            call(_chat(client, UNPRICED_MODEL, "A model nobody has a price for"))
            server.script(delay(CLIENT_TIMEOUT * 10))
            call(_chat(slow, "gpt-4.1", "This one times out"))
        return format(parent.get_span_context().trace_id, "032x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--metrics-port", type=int, required=True, help="serve /metrics on 127.0.0.1:PORT")
    parser.add_argument("--rounds", type=int, default=1, help="run the workload this many times")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between rounds (for pictures)")
    parser.add_argument(
        "--with-openai-v2",
        action="store_true",
        help="also switch on the official opentelemetry-instrumentation-openai-v2, as opentelemetry-instrument would",
    )
    args = parser.parse_args(argv)

    # Metrics: pulled by Prometheus from this process, the way opentelemetry-exporter-prometheus works.
    # (Imported here: the test modules import this file's names without that exporter installed.)
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    reader = PrometheusMetricReader()
    metrics.set_meter_provider(MeterProvider(resource=Resource.create(), metric_readers=[reader]))
    start_http_server(args.metrics_port, addr="127.0.0.1")

    # The one line. No tracer provider is configured, so tokentrace sets one up from OTEL_* variables.
    tokentrace.instrument()
    if args.with_openai_v2:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()  # type: ignore[no-untyped-call]
    tracer = trace.get_tracer("tokentrace-e2e-app")

    trace_ids = []
    with DevServer() as server:
        for round_number in range(args.rounds):
            if round_number:
                time.sleep(args.pause)
            trace_ids.append(run_workload(server, tracer))
        server_errors = [repr(e) for e in server.errors]

    provider = trace.get_tracer_provider()
    flushed = provider.force_flush() if isinstance(provider, TracerProvider) else True
    _emit({"done": True, "trace_ids": trace_ids, "spans_flushed": flushed, "server_errors": server_errors})

    sys.stdin.read()  # serve /metrics until the test (or the person) closes our input
    tokentrace.uninstrument()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
