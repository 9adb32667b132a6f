"""totals() and spent(): grouped sums in SQL, exact to the last digit of every cost."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.ledger._helpers import T0, record
from tokentrace.calls.records import CallRecord
from tokentrace.ledger import LedgerSink, LedgerTotals, spent, totals


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    calls: list[CallRecord] = [
        record(timestamp=T0, cost=Decimal("0.0028"), duration=1.0),
        record(timestamp=T0 + 10, cost=Decimal("0.0014"), duration=3.0, input_tokens=500, output_tokens=50),
        record(
            timestamp=T0 + 20,
            tracking_id="support-bot",
            request_model="deepseek-v3.2",
            response_model=None,
            cost=Decimal("0.000142"),
            input_tokens=1000,
            output_tokens=100,
            cache_read_tokens=600,
        ),
        record(
            timestamp=T0 + 30,
            tracking_id="support-bot",
            request_model="local-llama",
            response_model=None,
            cost=None,
            cost_unknown_reason="unpriced_model",
        ),
        record(
            timestamp=T0 + 40, error_type="RateLimitError", cost=None, input_tokens=None, output_tokens=None
        ),
        record(
            timestamp=T0 + 50,
            error_type="APITimeoutError",
            timed_out=True,
            cost=None,
            input_tokens=None,
            output_tokens=None,
        ),
    ]
    with LedgerSink(path) as sink:
        for call in calls:
            sink(call)
    return path


def test_totals_by_model(ledger: Path) -> None:
    found = {row.key: row for row in totals(ledger, by="model")}
    assert set(found) == {"gpt-4.1-2025-04-14", "deepseek-v3.2", "local-llama"}
    gpt = found["gpt-4.1-2025-04-14"]
    assert gpt == LedgerTotals(
        key="gpt-4.1-2025-04-14",
        requests=4,
        errors=1,
        timeouts=1,
        input_tokens=1500,
        output_tokens=150,
        cache_read_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,
        cost=Decimal("0.0042"),
        unknown_cost_calls=2,
        avg_duration=gpt.avg_duration,
    )
    assert gpt.avg_duration == pytest.approx((1.0 + 3.0 + 0.5 + 0.5) / 4)
    assert found["deepseek-v3.2"].cost == Decimal("0.000142")
    assert found["deepseek-v3.2"].cache_read_tokens == 600
    assert found["local-llama"].cost == Decimal(0)
    assert found["local-llama"].unknown_cost_calls == 1


def test_totals_other_groupings(ledger: Path) -> None:
    by_tracking = {row.key: row.cost for row in totals(ledger, by="tracking_id")}
    assert by_tracking == {"checkout-summary": Decimal("0.0042"), "support-bot": Decimal("0.000142")}
    (whole,) = totals(ledger)
    assert (whole.key, whole.requests, whole.cost) == (None, 6, Decimal("0.004342"))
    assert [row.key for row in totals(ledger, by="utc_day")] == ["2026-09-21"]
    assert [row.key for row in totals(ledger, by="provider")] == ["openai"]


def test_totals_of_an_empty_period(ledger: Path) -> None:
    assert totals(ledger, T0 + 1000) == []
    with pytest.raises(ValueError, match="cannot group by"):
        totals(ledger, by="colour")


def test_spent(ledger: Path) -> None:
    assert spent(ledger, T0) == Decimal("0.004342")
    assert spent(ledger, T0 + 5) == Decimal("0.001542")  # since is inclusive of the call start
    assert spent(ledger, T0, until=T0 + 10) == Decimal("0.0028")  # until is exclusive
    assert spent(ledger, T0, tracking_id="support-bot") == Decimal("0.000142")
    assert spent(ledger, T0, model="gpt-4.1") == Decimal("0.0042")  # the requested model
    assert spent(ledger, T0, model="gpt-4.1-2025-04-14") == Decimal("0.0042")  # or the answering one
    assert spent(ledger, T0 + 1000) == Decimal(0)


def test_spent_without_a_ledger_is_zero(tmp_path: Path) -> None:
    assert spent(tmp_path / "none.sqlite3", time.time() - 86400) == Decimal(0)


def test_sums_stay_exact_beyond_the_integer_column(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        sink(record(cost=Decimal("0.1")))
        sink(record(cost=Decimal("0.2")))
        sink(record(cost=Decimal("1E-20")))  # not a whole number of 1e-12 USD: summed from the text
        sink(record(cost=Decimal("0.3"), tracking_id="other"))
    by_tracking = {row.key: row.cost for row in totals(path, by="tracking_id")}
    assert by_tracking == {"checkout-summary": Decimal("0.30000000000000000001"), "other": Decimal("0.3")}


def test_sums_that_overflow_64_bits_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    big = Decimal("9000000.000000000001")  # 9e18 picodollars: two of them overflow an SQLite integer
    with LedgerSink(path) as sink:
        sink(record(cost=big))
        sink(record(cost=big))
    assert spent(path, 0) == Decimal("18000000.000000000002")
