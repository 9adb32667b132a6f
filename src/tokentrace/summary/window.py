"""Where a sink keeps its totals over time: the open slice, two rings of closed ones, all time.

Fine slices (``slice_seconds``) are kept for the last ``FINE_SLICES`` of them; coarse slots
(``FINE_SLICES * slice_seconds``: one hour at the default one minute) for the rest of the retention.
Every closed fine slice is folded at once into the open coarse slot, so dropping fine slices only
coarsens recent windows, never loses them; a closing coarse slot is folded into the all-time
aggregate. Closed slices are packed (``packed``) and must fit an estimated memory budget: past it
the oldest fine slices go first, then the oldest coarse slots.
"""

from __future__ import annotations

import math
import sys
from collections import deque

from .. import names
from .groups import GroupTotals
from .packed import PackedSlice
from .sketch import LogMapping

__all__ = [
    "BUCKET_BYTES",
    "FINE_SLICES",
    "GROUP_BYTES",
    "OVERFLOW_KEY",
    "Groups",
    "Key",
    "Slice",
    "SliceRing",
    "admit",
    "fold",
]

FINE_SLICES = 60

# Rough bytes held per group and per latency bucket of an unpacked slice (measured with tracemalloc
# by the benchmark), to turn a memory budget into counts the ring can check cheaply.
GROUP_BYTES = 700
BUCKET_BYTES = 56

Key = tuple[str, str, str, str]
Groups = dict[Key, GroupTotals]
Slice = Groups | PackedSlice

_NONE = -(1 << 62)
_OTHER = names.OVERFLOW_TRACKING_ID
OVERFLOW_KEY: Key = (_OTHER, _OTHER, _OTHER, _OTHER)


def admit(groups: Groups, key: Key, max_groups: int, mapping: LogMapping) -> GroupTotals:
    """The totals for a key not yet in ``groups``: a new group, or the overflow one when full."""
    if len(groups) >= max_groups and key != OVERFLOW_KEY:
        key = OVERFLOW_KEY
        totals = groups.get(key)
        if totals is not None:
            return totals
    else:
        # Model names arrive as fresh strings from every response, and each slice keeps its own
        # keys for up to a day: share one copy of each string between them.
        # Not contextlib.suppress: it costs a context manager object per new group.
        try:  # noqa: SIM105
            key = tuple(map(sys.intern, key))  # type: ignore[assignment]
        except TypeError:  # not all strings: an odd record, kept as it is
            pass
    totals = groups[key] = GroupTotals(mapping)
    return totals


def fold(into: Groups, groups: Groups, max_groups: int, mapping: LogMapping) -> int:
    """Merge ``groups`` into ``into``; the estimated bytes that added to ``into``."""
    size = len(into)
    new_buckets = 0
    for key, totals in groups.items():
        target = into.get(key)
        if target is None:
            target = admit(into, key, max_groups, mapping)
        buckets = len(target.sketch.buckets)
        target.merge(totals)
        new_buckets += len(target.sketch.buckets) - buckets
    return (len(into) - size) * GROUP_BYTES + new_buckets * BUCKET_BYTES


