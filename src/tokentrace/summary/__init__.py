"""In-process summaries of LLM calls: requests, errors, tokens, cost and latency per group.

``SummarySink`` is a recorder sink with bounded memory (time slices in a ring, capped groups,
quantile sketches); ``tokentrace.summary()`` reads the process's own sink.
"""

from __future__ import annotations

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
    "format_summary",
]
