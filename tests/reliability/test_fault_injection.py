"""Faults around the call: the user's call behaves exactly as without tokentrace, every time.

Each scenario runs the same call twice against the same scripted fault, uninstrumented and then
instrumented, and compares what the caller got (the value, or the exception's type and message).
What tokentrace lost is then said on the span (``error.type``, ``tokentrace.stream.end``,
``tokentrace.cost.unknown_reason``) or in one log line, never by raising.
"""

from __future__ import annotations

import http.server
import logging
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest
import requests
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import tokentrace
from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer, default, raw, sse
from tokentrace.demo.server import json as json_reply
from tokentrace.ledger import read_calls

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "say something"}]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh(server: DevServer) -> Iterator[None]:
    server.reset()
    yield
    tokentrace.set_prices([])


def caller_view(value: Any) -> Any:
    """Everything a caller can read off ``value``: each model's type and fields, recursively.

    Read field by field, not through pydantic's serializer: the SDK does not validate a response,
    so a model can hold what its type does not declare (``usage="lots"``, a list for a count),
    which the serializer answers with a warning where this shows the very value the caller gets.
    """
    if isinstance(value, pydantic.BaseModel):
        fields = {**value.__dict__, **(value.model_extra or {})}
        return (type(value).__qualname__, {name: caller_view(field) for name, field in fields.items()})
    if isinstance(value, (list, tuple)):
        return [caller_view(item) for item in value]
    if isinstance(value, dict):
        return {key: caller_view(item) for key, item in value.items()}
    return value


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What the caller saw: the result (every field of it) or the exception (type and message)."""
    try:
        result = call()
    except Exception as exc:
        return ("raised", type(exc).__qualname__, str(exc))
    return ("returned", caller_view(result))


def both_ways(
    instrument: Any, server: DevServer, reply: Any, call: Callable[[openai.OpenAI], Any], **settings: Any
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The call's outcome without tokentrace, then with it; the same fault scripted each time."""
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0, timeout=10)
    server.script(reply)
    plain = outcome(lambda: call(client))
    instrument(**settings)
    server.script(reply)
    recorded = outcome(lambda: call(client))
    return plain, recorded


def chat(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)


def streamed(client: openai.OpenAI) -> Any:
    return list(
        client.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )


def tokentrace_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("tokentrace") and r.levelno >= logging.INFO
    ]


# --- what the server sends --------------------------------------------------------------------


def test_connection_closed_mid_stream(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    plain, recorded = both_ways(instrument, server, default(drop_after=3), streamed)
    assert plain == recorded
    assert plain[0] == "raised"
    span = telemetry.span()
    assert dict(span.attributes or {})["tokentrace.stream.end"] == "error"
    assert span.status.status_code.name == "ERROR"


def test_half_an_sse_event_then_close(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    events: list[dict[str, Any] | bytes] = [
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]},
        b'data: {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"cont',
    ]  # fmt: skip
    plain, recorded = both_ways(instrument, server, sse(events, close_early=True), streamed)
    assert plain == recorded
    attributes = dict(telemetry.span().attributes or {})
    assert attributes["tokentrace.stream.end"] in ("error", "completed")
    assert attributes["tokentrace.cost.unknown_reason"] in ("error", "no_usage")  # no usage: no cost


def test_invalid_json_body(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    reply = raw(200, '{"id": "x", "choices": [', {"Content-Type": "application/json"})
    plain, recorded = both_ways(instrument, server, reply, chat)
    assert plain == recorded
    assert telemetry.span().status.status_code.name == "ERROR"  # the SDK raised: the span says which


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": "12", "completion_tokens": [3], "total_tokens": {"n": 1}},
        {"prompt_tokens": -5, "completion_tokens": -1, "total_tokens": -6},
        {"prompt_tokens": 10**30, "completion_tokens": 2**63, "total_tokens": 10**31},
        {"prompt_tokens": 1.5, "completion_tokens": float("1e300"), "total_tokens": None},
        "lots",
    ],
    ids=["wrong-types", "negative", "absurd", "floats", "not-an-object"],
)
def test_usage_that_is_not_a_count(
    instrument: Any, telemetry: Telemetry, server: DevServer, usage: Any
) -> None:
    body = {
        "id": "chatcmpl-odd",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage,
    }
    plain, recorded = both_ways(instrument, server, json_reply(body), chat)
    assert plain == recorded
    attributes = dict(telemetry.span().attributes or {})
    # No count that is not one reaches the span or the cost: unknown, said so.
    assert "gen_ai.usage.input_tokens" not in attributes
    assert "gen_ai.usage.output_tokens" not in attributes
    assert attributes["tokentrace.cost.unknown_reason"] == "no_usage"
    assert "gen_ai.usage.cost.amount" not in attributes


def _big_chat(megabytes: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-big",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "x" * (megabytes << 20)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2_500_000, "total_tokens": 2_500_009},
    }


