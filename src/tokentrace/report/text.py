"""The report for a terminal: totals, a breakdown table and a bar chart of cost, fitted to a width.

When the table is wider than the terminal, the least telling columns go first (timeouts, averages,
errors, refused calls, the unknown-cost count, token counts); the chart always fits, its bars drawn in eighths of a
character with Unicode blocks, or ``#`` where the output cannot encode them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .aggregate import Figures, Group, Report
from .formatting import BY_TITLES, cost_cell, count, seconds, usd

__all__ = ["MAX_BARS", "bar", "render_text"]

MAX_BARS = 25
_EIGHTHS = " ▏▎▍▌▋▊▉"
_KEY_MAX = 40
_ASCII = str.maketrans({"─": "-", "…": "~"})


@dataclass(frozen=True)
class _Column:
    title: str
    value: Callable[[Figures], str]
    drop_rank: int
    """Columns are dropped lowest rank first while the table is too wide; 99 is never dropped."""


_COLUMNS = (
    _Column("calls", lambda f: count(f.requests), 99),
    _Column("errors", lambda f: count(f.errors), 3),
    _Column("timeouts", lambda f: count(f.timeouts), 1),
    _Column("refused", lambda f: count(f.refused), 4),
    _Column("input tok", lambda f: count(f.input_tokens), 6),
    _Column("output tok", lambda f: count(f.output_tokens), 6),
    _Column("cost", cost_cell, 99),
    _Column("unknown", lambda f: count(f.unknown_cost_calls), 5),
    _Column("avg s", lambda f: seconds(f.avg_latency), 2),
    _Column("p95 s", lambda f: seconds(f.p95_latency), 7),
)


_FALLBACKS = _Column("fallbacks", lambda f: count(f.fallbacks), 3)


def bar(fraction: float, width: int, *, ascii_only: bool = False) -> str:
    """A bar ``fraction`` (0..1) of ``width`` characters long; never invisible for a non-zero value."""
    fraction = min(max(fraction, 0.0), 1.0)
    if ascii_only:
        cells = round(fraction * width)
        return "#" * (cells or (1 if fraction > 0 else 0))
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _totals_lines(report: Report) -> list[str]:
    total = report.total
    unknown = total.unknown_cost_calls
    return [
        f"  calls     {count(total.requests)}  ({count(total.errors)} errors, {count(total.timeouts)} timeouts"
        + (f", {count(total.refused)} refused by a budget)" if total.refused else ")"),
        f"  tokens    {count(total.input_tokens)} in, {count(total.output_tokens)} out",
        f"  cost      {usd(total.cost)}"
        + (f"  (+ {count(unknown)} call{'s' if unknown != 1 else ''} with unknown cost)" if unknown else ""),
        f"  latency   avg {seconds(total.avg_latency)} s, p95 {seconds(total.p95_latency)} s"
        + (" (calls sent)" if total.refused else ""),
    ]


def _table(report: Report, width: int) -> list[str]:
    title = BY_TITLES[report.by]
    rows = [(group.key, group.figures) for group in report.groups] + [("total", report.total)]
    key_width = min(max(len(title), *(len(key) for key, _ in rows)), _KEY_MAX)
    columns = list(_COLUMNS)
    if report.total.fallbacks:  # only when some call fell back (``tokentrace.Fallback``)
        columns.append(_FALLBACKS)
    cells = {column.title: [column.value(figures) for _, figures in rows] for column in columns}
    widths = {column.title: max(len(column.title), *map(len, cells[column.title])) for column in columns}

    def table_width() -> int:
        return key_width + sum(widths[column.title] + 2 for column in columns)

    # Too wide: clip long names to 24 characters first, then drop columns, then clip names to 12.
    key_width = max(min(key_width, 24), key_width - max(table_width() - width, 0))
    while table_width() > width:
        droppable = [column for column in columns if column.drop_rank < 99]
        if not droppable:
            key_width = max(12, key_width - (table_width() - width))
            break
        columns.remove(min(droppable, key=lambda column: column.drop_rank))
    header = title.ljust(key_width) + "".join(f"  {c.title:>{widths[c.title]}}" for c in columns)
    lines = [header, "─" * len(header)]
    for index, (key, _) in enumerate(rows):
        if index == len(rows) - 1:
            lines.append("─" * len(header))
        line = _clip(key, key_width).ljust(key_width)
        line += "".join(f"  {cells[c.title][index]:>{widths[c.title]}}" for c in columns)
        lines.append(line)
    return lines


def _chart(report: Report, width: int, ascii_only: bool) -> list[str]:
    groups: list[Group] = list(report.groups)
    total = report.total.cost
    if not groups or total <= 0:
        return ["  (no known cost to chart)"]
    shown = groups[:MAX_BARS] if report.by != "day" else groups[-MAX_BARS:]
    largest = max(group.figures.cost for group in shown)
    label_width = min(max(len(group.key) for group in shown), 28)
    values = [cost_cell(group.figures) for group in shown]
    value_width = max(map(len, values))
    bar_width = max(width - label_width - value_width - 11, 8)
    lines = []
    for group, value in zip(shown, values, strict=True):
        cost = group.figures.cost
        share = float(cost / total * 100) if total else 0.0
        drawn = bar(float(cost / largest) if largest > 0 else 0.0, bar_width, ascii_only=ascii_only)
        label = _clip(group.key, label_width).ljust(label_width)
        percent = f"{share:5.1f}%" if value != "unknown" else ""
        lines.append(f"{label}  {drawn.ljust(bar_width)}  {value:>{value_width}} {percent}".rstrip())
    hidden = len(groups) - len(shown)
    if hidden:
        which = "earlier" if report.by == "day" else "cheaper"
        lines.append(f"  ({hidden} {which} {BY_TITLES[report.by]}s not drawn: see the table)")
    return lines


def render_text(report: Report, width: int = 100, *, ascii_only: bool = False) -> str:
    """The whole report as lines of at most ``width`` characters (the chart never exceeds it).

    ``ascii_only``: ``#`` bars, ``-`` rules and ``~`` for a clipped name, for outputs that cannot
    encode more (names from the ledger are left as they are).
    """
    width = max(width, 40)
    heading = "tokentrace report"
    if report.period is not None:
        heading += f": {report.period.describe()}"
    lines = [heading]
    if report.source:
        lines.append(f"ledger {report.source}")
    lines.append("")
    if report.total.requests == 0:
        lines.append("no calls recorded in this period")
        return "\n".join(lines) + "\n"
    lines += _totals_lines(report)
    table = _table(report, width)
    chart_width = max(len(table[0]), 60)
    lines += ["", f"By {BY_TITLES[report.by]}", *table]
    lines += ["", f"Cost by {BY_TITLES[report.by]}", *_chart(report, min(width, chart_width), ascii_only)]
    text = "\n".join(lines) + "\n"
    return text.translate(_ASCII) if ascii_only else text
