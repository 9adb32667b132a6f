"""The ledger file: how it is opened, recognised, versioned and migrated, and what a row holds.

A ledger is an SQLite database in WAL mode whose header carries our ``application_id`` and whose
``user_version`` is the number of migrations applied to it. ``MIGRATIONS[n]`` takes a ledger from
version ``n`` to ``n + 1``; a file is only ever moved forward, inside one write transaction.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

from .._money import MONEY, usd_digits
from ..calls.records import CallRecord

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "INSERT_SQL",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SINGLE_STATEMENT_INSERT",
    "LedgerError",
    "Migration",
    "check_ledger",
    "connect",
    "create_ledger",
    "insert_rows",
    "migrate",
    "pico_to_usd",
    "record_to_row",
    "use_wal",
]

APPLICATION_ID = 0x746B7472
"""``PRAGMA application_id`` of every ledger ("tktr"): how a foreign SQLite file is told apart."""

BUSY_TIMEOUT_S = 10.0
"""How long a connection waits for another process's write lock before giving up."""

_PICO = 12
_INT64_MAX = 2**63 - 1


class LedgerError(Exception):
    """The file is not a ledger this tokentrace can use (corrupt, foreign, or from a newer release)."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


Migration = Callable[[sqlite3.Connection], None]


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            tracking_id TEXT,
            tracking_path TEXT,
            operation TEXT,
            provider TEXT,
            server_address TEXT,
            request_model TEXT,
            response_model TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cache_read_tokens INTEGER,
            cache_write_tokens INTEGER,
            reasoning_tokens INTEGER,
            cost_usd TEXT,
            cost_pico_usd INTEGER,
            cost_source TEXT,
            cost_unknown_reason TEXT,
            duration_s REAL NOT NULL,
            status TEXT NOT NULL,
            error_type TEXT,
            stream INTEGER NOT NULL,
            trace_id TEXT,
            span_id TEXT
        )
        """
    )
    conn.execute("CREATE INDEX calls_ts ON calls (ts)")
    conn.execute("CREATE INDEX calls_tracking_id_ts ON calls (tracking_id, ts)")
    conn.execute("CREATE INDEX calls_response_model_ts ON calls (response_model, ts)")
    conn.execute("CREATE INDEX calls_request_model_ts ON calls (request_model, ts)")


def _v2(conn: sqlite3.Connection) -> None:
    """The model a call replaced in its fallback chain (NULL for every call written before)."""
    conn.execute("ALTER TABLE calls ADD COLUMN fallback_from TEXT")


MIGRATIONS: tuple[Migration, ...] = (_v1, _v2)
SCHEMA_VERSION = len(MIGRATIONS)