class _Tier:
    """Closed slots of one width, newest last."""

    __slots__ = ("horizon", "keep", "slots", "width")

    def __init__(self, width: int, keep: int) -> None:
        self.width = width
        self.keep = keep
        self.slots: deque[tuple[int, PackedSlice, int]] = deque()
        """(slot index, groups, estimated bytes)."""
        self.horizon = _NONE
        """Slots below this index were dropped to stay within the memory budget."""

    def first_answerable(self, now: float) -> int:
        return max(int(now // self.width) - self.keep + 1, self.horizon)

    def expire(self, now: float) -> int:
        """Drop slots past the retention; the bytes freed."""
        oldest = int(now // self.width) - self.keep + 1
        freed = 0
        while self.slots and self.slots[0][0] < oldest:
            freed += self.slots.popleft()[2]
        return freed

    def drop_oldest(self) -> int:
        index, _, size = self.slots.popleft()
        self.horizon = index + 1
        return size

    def since(self, first: int) -> list[Slice]:
        return [groups for index, groups, _ in self.slots if index >= first]


class SliceRing:
    """Not thread-safe: the sink's lock guards every method."""

    def __init__(
        self,
        *,
        slice_seconds: int,
        retention_seconds: int,
        max_groups: int,
        mapping: LogMapping,
        memory_budget: int,
        now: float,
    ) -> None:
        self.width = slice_seconds
        self.max_groups = max_groups
        self.mapping = mapping
        self.budget = memory_budget
        self.started_at = now
        # One more slot than the retention needs in each tier: the newest is only partly elapsed.
        self.fine = _Tier(slice_seconds, min(FINE_SLICES, math.ceil(retention_seconds / slice_seconds)) + 1)
        coarse_width = slice_seconds * FINE_SLICES
        self.coarse = (
            _Tier(coarse_width, math.ceil(retention_seconds / coarse_width) + 1)
            if retention_seconds > coarse_width
            else None
        )
        self.current: Groups = {}
        self.current_index = int(now // slice_seconds)
        self.current_end = (self.current_index + 1) * slice_seconds
        self.all_time: Groups = {}
        """Every closed coarse slot (every closed fine slice when there is no coarse tier)."""
        self._open: Groups = {}
        """Closed fine slices of the coarse slot ``_open_index``, which is still filling."""
        self._open_index = _NONE
        self._open_bytes = 0
        self.held_bytes = 0
        """Estimated bytes of every closed slice, fine and coarse, and of the open coarse slot."""

    def advance(self, now: float) -> None:
        """Close the current slice if ``now`` is past it; expire and trim what is kept."""
        index = int(now // self.width)
        if index <= self.current_index:  # float rounding at the boundary, or a clock set back
            self.current_end = (self.current_index + 1) * self.width
            return
        closing, closing_index = self.current, self.current_index
        self.current = {}
        self.current_index = index
        self.current_end = (index + 1) * self.width
        if closing:
            # Folding into all time once an hour (with the coarse slot) rather than every minute
            # halves what closing a slice costs the call that happens to close it.
            if self.coarse is not None:
                self._fold_into_coarse(closing_index, closing)
            else:
                fold(self.all_time, closing, self.max_groups, self.mapping)
            packed = PackedSlice(closing, self.mapping)
            self.fine.slots.append((closing_index, packed, packed.estimated_bytes))
            self.held_bytes += packed.estimated_bytes
        self.held_bytes -= self.fine.expire(now)
        if self.coarse is not None:
            self.held_bytes -= self.coarse.expire(now)
        self._trim()

    def _fold_into_coarse(self, fine_index: int, closing: Groups) -> None:
        assert self.coarse is not None
        coarse_index = fine_index * self.width // self.coarse.width
        if coarse_index != self._open_index:
            if self._open:
                fold(self.all_time, self._open, self.max_groups, self.mapping)
                packed = PackedSlice(self._open, self.mapping)
                self.coarse.slots.append((self._open_index, packed, packed.estimated_bytes))
                self.held_bytes += packed.estimated_bytes - self._open_bytes
            self._open, self._open_index, self._open_bytes = {}, coarse_index, 0
        added = fold(self._open, closing, self.max_groups, self.mapping)
        self.held_bytes += added
        self._open_bytes += added

    def _trim(self) -> None:
        # Fine slices go first: the coarse slots hold the same calls, at a coarser resolution.
        while self.held_bytes > self.budget and self.fine.slots:
            self.held_bytes -= self.fine.drop_oldest()
        while self.held_bytes > self.budget and self.coarse is not None and self.coarse.slots:
            self.held_bytes -= self.coarse.drop_oldest()
        if self.held_bytes > self.budget and self.coarse is not None and self._open:
            fold(self.all_time, self._open, self.max_groups, self.mapping)
            self.coarse.horizon = self._open_index + 1
            self.held_bytes -= self._open_bytes
            self._open, self._open_bytes = {}, 0

    def select(self, now: float, start: float | None) -> list[Slice]:
        """The groups to merge for calls recorded since ``start`` (None: all time).

        Raises ``ValueError`` when the window reaches past what is kept.
        """
        if start is None or start <= self.started_at:
            return [self.all_time, self._open, self.current]
        first = int(start // self.width)
        if first >= self.fine.first_answerable(now):
            chosen = self.fine.since(first)
            if self.current_index >= first:
                chosen.append(self.current)
            return chosen
        coarse = self.coarse
        if coarse is not None:
            first = int(start // coarse.width)
            if first >= coarse.first_answerable(now):
                chosen = coarse.since(first)
                if self._open and self._open_index >= first:
                    chosen.append(self._open)
                if self.current_index * self.width >= first * coarse.width:
                    chosen.append(self.current)
                return chosen
        raise ValueError(
            "that window reaches past the history this sink keeps "
            f"({self.retained_seconds(now):.0f} s); use since=None for all-time totals"
        )

    def retained_seconds(self, now: float) -> float:
        """How far back a window can reach now."""
        tier = self.coarse if self.coarse is not None else self.fine
        return max(0.0, now - tier.first_answerable(now) * tier.width)

    def footprint(self) -> dict[str, int]:
        unpacked = [self.all_time, self.current, self._open]
        packed = [packed for _, packed, _ in self.fine.slots]
        if self.coarse is not None:
            packed += [packed for _, packed, _ in self.coarse.slots]
        return {
            "fine_slices": len(self.fine.slots) + 1,
            "coarse_slots": len(self.coarse.slots) + bool(self._open) if self.coarse is not None else 0,
            "groups": sum(map(len, unpacked)) + sum(map(len, packed)),
            "buckets": sum(len(totals.sketch.buckets) for groups in unpacked for totals in groups.values())
            + sum(slice_.bucket_count for slice_ in packed),
            "window_bytes_estimate": self.held_bytes,
        }
