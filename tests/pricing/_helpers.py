"""Small helpers shared by the pricing tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

# DeepSeek bills V3 models at peak rates 00:30-16:30 UTC and off-peak otherwise; pin the clock.
PEAK = "2026-11-23T12:00:00+00:00"
OFF_PEAK = "2026-11-23T20:00:00+00:00"


def clock_at(iso: str) -> Callable[[], float]:
    moment = datetime.fromisoformat(iso).timestamp()
    return lambda: moment
