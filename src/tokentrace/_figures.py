"""What a group of calls adds up to: the one set of rules the in-process summary and the report follow.

- ``requests`` counts every call; ``errors`` the calls that failed other than by timing out;
  ``timeouts`` the calls that timed out; ``refused`` the calls a budget refused before sending
  (``CallRecord.status``: ``error``, ``timeout`` and ``refused``). A refused call is no error: it
  cost nothing (zero, a known cost) and it is left out of the latency figures.
- Tokens of each kind are the sums of the reported counts; a count not reported adds nothing.
- ``cost`` is the sum of the known costs, in the money context (``_money``);
  ``unknown_cost_calls`` counts the calls whose cost is not in it.
- ``unknown_cost_calls`` (the ``unknown`` column everywhere) counts every call whose cost is
  unknown, whatever the reason: an unpriced model, no usage reported, a failed call.
- ``fallbacks`` counts the calls that were a fallback: sent to this group's model after an earlier
  model of their chain failed (``CallRecord.fallback_from``). Grouped by model, it says to what.
- Latency covers every call that was sent and has a valid duration (finite, not negative): ok,
  error and timeout alike, since a timeout is what the caller waited; refused calls never went
  out. The average adds the durations as whole nanoseconds, so it is exact and the same whatever
  order calls arrive or groups merge in. A quantile is the nearest rank (``nearest_rank``): the
  smallest observed duration with at least a fraction q of the durations at or below it, so p95
  is never below the median. The report finds it exactly; the summary's sketch within its
  relative accuracy.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from ._money import ZERO
from ._money import add as _add

__all__ = ["COUNTS", "NANOS", "Tally", "nearest_rank"]

NANOS = 1_000_000_000
"""Nanoseconds per second: a duration ``d`` counts as ``round(d * 1e9)`` nanoseconds."""

COUNTS = (
    "requests",
    "errors",
    "timeouts",
    "refused",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "unknown_cost_calls",
    "latency_count",
    "latency_nanos",
    "fallbacks",
)
"""The integer fields of a ``Tally`` (all but ``cost``), in a fixed order for those that pack them."""


def nearest_rank(q: float, count: int) -> int:
    """The 0-based index of the q-quantile among ``count`` sorted values, by the nearest-rank
    definition: the smallest index with at least q of the values at or below it,
    ceil(q * count) - 1 (0 for q = 0).

    Computed on ``q`` as written (``0.07`` is 7/100), so 0.07 of 100 is the 7th value (index 6),
    not the 8th a float product (7.000000000000001) would round up to.
    """
    return max(math.ceil(Fraction(repr(q)) * count) - 1, 0)


class Tally:
    """Running totals of one group of calls. Not thread-safe: the owner guards it.

    Whoever counts a call into it follows the rules of the module docstring; the summary's sink
    updates the fields inline on its hot path, the report through its own ``add``.
    """

    __slots__ = (
        "cache_read_tokens",
        "cost",
        "errors",
        "fallbacks",
        "input_tokens",
        "latency_count",
        "latency_nanos",
        "output_tokens",
        "reasoning_tokens",
        "refused",
        "requests",
        "timeouts",
        "unknown_cost_calls",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.timeouts = 0
        self.refused = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.reasoning_tokens = 0
        self.cost = ZERO
        self.unknown_cost_calls = 0
        self.latency_count = 0
        self.latency_nanos = 0
        self.fallbacks = 0

    def merge_counts(self, other: Tally) -> None:
        """Add another group's counts, cost and latency sums to these (not what a subclass adds)."""
        self.requests += other.requests
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.refused += other.refused
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost = _add(self.cost, other.cost)
        self.unknown_cost_calls += other.unknown_cost_calls
        self.latency_count += other.latency_count
        self.latency_nanos += other.latency_nanos
        self.fallbacks += other.fallbacks

    def row_fields(self) -> dict[str, Any]:
        """The figures every summary row holds (``GroupSummary``, the report's ``Figures``), by name."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "refused": self.refused,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": self.cost,
            "unknown_cost_calls": self.unknown_cost_calls,
            "fallbacks": self.fallbacks,
        }

    @property
    def avg_latency(self) -> float | None:
        """Seconds; None when no call had a valid duration."""
        count = self.latency_count
        return self.latency_nanos / count / NANOS if count else None
