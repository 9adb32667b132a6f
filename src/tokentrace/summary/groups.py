"""Per-group totals: the accumulator a sink keeps, and the frozen row a summary returns.

What each figure means, and how a call counts in it, is ``tokentrace._figures``: the report
follows the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from .._figures import Tally
from .._money import usd_digits
from .sketch import LatencySketch, LogMapping

__all__ = ["GroupSummary", "GroupTotals"]


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
    """Calls whose cost is unknown, for any reason (unpriced model, no usage reported, failed):
    the ``unknown`` column."""
    avg_latency: float
    """Mean duration of the calls sent (exact to the nanosecond per call); 0.0 when no call had a
    valid duration."""
    p95_latency: float
    """Within the sketch's relative accuracy of the exact nearest-rank p95 (see ``summary.sketch``)."""
    p50_latency: float
    refused: int = 0
    """Calls a budget refused before sending (in ``requests``, but not errors; no cost, no latency)."""
    fallbacks: int = 0
    """Calls sent to this group's model after an earlier model of their fallback chain failed."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, in field order; ``cost`` is a decimal string (every digit, no exponent) so no
        cent is lost."""
        data = {field.name: getattr(self, field.name) for field in fields(self)}
        data["key"] = list(self.key)
        data["cost"] = usd_digits(self.cost)
        return data


class GroupTotals(Tally):
    """A ``Tally`` with its latencies in a sketch, for one group in one time slice.

    Not thread-safe: the sink's lock guards it.
    """

    __slots__ = ("sketch",)

    def __init__(self, mapping: LogMapping) -> None:
        Tally.__init__(self)
        self.sketch = LatencySketch(mapping)

    def merge(self, other: GroupTotals) -> None:
        self.merge_counts(other)
        self.sketch.merge(other.sketch)

    def freeze(self, key: tuple[str, ...]) -> GroupSummary:
        return GroupSummary(
            key=key,
            **self.row_fields(),
            avg_latency=self.avg_latency or 0.0,
            p95_latency=self.sketch.quantile(0.95),
            p50_latency=self.sketch.quantile(0.5),
        )
