"""The report as one self-contained HTML page: totals, an inline SVG chart of cost, the table.

No script, no external asset: the file can be mailed, archived or opened offline. Every text from
the ledger is escaped. Days are drawn as columns in date order, other breakdowns as bars by cost.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal
from html import escape

from .._version import __version__
from .aggregate import Figures, Group, Report
from .formatting import BY_TITLES, cost_cell, count, seconds, usd
from .machine import P95_DEFINITION
from .period import format_minute
from .text import MAX_BARS

__all__ = ["render_html"]

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#1f2430;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1040px;margin:0 auto;padding:28px 32px 40px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 12px}
.sub{color:#5b6372;margin:0;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin:22px 0}
.card,section.panel{background:#fff;border:1px solid #e3e6eb;border-radius:10px}
.card{padding:14px 16px}
.card .label{display:block;color:#5b6372;font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.card .value{display:block;font-size:24px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums}
.card .note{display:block;color:#5b6372;font-size:13px}
.card .warn{color:#b45309}
section.panel{padding:18px 20px;margin-bottom:18px;overflow-x:auto}
svg{display:block;width:100%;height:auto}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#1f2430}
svg .muted{fill:#5b6372}
svg .bar{fill:#4f46e5}
svg .grid{stroke:#e3e6eb}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;text-align:right;white-space:nowrap;border-bottom:1px solid #eef0f3}
th{color:#5b6372;font-weight:600;font-size:12px}
th:first-child,td:first-child{text-align:left;white-space:normal;word-break:break-all}
tfoot td{font-weight:650;border-top:2px solid #d5d9e0;border-bottom:0}
footer{color:#5b6372;font-size:12px;margin-top:18px}
@media (max-width:760px){.cards{grid-template-columns:repeat(2,1fr)}main{padding:18px 14px}}
"""

_WIDTH = 960


def _compact(number: int) -> str:
    """``1.2M``, ``234k``, ``999``."""
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(number) >= limit:
            value = number / limit
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return str(number)


def _card(label: str, value: str, note: str, warn: bool = False) -> str:
    css = "note warn" if warn else "note"
    return (
        f'<div class="card"><span class="label">{escape(label)}</span>'
        f'<span class="value">{escape(value)}</span><span class="{css}">{escape(note)}</span></div>'
    )


def _cards(total: Figures) -> str:
    unknown = total.unknown_cost_calls
    return "".join(
        (
            _card(
                "Cost (USD)",
                usd(total.cost),
                f"+ {count(unknown)} calls with unknown cost" if unknown else "every call priced",
                warn=bool(unknown),
            ),
            _card(
                "Calls",
                count(total.requests),
                f"{count(total.errors)} errors, {count(total.timeouts)} timeouts"
                + (f", {count(total.refused)} refused" if total.refused else ""),
            ),
            _card(
                "Tokens",
                _compact(total.input_tokens + total.output_tokens),
                f"{count(total.input_tokens)} in, {count(total.output_tokens)} out",
            ),
            _card(
                "Latency p95", f"{seconds(total.p95_latency)} s", f"average {seconds(total.avg_latency)} s"
            ),
        )
    )


def _nice_step(largest: float, ticks: int = 4) -> float:
    raw = largest / ticks
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)


