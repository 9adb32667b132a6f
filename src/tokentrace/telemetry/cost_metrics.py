"""Cost on the span and in the metrics: what a finished call cost, or why it is unknown.

The recorder asks the process's price book once per finished call. Money stays ``Decimal`` until
the attribute/metric boundary here.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import names
from .._guard import logger
from ..calls.records import ResponseInfo
from ..pricing import Cost, PriceBook

__all__ = ["CostRecorder"]

_MAX_WARNED = 1000
_TOTALS: weakref.WeakKeyDictionary[Meter, dict[tuple[Any, ...], float]] = weakref.WeakKeyDictionary()
_TOTALS_LOCK = threading.Lock()


class CostRecorder:
    """Prices finished calls and records cost attributes and metrics."""

    def __init__(
        self, meter: Meter, book: PriceBook, breakdown: bool = False, histogram: bool = False
    ) -> None:
        self._book = book
        self._breakdown = breakdown
        # The running totals are kept here and reported when metrics are collected: one dict
        # update per call instead of an SDK measurement (about 10 us each, whatever the instrument).
        # They live as long as the meter, so instrumenting again never makes a total go backwards.
        with _TOTALS_LOCK:
            self._totals = _TOTALS.setdefault(meter, {})
        self._totals_lock = _TOTALS_LOCK
        meter.create_observable_counter(
            names.COST_COUNTER,
            callbacks=[self._observe_totals],
            unit=names.UNIT_USD,
            description="Total cost of GenAI calls, in USD.",
        )
        # The per-call distribution is opt-in (setting ``cost_histogram``): it is one SDK
        # histogram point more per call, which the totals above do not need.
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
        self._warned: set[tuple[str, str]] = set()

    def price(
        self,
        provider: str,
        request_model: str | None,
        response: ResponseInfo | None,
        failed: bool,
        span_attributes: dict[str, Any],
        metric_attributes: dict[str, Any],
    ) -> Cost | None:
        """Add cost to ``span_attributes`` and record cost metrics; returns the cost when known."""
        usage = response.usage if response is not None else None
        if usage is None:
            reason = names.UNKNOWN_ERROR if failed else names.UNKNOWN_NO_USAGE
            self._record_unknown(reason, span_attributes, metric_attributes)
            return None
        response_model = response.model if response is not None else None
        service_tier = response.service_tier if response is not None else None
        cost = self._book.cost(provider, usage, response_model, request_model, service_tier=service_tier)
        if cost is None:
            span_attributes[names.COST_UNPRICED] = True
            self._record_unknown(names.UNKNOWN_UNPRICED, span_attributes, metric_attributes)
            self._warn_unpriced(provider, response_model or request_model or "")
            return None
        amount = float(cost.amount)
        source = cost.source
        span_attributes[names.GEN_AI_USAGE_COST_AMOUNT] = amount
        span_attributes[names.GEN_AI_USAGE_COST_CURRENCY] = names.CURRENCY_USD
        span_attributes[names.GEN_AI_USAGE_COST_SOURCE] = source
        if cost.entry:
            span_attributes[names.PRICE_ENTRY] = cost.entry
        if cost.date:
            span_attributes[names.PRICE_DATE] = cost.date
        if self._breakdown:
            _add_breakdown(cost, span_attributes)
        # The metrics' unit is USD, so the currency is no attribute there. A total's key is the
        # source and the call's metric attributes (as pairs), turned into attributes at collection.
        key = (source, *metric_attributes.items())
        with self._totals_lock:
            self._totals[key] = self._totals.get(key, 0.0) + amount
        if self._histogram is not None:
            self._histogram.record(amount, {**metric_attributes, names.GEN_AI_USAGE_COST_SOURCE: source})
        return cost

    def _observe_totals(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._totals_lock:
            totals = list(self._totals.items())
        source = names.GEN_AI_USAGE_COST_SOURCE
        return [Observation(total, {**dict(key[1:]), source: key[0]}) for key, total in totals]

    def _record_unknown(
        self, reason: str, span_attributes: dict[str, Any], metric_attributes: dict[str, Any]
    ) -> None:
        span_attributes[names.COST_UNKNOWN_REASON] = reason
        self._unknown.add(1, {**metric_attributes, names.COST_UNKNOWN_REASON: reason})

    def _warn_unpriced(self, provider: str, model: str) -> None:
        key = (provider, model)
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            return
        self._warned.add(key)
        logger.warning(
            "tokentrace: no price known for model %r at %r; its calls are counted as unpriced. "
            "Add it with tokentrace.set_prices() or a price file (TOKENTRACE_PRICES).",
            model,
            provider,
        )


def _add_breakdown(cost: Cost, span_attributes: dict[str, Any]) -> None:
    span_attributes[names.COST_INPUT] = float(cost.input)
    span_attributes[names.COST_OUTPUT] = float(cost.output)
    if cost.cache_read:
        span_attributes[names.COST_CACHE_READ] = float(cost.cache_read)
    if cost.cache_write:
        span_attributes[names.COST_CACHE_WRITE] = float(cost.cache_write)
    if cost.reasoning:
        span_attributes[names.COST_REASONING] = float(cost.reasoning)
