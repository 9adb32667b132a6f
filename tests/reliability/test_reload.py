"""A call in flight across ``uninstrument()`` or a reload keeps its ledger row.

A settings reload is ``uninstrument()`` then ``instrument(...)``. A call that started before it
(a stream still being read, a request still waiting for its answer) finishes under the activation
that started it: its span ends, its cost is charged, and its row goes to the ledger it began with,
which keeps taking rows of calls already under way. Each test reads the SQLite file back through
the ledger's own reader: the next process's budgets read their spend from there.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import requests

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, make_client, sse, sse_reply
from tokentrace.demo.server import DevServer, RecordedRequest, Scripted
from tokentrace.ledger import LedgerRow, read_calls

MESSAGES = [{"role": "user", "content": "How much does this cost"}]
USAGE = {"prompt_tokens": 21, "completion_tokens": 6, "total_tokens": 27}
WAIT = 60.0  # how long a test waits for something that takes milliseconds (a busy shared machine)


def _stream_client(async_: bool = False) -> Any:
    """The real SDK on a mock transport, streaming three chunks and the usage chunk it asked for."""
    chunks = payloads.chat_chunks(usage=USAGE, usage_null_on_chunks=True)
    return make_client(Recorder(lambda body, request: sse_reply(sse(chunks))), async_=async_)


def _rows(path: Path) -> list[LedgerRow]:
    return list(read_calls(path)) if path.exists() else []


def _the_row_of(span: Any, path: Path) -> LedgerRow:
    """The call's one row in the ledger at ``path``: the span's ids, tokens and cost."""
    rows = _rows(path)
    assert len(rows) == 1, f"{path.name} holds {len(rows)} rows, not the one of the call in flight"
    row = rows[0]
    attrs = dict(span.attributes or {})
    assert row.span_id == f"{span.context.span_id:016x}"
    assert (row.input_tokens, row.output_tokens) == (
        attrs["gen_ai.usage.input_tokens"],
        attrs["gen_ai.usage.output_tokens"],
    )
    assert row.cost is not None and row.cost > 0
    assert float(row.cost) == pytest.approx(attrs["gen_ai.usage.cost.amount"], rel=1e-12)
    return row


def _wait_for_rows(path: Path) -> list[LedgerRow]:
    """Rows as they appear on disk, without anyone flushing: the writer commits by itself."""
    deadline = time.monotonic() + WAIT
    while not (rows := _rows(path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows


def test_sync_stream_read_across_a_reload_is_in_the_ledger_it_began_with(
    instrument: Any, telemetry: Telemetry, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    ledger = instrument(ledger=str(first)).ledger
    stream = _stream_client().chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    next(stream)
    tokentrace.uninstrument()  # the reload: other settings, another ledger file
    instrument(ledger=str(second), capture_content=True, stream_usage="never")
    assert "".join(c.choices[0].delta.content or "" for c in stream) == "Hello!"

    span = telemetry.span()
    assert dict(span.attributes or {})["gen_ai.usage.input_tokens"] == 21
    assert ledger.flush(timeout=WAIT)
    row = _the_row_of(span, first)
    assert (row.input_tokens, row.output_tokens, row.stream) == (21, 6, True)
    assert _rows(second) == []  # the call belongs to the activation that started it


async def test_async_stream_read_across_a_reload_is_in_the_ledger_it_began_with(
    instrument: Any, telemetry: Telemetry, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = instrument(ledger=str(path)).ledger
    client = _stream_client(async_=True)
    stream = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    await stream.__anext__()
    tokentrace.uninstrument()  # the reload: the same ledger file, a new writer on it
    reloaded = instrument(ledger=str(path), stream_usage="never").ledger
    assert reloaded is not ledger
    pieces = [c.choices[0].delta.content or "" async for c in stream]
    assert "".join(pieces) == "Hello!"

    span = telemetry.span()
    assert ledger.flush(timeout=WAIT) and reloaded.flush(timeout=WAIT)
    row = _the_row_of(span, path)
    assert (row.input_tokens, row.output_tokens) == (21, 6)


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer() as running:
        yield running


def test_requests_stream_read_after_a_reload_is_in_the_ledger_it_began_with(
    instrument: Any, telemetry: Telemetry, server: DevServer, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    ledger = instrument(ledger=str(first)).ledger
    body: dict[str, Any] = {
        "model": "gpt-4.1",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with requests.Session() as session:
        response = session.post(f"{server.base_url}/chat/completions", json=body, stream=True, timeout=WAIT)
        tokentrace.uninstrument()
        instrument(ledger=str(second), http=False)  # reloaded without the plain-HTTP patches
        events = [line.decode() for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    usage = json.loads(events[-2].removeprefix("data: "))["usage"]

    span = telemetry.span()
    assert ledger.flush(timeout=WAIT)
    row = _the_row_of(span, first)
    assert (row.input_tokens, row.output_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert _rows(second) == []


class HeldServer(DevServer):
    """The dev server, holding each answer back until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    def _receive(self, request: RecordedRequest) -> Scripted:
        reply = super()._receive(request)
        self.arrived.set()
        self.release.wait(WAIT)
        return reply


