"""A recorder sink that appends one ledger row per finished call, off the caller's thread.

The calling thread only appends the record to a deque. A daemon thread wakes every ``interval``
seconds (or as soon as ``batch_size`` calls wait), turns every waiting record into a row and
commits them in one transaction (one statement on SQLite 3.38+). ``flush()`` waits until
everything recorded before it is committed; ``close()`` (registered with ``atexit``) flushes and
stops the writer, so a normal exit loses no completed call. A ledger that cannot be written costs the application one warning, nothing more.

``retire()`` is what ``uninstrument()`` does: the sink commits what it holds and its writer stops,
but calls that started before and finish later (a stream still being read, an answer still on its
way) still have their rows written, by a writer that starts again for them and stops when it has
nothing left; retired sinks still alive are closed at exit. A row that can no longer be written
(the sink was closed first) is never lost in silence: a warning says so.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from .._guard import logger
from ..calls.records import CallRecord
from .paths import default_ledger_path
from .schema import (
    MIGRATIONS,
    SINGLE_STATEMENT_INSERT,
    LedgerError,
    Migration,
    connect,
    create_ledger,
    insert_rows,
    migrate,
    record_to_row,
    use_wal,
)

__all__ = ["LedgerSink"]

_OFF = "calls are not recorded in the ledger; your application is not affected"
_MAX_BATCH = 20_000
"""Most rows one transaction writes. A writer that fell behind writes all waiting calls at once,
up to this: its cost is mostly in taking the GIL back after SQLite, once per transaction."""


_RETIRED: weakref.WeakSet[LedgerSink] = weakref.WeakSet()
"""Retired sinks something can still call (a recorder with calls in flight); closed at exit."""


@atexit.register
def _close_retired() -> None:
    """At exit: a bounded drain of every retired sink that may still hold rows."""
    for sink in list(_RETIRED):
        sink.close()


class _Flush:
    """A marker in the queue: set once every record queued before it is committed (or lost)."""

    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = True


class LedgerSink:
    """Record every finished call in the SQLite ledger at ``path`` (default: ``default_ledger_path()``).

    Raises ``LedgerError`` at construction when the file exists but is not a usable ledger
    (corrupt, foreign, newer schema). Any other trouble (read-only directory, disk full, a broken
    writer) logs one warning on the ``tokentrace`` logger and turns the sink into a no-op.
    Calls arriving while ``max_pending`` calls already wait are dropped and counted in ``dropped``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 500,
        interval: float = 0.5,
        max_pending: int = 100_000,
        migrations: tuple[Migration, ...] = MIGRATIONS,
    ) -> None:
        self.path = Path(path) if path is not None else default_ledger_path()
        self.written = 0
        """Rows committed so far by this sink."""
        self.dropped = 0
        """Calls not recorded because the writer fell ``max_pending`` calls behind."""
        self._batch_size = max(1, batch_size)
        self._interval = interval
        self._max_pending = max(1, max_pending)
        self._limit = 0  # how many calls may wait; 0 while the sink accepts none
        self._pending: deque[CallRecord | _Flush] = deque()
        self._rows: list[tuple[Any, ...]] = []  # converted, not yet committed (writer thread only)
        self._wake = threading.Event()
        self._lock = threading.Lock()  # off the hot path: starting and stopping writers, retired rows
        self._writing = False  # a writer thread runs and will look at the queue again
        self._stopping = False
        self._retired = False
        self._closed = False
        self._failed = False
        self._warned: set[str] = set()
        self._thread: threading.Thread | None = None
        try:
            create_ledger(self.path)
            conn = connect(self.path)
            try:
                migrate(conn, self.path, migrations)
                use_wal(conn)
            finally:
                conn.close()
        except LedgerError:
            raise
        except (OSError, sqlite3.Error) as exc:
            self._failed = True
            self._warn_off("open", "cannot write", exc)
            return
        self._limit = self._max_pending
        with self._lock:
            self._start_writer()
        atexit.register(self.close)
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _restart_in_child(ref))

    # -- the calling thread -----------------------------------------------------------------------

    def __call__(self, record: CallRecord) -> None:
        """Queue one finished call. Never blocks, never touches the file, never raises.

        (A retired sink's late call takes a short lock and may start the writer again: ``_late``.)
        """
        pending = self._pending
        waiting = len(pending)
        if waiting < self._limit:
            pending.append(record)
            if waiting + 1 == self._batch_size:
                self._wake.set()
        elif self._limit:
            self.dropped += 1
        else:
            self._late(record)

    def _late(self, record: CallRecord) -> None:
        """A call the sink no longer takes as a matter of course: retired, closed or failed."""
        if self._failed:  # a failed ledger said once that it records nothing more
            return
        if self._retired:
            with self._lock:
                if not self._closed:
                    if len(self._pending) >= self._max_pending:
                        self.dropped += 1
                    else:
                        # Not woken: a restarted writer waits one interval, so late calls share it.
                        self._pending.append(record)
                        if not self._writing:
                            self._start_writer()
                    return
        self._warn_once(
            "closed",
            "tokentrace ledger %s was closed before a call that started under it finished; that call"
            " is not in the ledger (nor any other that finishes after it); your application is not affected.",
            self.path,
        )
        logger.debug(
            "tokentrace ledger %s closed: call not written (trace %s, span %s, model %s, cost %s USD)",
            self.path,
            record.trace_id,
            record.span_id,
            record.response_model or record.request_model,
            record.cost,
        )

    @property
    def enabled(self) -> bool:
        """Whether this sink takes new calls: False once retired, closed or failed."""
        return self._limit > 0

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until every call recorded before this is committed; False on timeout or failure."""
        marker = _Flush()
        with self._lock:  # a retired writer that has just found nothing to do must not miss it
            thread = self._thread
            if not self._writing or thread is None or not thread.is_alive() or self._failed:
                return not self._failed and not self._pending and not self._rows
            self._pending.append(marker)
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not marker.done.wait(0.05):  # a writer that stops meanwhile never answers: stop waiting
            if not thread.is_alive() or (deadline is not None and time.monotonic() >= deadline):
                return False
        return marker.ok

    def retire(self, timeout: float | None = 5.0) -> bool:
        """Take no new calls, but keep writing the rows of calls already under way.

        What ``uninstrument()`` does with its ledger: every call recorded so far is committed
        (waiting up to ``timeout``) and the writer stops; a call that started before and finishes
        later still reaches the file, through a writer that starts again for it and stops once
        nothing is left. The sink is closed at exit if it is still alive then. True when
        everything recorded so far is committed.
        """
        if self._closed or self._retired:
            return self.flush(timeout)
        atexit.unregister(self.close)  # a retired sink lives only as long as its in-flight calls
        _RETIRED.add(self)
        with self._lock:
            self._retired = True
            self._limit = 0  # from here on every call comes through ``_late``
        thread = self._thread
        if thread is not None:
            self._wake.set()
            thread.join(timeout)  # it stops once everything is committed (or keeps retrying a lock)
        with self._lock:
            # A call that passed the ``_limit`` test just before it changed queued after the last round.
            if self._pending and not self._writing and not self._failed:
                self._start_writer()
        return self._settled()

    def close(self, timeout: float | None = 5.0) -> bool:
        """Commit what is pending and stop the writer; True when no accepted call was lost."""
        if not self._closed:
            atexit.unregister(self.close)
            _RETIRED.discard(self)
            with self._lock:
                self._closed = True
                self._limit = 0
                self._stopping = True
                # Rows a retired sink took since its writer last stopped: one last round for them.
                inline = not self._writing and not self._failed and bool(self._pending or self._rows)
                if inline:
                    inline = not self._start_writer()
            self._wake.set()
            if inline:  # no thread may start any more (the interpreter is shutting down): write here
                self._write_until_done()
            thread = self._thread
            if thread is not None:
                thread.join(timeout)
            if not self._settled() and not self._failed:
                waiting = sum(1 for item in self._pending if not isinstance(item, _Flush)) + len(self._rows)
                self._warn_once(
                    "unwritten",
                    "tokentrace closed the ledger %s with %d calls not yet written (the file stayed"
                    " locked, or its writer did not finish in time); they may be missing from it. Your"
                    " application is not affected.",
                    self.path,
                    waiting,
                )
        return self._settled()

    def _settled(self) -> bool:
        """No writer at work and nothing accepted left unwritten."""
        thread = self._thread
        alive = thread is not None and thread.is_alive()
        return not (alive or self._failed or self._pending or self._rows)

    def __enter__(self) -> LedgerSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the writer thread ------------------------------------------------------------------------

    def _start_writer(self) -> bool:
        """Start a writer thread, the caller holding ``_lock``; False when none may start."""
        thread = threading.Thread(target=self._run, name="tokentrace-ledger", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # at interpreter shutdown (3.12+): ``close`` then writes on its own thread
            return False
        self._thread = thread
        self._writing = True
        return True

    def _idle(self) -> bool:
        """A retired sink's writer may stop: nothing waits. A late call then starts another."""
        with self._lock:
            if self._pending or self._rows:
                return False
            self._writing = False
            return True

    def _run(self) -> None:
        try:
            self._write_until_done()
        finally:
            with self._lock:
                if self._thread is threading.current_thread():  # not a successor's flag
                    self._writing = False

    def _write_until_done(self) -> None:
        try:
            conn = connect(self.path)
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            self._fail(exc)
            return
        try:
            while True:
                self._wake.wait(self._interval)
                self._wake.clear()
                stopping = self._stopping
                self._drain(conn)
                if self.dropped:
                    self._warn_once(
                        "dropped",
                        "tokentrace ledger %s fell %d calls behind and dropped calls; your application is not affected.",
                        self.path,
                        self._max_pending,
                    )
                if stopping or self._failed or (self._retired and self._idle()):
                    break
        except Exception as exc:  # a bug here must not take the app down, only the ledger
            self._fail(exc)
        finally:
            conn.close()

    def _drain(self, conn: sqlite3.Connection) -> None:
        pending = self._pending
        rows = self._rows
        while pending:
            item = pending.popleft()
            if isinstance(item, _Flush):
                if not self._commit(conn):
                    pending.appendleft(item)  # busy: try again next round, in order
                    return
                item.done.set()
                continue
            try:
                rows.append(record_to_row(item))
            except Exception as exc:
                self._warn_once(
                    "record",
                    "tokentrace skipped a call it could not write to the ledger %s (%s: %s).",
                    self.path,
                    type(exc).__name__,
                    exc,
                )
            if len(rows) >= _MAX_BATCH and not self._commit(conn):
                return
        self._commit(conn)

    def _commit(self, conn: sqlite3.Connection) -> bool:
        """Write the converted rows in one transaction; False when another process holds the lock."""
        rows = self._rows
        if not rows or self._failed:
            return not self._failed
        try:
            if SINGLE_STATEMENT_INSERT:
                insert_rows(conn, rows)  # one statement: its own transaction
            else:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    insert_rows(conn, rows)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                self._warn_once(
                    "busy",
                    "tokentrace ledger %s is locked by another process (%s); retrying.",
                    self.path,
                    exc,
                )
                return False
            self._fail(exc)
            return False
        except sqlite3.Error as exc:
            self._fail(exc)
            return False
        self.written += len(rows)
        rows.clear()
        return True

    def _fail(self, exc: BaseException) -> None:
        """Stop recording for good: one warning, pending calls released so nobody waits on them."""
        self._failed = True
        self._limit = 0
        self._warn_off("write", "stopped writing", exc)
        lost = len(self._rows)
        self._rows.clear()
        while self._pending:
            item = self._pending.popleft()
            if isinstance(item, _Flush):
                item.ok = False
                item.done.set()
            else:
                lost += 1
        if lost:
            logger.debug("tokentrace ledger %s: %d calls not written", self.path, lost)

    def _warn_once(self, kind: str, message: str, *args: object) -> None:
        """Log each kind of trouble once; once the ledger is off, nothing more."""
        if kind in self._warned or self._warned & {"open", "write"}:
            return
        self._warned.add(kind)
        logger.warning(message, *args)

    def _warn_off(self, kind: str, doing: str, exc: BaseException) -> None:
        self._warn_once(
            kind, "tokentrace %s the ledger %s (%s: %s); %s.", doing, self.path, type(exc).__name__, exc, _OFF
        )

    def _after_fork(self) -> None:
        """In a forked child: the parent's queue and writer are the parent's; start afresh."""
        self._pending = deque()
        self._rows = []
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._writing = False
        if self._limit and not self._closed:
            with self._lock:
                self._start_writer()


def _restart_in_child(ref: weakref.ref[LedgerSink]) -> None:
    sink = ref()
    if sink is not None:
        sink._after_fork()
