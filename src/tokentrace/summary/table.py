"""A plain text table of summary rows, for a terminal or a log."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from .. import _money
from .._money import format_usd
from .groups import GroupSummary

__all__ = ["format_summary"]

_HEADERS = (
    "requests",
    "errors",
    "timeouts",
    "refused",
    "input tok",
    "output tok",
    "cost (USD)",
    "unknown",
    "avg s",
    "p50 s",
    "p95 s",
)
_LABELS = {"model": "model", "tracking_id": "tracking id", "provider": "provider", "operation": "operation"}


def _usd(cost: Decimal) -> str:
    # Six decimals: single calls cost fractions of a cent, and .2f would show them as 0.00.
    return format_usd(cost, 6, symbol="")


def _row(labels: list[str], row: GroupSummary, latencies: bool = True, fallbacks: bool = False) -> list[str]:
    return [
        *labels,
        f"{row.requests:,}",
        f"{row.errors:,}",
        f"{row.timeouts:,}",
        f"{row.refused:,}",
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        _usd(row.cost),
        f"{row.unknown_cost_calls:,}",
        *(
            (f"{row.avg_latency:.3f}", f"{row.p50_latency:.3f}", f"{row.p95_latency:.3f}")
            if latencies
            else ("",) * 3
        ),
        *((f"{row.fallbacks:,}",) if fallbacks else ()),
    ]


def format_summary(rows: Sequence[GroupSummary], by: Sequence[str]) -> str:
    """Totals first, then one line per group in the order given.

    Latency columns are seconds, of the calls that were sent; p50/p95 are nearest ranks from the
    sketch (within its relative accuracy). The total line leaves them blank: quantiles of groups do
    not add up, ask ``summary(by=())``. ``refused``: calls a budget refused before sending;
    ``unknown``: calls whose cost is unknown, for any reason; ``fallbacks`` (shown only when some
    call fell back): calls sent to the row's model after an earlier model of their chain failed.
    """
    fields = (by,) if isinstance(by, str) else tuple(by)
    requests = sum(row.requests for row in rows)
    tokens = sum(row.input_tokens + row.output_tokens for row in rows)
    cost = Decimal(0)
    for row in rows:
        cost = _money.add(cost, row.cost)
    unknown = sum(row.unknown_cost_calls for row in rows)
    lines = [
        f"Total requests: {requests:,}",
        f"Total tokens:   {tokens:,}",
        f"Total cost:     ${_usd(cost)}" + (f"  (+{unknown:,} calls of unknown cost)" if unknown else ""),
        "",
    ]
    # The fallback column only when some call fell back (``tokentrace.Fallback``).
    fallbacks = any(row.fallbacks for row in rows)
    table = [
        [_LABELS.get(field, field) for field in fields]
        + list(_HEADERS)
        + (["fallbacks"] if fallbacks else [])
    ]
    table += [_row([label or "(none)" for label in row.key], row, fallbacks=fallbacks) for row in rows]
    if len(rows) > 1:
        total = GroupSummary(
            key=(),
            requests=requests,
            errors=sum(row.errors for row in rows),
            timeouts=sum(row.timeouts for row in rows),
            input_tokens=sum(row.input_tokens for row in rows),
            output_tokens=sum(row.output_tokens for row in rows),
            cache_read_tokens=sum(row.cache_read_tokens for row in rows),
            reasoning_tokens=sum(row.reasoning_tokens for row in rows),
            cost=cost,
            unknown_cost_calls=unknown,
            avg_latency=0.0,
            p95_latency=0.0,
            p50_latency=0.0,
            refused=sum(row.refused for row in rows),
            fallbacks=sum(row.fallbacks for row in rows),
        )
        labels = ["TOTAL"] + [""] * (len(fields) - 1) if fields else []
        table.append(_row(labels, total, latencies=False, fallbacks=fallbacks))
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    rule = "  ".join("-" * width for width in widths)
    for number, cells in enumerate(table):
        # Labels read left to right; numbers line up on their last digit.
        text = "  ".join(
            cell.ljust(width) if column < len(fields) else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        lines.append(text.rstrip())
        if number == 0 or (number == len(table) - 2 and len(rows) > 1):
            lines.append(rule)
    return "\n".join(lines)
