"""A recorder sink that keeps bounded running totals of finished calls and summarises them.

Memory does not grow with the number of calls: calls are added to groups keyed by (model, tracking
id, provider, operation) in the current time slice; each slice, and the all-time aggregate, holds
at most ``max_groups`` keys plus one overflow group; each group's latencies live in a sketch of at
most ``max_buckets`` buckets; closed slices are kept within ``memory_budget`` (see ``window``).
Summaries by any subset of the four fields are merged from these groups when asked for.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from .. import names
from .._guard import internal_error
from .._money import add as _add_usd
from ..calls.records import CallRecord
from .groups import GroupSummary, GroupTotals
from .packed import PackedSlice
from .sketch import LogMapping
from .window import Key, SliceRing, admit

__all__ = ["FIELDS", "OVERFLOW", "SummarySink"]

FIELDS = ("model", "tracking_id", "provider", "operation")
"""What a summary can group by. ``model`` is ``CallRecord.model``: the response model, else the
requested one."""

OVERFLOW = names.OVERFLOW_TRACKING_ID
"""Every field of the group that takes new keys' calls once a slice holds ``max_groups`` keys."""

_INF = math.inf
_REFUSALS = names.REFUSAL_ERROR_TYPES


class SummarySink:
    """Call it with every finished ``CallRecord`` (from any thread); ask it for ``summary()``.

    A call belongs to the moment the sink received it (by ``clock``), i.e. when it finished, so a
    long stream counts where its cost was incurred.

    Windows (``since``) are answered from whole slices, starting at the slice boundary at or before
    ``since``: the result holds every call recorded since then, and possibly calls from up to one
    slice earlier. The resolution is ``slice_seconds`` for windows reaching back at most 60 slices
    (one hour by default), and ``60 * slice_seconds`` (one hour) beyond, up to
    ``retention_seconds``. A window starting at or before the sink's creation (or last ``reset()``)
    is exact: it is the all-time aggregate.

    ``memory_budget`` bounds the estimated bytes of the closed slices (the open slice and the
    all-time aggregate come on top, each bounded by ``max_groups`` and ``max_buckets``). When call
    volume reaches it, recent windows are answered at the coarse resolution first, then the oldest
    history goes. A window reaching past what is kept raises ``ValueError``.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        relative_accuracy: float = 0.01,
        max_groups: int = 1000,
        slice_seconds: int = 60,
        retention_seconds: int = 86400,
        max_buckets: int = 2048,
        memory_budget: int = 16 * 2**20,
    ) -> None:
        if max_groups < 1:
            raise ValueError(f"max_groups must be at least 1, got {max_groups!r}")
        if slice_seconds < 1:
            raise ValueError(f"slice_seconds must be at least 1, got {slice_seconds!r}")
        if retention_seconds < slice_seconds:
            raise ValueError("retention_seconds must be at least slice_seconds")
        self._clock = clock
        self._mapping = LogMapping(relative_accuracy, max_buckets)
        self._max_groups = max_groups
        self._slice_seconds = slice_seconds
        self._retention_seconds = retention_seconds
        self._memory_budget = memory_budget
        # One lock, held for a dozen updates per call. Even threads recording back to back pay
        # little for it (benchmarks/summary_memory.py measures it), and real LLM calls finish a few
        # hundred times a second at most, so it is almost never contended. Per-thread accumulators
        # would need a merge on every read, a flush on every slice change and cleanup after
        # finished threads, to save that little.
        self._lock = threading.Lock()
        self._dropped = 0
        self._ring = self._new_ring()

    def _new_ring(self) -> SliceRing:
        return SliceRing(
            slice_seconds=self._slice_seconds,
            retention_seconds=self._retention_seconds,
            max_groups=self._max_groups,
            mapping=self._mapping,
            memory_budget=self._memory_budget,
            now=self._clock(),
        )

    @property
    def relative_accuracy(self) -> float:
        return self._mapping.relative_accuracy

    @property
    def dropped(self) -> int:
        """Records that could not be counted at all (never expected; logged once)."""
        return self._dropped

    def __call__(self, record: CallRecord) -> None:
        try:
            # Read and clean everything before counting, so that an odd record either counts in
            # full or not at all.
            input_tokens = record.input_tokens
            if input_tokens.__class__ is not int:
                input_tokens = 0 if input_tokens is None else _tokens(input_tokens)
            output_tokens = record.output_tokens
            if output_tokens.__class__ is not int:
                output_tokens = 0 if output_tokens is None else _tokens(output_tokens)
            cache_read = record.cache_read_tokens
            if cache_read.__class__ is not int:
                cache_read = 0 if cache_read is None else _tokens(cache_read)
            reasoning = record.reasoning_tokens
            if reasoning.__class__ is not int:
                reasoning = 0 if reasoning is None else _tokens(reasoning)
            cost = record.cost
            if cost.__class__ is not Decimal or not cost.is_finite():
                cost = _known_cost(cost)
            duration = record.duration
            if duration.__class__ is not float:
                duration = _seconds(duration)
            timed_out = bool(record.timed_out)
            fell_back = record.fallback_from is not None
            failed = refused = False
            if not timed_out and record.error_type:
                if record.error_type in _REFUSALS:
                    refused = True
                else:
                    failed = True
            key = (
                record.response_model or record.request_model or "",
                record.tracking_id or "",
                record.provider or "",
                record.operation or "",
            )
            now = self._clock()
            # The rules of _figures, inline: negative, NaN and infinite durations say nothing
            # about latency and are left out of it, as are refused calls (never sent); the rest
            # count as whole nanoseconds.
            timed = 0.0 <= duration < _INF and not refused
            nanos = round(duration * 1e9) if timed else 0
        except Exception as exc:
            self._drop(exc)
            return
        try:
            with self._lock:
                ring = self._ring
                if now >= ring.current_end:
                    ring.advance(now)
                totals = ring.current.get(key)  # an unhashable key raises here, before any count
                if totals is None:
                    totals = admit(ring.current, key, self._max_groups, self._mapping)
                totals.requests += 1
                if timed_out:
                    totals.timeouts += 1
                elif failed:
                    totals.errors += 1
                elif refused:
                    totals.refused += 1
                totals.input_tokens += input_tokens
                totals.output_tokens += output_tokens
                totals.cache_read_tokens += cache_read
                totals.reasoning_tokens += reasoning
                if cost is None:
                    if not refused:  # a refused call cost nothing
                        totals.unknown_cost_calls += 1
                else:
                    totals.cost = _add_usd(totals.cost, cost)
                if fell_back:
                    totals.fallbacks += 1
                if timed:
                    totals.latency_count += 1
                    totals.latency_nanos += nanos
                    totals.sketch.add(duration)
        except Exception as exc:
            self._drop(exc)

    def _drop(self, exc: Exception) -> None:
        with self._lock:
            self._dropped += 1
        internal_error("adding a call to the in-process summary", exc)

    def summary(
        self,
        by: Sequence[str] = ("model",),
        since: datetime | timedelta | float | None = None,
    ) -> list[GroupSummary]:
        """Totals per group of ``by`` (a subset of ``FIELDS``; ``()`` for one total), costliest first.

        ``since``: ``None`` for everything since the sink started; a ``datetime`` (naive means
        local time); a ``timedelta`` or a number of seconds before now.
        """
        positions = _positions(by)
        merged: dict[tuple[str, ...], GroupTotals] = {}
        packed: list[PackedSlice] = []
        with self._lock:
            now = self._clock()
            start = None if since is None else _since_timestamp(now, since)
            for groups in self._ring.select(now, start):
                if isinstance(groups, PackedSlice):
                    packed.append(groups)
                else:
                    self._merge(merged, groups.items(), positions)
        # Packed slices never change: merged after releasing the lock, so that a summary of a
        # day's windows (the slowest read there is) does not hold up the calls being recorded.
        for groups in packed:
            self._merge(merged, groups.items(), positions)
        rows = [totals.freeze(key) for key, totals in merged.items()]
        # copy_negate, unlike unary minus, ignores the thread's decimal context: it never rounds.
        rows.sort(key=lambda row: (row.cost.copy_negate(), -row.requests, row.key))
        return rows

    def _merge(
        self,
        merged: dict[tuple[str, ...], GroupTotals],
        groups: Iterable[tuple[Key, GroupTotals]],
        positions: tuple[int, ...],
    ) -> None:
        for key, totals in groups:
            out = tuple(str(key[position]) for position in positions)
            target = merged.get(out)
            if target is None:
                target = merged[out] = GroupTotals(self._mapping)
            target.merge(totals)

    def reset(self) -> None:
        """Forget every call; windows are then measured from now."""
        with self._lock:
            self._ring = self._new_ring()

    def footprint(self) -> dict[str, int]:
        """What the sink holds now: slices, groups, sketch buckets, estimated window bytes."""
        with self._lock:
            return self._ring.footprint()


def _tokens(value: object) -> int:
    # None means "not reported": it adds nothing. Anything else odd is made an int if it can be.
    if value is None:
        return 0
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError, OverflowError):
        return 0


def _known_cost(value: object) -> Decimal | None:
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return None


def _seconds(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _positions(by: Sequence[str]) -> tuple[int, ...]:
    fields = (by,) if isinstance(by, str) else tuple(by)
    unknown = [field for field in fields if field not in FIELDS]
    if unknown or len(set(fields)) != len(fields):
        raise ValueError(f"by must name distinct fields among {FIELDS}, got {fields!r}")
    return tuple(FIELDS.index(field) for field in fields)


def _since_timestamp(now: float, since: datetime | timedelta | float) -> float:
    if isinstance(since, datetime):
        return since.timestamp()
    if isinstance(since, timedelta):
        seconds = since.total_seconds()
    elif isinstance(since, (int, float)) and not isinstance(since, bool):
        seconds = float(since)
    else:
        raise TypeError(f"since must be a datetime, a timedelta or seconds, got {since!r}")
    if not seconds >= 0.0:
        raise ValueError(f"since must be a non-negative span of time, got {since!r}")
    return now - seconds
