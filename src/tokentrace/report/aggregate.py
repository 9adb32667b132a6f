"""Totals and per-group figures of a report, computed exactly from ledger rows.

Pure functions: rows in, a frozen ``Report`` out. Each figure follows ``tokentrace._figures``, as
the in-process summary does, so both agree: costs are exact sums of the known costs, latency
covers every call that was sent with a valid duration, and p95 is the nearest rank, an observed
duration (with the n durations sorted, the one at 0-based index ceil(0.95 * n) - 1: the smallest
with at least 95 % of them at or below it), found exactly here.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Union

from .. import names
from .._figures import Tally, nearest_rank
from .._money import add as _add_usd
from .period import Period

if TYPE_CHECKING:
    from ..ledger.reader import CallFigures, LedgerRow

__all__ = [
    "BY_ALIASES",
    "BY_CHOICES",
    "Call",
    "Figures",
    "Group",
    "Report",
    "nearest_rank_quantile",
    "summarize",
]

BY_CHOICES = ("model", "tracking_id", "provider", "day")
"""What a report can be broken down by."""

BY_ALIASES = {"tracking-id": "tracking_id"}
"""Earlier spellings of ``BY_CHOICES``, still accepted."""

NO_VALUE = {"model": "(unknown model)", "tracking_id": "(no tracking id)", "provider": "(unknown provider)"}

_INF = math.inf
_REFUSED = names.CALL_STATUS_REFUSED

Call = Union["CallFigures", "LedgerRow"]
"""What a report reads: ledger rows, whole or only the columns reports add up."""


@dataclass(frozen=True, slots=True)
class Figures:
    """What a set of calls adds up to. Latencies in seconds; None when no call had a duration."""

    requests: int = 0
    errors: int = 0
    """Calls that failed other than by timing out."""
    timeouts: int = 0
    refused: int = 0
    """Calls a budget refused before sending: not errors; they cost nothing and have no latency."""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    """USD, the exact sum of the known costs."""
    unknown_cost_calls: int = 0
    """Calls whose cost is unknown, for any reason (unpriced model, no usage reported, failed call)."""
    avg_latency: float | None = None
    p95_latency: float | None = None
    fallbacks: int = 0
    """Calls sent to the group's model after an earlier model of their fallback chain failed."""


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Report:
    """Totals of a period and their breakdown ``by`` one key.

    Groups by day are in date order with empty days between the first and last filled in; other
    groups are by cost, highest first.
    """

    by: str
    total: Figures
    groups: tuple[Group, ...]
    period: Period | None = None
    source: str = ""
    """Where the rows came from (the ledger file), for the reader's benefit."""


def nearest_rank_quantile(values: Sequence[float], q: float) -> float | None:
    """The value at index ``nearest_rank(q, n)`` of the n sorted values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[nearest_rank(q, len(ordered))]


class _Totals(Tally):
    """A ``Tally`` that also counts cache writes and keeps every duration, for the exact p95."""

    __slots__ = ("cache_write_tokens", "durations")

    def __init__(self) -> None:
        Tally.__init__(self)
        self.cache_write_tokens = 0
        self.durations: array[float] = array("d")

    def add(self, row: Call) -> None:
        self.requests += 1
        status = row.status
        if status == "error":
            self.errors += 1
        elif status == "timeout":
            self.timeouts += 1
        elif status == _REFUSED:  # never sent: no tokens, no cost, no latency
            self.refused += 1
            return
        self.input_tokens += row.input_tokens or 0
        self.output_tokens += row.output_tokens or 0
        self.cache_read_tokens += row.cache_read_tokens or 0
        self.cache_write_tokens += row.cache_write_tokens or 0
        self.reasoning_tokens += row.reasoning_tokens or 0
        if row.fallback_from is not None:
            self.fallbacks += 1
        cost = row.cost
        if cost is None:
            self.unknown_cost_calls += 1
        else:
            self.cost = _add_usd(self.cost, cost)
        duration = row.duration
        if 0.0 <= duration < _INF:
            self.durations.append(duration)
            self.latency_count += 1
            self.latency_nanos += round(duration * 1e9)

    def merge(self, other: _Totals) -> None:
        self.merge_counts(other)
        self.cache_write_tokens += other.cache_write_tokens
        self.durations.extend(other.durations)

    def figures(self) -> Figures:
        return Figures(
            **self.row_fields(),
            cache_write_tokens=self.cache_write_tokens,
            avg_latency=self.avg_latency,
            p95_latency=nearest_rank_quantile(self.durations, 0.95),
        )


def _day_function(utc: bool) -> Callable[[Call], str]:
    """The date of a call's start. Every time zone's offset is a whole number of quarter hours, so
    all moments of one quarter hour share a date: it is computed once per quarter hour."""
    zone = timezone.utc if utc else None
    days: dict[int, str] = {}

    def day(row: Call) -> str:
        quarter = int(row.ts // 900)
        found = days.get(quarter)
        if found is None:
            found = days[quarter] = datetime.fromtimestamp(quarter * 900, zone).date().isoformat()
        return found

    return day


def _key_function(by: str, utc: bool) -> Callable[[Call], str]:
    if by == "day":
        return _day_function(utc)
    missing = NO_VALUE[by]
    if by == "model":
        return lambda row: row.response_model or row.request_model or missing
    if by == "tracking_id":
        return lambda row: row.tracking_id or missing
    return lambda row: row.provider or missing


def summarize(
    rows: Iterable[Call],
    by: str = "model",
    *,
    utc: bool = False,
    period: Period | None = None,
    source: str = "",
) -> Report:
    """Add the rows up, in total and per group of ``by`` (one of ``BY_CHOICES``).

    Days are local dates, or UTC dates with ``utc``. Memory: one float per call for the exact p95.
    """
    by = BY_ALIASES.get(by, by)
    if by not in BY_CHOICES:
        raise ValueError(f"cannot break a report down by {by!r}; choose one of {', '.join(BY_CHOICES)}")
    key_of = _key_function(by, utc)
    groups: dict[str, _Totals] = {}
    for row in rows:
        key = key_of(row)
        totals = groups.get(key)
        if totals is None:
            totals = groups[key] = _Totals()
        totals.add(row)
    found = [Group(key, totals.figures()) for key, totals in groups.items()]
    if by == "day":
        found = _every_day(found)
    else:
        found.sort(key=lambda g: (g.figures.cost.copy_negate(), -g.figures.requests, g.key))
    return Report(by, _overall(groups.values()), tuple(found), period, source)


def _overall(parts: Iterable[_Totals]) -> Figures:
    whole = _Totals()
    for part in parts:
        whole.merge(part)
    return whole.figures()


def _every_day(found: list[Group]) -> list[Group]:
    if not found:
        return found
    by_day = {date.fromisoformat(group.key): group for group in found}
    first, last = min(by_day), max(by_day)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [by_day.get(day) or Group(day.isoformat(), Figures()) for day in days]
