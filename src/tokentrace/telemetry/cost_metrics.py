"""Cost as telemetry: its attributes on the span, and the cost counter, histogram and unknown counter.

One call per finished call (``CostMetrics.record``) does both, before the span ends.

Money stays ``Decimal`` until this boundary, where it becomes a float.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import names
from ..pricing import Cost

__all__ = ["CostMetrics"]

_TOTALS: weakref.WeakKeyDictionary[Meter, dict[tuple[Any, ...], float]] = weakref.WeakKeyDictionary()
_TOTALS_LOCK = threading.Lock()


class CostMetrics:
    """The cost counter (totals by source and the call's metric attributes), the opt-in per-call
    histogram, and the counter of calls whose cost is unknown, by reason."""

    def __init__(self, meter: Meter, breakdown: bool = False, histogram: bool = False) -> None:
        self._breakdown = breakdown
        # The running totals are kept here and reported when metrics are collected: one dict
        # update per call instead of an SDK measurement. They live as long as the meter, so
        # instrumenting again never makes a total go backwards.
        with _TOTALS_LOCK:
            self._totals = _TOTALS.setdefault(meter, {})
        self._totals_lock = _TOTALS_LOCK
        meter.create_observable_counter(
            names.COST_COUNTER,
            callbacks=[self._observe_totals],
            unit=names.UNIT_USD,
            description="Total cost of GenAI calls, in USD.",
        )
        # The per-call distribution is opt-in (setting ``cost_histogram``): one SDK histogram point
        # more per call, which the totals above do not need.
        self._histogram = (
            meter.create_histogram(
                names.COST_HISTOGRAM,
                unit=names.UNIT_USD,
                description="Cost of one GenAI call, in USD.",
                explicit_bucket_boundaries_advisory=list(names.COST_BUCKETS),
            )
            if histogram
            else None
        )
        self._unknown = meter.create_counter(
            names.UNKNOWN_COST_COUNTER,
            unit=names.UNIT_CALL,
            description="Calls whose cost is unknown, by reason.",
        )

    def record(
        self,
        attributes: dict[str, Any],
        metric_attributes: dict[str, Any],
        cost: Cost | None,
        reason: str | None,
    ) -> None:
        """A finished call's cost on its span (``attributes``) and in the metrics, or why it is unknown."""
        if cost is None:
            if reason == names.UNKNOWN_UNPRICED:
                attributes[names.COST_UNPRICED] = True
            attributes[names.COST_UNKNOWN_REASON] = reason
            if reason is not None:
                self._unknown.add(1, {**metric_attributes, names.COST_UNKNOWN_REASON: reason})
            return
        amount = float(cost.amount)
        source = cost.source
        attributes[names.GEN_AI_USAGE_COST_AMOUNT] = amount
        attributes[names.GEN_AI_USAGE_COST_CURRENCY] = names.CURRENCY_USD
        attributes[names.GEN_AI_USAGE_COST_SOURCE] = source
        if cost.entry:
            attributes[names.PRICE_ENTRY] = cost.entry
        if cost.date:
            attributes[names.PRICE_DATE] = cost.date
        if self._breakdown:
            _add_breakdown(attributes, cost)
        # The metrics' unit is USD, so the currency is no attribute there. A total's key is the
        # source and the call's metric attributes (as pairs), turned into attributes at collection.
        key = (source, *metric_attributes.items())
        with self._totals_lock:
            self._totals[key] = self._totals.get(key, 0.0) + amount
        if self._histogram is not None:
            self._histogram.record(amount, {**metric_attributes, names.GEN_AI_USAGE_COST_SOURCE: source})

    def _observe_totals(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._totals_lock:
            totals = list(self._totals.items())
        source = names.GEN_AI_USAGE_COST_SOURCE
        return [Observation(total, {**dict(key[1:]), source: key[0]}) for key, total in totals]


def _add_breakdown(attributes: dict[str, Any], cost: Cost) -> None:
    attributes[names.COST_INPUT] = float(cost.input)
    attributes[names.COST_OUTPUT] = float(cost.output)
    if cost.cache_read:
        attributes[names.COST_CACHE_READ] = float(cost.cache_read)
    if cost.cache_write:
        attributes[names.COST_CACHE_WRITE] = float(cost.cache_write)
    if cost.reasoning:
        attributes[names.COST_REASONING] = float(cost.reasoning)
