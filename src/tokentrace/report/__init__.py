"""Reports of what LLM calls cost, from the ledger: totals and a breakdown, for people and programs.

``summarize(rows, by)`` adds ledger rows up into a ``Report``; ``render_text``, ``render_json``,
``render_csv`` and ``render_html`` present it. ``tokentrace report`` is the command line over them.
"""

from __future__ import annotations

from .aggregate import BY_CHOICES, Figures, Group, Report, nearest_rank_quantile, summarize
from .html import render_html
from .machine import render_csv, render_json
from .period import Period, parse_period, parse_when
from .text import render_text

__all__ = [
    "BY_CHOICES",
    "Figures",
    "Group",
    "Period",
    "Report",
    "nearest_rank_quantile",
    "parse_period",
    "parse_when",
    "render_csv",
    "render_html",
    "render_json",
    "render_text",
    "summarize",
]
