"""Per-group totals: the mutable accumulator a sink keeps, and the frozen row a summary returns."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .._money import ZERO as _ZERO
from .._money import add as _add_usd
from .._money import usd_digits
from .sketch import LatencySketch, LogMapping

__all__ = ["GroupSummary", "GroupTotals"]

_NANOS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """What the calls of one group added up to. Latencies are in seconds."""

    key: tuple[str, ...]
    """One value per field of ``by``, in that order (``""`` when a call had none)."""
    requests: int
    errors: int
    """Calls that failed other than by timing out (``CallRecord.status == "error"``)."""
    timeouts: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    cost: Decimal
    """USD, the exact sum of the known costs."""
    unknown_cost_calls: int
    """Calls whose cost is not in ``cost``: unpriced model, no usage reported."""
    avg_latency: float
    """Mean duration (exact to the nanosecond per call); 0.0 when no call had a valid duration."""
    p95_latency: float
    """Within the sketch's relative accuracy of the exact lower p95 (see ``summary.sketch``)."""
    p50_latency: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; ``cost`` is a decimal string (every digit, no exponent) so no cent is lost."""
        return {
            "key": list(self.key),
            "requests": self.requests,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": usd_digits(self.cost),
            "unknown_cost_calls": self.unknown_cost_calls,
            "avg_latency": self.avg_latency,
            "p95_latency": self.p95_latency,
            "p50_latency": self.p50_latency,
        }


class GroupTotals:
    """Running totals of one group in one time slice. Not thread-safe: the sink's lock guards it."""

    __slots__ = (
        "cache_read_tokens",
        "cost",
        "errors",
        "input_tokens",
        "latency_count",
        "latency_nanos",
        "output_tokens",
        "reasoning_tokens",
        "requests",
        "sketch",
        "timeouts",
        "unknown_cost_calls",
    )

    def __init__(self, mapping: LogMapping) -> None:
        self.requests = 0
        self.errors = 0
        self.timeouts = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.reasoning_tokens = 0
        self.cost = _ZERO
        self.unknown_cost_calls = 0
        self.latency_count = 0
        # Integer nanoseconds: the sum is exact and independent of the order calls arrive or slices
        # are merged in, which a float sum is not.
        self.latency_nanos = 0
        self.sketch = LatencySketch(mapping)

    def merge(self, other: GroupTotals) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost = _add_usd(self.cost, other.cost)
        self.unknown_cost_calls += other.unknown_cost_calls
        self.latency_count += other.latency_count
        self.latency_nanos += other.latency_nanos
        self.sketch.merge(other.sketch)

    def freeze(self, key: tuple[str, ...]) -> GroupSummary:
        count = self.latency_count
        return GroupSummary(
            key=key,
            requests=self.requests,
            errors=self.errors,
            timeouts=self.timeouts,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            reasoning_tokens=self.reasoning_tokens,
            cost=self.cost,
            unknown_cost_calls=self.unknown_cost_calls,
            avg_latency=self.latency_nanos / count / _NANOS if count else 0.0,
            p95_latency=self.sketch.quantile(0.95),
            p50_latency=self.sketch.quantile(0.5),
        )
