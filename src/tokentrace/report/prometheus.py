"""The fleet's report: the same figures as the ledger's, read from the counters in Prometheus.

Every instrumented process exports its cost counter, token and duration histograms; Prometheus
(scraping them, or behind the Collector) holds the whole fleet's. For each series, what a period
added is the counter's last value up to the period's end minus its last value up to its start
(``max_over_time``: a counter only grows), so the figures are exact sums of what the processes
counted, not ``increase()``'s extrapolation. A process restarted under the same labels inside the
period (a counter reset) is undercounted by what its earlier life counted in the period.

p95 latency and calls of unknown cost are not in these metrics: the report leaves them empty.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

from .. import _money, names
from .aggregate import BY_ALIASES, NO_VALUE, Figures, Group, Report
from .period import parse_period

__all__ = ["PrometheusError", "build_prometheus_report"]

_TIMEOUT = 30.0
# Each series is looked at over the whole period (and as long again before it, for its start value).
_LONGEST_LOOKBACK = 10 * 366 * 86_400


class PrometheusError(Exception):
    """Prometheus could not be reached or refused a query."""


def _label(attribute: str) -> str:
    return attribute.replace(".", "_")


_MODEL_REQUEST = _label(names.GEN_AI_REQUEST_MODEL)
_MODEL_RESPONSE = _label(names.GEN_AI_RESPONSE_MODEL)
_PROVIDER = _label(names.GEN_AI_PROVIDER_NAME)
_TRACKING_ID = _label(names.TRACKING_ID)
_ERROR_TYPE = _label(names.ERROR_TYPE)
_TOKEN_TYPE = _label(names.GEN_AI_TOKEN_TYPE)

Series = dict[str, str]


def _query(base: str, expr: str, at: float) -> list[tuple[Series, str]]:
    url = f"{base.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as reply:
            body = json.loads(reply.read())
    except (OSError, ValueError) as exc:
        raise PrometheusError(f"cannot query Prometheus at {base}: {exc}") from None
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus refused {expr!r}: {body.get('error')}")
    return [(sample["metric"], sample["value"][1]) for sample in body["data"]["result"]]


def _added(base: str, metric: str, start: float, end: float) -> list[tuple[Series, str, Decimal]]:
    """Per series: (labels, the exposition's text of the end value, what the period added)."""
    span = max(math.ceil(end - start), 1)
    window = f"{min(span, _LONGEST_LOOKBACK)}s"
    expr = f"max_over_time({metric}[{window}])"
    at_end = _query(base, expr, end)
    before = (
        {_key(labels): Decimal(value) for labels, value in _query(base, expr, start)} if start > 0 else {}
    )
    found = []
    for labels, value in at_end:
        added = _money.subtract(Decimal(value), before.get(_key(labels), _money.ZERO))
        found.append((labels, value, max(added, _money.ZERO)))
    return found


def _key(labels: Series) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def _key_function(by: str) -> Callable[[Series], str]:
    missing = NO_VALUE[by]
    if by == "model":
        return lambda s: s.get(_MODEL_RESPONSE) or s.get(_MODEL_REQUEST) or missing
    if by == "tracking_id":
        return lambda s: s.get(_TRACKING_ID) or missing
    return lambda s: s.get(_PROVIDER) or missing


class _Sums:
    __slots__ = ("cost", "duration", "errors", "input", "output", "requests", "timeouts")

    def __init__(self) -> None:
        self.requests = self.errors = self.timeouts = self.input = self.output = 0
        self.cost = _money.ZERO
        self.duration = 0.0

    def figures(self) -> Figures:
        average = self.duration / self.requests if self.requests else None
        return Figures(
            requests=self.requests,
            errors=self.errors,
            timeouts=self.timeouts,
            input_tokens=self.input,
            output_tokens=self.output,
            cost=self.cost,
            avg_latency=average,
        )


def build_prometheus_report(base: str, since: str, until: str | None, by: str, utc: bool) -> Report:
    """The report of the fleet's counters in the Prometheus at ``base``; raises ValueError for an
    argument the source cannot answer, PrometheusError when Prometheus does not."""
    by = BY_ALIASES.get(by, by)
    if by not in NO_VALUE:
        raise ValueError(f"--prometheus reports by {', '.join(NO_VALUE)}; not by {by}")
    period = parse_period(since, until, utc=utc)
    end = period.until.timestamp()
    start = period.since.timestamp() if period.since is not None else 0.0
    key_of = _key_function(by)
    groups: dict[str, _Sums] = {}
    total = _Sums()

    def sums(labels: Series) -> _Sums:
        key = key_of(labels)
        found = groups.get(key)
        if found is None:
            found = groups[key] = _Sums()
        return found

    for labels, _, added in _added(base, names.PROM_DURATION_COUNT, start, end):
        calls = int(added)
        error = labels.get(_ERROR_TYPE, "")
        for target in (sums(labels), total):
            target.requests += calls
            if error and "Timeout" in error:
                target.timeouts += calls
            elif error:
                target.errors += calls
    for labels, _, added in _added(base, names.PROM_DURATION_SUM, start, end):
        for target in (sums(labels), total):
            target.duration += float(added)
    for labels, _, added in _added(base, names.PROM_TOKEN_USAGE_SUM, start, end):
        kind = labels.get(_TOKEN_TYPE)
        for target in (sums(labels), total):
            if kind == names.TOKEN_INPUT:
                target.input += int(added)
            elif kind == names.TOKEN_OUTPUT:
                target.output += int(added)
    for labels, _, added in _added(base, names.PROM_COST_TOTAL, start, end):
        for target in (sums(labels), total):
            target.cost = _money.add(target.cost, added)
    found = [Group(key, s.figures()) for key, s in groups.items() if s.requests or s.cost]
    found.sort(key=lambda g: (g.figures.cost.copy_negate(), -g.figures.requests, g.key))
    when = datetime.fromtimestamp(end, timezone.utc).isoformat(timespec="seconds")
    return Report(by, total.figures(), tuple(found), period, f"Prometheus at {base} (counters up to {when})")
