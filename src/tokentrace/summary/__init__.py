"""In-process summaries of LLM calls: requests, errors, tokens, cost and latency per group.

``SummarySink`` is a recorder sink with bounded memory (time slices in a ring, capped groups,
quantile sketches); ``summary()`` reads the process-wide sink the recorder feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .groups import GroupSummary
from .sink import FIELDS, OVERFLOW, SummarySink
from .sketch import LatencySketch, LogMapping
from .table import format_summary

__all__ = [
    "FIELDS",
    "OVERFLOW",
    "GroupSummary",
    "LatencySketch",
    "LogMapping",
    "SummarySink",
    "default_sink",
    "format_summary",
    "summary",
]

_DEFAULT = SummarySink()


def default_sink() -> SummarySink:
    """The process-wide sink: register it with the recorder; ``summary()`` reads it."""
    return _DEFAULT


def summary(
    by: Sequence[str] = ("model",),
    since: datetime | timedelta | float | None = None,
) -> list[GroupSummary]:
    """Totals per group of the calls the process-wide sink has seen; see ``SummarySink.summary``."""
    return _DEFAULT.summary(by, since)
