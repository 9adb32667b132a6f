"""Budget windows (a calendar day or month in a time zone, or a rolling number of days) and the
counters that add up spend inside one.

A calendar window keeps one running total; a rolling window keeps hourly buckets, so memory is
bounded by the window's length and never by the number of calls.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import ClassVar, Literal, Union
from zoneinfo import ZoneInfo

from .. import _money
from .._money import ZERO

__all__ = [
    "HOUR",
    "MAX_ROLLING_DAYS",
    "ZERO",
    "CalendarCounter",
    "Counter",
    "RollingCounter",
    "Window",
]

HOUR = 3600
# A rolling window keeps 24 buckets per day; a year is far beyond any billing period people budget.
MAX_ROLLING_DAYS = 366

WindowKind = Literal["day", "month", "rolling"]
_ROLLING_SUFFIX = re.compile(r"(?:rolling\s*:?\s*)?(\d+)\s*(?:d|days?)")
_ROLLING_PREFIX = re.compile(r"rolling\s*:?\s*(\d+)")


@dataclass(frozen=True)
class Window:
    """The period a budget's limit applies to.

    ``Window.DAY`` and ``Window.MONTH`` are calendar periods in UTC (``in_zone`` moves them to a
    local calendar); spend starts again from zero at each boundary. ``Window.rolling(7)`` is the
    last 7 days, sliding: spend stops counting between 7 days and 7 days plus one hour after its
    call started (hourly buckets; late rather than early, so a limit is never loosened).
    """

    kind: WindowKind
    days: int = 1
    tz: tzinfo | None = None

    DAY: ClassVar[Window]
    MONTH: ClassVar[Window]

    def __post_init__(self) -> None:
        if self.kind not in ("day", "month", "rolling"):
            raise ValueError(f"unknown window kind {self.kind!r}: expected day, month or rolling")
        if self.kind != "rolling":
            if self.days != 1:
                raise ValueError("only a rolling window has a number of days")
            return
        days_ok = isinstance(self.days, int) and not isinstance(self.days, bool)
        if not days_ok or not 1 <= self.days <= MAX_ROLLING_DAYS:
            raise ValueError(f"a rolling window needs 1 to {MAX_ROLLING_DAYS} days, got {self.days!r}")
        if self.tz is not None:
            raise ValueError("a rolling window is a duration; only calendar windows take a time zone")

    @classmethod
    def rolling(cls, days: int) -> Window:
        return cls("rolling", days)

    @classmethod
    def parse(cls, spec: Window | str) -> Window:
        """``"day"``, ``"month"``, ``"7d"`` or ``"rolling:7"``; ``"day@Asia/Ho_Chi_Minh"`` for a local calendar."""
        if isinstance(spec, Window):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"a window is a Window or a string, not {type(spec).__name__}")
        base, at, zone = spec.strip().partition("@")
        base = base.strip().lower()
        window: Window | None = None
        if base in ("day", "daily"):
            window = cls.DAY
        elif base in ("month", "monthly"):
            window = cls.MONTH
        else:
            match = _ROLLING_SUFFIX.fullmatch(base) or _ROLLING_PREFIX.fullmatch(base)
            if match:
                window = cls.rolling(int(match.group(1)))
        if window is None:
            raise ValueError(f'unknown budget window {spec!r}: use "day", "month", "7d" or "rolling:7"')
        if not at:
            return window
        if not zone.strip():
            raise ValueError(f'budget window {spec!r}: no time zone after "@" (e.g. "day@Europe/Paris")')
        try:
            return window.in_zone(zone.strip())
        except ValueError as exc:
            raise ValueError(f"budget window {spec!r}: {exc}") from None

    def in_zone(self, tz: str | tzinfo) -> Window:
        """This calendar window, with its boundaries at midnight in ``tz`` (an IANA name or a tzinfo).

        An unknown zone name is a ``ValueError`` (``ZoneInfo`` raises a ``KeyError`` of its own).
        """
        zone = _zone(tz) if isinstance(tz, str) else tz
        return Window(self.kind, self.days, zone)

    @property
    def zone(self) -> tzinfo:
        return self.tz or timezone.utc

    def bounds(self, now: float) -> tuple[float, float]:
        """``[start, end)`` of the window holding ``now``, as Unix times.

        For a rolling window: the hour-aligned span its buckets cover, ending with the current hour.
        """
        if self.kind == "rolling":
            hour = math.floor(now / HOUR)
            return float((hour - self.days * 24) * HOUR), float((hour + 1) * HOUR)
        local = datetime.fromtimestamp(now, self.zone)
        if self.kind == "day":
            start = datetime(local.year, local.month, local.day, tzinfo=self.zone)
            # Midnight to midnight on the wall clock, so a DST day is 23 or 25 hours long.
            day = start.date() + timedelta(days=1)
            end = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        else:
            start = datetime(local.year, local.month, 1, tzinfo=self.zone)
            year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
            end = datetime(year, month, 1, tzinfo=self.zone)
        return start.timestamp(), end.timestamp()

    def counter(self) -> Counter:
        return RollingCounter(self.days) if self.kind == "rolling" else CalendarCounter(self)

    def __str__(self) -> str:
        text = f"{self.days}d" if self.kind == "rolling" else self.kind
        if self.tz is None:
            return text
        return f"{text}@{getattr(self.tz, 'key', None) or self.tz}"


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris") from None


Window.DAY = Window("day")
Window.MONTH = Window("month")


class CalendarCounter:
    """Spend in the current calendar window. Not locked: the budget book serialises access."""

    __slots__ = ("_window", "end", "spent", "start", "unpriced")

    def __init__(self, window: Window) -> None:
        self._window = window
        self.start = self.end = -math.inf
        self.spent = ZERO
        self.unpriced = 0

    def _advance(self, now: float) -> None:
        # Only forward: a clock stepped back by NTP must not bring back (or wipe) a past window.
        if now >= self.end:
            self.start, self.end = self._window.bounds(now)
            self.spent = ZERO
            self.unpriced = 0

    def snapshot(self, now: float) -> tuple[float, float, Decimal, int]:
        self._advance(now)
        return self.start, self.end, self.spent, self.unpriced

    def add(self, at: float, now: float, amount: Decimal, unpriced: int) -> bool:
        """Count a call that started at ``at``; False when its window has already closed."""
        self._advance(now)
        if min(at, now) < self.start <= now:
            return False  # the spend belongs to the previous day or month
        self.spent = _money.add(self.spent, amount)
        self.unpriced += unpriced
        return True

    def slices(self, now: float) -> list[tuple[float, float]]:
        self._advance(now)
        return [(self.start, self.end)]

    def load(self, now: float, amounts: list[Decimal]) -> None:
        self._advance(now)
        if now < self.start:
            return  # the window that was read closed while it was being read
        self.spent = amounts[0]
        self.unpriced = 0


class RollingCounter:
    """Spend in the last ``days`` days, in a ring of hourly buckets (``days * 24 + 1`` of them).

    The extra bucket makes spend leave the window late rather than early: a call's cost counts for
    at least ``days`` days and for less than one hour more.
    """

    __slots__ = ("_amounts", "_newest", "_unpriced", "days", "size", "spent", "unpriced")

    def __init__(self, days: int) -> None:
        self.days = days
        self.size = days * 24 + 1
        self._amounts = [ZERO] * self.size
        self._unpriced = [0] * self.size
        self._newest: int | None = None
        self.spent = ZERO
        self.unpriced = 0

    def _advance(self, now: float) -> int:
        hour = math.floor(now / HOUR)
        newest = self._newest
        if newest is None or hour - newest >= self.size:
            self._clear()
        elif hour > newest:
            for expired in range(newest + 1, hour + 1):
                slot = expired % self.size
                self.spent = _money.subtract(self.spent, self._amounts[slot])
                self.unpriced -= self._unpriced[slot]
                self._amounts[slot] = ZERO
                self._unpriced[slot] = 0
        if newest is None or hour > newest:
            self._newest = newest = hour
        return newest

    def _clear(self) -> None:
        self._amounts = [ZERO] * self.size
        self._unpriced = [0] * self.size
        self.spent = ZERO
        self.unpriced = 0

    def snapshot(self, now: float) -> tuple[float, float, Decimal, int]:
        newest = self._advance(now)
        return float((newest - self.size + 1) * HOUR), float((newest + 1) * HOUR), self.spent, self.unpriced

    def add(self, at: float, now: float, amount: Decimal, unpriced: int) -> bool:
        newest = self._advance(now)
        hour = min(math.floor(min(at, now) / HOUR), newest)
        if hour <= newest - self.size:
            return False  # older than the window: it has already slid out
        slot = hour % self.size
        self._amounts[slot] = _money.add(self._amounts[slot], amount)
        self._unpriced[slot] += unpriced
        self.spent = _money.add(self.spent, amount)
        self.unpriced += unpriced
        return True

    def _day_ends(self, newest: int) -> list[int]:
        return [newest + 1 - 24 * k for k in range(self.days)]

    def slices(self, now: float) -> list[tuple[float, float]]:
        """One slice per day, newest first; the oldest one also covers the extra hour bucket."""
        newest = self._advance(now)
        ends = self._day_ends(newest)
        starts = [end - 24 for end in ends]
        starts[-1] = newest - self.size + 1
        return [(float(start * HOUR), float(end * HOUR)) for start, end in zip(starts, ends, strict=True)]

    def load(self, now: float, amounts: list[Decimal]) -> None:
        newest = self._advance(now)
        self._clear()
        # A day's total is known, not its hours: putting it in the day's last hour keeps it counted
        # until the whole day has slid out (up to a day late, never early).
        for end, amount in zip(self._day_ends(newest), amounts, strict=True):
            slot = (end - 1) % self.size
            self._amounts[slot] = _money.add(self._amounts[slot], amount)
            self.spent = _money.add(self.spent, amount)


Counter = Union[CalendarCounter, RollingCounter]
