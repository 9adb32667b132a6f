"""The in-process summary and the ledger's report count the same calls into the same figures."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from pathlib import Path

import pytest

from tests.ledger._helpers import record
from tokentrace._figures import nearest_rank
from tokentrace.ledger import LedgerSink, read_figures
from tokentrace.report import nearest_rank_quantile, summarize
from tokentrace.summary import SummarySink


@pytest.mark.parametrize(
    ("q", "count", "rank"),
    [(0.07, 100, 6), (0.7, 91, 63), (0.29, 101, 29), (0.95, 21, 19), (0.5, 2, 0), (0.95, 2, 1), (0.0, 5, 0)],
)
def test_the_rank_is_the_nearest_rank_exact_where_a_float_product_would_round_one_too_high(
    q: float, count: int, rank: int
) -> None:
    assert nearest_rank(q, count) == rank
    values = [float(n) for n in range(count)]
    assert nearest_rank_quantile(values, q) == float(rank)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 10, 19, 20, 21, 39, 40, 41, 100])
def test_p95_is_the_smallest_value_with_95_percent_at_or_below_it_and_never_below_the_median(
    count: int,
) -> None:
    values = [float(n) for n in range(count)]
    p95 = nearest_rank_quantile(values, 0.95)
    median = nearest_rank_quantile(values, 0.5)
    assert p95 is not None and median is not None
    at_or_below = sum(v <= p95 for v in values)
    assert at_or_below >= 0.95 * count
    assert sum(v < p95 for v in values) < 0.95 * count  # nothing smaller would do
    assert p95 >= median
    assert p95 >= sum(values) / count  # for evenly spread values, never below the mean either


def test_summary_and_report_agree_on_every_figure(tmp_path: Path) -> None:
    rng = random.Random(16)
    calls = []
    for n in range(400):
        failed, timed_out = n % 13 == 0, n % 29 == 0
        calls.append(
            record(
                timestamp=1_790_000_000.0 + n,
                duration=rng.lognormvariate(0.0, 1.0),
                input_tokens=rng.randint(1, 5000),
                output_tokens=rng.randint(0, 800),
                cache_read_tokens=rng.choice([None, 0, 128]),
                reasoning_tokens=rng.choice([None, 64]),
                cost=None if failed or timed_out else Decimal(rng.randint(1, 10**9)).scaleb(-12),
                error_type="APITimeoutError" if timed_out else "RateLimitError" if failed else None,
                timed_out=timed_out,
            )
        )
    sink = SummarySink()
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as ledger:
        for call in calls:
            sink(call)
            ledger(call)
    (live,) = sink.summary(by=())
    stored = summarize(read_figures(path), "model").total
    for name in (
        "requests",
        "errors",
        "timeouts",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "reasoning_tokens",
        "cost",
        "unknown_cost_calls",
        "avg_latency",
    ):
        assert getattr(live, name) == getattr(stored, name), name
    assert stored.p95_latency is not None
    assert math.isclose(live.p95_latency, stored.p95_latency, rel_tol=sink.relative_accuracy * 1.001)


def test_a_cost_that_is_not_finite_is_an_unknown_cost_in_both(tmp_path: Path) -> None:
    calls = [record(cost=Decimal("NaN")), record(cost=Decimal("Infinity")), record(cost=Decimal("0.5"))]
    sink = SummarySink()
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as ledger:
        for call in calls:
            sink(call)
            ledger(call)
    (live,) = sink.summary(by=())
    stored = summarize(read_figures(path), "model").total
    assert (live.cost, live.unknown_cost_calls) == (Decimal("0.5"), 2)
    assert (stored.cost, stored.unknown_cost_calls) == (Decimal("0.5"), 2)