@pytest.mark.parametrize("client", ["openai", "requests"])
def test_answer_arriving_after_a_reload_is_in_the_ledger_it_began_with(
    instrument: Any, telemetry: Telemetry, tmp_path: Path, client: str
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = instrument(ledger=str(path)).ledger
    answers: list[dict[str, Any]] = []
    server = HeldServer()
    with server:

        def call() -> None:
            if client == "openai":
                sdk = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
                completion = sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)  # type: ignore[arg-type]
                answers.append(completion.model_dump())
            else:
                url = f"{server.base_url}/chat/completions"
                answers.append(requests.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}).json())

        caller = threading.Thread(target=call)
        caller.start()
        try:
            assert server.arrived.wait(WAIT)
            tokentrace.uninstrument()
            instrument(ledger=str(path), stream_usage="always")
            assert caller.is_alive()  # the answer is still held back: the call is in flight
        finally:
            server.release.set()
            caller.join(WAIT)
    assert not caller.is_alive() and len(answers) == 1

    span = telemetry.span()
    assert ledger.flush(timeout=WAIT)
    row = _the_row_of(span, path)
    usage = answers[0]["usage"]
    assert (row.input_tokens, row.output_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])


def test_after_uninstrument_alone_the_row_is_written_without_a_flush(
    instrument: Any, telemetry: Telemetry, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite3"
    instrument(ledger=str(path))
    stream = _stream_client().chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    next(stream)
    tokentrace.uninstrument()  # off for good: no new activation, nobody flushes
    threads = threading.active_count()
    list(stream)

    span = telemetry.span()
    rows = _wait_for_rows(path)
    assert len(rows) == 1
    _the_row_of(span, path)
    deadline = time.monotonic() + WAIT
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == threads  # the writer that took the late row has stopped again


_EXITS_MID_STREAM = textwrap.dedent(
    """
    import sys
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    import tokentrace
    from tests.sdk import payloads
    from tests.sdk.mock_transport import Recorder, make_client, sse, sse_reply

    usage = {"prompt_tokens": 21, "completion_tokens": 6, "total_tokens": 27}
    chunks = payloads.chat_chunks(usage=usage, usage_null_on_chunks=True)
    client = make_client(Recorder(lambda body, request: sse_reply(sse(chunks))))
    tokentrace.instrument(ledger=sys.argv[1], tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    stream = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True)
    next(stream)
    tokentrace.uninstrument()
    print("read", len(list(stream)), "more chunks", flush=True)
    # the stream ended just now; no flush: the interpreter ends
    """
)


def test_a_row_finished_after_uninstrument_is_on_disk_when_the_process_exits(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    app = tmp_path / "app.py"
    app.write_text(_EXITS_MID_STREAM)
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRACE_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, str(app), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert "read 4 more chunks" in done.stdout
    rows = _rows(path)
    assert [(r.input_tokens, r.output_tokens, r.stream) for r in rows] == [(21, 6, True)]
    assert rows[0].cost is not None and rows[0].cost > 0


def test_a_row_that_cannot_be_written_says_so(
    instrument: Any, telemetry: Telemetry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = instrument(ledger=str(path)).ledger
    stream = _stream_client().chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    next(stream)
    tokentrace.uninstrument()
    assert ledger.close()  # what the bounded drain at exit does: closed for good
    with caplog.at_level(logging.DEBUG, logger="tokentrace"):
        list(stream)

    span = telemetry.span()
    assert dict(span.attributes or {})["gen_ai.usage.output_tokens"] == 6  # the span is whole
    assert _rows(path) == []
    warnings = [r for r in caplog.records if r.name == "tokentrace" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert str(path) in message and "not in the ledger" in message
    assert any(f"{span.context.span_id:016x}" in r.getMessage() for r in caplog.records)