def _peak(call: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ten_megabyte_bodies(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0)
    big = json_reply(_big_chat(10))
    piece = "y" * 10_000
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1"}
    stream_events: list[Any] = [
        {**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        for _ in range(1000)
    ]
    stream_events += [
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {
            **chunk,
            "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2_500_000, "total_tokens": 0},
        },
        "data: [DONE]\n\n",
    ]
    big_stream = sse(stream_events)

    server.script(big)
    plain_peak = _peak(lambda: chat(client))
    server.script(big_stream)
    plain_stream_peak = _peak(lambda: streamed(client))
    instrument()
    server.script(big)
    peak = _peak(lambda: chat(client))
    server.script(big_stream)
    stream_peak = _peak(lambda: streamed(client))

    spans = telemetry.spans()
    assert [dict(s.attributes or {})["gen_ai.usage.output_tokens"] for s in spans] == [2_500_000, 2_500_000]
    # tokentrace copies no body: its extra peak is noise next to 10 MB
    assert peak - plain_peak < 1 << 20, (plain_peak, peak)
    assert stream_peak - plain_stream_peak < 1 << 20, (plain_stream_peak, stream_peak)
    print(
        f"\n10 MB: peak traced memory {plain_peak >> 20} -> {peak >> 20} MiB (JSON), "
        f"{plain_stream_peak >> 20} -> {stream_peak >> 20} MiB (1,000-chunk stream)"
    )


def test_plain_http_garbage_never_reaches_the_caller(
    instrument: Any, telemetry: Telemetry, server: DevServer
) -> None:
    url = server.base_url + "/chat/completions"
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
             "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}  # fmt: skip
    replies = [
        raw(200, b"\xff\xfe not json", {"Content-Type": "application/json"}),
        raw(
            200,
            b'{"usage": {"prompt_tokens": "x", "completion_tokens": -3}}',
            {"Content-Type": "application/json"},
        ),
        sse([chunk, b'data: {"choices": [{"del'], close_early=True),
    ]

    def post(stream: bool) -> Any:
        body: dict[str, Any] = {"model": "gpt-4.1", "messages": MESSAGES, "stream": stream}
        return requests.post(url, json=body, headers={"Authorization": "Bearer sk-faults"}).content

    plain = []
    for index, reply in enumerate(replies):
        server.script(reply)
        plain.append(outcome(partial(post, index == 2)))
    instrument()
    recorded = []
    for index, reply in enumerate(replies):
        server.script(reply)
        recorded.append(outcome(partial(post, index == 2)))
    assert plain == recorded
    spans = telemetry.spans()
    assert len(spans) == 3
    assert all(dict(s.attributes or {}).get("tokentrace.cost.unknown_reason") for s in spans)


# --- where the telemetry goes ------------------------------------------------------------------


class _Collector(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP endpoint on 127.0.0.1 that answers slowly or refuses."""

    daemon_threads = True

    def __init__(self, status: int, delay: float) -> None:
        self.status, self.delay, self.release = status, delay, threading.Event()
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(handler) -> None:
                handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
                self.requests += 1
                self.release.wait(self.delay)
                handler.send_response(self.status)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _latencies(client: openai.OpenAI, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        chat(client)
        times.append(time.perf_counter() - start)
    return times


@pytest.mark.parametrize("endpoint", ["down", "slow", "refusing-503", "refusing-400"])
def test_otlp_endpoint_trouble_never_slows_or_breaks_calls(
    server: DevServer, endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    collector = None
    if endpoint == "down":
        url = f"http://127.0.0.1:{_closed_port()}"
    else:
        collector = _Collector(status=503 if endpoint == "refusing-503" else 400 if endpoint == "refusing-400" else 200, delay=10.0 if endpoint == "slow" else 0.0)  # fmt: skip
        url = collector.url
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces", timeout=2), schedule_delay_millis=20)
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=url + "/v1/metrics", timeout=2), export_interval_millis=50
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0)
    baseline = _latencies(client, 30)
    tokentrace.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        results = [chat(client) for _ in range(5)]
        time.sleep(0.2)  # exports have started (and, for "slow", hang in the collector)
        latencies = _latencies(client, 30)
    finally:
        tokentrace.uninstrument()
        if collector is not None:
            collector.release.set()
        tracer_provider.shutdown()
        meter_provider.shutdown(timeout_millis=5000)
        if collector is not None:
            collector.stop()
    assert all(r.usage is not None and r.usage.total_tokens > 0 for r in results)
    slower = statistics.median(latencies) - statistics.median(baseline)
    # exports run on the SDK's own threads: a dead or hung collector adds nothing to a call (an export
    # on the calling thread would add its 2 s timeout; 20 ms leaves room for a shared machine)
    assert slower < 0.02, (endpoint, statistics.median(baseline), statistics.median(latencies))
    assert not [m for m in tokentrace_logs(caplog) if "tokentrace" in m and "error" in m.lower()]
    if collector is not None:
        assert collector.requests > 0
    print(
        f"\nOTLP {endpoint}: median call {statistics.median(baseline) * 1e3:.2f} -> {statistics.median(latencies) * 1e3:.2f} ms"
    )


# --- the ledger's disk --------------------------------------------------------------------------


def test_ledger_where_nothing_can_be_written(
    instrument: Any, server: DevServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A read-only folder for a normal user; for root (who writes anywhere) a "folder" that is a file.
    folder = tmp_path / "ro"
    if os.geteuid() == 0:
        folder.write_text("a file, not a folder")
    else:
        folder.mkdir()
        folder.chmod(0o500)
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0)
        server.script(*[json_reply(_SMALL_CHAT)] * 6)
        plain = [outcome(lambda: chat(client)) for _ in range(3)]
        instrument(ledger=str(folder / "ledger.sqlite3"))
        recorded = [outcome(lambda: chat(client)) for _ in range(3)]
    finally:
        if folder.is_dir():
            folder.chmod(0o700)
    assert plain == recorded
    assert len([m for m in tokentrace_logs(caplog) if "ledger" in m]) == 1


_SMALL_CHAT = {
    "id": "chatcmpl-small",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4.1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def _run_app(folder: Path, source: str, ledger: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as a script in a fresh interpreter (no OTEL_/TOKENTRACE_ variables); it must exit 0."""
    app = folder / "app.py"
    app.write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRACE_"))}
    done = subprocess.run(
        [sys.executable, str(app), str(ledger)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


_DISK_FULL_APP = textwrap.dedent(
    """
    import resource, signal, sys
    import openai
    import tokentrace
    from tokentrace.demo.server import DevServer

    ledger = sys.argv[1]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk makes writes fail, not the process die
    with DevServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0)
        tokentrace.instrument(ledger=ledger)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))  # the disk fills up now
        answers = set()
        for i in range(3000):
            reply = client.chat.completions.create(
                model="gpt-4.1", messages=[{"role": "user", "content": "word " * (i % 50)}]
            )
            answers.add(reply.choices[0].finish_reason)
        tokentrace.TokenTraceInstrumentor().ledger.flush(timeout=10)
        print("calls ok", sorted(answers), flush=True)
    """
)


@pytest.mark.skipif(not hasattr(__import__("resource"), "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_ledger_disk_full(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    done = _run_app(tmp_path, _DISK_FULL_APP, ledger, timeout=300)
    assert "calls ok ['stop']" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if "tokentrace" in line and "ledger" in line]
    assert len(warnings) == 1, done.stderr[-2000:]
    assert any(word in warnings[0] for word in ("disk", "full", "too large")), warnings
    rows = list(read_calls(ledger))
    assert 0 < len(rows) < 3000  # what fitted is there and readable; the rest is said lost
    print(
        f"\ndisk full: 3000 calls all answered; {len(rows)} rows fitted in 1 MiB; one warning: {warnings[0][:120]}"
    )


# --- prices and processes -----------------------------------------------------------------------


def test_price_file_replaced_mid_run(
    instrument: Any, telemetry: Telemetry, server: DevServer, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[[price]]\nmodel = "gpt-4.1"\ninput = 1\noutput = 1\n')
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0)
    instrument(prices=str(prices))
    chat(client)
    # replaced atomically with other prices, then with a half-written file: calls go on regardless
    replacement = tmp_path / "prices.new"
    replacement.write_text('[[price]]\nmodel = "gpt-4.1"\ninput = 100\noutput = 100\n')
    os.replace(replacement, prices)
    chat(client)
    prices.write_text('[[price]]\nmodel = "gpt-4.1"\ninput = ')
    result = chat(client)
    assert result.usage is not None
    costs = [dict(s.attributes or {})["gen_ai.usage.cost.amount"] for s in telemetry.spans()]
    # prices are read at instrument(): the running process keeps the prices it started with
    tokens = result.usage.prompt_tokens + result.usage.completion_tokens
    assert costs == [pytest.approx(tokens / 1e6)] * 3
    tokentrace.uninstrument()
    with pytest.raises(tokentrace.PriceFileError, match=r"prices.toml:3"):
        instrument(prices=str(prices))  # the broken file is named, with its line, at start


_FORKING_APP = textwrap.dedent(
    """
    import os, sys
    import openai
    import tokentrace
    from tokentrace.demo.server import DevServer

    ledger = sys.argv[1]
    server = DevServer().start()  # not a with-block: a child must not stop the parent's server
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0)
    tokentrace.instrument(ledger=ledger)
    with tokentrace.track("parent"):
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    children = []
    for worker in range(3):  # gunicorn-style: workers forked after the app is set up
        pid = os.fork()
        if pid == 0:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-faults", max_retries=0)
            with tokentrace.track(f"worker-{worker}"):
                for _ in range(20):
                    client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
            sys.exit(0)  # a normal exit: atexit flushes the child's ledger
        children.append(pid)
    codes = [os.waitpid(pid, 0)[1] for pid in children]
    with tokentrace.track("parent"):
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    print("exit codes", codes, flush=True)
    tokentrace.uninstrument()
    server.stop()
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_workers_record_their_own_calls(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    done = _run_app(tmp_path, _FORKING_APP, ledger, timeout=120)
    assert "exit codes [0, 0, 0]" in done.stdout
    by_id: dict[str, int] = {}
    for row in read_calls(ledger):
        by_id[str(row.tracking_id)] = by_id.get(str(row.tracking_id), 0) + 1
    assert by_id == {"parent": 2, "worker-0": 20, "worker-1": 20, "worker-2": 20}