_WRITTEN_COLUMNS = (
    "ts, tracking_id, tracking_path, operation, provider, server_address, request_model, "
    "response_model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
    "reasoning_tokens, cost_usd, cost_pico_usd, cost_source, cost_unknown_reason, duration_s, "
    "status, error_type, stream, trace_id, span_id, fallback_from"
)
_ROW_WIDTH = 24
_ONE_ROW = f"({', '.join('?' * _ROW_WIDTH)})"
INSERT_SQL = f"INSERT INTO calls ({_WRITTEN_COLUMNS}) VALUES {_ONE_ROW}"
# Rows per INSERT statement: SQLite allows 32,766 bound values per statement since 3.32, 999 before.
_ROWS_PER_STATEMENT = 400 if sqlite3.sqlite_version_info >= (3, 32, 0) else 40
_FULL_INSERT_SQL = (
    f"INSERT INTO calls ({_WRITTEN_COLUMNS}) VALUES {', '.join([_ONE_ROW] * _ROWS_PER_STATEMENT)}"
)
# Any number of rows in one statement with one bound value: a JSON array of rows (SQLite 3.38+,
# whose JSON functions are built in and have the ``->>`` operator). JSON keeps every type a row
# holds: integers, floats (written and read back exactly), text and null.
SINGLE_STATEMENT_INSERT = sqlite3.sqlite_version_info >= (3, 38, 0)
_JSON_INSERT_SQL = (
    f"INSERT INTO calls ({_WRITTEN_COLUMNS}) SELECT "
    + ", ".join(f"value ->> {i}" for i in range(_ROW_WIDTH))
    + " FROM json_each(?)"
)


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``record_to_row`` rows, all of them in one statement where SQLite allows.

    Atomic: one statement is, and the fallback (older SQLite) runs in the caller's transaction.

    The sqlite3 module releases the GIL around each statement and must take it back afterwards.
    While the application's threads keep the interpreter busy (a tight loop of SDK calls), taking
    it back can wait for a long time, so a writer that runs a statement per row, or per few hundred
    rows, falls behind. One statement per batch waits once.
    """
    if SINGLE_STATEMENT_INSERT:
        conn.execute(_JSON_INSERT_SQL, (json.dumps(rows, allow_nan=False),))
        return
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        if len(chunk) == _ROWS_PER_STATEMENT:
            sql = _FULL_INSERT_SQL
        else:
            sql = f"INSERT INTO calls ({_WRITTEN_COLUMNS}) VALUES {', '.join([_ONE_ROW] * len(chunk))}"
        conn.execute(sql, list(chain.from_iterable(chunk)))


def _usd_to_pico(cost: Decimal) -> int | None:
    """The cost in 1e-12 USD when that is exact (in ``_money``'s 50 digits) and fits 64 bits, else
    None (sums then use the text)."""
    if not cost.is_finite():
        return None
    scaled = cost.scaleb(_PICO, MONEY)
    whole = scaled.to_integral_value(context=MONEY)
    if whole != scaled or abs(whole) > _INT64_MAX:
        return None
    return int(whole)


def pico_to_usd(pico: int) -> Decimal:
    """Back from 1e-12 USD to a Decimal with no trailing zeros (``2800000000`` -> ``0.0028``)."""
    if pico == 0:
        return Decimal(0)
    amount = Decimal(pico).scaleb(-_PICO, MONEY).normalize(MONEY)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        amount = amount.quantize(Decimal(1), context=MONEY)
    return amount


@functools.lru_cache(maxsize=1024)
def _path_json(path: tuple[str, ...]) -> str:
    """A tracking path as a JSON array (ids may hold any character); few paths recur, so cached."""
    return json.dumps(list(path), ensure_ascii=False)


def record_to_row(record: CallRecord) -> tuple[Any, ...]:
    """The values ``INSERT_SQL`` takes for one call. Costs are stored as exact decimal text; a
    non-finite one as unknown, as the summary counts it (``_figures``)."""
    cost = record.cost
    if cost is not None and not cost.is_finite():
        cost = None
    path = record.tracking_path
    timestamp = float(record.timestamp)
    duration = float(record.duration)
    if not (math.isfinite(timestamp) and math.isfinite(duration)):
        raise ValueError(f"a call's time must be finite (timestamp {timestamp}, duration {duration})")
    return (
        timestamp,
        record.tracking_id,
        _path_json(path) if path else None,
        record.operation,
        record.provider,
        record.server_address,
        record.request_model,
        record.response_model,
        record.input_tokens,
        record.output_tokens,
        record.cache_read_tokens,
        record.cache_write_tokens,
        record.reasoning_tokens,
        None if cost is None else usd_digits(cost),
        None if cost is None else _usd_to_pico(cost),
        record.cost_source,
        record.cost_unknown_reason,
        duration,
        record.status,
        record.error_type,
        1 if record.stream else 0,
        record.trace_id,
        record.span_id,
        record.fallback_from,
    )


def create_ledger(path: Path) -> None:
    """Make the parent directories and an owner-only (0600) file before SQLite opens it.

    SQLite gives its ``-wal`` and ``-shm`` files the permissions of the database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    os.close(os.open(path, flags, 0o600))


def connect(path: Path, *, readonly: bool = False, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open an existing file (never create one) in autocommit mode with a busy timeout."""
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw'}"
    conn = sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=check_same_thread
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return conn


def check_ledger(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """The file's schema version (0: an empty file, not yet a ledger); LedgerError if not ours.

    Raises ``sqlite3.OperationalError`` for trouble opening or locking the file, which is not the
    file's fault.
    """
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise LedgerError(
            path, f"not a tokentrace ledger: the file is not a usable SQLite database ({exc})"
        ) from exc
    if app_id == APPLICATION_ID:
        if version > len(migrations):
            raise LedgerError(
                path,
                f"ledger schema version {version} was written by a newer tokentrace "
                f"(this one knows versions up to {len(migrations)}); upgrade tokentrace to use it",
            )
        return int(version)
    if app_id != 0 or version != 0 or tables:
        what = f"tables: {', '.join(sorted(tables))}" if tables else f"application_id {app_id:#x}"
        raise LedgerError(path, f"an SQLite database, but not a tokentrace ledger ({what})")
    return 0


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the ledger to the newest schema; returns the version it is at. Safe across processes."""
    if check_ledger(conn, path, migrations) == len(migrations):
        return len(migrations)
    conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
    try:
        version = check_ledger(conn, path, migrations)
        for number in range(version, len(migrations)):
            migrations[number](conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(migrations)


def use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (persistent) so processes can read while one writes.

    Changing the journal mode needs the file to itself and does not wait on the busy handler,
    so another process opening the same new file at the same moment is waited out here.
    """
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
