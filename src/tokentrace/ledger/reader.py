"""Reading calls back from the ledger: every column (``read_calls``) or what reports add up.

Readers open the file read-only and never create it. A period is ``since <= ts < until`` on the
call's start time (Unix seconds, or a ``datetime``; naive means local time).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from .. import names
from .schema import MIGRATIONS, SCHEMA_VERSION, LedgerError, check_ledger, connect, migrate

__all__ = [
    "CallFigures",
    "LedgerRow",
    "When",
    "count_calls",
    "open_ledger",
    "read_calls",
    "read_figures",
    "where",
]

When = float | datetime | None
PathLike = str | os.PathLike[str]
_Row = TypeVar("_Row")


class LedgerRow(NamedTuple):
    """One recorded call, as stored. ``cost`` is the exact Decimal written, None when unknown."""

    id: int
    ts: float
    tracking_id: str | None
    tracking_path: tuple[str, ...]
    operation: str | None
    provider: str | None
    server_address: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost: Decimal | None
    cost_source: str | None
    cost_unknown_reason: str | None
    duration: float
    status: str
    """``ok``, ``error``, ``timeout`` or ``refused`` (``CallRecord.status``)."""
    error_type: str | None
    stream: bool
    trace_id: str | None
    span_id: str | None
    fallback_from: str | None = None
    """The model this call replaced in its fallback chain; None when it was no fallback."""

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked for (as ``CallRecord.model``)."""
        return self.response_model or self.request_model


class CallFigures(NamedTuple):
    """The columns a report adds up: about half the reading cost of a whole ``LedgerRow``."""

    ts: float
    tracking_id: str | None
    provider: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost: Decimal | None
    duration: float
    status: str
    fallback_from: str | None = None

    @property
    def model(self) -> str | None:
        return self.response_model or self.request_model


# Fields are named after their columns, but for these. ``status``: a ledger written before refused
# calls had a status of their own holds them as errors of the refusal's type; read as refused.
_COLUMNS = {
    "cost": "cost_usd",
    "duration": "duration_s",
    "status": f"CASE WHEN error_type IN {names.SQL_REFUSAL_ERROR_TYPES} "
    f"THEN '{names.CALL_STATUS_REFUSED}' ELSE status END",
}


def _select(fields: tuple[str, ...]) -> str:
    return f"SELECT {', '.join(_COLUMNS.get(name, name) for name in fields)} FROM calls"


_ROW_SQL = _select(LedgerRow._fields)
_FIGURES_SQL = _select(CallFigures._fields)

_new = tuple.__new__


@functools.lru_cache(maxsize=1024)
def _path(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _ledger_row(cursor: sqlite3.Cursor, raw: tuple[Any, ...]) -> LedgerRow:
    path, cost = raw[3], raw[14]
    values = (
        *raw[:3],
        _path(path) if path else (),
        *raw[4:14],
        None if cost is None else Decimal(cost),
        *raw[15:20],
        bool(raw[20]),
        *raw[21:],
    )
    return _new(LedgerRow, values)


def _figures(cursor: sqlite3.Cursor, raw: tuple[Any, ...]) -> CallFigures:
    cost = raw[10]
    if cost is not None:
        raw = (*raw[:10], Decimal(cost), *raw[11:])
    return _new(CallFigures, raw)


def open_ledger(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to a ledger at the current schema; None for an empty (new) file.

    Raises ``FileNotFoundError`` when there is no file and ``LedgerError`` when it is not a ledger.
    A ledger written by an older tokentrace is migrated first (the one write a reader may make).
    """
    if not path.is_file():
        raise FileNotFoundError(f"no ledger at {path}")
    conn = connect(path, readonly=True)
    try:
        version = check_ledger(conn, path)
    except BaseException:
        conn.close()
        raise
    if version == 0:
        conn.close()
        return None
    if version < SCHEMA_VERSION:
        conn.close()
        writer = connect(path)
        try:
            migrate(writer, path, MIGRATIONS)
        finally:
            writer.close()
        conn = connect(path, readonly=True)
    return conn


def _timestamp(value: When) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    return None if value is None else float(value)


def where(
    since: When, until: When, tracking_id: str | None = None, model: str | None = None
) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (or ``""``) and its parameters for a period and optional filters."""
    clauses: list[str] = []
    params: list[Any] = []
    start, end = _timestamp(since), _timestamp(until)
    if start is not None:
        clauses.append("ts >= ?")
        params.append(start)
    if end is not None:
        clauses.append("ts < ?")
        params.append(end)
    if tracking_id is not None:
        clauses.append("tracking_id = ?")
        params.append(tracking_id)
    if model is not None:
        clauses.append("(response_model = ? OR request_model = ?)")
        params += [model, model]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def unreadable(path: Path, exc: sqlite3.DatabaseError) -> LedgerError:
    return LedgerError(path, f"the ledger cannot be read ({exc})")


def _iterate(
    path: PathLike,
    sql: str,
    make: Callable[[sqlite3.Cursor, tuple[Any, ...]], _Row],
    clause: tuple[str, list[Any]],
) -> Iterator[_Row]:
    file = Path(path)
    conn = open_ledger(file)
    if conn is None:
        return iter(())
    return _fetch(file, conn, f"{sql}{clause[0]} ORDER BY ts, id", clause[1], make)


def _fetch(
    file: Path,
    conn: sqlite3.Connection,
    sql: str,
    params: list[Any],
    make: Callable[[sqlite3.Cursor, tuple[Any, ...]], _Row],
) -> Iterator[_Row]:
    try:
        cursor = conn.cursor()
        cursor.row_factory = make
        cursor.arraysize = 1000
        cursor.execute(sql, params)
        while batch := cursor.fetchmany():
            yield from batch
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise unreadable(file, exc) from exc
    finally:
        conn.close()


def read_calls(
    path: PathLike,
    since: When = None,
    until: When = None,
    *,
    tracking_id: str | None = None,
    model: str | None = None,
) -> Iterator[LedgerRow]:
    """Every call of the period, oldest first. ``model`` matches the requested or the answering model.

    Raises ``FileNotFoundError`` when there is no file and ``LedgerError`` when it is not a ledger.
    """
    return _iterate(path, _ROW_SQL, _ledger_row, where(since, until, tracking_id, model))


def read_figures(path: PathLike, since: When = None, until: When = None) -> Iterator[CallFigures]:
    """As ``read_calls``, only the columns reports add up (faster on large ledgers)."""
    return _iterate(path, _FIGURES_SQL, _figures, where(since, until))


def count_calls(path: PathLike, since: When = None, until: When = None) -> int:
    """How many calls the period holds (an indexed count: cheap even on a large ledger)."""
    file = Path(path)
    conn = open_ledger(file)
    if conn is None:
        return 0
    clause, params = where(since, until)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM calls{clause}", params).fetchone()[0])
    finally:
        conn.close()
