"""Closed time slices packed into a few flat containers, to keep a day of them in little memory.

Packed, a group costs ``PACKED_GROUP_BYTES`` (its key, the key's strings and the cost stay objects)
instead of ``window.GROUP_BYTES``, and a latency bucket ``PACKED_BUCKET_BYTES`` instead of
``window.BUCKET_BYTES`` (objects, dicts, boxed ints). Reading one back rebuilds ``GroupTotals``,
which only summaries do.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from operator import attrgetter

from .._figures import COUNTS
from .groups import GroupTotals
from .sketch import LatencySketch, LogMapping

__all__ = ["PACKED_BUCKET_BYTES", "PACKED_GROUP_BYTES", "PackedSlice"]

# Estimates for the memory budget, measured with tracemalloc by benchmarks/summary_memory.py.
PACKED_GROUP_BYTES = 420
PACKED_BUCKET_BYTES = 16

_WIDTH = len(COUNTS) + 1
"""Numbers per group: the integer fields of a ``Tally`` and the sketch's zero count."""

_read_counters = attrgetter(*COUNTS)


class PackedSlice:
    """The groups of one closed slice, read-only; ``items()`` reads like the dict it came from."""

    __slots__ = ("_costs", "_counts", "_ends", "_floors", "_indexes", "_keys", "_mapping", "_numbers")

    def __init__(self, groups: dict[tuple[str, str, str, str], GroupTotals], mapping: LogMapping) -> None:
        self._mapping = mapping
        self._keys = tuple(groups)
        self._costs = tuple(totals.cost for totals in groups.values())
        # Python ints, not array('q'): sums of odd records may outgrow 64 bits, and must not fail.
        numbers: list[int] = []
        floors: list[int | None] = []
        # Bucket indexes and counts of every group, one after the other; _ends[i] closes group i.
        indexes: list[int] = []
        counts: list[int] = []
        ends = array("q")
        counters = _read_counters
        for totals in groups.values():
            numbers.extend(counters(totals))
            sketch = totals.sketch
            numbers.append(sketch.zero_count)
            floors.append(sketch.floor)
            indexes.extend(sketch.buckets)
            counts.extend(sketch.buckets.values())
            ends.append(len(indexes))
        self._numbers = tuple(numbers)
        # Nearly always all None: one shared tuple element each.
        self._floors = tuple(floors)
        self._indexes = array("q", indexes)
        self._counts = array("q", counts)
        self._ends = ends

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def bucket_count(self) -> int:
        return len(self._indexes)

    @property
    def estimated_bytes(self) -> int:
        return len(self._keys) * PACKED_GROUP_BYTES + len(self._indexes) * PACKED_BUCKET_BYTES

    def items(self) -> Iterator[tuple[tuple[str, str, str, str], GroupTotals]]:
        start = 0
        for number, key in enumerate(self._keys):
            totals = GroupTotals(self._mapping)
            base = number * _WIDTH
            for offset, name in enumerate(COUNTS):
                setattr(totals, name, self._numbers[base + offset])
            totals.cost = self._costs[number]
            end = self._ends[number]
            buckets = dict(zip(self._indexes[start:end], self._counts[start:end], strict=True))
            totals.sketch = LatencySketch.restore(
                self._mapping, buckets, self._numbers[base + _WIDTH - 1], self._floors[number]
            )
            start = end
            yield key, totals
