"""LedgerSink: the caller only queues; a daemon thread writes batches; trouble costs one warning."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.ledger._helpers import T0, record
from tokentrace.ledger import LedgerSink, read_calls
from tokentrace.ledger import schema as ledger_schema
from tokentrace.ledger.schema import SINGLE_STATEMENT_INSERT


class TracingConnection(sqlite3.Connection):
    """Remembers which thread ran each statement; can be told to fail writes."""

    calls: ClassVar[list[tuple[int, str]]] = []
    fail_writes: ClassVar[BaseException | None] = None

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        TracingConnection.calls.append((threading.get_ident(), sql))
        if TracingConnection.fail_writes is not None and sql.startswith("INSERT"):
            raise TracingConnection.fail_writes
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        TracingConnection.calls.append((threading.get_ident(), sql))
        if TracingConnection.fail_writes is not None:
            raise TracingConnection.fail_writes
        return super().executemany(sql, *args)


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[TracingConnection]]:
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return real(*args, factory=TracingConnection, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    TracingConnection.calls = []
    TracingConnection.fail_writes = None
    yield TracingConnection
    TracingConnection.fail_writes = None


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tokentrace" and r.levelno >= logging.WARNING]


def test_calling_threads_never_touch_sqlite(tmp_path: Path, traced: type[TracingConnection]) -> None:
    sink = LedgerSink(tmp_path / "ledger.sqlite3", interval=0.05)
    traced.calls.clear()  # opening the ledger happens at construction, in the constructing thread

    def record_some(first: int) -> None:
        for n in range(first, first + 300):
            sink(record(timestamp=T0 + n))

    workers = [threading.Thread(target=record_some, args=(n * 1000,)) for n in range(3)]
    for worker in workers:
        worker.start()
    record_some(5000)
    for worker in workers:
        worker.join()
    assert sink.flush()
    assert sink.close()
    callers = {threading.get_ident()} | {worker.ident for worker in workers}
    assert traced.calls, "the writer thread wrote"
    assert not [sql for ident, sql in traced.calls if ident in callers]
    assert len(list(read_calls(tmp_path / "ledger.sqlite3"))) == 1200


def test_rows_are_written_in_batches(tmp_path: Path, traced: type[TracingConnection]) -> None:
    sink = LedgerSink(tmp_path / "ledger.sqlite3", batch_size=200, interval=30)
    traced.calls.clear()
    for n in range(199):
        sink(record(timestamp=T0 + n))
    time.sleep(0.2)
    assert sink.written == 0  # neither the interval nor the batch size reached
    sink(record(timestamp=T0 + 199))  # the 200th wakes the writer
    deadline = time.monotonic() + 5
    while sink.written < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.written == 200
    for n in range(200, 1000):
        sink(record(timestamp=T0 + n))
    assert sink.flush()
    sink.close()
    assert 2 <= len(transactions(traced)) <= 6  # a few batches, not 1000 transactions
    assert sorted(row.ts for row in read_calls(tmp_path / "ledger.sqlite3")) == [T0 + n for n in range(1000)]


def transactions(traced: type[TracingConnection]) -> list[str]:
    """The writes: one statement each on SQLite 3.38+, else each between BEGIN and COMMIT."""
    kind = "INSERT" if SINGLE_STATEMENT_INSERT else "COMMIT"
    return [sql for _, sql in traced.calls if sql.startswith(kind)]


def test_a_backlog_is_written_in_one_transaction(tmp_path: Path, traced: type[TracingConnection]) -> None:
    """Calls that waited (the writer was starved of the GIL, or the interval is long) go in one write."""
    sink = LedgerSink(tmp_path / "ledger.sqlite3", batch_size=100_000, interval=30)
    traced.calls.clear()
    for n in range(5000):
        sink(record(timestamp=T0 + n, input_tokens=n))
    assert sink.flush()
    sink.close()
    assert len(transactions(traced)) == 1
    rows = sorted(read_calls(tmp_path / "ledger.sqlite3"), key=lambda row: row.ts)
    assert [(row.ts, row.input_tokens) for row in rows] == [(T0 + n, n) for n in range(5000)]


def test_a_locked_ledger_never_blocks_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    sink = LedgerSink(path, batch_size=10, interval=0.01)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    started = time.perf_counter()
    for n in range(1000):
        sink(record(timestamp=T0 + n))
    assert time.perf_counter() - started < 0.5
    time.sleep(0.3)
    other.execute("COMMIT")
    other.close()
    assert sink.flush(15)
    sink.close()
    assert len(list(read_calls(path))) == 1000


def test_owner_only_file_in_created_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "ledger.sqlite3"
    sink = LedgerSink(path)
    sink(record())
    assert sink.flush()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            assert stat.S_IMODE(companion.stat().st_mode) == 0o600, suffix
    sink.close()


def test_wal_mode_and_busy_timeout(tmp_path: Path, traced: type[TracingConnection]) -> None:
    path = tmp_path / "ledger.sqlite3"
    sink = LedgerSink(path)
    sink(record())
    assert sink.flush()
    sink.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    statements = {sql for _, sql in traced.calls}
    assert "PRAGMA synchronous = NORMAL" in statements
    assert ledger_schema.connect(path).execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_unwritable_place_warns_once_and_records_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only_file_system(*args: Any, **kwargs: Any) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "open", read_only_file_system)
    with caplog.at_level(logging.WARNING, logger="tokentrace"):
        sink = LedgerSink(tmp_path / "ledger.sqlite3")
        monkeypatch.undo()
        for n in range(100):
            sink(record(timestamp=T0 + n))  # no exception reaches the caller
        assert not sink.flush()
        sink.close()
    (warning,) = warnings_of(caplog)
    assert str(tmp_path / "ledger.sqlite3") in warning.getMessage()
    assert "Read-only file system" in warning.getMessage()
    assert not sink.enabled


def test_parent_that_is_a_file_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "data").write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="tokentrace"):
        sink = LedgerSink(tmp_path / "data" / "ledger.sqlite3")
        sink(record())
        sink.close()
    assert len(warnings_of(caplog)) == 1


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with caplog.at_level(logging.WARNING, logger="tokentrace"):
        sink = LedgerSink(locked / "ledger.sqlite3")
        sink(record())
        sink.close()
    assert len(warnings_of(caplog)) == 1


def test_disk_full_while_writing_warns_once_then_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, traced: type[TracingConnection]
) -> None:
    sink = LedgerSink(tmp_path / "ledger.sqlite3", interval=0.01)
    traced.fail_writes = sqlite3.OperationalError("database or disk is full")
    with caplog.at_level(logging.WARNING, logger="tokentrace"):
        for n in range(50):
            sink(record(timestamp=T0 + n))
        assert not sink.flush()  # the calls before it could not be written
        for n in range(50):
            sink(record(timestamp=T0 + n))  # a no-op now, and still no exception
        assert not sink.flush()
        sink.close()
    (warning,) = warnings_of(caplog)
    assert "disk is full" in warning.getMessage()
    assert not sink.enabled


def test_calls_beyond_max_pending_are_dropped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = LedgerSink(tmp_path / "ledger.sqlite3", max_pending=5, batch_size=1000, interval=30)
    with caplog.at_level(logging.WARNING, logger="tokentrace"):
        for n in range(8):
            sink(record(timestamp=T0 + n))
        assert sink.dropped == 3
        assert sink.flush()
        sink.close()
    assert len(list(read_calls(tmp_path / "ledger.sqlite3"))) == 5
    assert len(warnings_of(caplog)) == 1


def test_close_is_final_and_idempotent(tmp_path: Path) -> None:
    sink = LedgerSink(tmp_path / "ledger.sqlite3")
    sink(record())
    assert sink.close()
    assert sink.close()
    sink(record(timestamp=T0 + 1))  # after close: ignored
    assert sink.written == 1
    assert len(list(read_calls(tmp_path / "ledger.sqlite3"))) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_writes_its_own_calls(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    sink = LedgerSink(path, interval=30, batch_size=1000)
    sink(record(tracking_id="parent-before-fork"))
    pid = os.fork()
    if pid == 0:  # the child: the parent's queued call is the parent's to write
        try:
            sink(record(tracking_id="child"))
            ok = sink.close()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sink.close()
    assert sorted(row.tracking_id or "" for row in read_calls(path)) == ["child", "parent-before-fork"]


def _writers() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "tokentrace-ledger")


def _wait_until(done: Any, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(done())


def test_a_retired_sink_writes_late_calls_then_stops_its_writer(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    writers = _writers()
    sink = LedgerSink(path, interval=0.05)
    sink(record(tracking_id="before"))
    assert sink.retire()  # what uninstrument() does
    assert not sink.enabled
    assert [row.tracking_id for row in read_calls(path)] == ["before"]  # committed by retire
    assert _writers() == writers  # and its writer stopped: nothing is in flight

    sink(record(tracking_id="late", timestamp=T0 + 1))  # a call that was under way finishes
    assert _wait_until(lambda: len(list(read_calls(path))) == 2)  # written without a flush
    assert _wait_until(lambda: _writers() == writers)  # the writer it started stopped again
    sink(record(tracking_id="later", timestamp=T0 + 2))
    assert sink.flush(30)
    assert [row.tracking_id for row in read_calls(path)] == ["before", "late", "later"]
    assert sink.close()
    assert sink.written == 3


def test_a_call_after_close_is_not_lost_in_silence(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ledger.sqlite3"
    sink = LedgerSink(path)
    assert sink.close()
    with caplog.at_level(logging.DEBUG, logger="tokentrace"):
        sink(record(span_id="00f067aa0ba902b7"))
        sink(record(span_id="53995c3f42cd8ad8"))
    (warning,) = warnings_of(caplog)  # once per sink
    assert str(path) in warning.getMessage() and "not in the ledger" in warning.getMessage()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "00f067aa0ba902b7" in text and "53995c3f42cd8ad8" in text  # each call, at debug level
    assert list(read_calls(path)) == []


def test_a_close_that_cannot_finish_says_how_many_calls_are_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.sqlite3"
    sink = LedgerSink(path, interval=0.01)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the exit drain
    try:
        with caplog.at_level(logging.WARNING, logger="tokentrace"):
            sink(record())
            sink(record(timestamp=T0 + 1))
            assert not sink.close(timeout=0.5)
    finally:
        other.execute("COMMIT")
        other.close()
    messages = [r.getMessage() for r in warnings_of(caplog)]
    assert any(str(path) in m and "2 calls not yet written" in m for m in messages), messages
    assert _wait_until(lambda: sink.written == 2)  # "may be": the writer got there after all


def test_at_shutdown_without_new_threads_close_writes_late_calls_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    sink = LedgerSink(path, interval=0.05)
    assert sink.retire()

    def no_new_threads(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")  # Python 3.12+ at exit

    monkeypatch.setattr(threading.Thread, "start", no_new_threads)
    sink(record(tracking_id="late"))  # the caller is not troubled
    assert sink.close()  # the exit drain writes it on its own thread
    monkeypatch.undo()
    assert [row.tracking_id for row in read_calls(path)] == ["late"]
