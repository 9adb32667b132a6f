"""The report for programs: JSON (totals and groups) and CSV (one row per group).

Costs are exact decimal strings (``"0.0028"``), never floats; latencies are seconds as numbers,
null / empty when no call had a duration.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .aggregate import Figures, Report
from .formatting import exact_usd

__all__ = ["CSV_FIELDS", "P95_DEFINITION", "figures_dict", "render_csv", "render_json"]

P95_DEFINITION = (
    "nearest rank: the smallest duration with at least 95 % of the durations at or below it "
    "(0-based index ceil(0.95 * n) - 1 of the n sorted durations of the calls sent)"
)

CSV_FIELDS = (
    "requests",
    "errors",
    "timeouts",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unknown_cost_calls",
    "avg_latency_s",
    "p95_latency_s",
    "refused",
    "fallbacks",
)


def figures_dict(figures: Figures) -> dict[str, Any]:
    """The figures under the ``CSV_FIELDS`` names; cost as an exact string."""
    return {
        "requests": figures.requests,
        "errors": figures.errors,
        "timeouts": figures.timeouts,
        "input_tokens": figures.input_tokens,
        "output_tokens": figures.output_tokens,
        "cache_read_tokens": figures.cache_read_tokens,
        "cache_write_tokens": figures.cache_write_tokens,
        "reasoning_tokens": figures.reasoning_tokens,
        "cost_usd": exact_usd(figures.cost),
        "unknown_cost_calls": figures.unknown_cost_calls,
        "avg_latency_s": figures.avg_latency,
        "p95_latency_s": figures.p95_latency,
        "refused": figures.refused,
        "fallbacks": figures.fallbacks,
    }


def render_json(report: Report, *, ascii_only: bool = False) -> str:
    """One JSON object: period, breakdown key, totals and groups (in the report's order)."""
    period = report.period
    document = {
        "ledger": report.source or None,
        "since": period.since.isoformat() if period and period.since else None,
        "until": period.until.isoformat() if period else None,
        "by": report.by,
        "p95": P95_DEFINITION,
        "total": figures_dict(report.total),
        "groups": [{"key": group.key, **figures_dict(group.figures)} for group in report.groups],
    }
    return json.dumps(document, indent=2, ensure_ascii=ascii_only) + "\n"


def render_csv(report: Report) -> str:
    """A header (the breakdown key's name, then ``CSV_FIELDS``) and one row per group; no total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.by.replace("-", "_"), *CSV_FIELDS])
    for group in report.groups:
        values = figures_dict(group.figures)
        writer.writerow([group.key, *("" if values[name] is None else values[name] for name in CSV_FIELDS)])
    return out.getvalue()
