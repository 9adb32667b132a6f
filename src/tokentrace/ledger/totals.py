"""Money and counts from the ledger, summed in SQL: what budgets and quick queries need.

Costs are summed exactly: as integers of 1e-12 USD in SQL, or, for a group holding a cost with no
exact such form (or a sum that would overflow 64 bits), as Decimals of the stored text.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from .. import _money, names
from .reader import PathLike, When, open_ledger, unreadable, where
from .schema import pico_to_usd

__all__ = ["GROUPINGS", "LedgerTotals", "spent", "totals"]


class LedgerTotals(NamedTuple):
    """What the calls of one group add up to. ``cost`` is the exact sum of the known costs."""

    key: str | None
    requests: int
    errors: int
    timeouts: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost: Decimal
    unknown_cost_calls: int
    avg_duration: float | None
    """Of the calls that were sent (refused calls never were)."""
    refused: int = 0
    """Calls a budget refused before sending: not errors, no cost."""


GROUPINGS: dict[str | None, str] = {
    None: "NULL",
    "model": "COALESCE(response_model, request_model)",
    "tracking_id": "tracking_id",
    "provider": "provider",
    "operation": "operation",
    "day": "date(ts, 'unixepoch', 'localtime')",
    "utc_day": "date(ts, 'unixepoch')",
}
"""What ``totals(by=...)`` can group by, and the SQL expression of each group's key."""


# A refused call: its own status, or, in a ledger written before it had one, an error of the
# refusal's type (``reader`` reads it the same way).
_REFUSED = f"(status = '{names.CALL_STATUS_REFUSED}' OR error_type IS '{names.REFUSAL_ERROR_TYPE}')"


def _totals_sql(key: str, clause: str, pico_sum: str) -> str:
    return (
        f"SELECT {key} AS k, COUNT(*), COALESCE(SUM(status = 'error' AND NOT {_REFUSED}), 0), "
        "COALESCE(SUM(status = 'timeout'), 0), COALESCE(SUM(input_tokens), 0), "
        "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0), "
        "COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(reasoning_tokens), 0), "
        f"{pico_sum}, COUNT(cost_usd) - COUNT(cost_pico_usd), COUNT(cost_usd), "
        f"COUNT(*) - COUNT(cost_usd), AVG(CASE WHEN {_REFUSED} THEN NULL ELSE duration_s END), "
        f"COALESCE(SUM({_REFUSED}), 0) "
        f"FROM calls{clause} GROUP BY k ORDER BY k"
    )


def totals(
    path: PathLike,
    since: When = None,
    until: When = None,
    *,
    by: str | None = None,
    tracking_id: str | None = None,
    model: str | None = None,
) -> list[LedgerTotals]:
    """Totals of the period grouped by ``by`` (a key of ``GROUPINGS``); ``by=None``: one group.

    Groups come sorted by key (None first); ``day`` keys are local dates (``YYYY-MM-DD``). A period
    without calls gives an empty list. ``model`` matches the requested or the answering model.
    """
    if by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r}; choose one of {sorted(k for k in GROUPINGS if k)}")
    file = Path(path)
    conn = open_ledger(file)
    if conn is None:
        return []
    key = GROUPINGS[by]
    clause, params = where(since, until, tracking_id, model)
    try:
        try:
            found = conn.execute(_totals_sql(key, clause, "SUM(cost_pico_usd)"), params).fetchall()
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
            found = conn.execute(_totals_sql(key, clause, "NULL"), params).fetchall()
        inexact = {row[0] for row in found if row[10] or (row[9] is None and row[11])}
        exact = _decimal_sums(conn, key, clause, params) if inexact else {}
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise unreadable(file, exc) from exc
    finally:
        conn.close()
    result = []
    for row in found:
        group = row[0]
        cost = exact.get(group, Decimal(0)) if group in inexact else pico_to_usd(row[9] or 0)
        result.append(LedgerTotals._make((group, *row[1:9], cost, row[12], row[13], row[14])))
    return result


def _decimal_sums(conn: sqlite3.Connection, key: str, clause: str, params: list[Any]) -> dict[Any, Decimal]:
    """Exact Decimal sums of the stored cost text, per group: the slow path, rarely needed."""
    known = f"{clause} AND cost_usd IS NOT NULL" if clause else " WHERE cost_usd IS NOT NULL"
    sums: dict[Any, Decimal] = {}
    for group, text in conn.execute(f"SELECT {key}, cost_usd FROM calls{known}", params):
        sums[group] = _money.add(sums.get(group, Decimal(0)), Decimal(text))
    return sums


def spent(
    path: PathLike,
    since: When,
    tracking_id: str | None = None,
    model: str | None = None,
    *,
    until: When = None,
) -> Decimal:
    """USD spent on calls started in the period (known costs only); ``Decimal(0)`` with no ledger yet.

    ``tracking_id`` matches the innermost tracking id; ``model`` the requested or answering model.
    Raises ``LedgerError`` when the file is not a ledger.
    """
    file = Path(path)
    if not file.exists():
        return Decimal(0)
    found = totals(file, since, until, tracking_id=tracking_id, model=model)
    return found[0].cost if found else Decimal(0)