def _bars(groups: list[Group], total: Decimal) -> str:
    """Horizontal bars, one per group, longest = most expensive."""
    label_w, value_w, row_h = 230, 150, 30
    area = _WIDTH - label_w - value_w
    largest = max(group.figures.cost for group in groups)
    height = row_h * len(groups) + 8
    parts = [f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="cost per group">']
    for index, group in enumerate(groups):
        cost = group.figures.cost
        y = 4 + index * row_h
        length = max(float(cost / largest) * area, 2.0 if cost > 0 else 0.0) if largest > 0 else 0.0
        share = float(cost / total * 100) if total else 0.0
        shown = cost_cell(group.figures)
        note = f' <tspan class="muted">{share:.1f}%</tspan>' if shown != "unknown" else ""
        muted = ' class="muted"' if shown == "unknown" else ""
        label = group.key if len(group.key) <= 34 else group.key[:33] + "…"
        drawn = (
            f'<rect class="bar" x="{label_w}" y="{y + 5}" width="{length:.1f}" height="{row_h - 10}" rx="3"/>'
            if length
            else ""
        )
        parts.append(
            f"<g><title>{escape(group.key)}: {escape(shown)} ({share:.1f}%), "
            f"{count(group.figures.requests)} calls</title>"
            f'<text x="{label_w - 10}" y="{y + 19}" text-anchor="end">{escape(label)}</text>{drawn}'
            f'<text x="{label_w + length + 8:.1f}" y="{y + 19}"{muted}>{escape(shown)}{note}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _columns(groups: list[Group]) -> str:
    """One column per day, in date order, on a dollar axis."""
    left, bottom, top, height = 80, 30, 12, 280
    plot_h = height - top - bottom
    largest = max(float(group.figures.cost) for group in groups)
    step = _nice_step(largest) if largest > 0 else 1.0
    ceiling = step * math.ceil(largest / step) if largest > 0 else step
    slot = (_WIDTH - left - 24) / len(groups)
    label_every = max(1, math.ceil(48 / slot))
    parts = [f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="cost per day">']
    places = max(0, -int(Decimal(repr(round(step, 12))).normalize().as_tuple().exponent))
    for index in range(round(ceiling / step) + 1):
        tick = index * step
        y = top + plot_h * (1 - tick / ceiling)
        parts.append(f'<line class="grid" x1="{left}" x2="{_WIDTH - 24}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="muted" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">${tick:,.{places}f}</text>'
        )
    for index, group in enumerate(groups):
        cost = group.figures.cost
        x = left + index * slot
        column_h = plot_h * float(cost) / ceiling if ceiling else 0.0
        if cost > 0:
            column_h = max(column_h, 1.5)
        parts.append(
            f"<g><title>{escape(group.key)}: {escape(usd(cost))}, {count(group.figures.requests)} calls</title>"
            f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{top + plot_h - column_h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{column_h:.1f}" rx="2"/></g>'
        )
        if index % label_every == 0:
            parts.append(
                f'<text class="muted" x="{x + slot / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                f"{escape(group.key[5:])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _row(cells: list[str]) -> str:
    return "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"


def _table(report: Report) -> str:
    heads = [BY_TITLES[report.by], "calls", "errors", "timeouts", "refused", "input tokens"]
    heads += ["output tokens", "cost (USD)", "unknown", "avg s", "p95 s"]
    fallbacks = report.total.fallbacks > 0  # the column only when some call fell back
    if fallbacks:
        heads.append("fallbacks")

    def cells(key: str, f: Figures) -> list[str]:
        return [
            key,
            count(f.requests),
            count(f.errors),
            count(f.timeouts),
            count(f.refused),
            count(f.input_tokens),
            count(f.output_tokens),
            cost_cell(f),
            count(f.unknown_cost_calls),
            seconds(f.avg_latency),
            seconds(f.p95_latency),
            *((count(f.fallbacks),) if fallbacks else ()),
        ]

    body = "".join(_row(cells(group.key, group.figures)) for group in report.groups)
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f"<tfoot>{_row(cells('total', report.total))}</tfoot></table>"
    )


def render_html(report: Report, *, generated: datetime | None = None) -> str:
    """The whole page."""
    title = BY_TITLES[report.by]
    period = report.period.describe() if report.period else "all recorded calls"
    when = format_minute((generated or datetime.now(timezone.utc)).astimezone())
    source = f" · ledger {report.source}" if report.source else ""
    page = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>LLM cost report · {escape(period)}</title><style>{_CSS}</style></head><body><main>",
        f'<header><h1>LLM cost report</h1><p class="sub">{escape(period)}{escape(source)}</p></header>',
    ]
    if report.total.requests == 0:
        page.append('<section class="panel"><p>No calls recorded in this period.</p></section>')
    else:
        page.append(f'<div class="cards">{_cards(report.total)}</div>')
        groups = list(report.groups)
        if report.total.cost > 0:
            shown = groups[-MAX_BARS * 4 :] if report.by == "day" else groups[:MAX_BARS]
            chart = _columns(shown) if report.by == "day" else _bars(shown, report.total.cost)
            more = len(groups) - len(shown)
            note = f'<p class="sub">{more} more not drawn; all are in the table.</p>' if more else ""
            page.append(f'<section class="panel"><h2>Cost by {escape(title)}</h2>{chart}{note}</section>')
        page.append(f'<section class="panel"><h2>By {escape(title)}</h2>{_table(report)}</section>')
    page.append(
        f"<footer>Costs are exact sums of the known per-call costs, shown to a hundredth of a cent. "
        f"Latency p95: {escape(P95_DEFINITION)}. Generated {escape(when)} by tokentrace {escape(__version__)}."
        "</footer></main></body></html>\n"
    )
    return "".join(page)
