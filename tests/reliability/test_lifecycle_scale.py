"""Lifecycle at scale: 1,000 instrument/uninstrument cycles, 1,000 abandoned streams, 200 cancelled
async streams, and a process that exits with data nobody flushed."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import wrapt

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, http, json_reply, make_client, sse, sse_reply
from tokentrace.ledger import read_calls

MESSAGES = [{"role": "user", "content": "hi"}]


def _chat_client() -> Any:
    return make_client(Recorder(lambda body, request: json_reply(payloads.openai_chat())))


def _stream_client(async_: bool = False) -> Any:
    return make_client(Recorder(lambda body, request: sse_reply(sse(payloads.chat_chunks()))), async_=async_)


def _request_method() -> Any:
    from openai._base_client import SyncAPIClient

    return SyncAPIClient.__dict__["request"]


def test_a_thousand_instrument_cycles_leave_exactly_one_wrapper(telemetry: Telemetry, tmp_path: Path) -> None:
    client = _chat_client()
    original = _request_method()
    assert not isinstance(original, wrapt.FunctionWrapper)
    threads_before = threading.active_count()
    gc.collect()
    tracemalloc.start()
    try:
        for cycle in range(1000):
            # every 100th cycle with a ledger of its own, so its writer thread starts and stops too
            ledger: str | bool = str(tmp_path / f"ledger-{cycle}.sqlite3") if cycle % 100 == 0 else False
            tokentrace.instrument(
                tracer_provider=telemetry.tracer_provider,
                meter_provider=telemetry.meter_provider,
                ledger=ledger,
            )
            tokentrace.uninstrument()
            if cycle == 99:
                gc.collect()
                baseline, _ = tracemalloc.get_traced_memory()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert _request_method() is original  # uninstrumented: the SDK's own function again
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert telemetry.spans() == []  # nothing recorded while uninstrumented
    assert threading.active_count() == threads_before  # every ledger writer stopped
    # 900 cycles after the first 100 leave well under 1 KiB each behind (caches are bounded)
    assert grown < 900 * 1024, grown

    tokentrace.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        wrapper = _request_method()
        assert isinstance(wrapper, wrapt.FunctionWrapper)
        assert wrapper.__wrapped__ is original  # one layer, not a thousand
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        assert len(telemetry.spans()) == 1
    finally:
        tokentrace.uninstrument()
    print(
        f"\nlifecycle: 1000 instrument/uninstrument cycles, {grown / 1024:.1f} KiB traced growth after the first 100"
    )


def test_a_thousand_abandoned_streams_each_end_their_span_once(instrumented: Telemetry) -> None:
    client = _stream_client()
    for _ in range(1000):
        stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
        next(stream)
        next(stream)
        del stream  # never closed, never exhausted
    gc.collect()
    spans = instrumented.spans()
    assert len(spans) == 1000
    assert len({s.context.span_id for s in spans}) == 1000
    assert {dict(s.attributes or {})["tokentrace.stream.end"] for s in spans} == {"abandoned"}
    # an abandoned stream never said its usage: its cost is unknown, not zero
    assert {dict(s.attributes or {}).get("tokentrace.cost.unknown_reason") for s in spans} == {"no_usage"}


async def test_two_hundred_cancelled_async_streams(instrumented: Telemetry) -> None:
    started = asyncio.Semaphore(0)

    class SlowStream(http.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield sse(payloads.chat_chunks()[:2], done=False)
            started.release()
            await asyncio.sleep(60)
            yield b""

    client = make_client(
        Recorder(
            lambda body, request: http.Response(
                200, stream=SlowStream(), headers={"content-type": "text/event-stream"}
            )
        ),
        async_=True,
    )
    seen: list[int] = []

    async def consume() -> None:
        stream = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
        count = 0
        async for _ in stream:
            count += 1
        seen.append(count)  # never reached

    tasks = [asyncio.create_task(consume()) for _ in range(200)]
    for _ in tasks:
        await started.acquire()
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert seen == []
    spans = instrumented.spans()
    assert len(spans) == 200
    assert {dict(s.attributes or {})["tokentrace.stream.end"] for s in spans} == {"cancelled"}


_EXITING_APP = textwrap.dedent(
    """
    import sys
    import openai
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    import tokentrace
    from tests.sdk import payloads
    from tests.sdk.mock_transport import Recorder, json_reply, make_client

    spans_file, metrics_file, ledger = sys.argv[1:4]
    tracer_provider = TracerProvider()
    # a batch far larger than the run and a long delay: nothing is exported before exit
    tracer_provider.add_span_processor(
        BatchSpanProcessor(
            ConsoleSpanExporter(out=open(spans_file, "w"), formatter=lambda s: s.to_json(indent=None) + "\\n"),
            max_export_batch_size=512,
            schedule_delay_millis=600_000,
        )
    )
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=open(metrics_file, "w"), formatter=lambda m: m.to_json(indent=None) + "\\n"),
        export_interval_millis=600_000,
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    tokentrace.instrument(ledger=ledger)
    client = make_client(Recorder(lambda body, request: json_reply(payloads.openai_chat())))
    with tokentrace.track("exit-test"):
        for _ in range(50):
            client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    print("made 50 calls", flush=True)
    # no flush, no shutdown, no uninstrument: the interpreter just ends
    """
)


def test_exit_with_unflushed_spans_metrics_and_ledger_rows_loses_nothing(tmp_path: Path) -> None:
    spans_file, metrics_file, ledger = tmp_path / "spans.jsonl", tmp_path / "metrics.jsonl", tmp_path / "l.db"
    app = tmp_path / "app.py"
    app.write_text(_EXITING_APP)
    done = subprocess.run(
        [sys.executable, str(app), str(spans_file), str(metrics_file), str(ledger)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        env={**_clean_env(), "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    assert "made 50 calls" in done.stdout
    spans = [json.loads(line) for line in spans_file.read_text().splitlines() if line.strip()]
    assert len([s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat"]) == 50
    cost_total = None
    for line in metrics_file.read_text().splitlines():
        for resource in json.loads(line)["resource_metrics"]:
            for scope in resource["scope_metrics"]:
                for metric in scope["metrics"]:
                    if metric["name"] == "gen_ai.client.cost":
                        cost_total = sum(p["value"] for p in metric["data"]["data_points"])
    rows = list(read_calls(ledger))
    assert len(rows) == 50
    assert cost_total == pytest.approx(float(sum(r.cost for r in rows if r.cost is not None)), rel=1e-9)


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRACE_"))}
