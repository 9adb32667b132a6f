"""A small mergeable quantile sketch for latencies, in the manner of DDSketch.

Values are counted in logarithmic buckets, so memory depends on the spread of the values, never on
how many were added, and two sketches merge by adding bucket counts.

Error bound. With ``relative_accuracy`` alpha, let gamma = (1 + alpha) / (1 - alpha). A positive
value x falls in bucket i = ceil(log_gamma(x)), which covers (gamma**(i-1), gamma**i], and the
bucket is reported as 2 * gamma**i / (gamma + 1): that is within alpha * x of every x in the bucket.
So ``quantile(q)`` is within relative error alpha (up to float rounding) of the exact
nearest-rank quantile: the value at 0-based index ceil(q * n) - 1 of the n added values, sorted
(``_figures.nearest_rank``, the rank the report uses too). Zeros are counted apart and reported
exactly.

Bucket cap. At most ``max_buckets`` buckets are kept; past that the lowest buckets are folded into
one. High quantiles (p50, p95, p99) keep the bound as long as their true value lies above the folded
range, which is certain while the positive values span a ratio of at most gamma**(max_buckets - 1):
for alpha = 1 % and 2,048 buckets that is about 6e17 (1 ns to 600 million seconds).
"""

from __future__ import annotations

import math

from .._figures import nearest_rank

__all__ = ["LatencySketch", "LogMapping"]

_ceil = math.ceil
_log = math.log

# Below every index a float can produce (log of the smallest subnormal is about -744).
_NO_FLOOR = -(1 << 62)


class LogMapping:
    """Value <-> bucket index for one relative accuracy; shared by every sketch built with it."""

    __slots__ = ("_multiplier", "gamma", "log_gamma", "max_buckets", "relative_accuracy")

    def __init__(self, relative_accuracy: float = 0.01, max_buckets: int = 2048) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(f"relative_accuracy must be in (0, 1), got {relative_accuracy!r}")
        if max_buckets < 2:
            raise ValueError(f"max_buckets must be at least 2, got {max_buckets!r}")
        self.relative_accuracy = relative_accuracy
        self.max_buckets = max_buckets
        self.gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy)
        self.log_gamma = math.log(self.gamma)
        # Multiplying is cheaper than dividing on the hot path.
        self._multiplier = 1.0 / self.log_gamma

    def index(self, value: float) -> int:
        """The bucket of a positive finite value."""
        return math.ceil(math.log(value) * self._multiplier)

    def value(self, index: int) -> float:
        """The representative of a bucket: within ``relative_accuracy`` of anything in it."""
        return 2.0 * math.exp(index * self.log_gamma) / (self.gamma + 1.0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogMapping):
            return NotImplemented
        return (self.relative_accuracy, self.max_buckets) == (other.relative_accuracy, other.max_buckets)

    def __hash__(self) -> int:
        return hash((self.relative_accuracy, self.max_buckets))

    def __repr__(self) -> str:
        return f"LogMapping(relative_accuracy={self.relative_accuracy!r}, max_buckets={self.max_buckets!r})"


class LatencySketch:
    """Counts of non-negative values in log buckets; see the module docstring for the bound."""

    __slots__ = ("_floor", "buckets", "mapping", "zero_count")

    def __init__(self, mapping: LogMapping | None = None) -> None:
        self.mapping = mapping if mapping is not None else LogMapping()
        self.buckets: dict[int, int] = {}
        """Bucket index -> count. Read-only for callers."""
        self.zero_count = 0
        self._floor = _NO_FLOOR
        """Once buckets were folded, every index below this one is counted in it."""

    @property
    def count(self) -> int:
        return self.zero_count + sum(self.buckets.values())

    def add(self, value: float) -> None:
        """Count one value; it must be finite and not negative."""
        if value > 0.0 and value != math.inf:
            # LogMapping.index inlined: this runs once per recorded call.
            index = _ceil(_log(value) * self.mapping._multiplier)
            # Not max(): a builtin call costs more than the comparison on this hot path.
            if index < self._floor:  # noqa: PLR1730
                index = self._floor
            buckets = self.buckets
            buckets[index] = buckets.get(index, 0) + 1
            if len(buckets) > self.mapping.max_buckets:
                self._fold_lowest()
        elif value == 0.0:
            self.zero_count += 1
        else:
            raise ValueError(f"a sketch counts finite non-negative values, got {value!r}")

    def merge(self, other: LatencySketch) -> None:
        """Add another sketch's counts to this one; the result is the sketch of both inputs."""
        if other.mapping is not self.mapping and other.mapping != self.mapping:
            raise ValueError(f"cannot merge sketches with {other.mapping!r} into {self.mapping!r}")
        self.zero_count += other.zero_count
        floor = max(self._floor, other._floor)
        buckets = self.buckets
        if floor > self._floor:
            self._floor = floor
            self._refold()
        if floor == _NO_FLOOR:  # nearly always: nothing was ever folded
            for index, count in other.buckets.items():
                buckets[index] = buckets.get(index, 0) + count
        else:
            for index, count in other.buckets.items():
                target = max(index, floor)
                buckets[target] = buckets.get(target, 0) + count
        if len(buckets) > self.mapping.max_buckets:
            self._fold_lowest()

    @property
    def floor(self) -> int | None:
        """The lowest bucket kept once lower ones were folded into it; None while none were."""
        return None if self._floor == _NO_FLOOR else self._floor

    @classmethod
    def restore(
        cls, mapping: LogMapping, buckets: dict[int, int], zero_count: int, floor: int | None
    ) -> LatencySketch:
        """A sketch from the parts another one exposed (``buckets``, ``zero_count``, ``floor``)."""
        sketch = cls(mapping)
        sketch.buckets = buckets
        sketch.zero_count = zero_count
        sketch._floor = _NO_FLOOR if floor is None else floor
        return sketch

    def copy(self) -> LatencySketch:
        return LatencySketch.restore(self.mapping, dict(self.buckets), self.zero_count, self.floor)

    def quantile(self, q: float) -> float:
        """Estimate of the value at sorted index ceil(q * n) - 1 (the nearest rank); 0.0 for an
        empty sketch."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {q!r}")
        total = self.count
        if total == 0:
            return 0.0
        rank = nearest_rank(q, total)
        seen = self.zero_count
        if rank < seen:
            return 0.0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                return self.mapping.value(index)
        raise AssertionError("unreachable: rank is below the total count")

    def _fold_lowest(self) -> None:
        # Keep the highest max_buckets - 1 buckets and fold the rest into the next one down, which
        # becomes the floor. The result depends only on the values added, in any order or merge
        # tree, because the floor is always the max_buckets-th highest index ever seen.
        ordered = sorted(self.buckets)
        cut = len(ordered) - self.mapping.max_buckets
        floor = ordered[cut]
        folded = sum(self.buckets.pop(index) for index in ordered[:cut])
        self.buckets[floor] += folded
        self._floor = floor

    def _refold(self) -> None:
        low = [index for index in self.buckets if index < self._floor]
        if low:
            folded = sum(self.buckets.pop(index) for index in low)
            self.buckets[self._floor] = self.buckets.get(self._floor, 0) + folded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencySketch):
            return NotImplemented
        return (self.mapping, self.zero_count, self._floor, self.buckets) == (
            other.mapping,
            other.zero_count,
            other._floor,
            other.buckets,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"LatencySketch({self.mapping!r}, count={self.count}, buckets={len(self.buckets)})"
