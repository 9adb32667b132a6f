"""The period a report covers, from what a person types: ``30d``, ``12h``, ``2026-11-01``, ``month``.

A relative span counts back from now; a date means its midnight, and as an end (``--until``) it
includes that whole day. Dates and times without an offset are in the report's time zone (local,
or UTC with ``--utc``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

__all__ = ["Period", "format_minute", "parse_period", "parse_when", "zone_label"]

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FORMS = (
    "use a span back from now (30d, 12h, 15m, 2w), a date (2026-11-01), "
    "a date and time (2026-11-01T09:30), today, yesterday, month or all"
)


@dataclass(frozen=True, slots=True)
class Period:
    """Calls started at or after ``since`` (None: from the first call) and before ``until``."""

    since: datetime | None
    until: datetime

    def describe(self) -> str:
        """``2026-10-24 00:00 to 2026-11-23 14:05 (UTC+07:00)``."""
        end = f"{format_minute(self.until)} ({zone_label(self.until)})"
        if self.since is None:
            return f"every call up to {end}"
        return f"{format_minute(self.since)} to {end}"


def format_minute(moment: datetime) -> str:
    """``2026-11-01 09:30``; years below 1000 keep four digits (``0999-01-01``), which
    ``strftime("%Y")`` does not promise."""
    return f"{moment.year:04d}-{moment:%m-%d %H:%M}"


def zone_label(moment: datetime) -> str:
    """``UTC`` or ``UTC+07:00``: the offset the report's times are shown in."""
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_when(text: str, now: datetime, *, end: bool = False) -> datetime | None:
    """One end of a period; ``now`` is aware and fixes the time zone. None for ``all`` (unbounded).

    Accepts ``all``, ``now``, ``today``, ``yesterday``, ``month`` (the first of this month), a span
    counted back from now (``90s``, ``15m``, ``12h``, ``30d``, ``2w``), an ISO date or an ISO date
    and time (with or without an offset). Raises ``ValueError`` with what was expected otherwise,
    also for a time outside the years 1 to 9999 (``999999d`` back from now).
    """
    try:
        return _when(text, now, end)
    except OverflowError:  # timedelta or date arithmetic beyond what datetime holds
        raise ValueError(
            f"cannot read {text!r} as a time: it falls outside the years 1 to 9999; {_FORMS}"
        ) from None


def _when(text: str, now: datetime, end: bool) -> datetime | None:
    word = text.strip().lower()
    zone = now.tzinfo
    assert zone is not None, "now must be aware"
    if word == "all":
        return None
    if word == "now":
        return now
    today = now.date()
    if word == "today":
        return _local_midnight(today + timedelta(days=1) if end else today, zone)
    if word == "yesterday":
        return _local_midnight(today if end else today - timedelta(days=1), zone)
    if word == "month":
        return _local_midnight(today.replace(day=1), zone)
    span = _SPAN.match(word)
    if span:
        amount, unit = float(span.group(1)), span.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        day = date.fromisoformat(word)
    except ValueError:
        pass
    else:
        if end and day == date.max:  # the whole last day datetime holds: up to its last moment
            return datetime.max.replace(tzinfo=zone)
        return _local_midnight(day + timedelta(days=1) if end else day, zone)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a time: {_FORMS}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    naive = datetime(day.year, day.month, day.day)
    if zone is timezone.utc:
        return naive.replace(tzinfo=zone)
    try:
        return naive.astimezone()  # the local offset of that day, DST included
    except (OverflowError, ValueError, OSError):  # year 1 or 9999: no local offset is known there
        return naive.replace(tzinfo=zone)


def parse_period(since: str, until: str | None, *, utc: bool = False, now: datetime | None = None) -> Period:
    """The period of ``--since`` / ``--until`` (default: until now). Raises ``ValueError``."""
    zone: tzinfo = timezone.utc
    current = now or datetime.now(timezone.utc)
    current = current.astimezone(zone) if utc else current.astimezone()
    start = parse_when(since, current)
    stop = parse_when(until, current, end=True) if until else current
    if stop is None:
        stop = current
    if start is not None and start >= stop:
        raise ValueError(f"the period is empty: {since!r} is not before {until or 'now'!r}")
    return Period(start, stop)
