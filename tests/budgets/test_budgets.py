"""Budgets: a spent budget refuses, warns or downgrades a call before it is sent; spend is charged after."""

from __future__ import annotations

import asyncio
import itertools
import pickle
import random
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrace.budgets import (
    Budget,
    BudgetBook,
    BudgetExceededError,
    BudgetState,
    Decision,
    Window,
    estimate_prompt_tokens,
    worst_case_cost,
)
from tokentrace.calls.records import CallRecord
from tokentrace.pricing import Rates

HOUR = 3600
DAY = 24 * HOUR


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc).timestamp()


T0 = utc(2025, 1, 15, 12)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def record(
    cost: str | Decimal | None = "0.01",
    *,
    model: str | None = "gpt-4.1",
    path: tuple[str, ...] = (),
    at: float = T0,
    tokens: tuple[int, int] = (100, 50),
    response_model: str | None = None,
) -> CallRecord:
    return CallRecord(
        timestamp=at,
        duration=0.5,
        operation="chat",
        provider="openai",
        server_address="api.openai.com",
        request_model=model,
        response_model=response_model,
        tracking_id=path[-1] if path else None,
        tracking_path=path,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cache_read_tokens=None,
        cache_write_tokens=None,
        reasoning_tokens=None,
        cost=None if cost is None else Decimal(cost),
        cost_source=None if cost is None else "local",
        cost_unknown_reason="unpriced_model" if cost is None else None,
        error_type=None,
        timed_out=False,
        stream=False,
        trace_id=None,
        span_id=None,
    )


class App:
    """A book with a fake clock, and calls made the way a patched SDK makes them."""

    def __init__(self, *budgets: Budget, at: float = T0) -> None:
        self.clock = Clock(at)
        self.book = BudgetBook(budgets, clock=self.clock)
        self.sent: list[str | None] = []  # the fake transport: one entry per request that left

    def call(
        self,
        model: str = "gpt-4.1",
        path: tuple[str, ...] = (),
        cost: str | None = "0.01",
        tokens: tuple[int, int] = (100, 50),
        **check: object,
    ) -> Decision:
        decision = self.book.check(model=model, tracking_path=path, **check)  # type: ignore[arg-type]
        self.sent.append(decision.model)
        done = record(cost, model=decision.model, path=path, at=self.clock.now, tokens=tokens)
        self.book.settle(decision, done)
        return decision

    def state(self, index: int = 0) -> BudgetState:
        return self.book.states()[index]


# --- raise, warn, downgrade ------------------------------------------------------------------


def test_an_exhausted_budget_raises_before_the_request_is_sent() -> None:
    app = App(Budget(limit_usd="0.03", window="day"))
    for _ in range(3):
        app.call(cost="0.01")
    with pytest.raises(BudgetExceededError):
        app.call(cost="0.01")
    assert len(app.sent) == 3
    assert app.state().spent == Decimal("0.03")
    assert app.state().remaining == 0


def test_the_error_says_budget_scope_window_spent_and_limit_in_one_line() -> None:
    app = App(Budget(limit_usd=0.03, window="day", tracking_id="checkout"))
    app.call(path=("checkout",), cost="0.0325")
    with pytest.raises(BudgetExceededError) as raised:
        app.call(path=("checkout",))
    error = raised.value
    assert str(error) == (
        'budget "tracking_id=checkout USD/day" exhausted: $0.0325 spent of $0.03 '
        "(scope tracking_id=checkout, window day: 2025-01-15T00:00+00:00 to 2025-01-16T00:00+00:00); "
        "the call was refused before sending"
    )
    assert (error.scope, error.window) == ("tracking_id=checkout", "day")
    assert (error.spent, error.limit, error.projected) == (Decimal("0.0325"), Decimal("0.03"), None)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_a_token_budget_error_counts_tokens() -> None:
    app = App(Budget(limit_tokens=1000, window="7d", model="gpt-4.1"))
    app.call(tokens=(1000, 200))
    with pytest.raises(BudgetExceededError, match=r"exhausted: 1,200 tokens spent of 1,000 tokens \("):
        app.call()


def test_a_warn_budget_lets_the_call_through_and_reports_it() -> None:
    app = App(Budget(limit_usd="0.01", action="warn", name="soft"))
    first = app.call()
    assert first.warnings == ()
    second = app.call()
    assert [state.budget.name for state in second.warnings] == ["soft"]
    assert second.warnings[0].spent == Decimal("0.01")
    assert app.sent == ["gpt-4.1", "gpt-4.1"]


def test_a_downgrade_budget_switches_the_model_and_the_new_model_is_checked() -> None:
    app = App(
        Budget(limit_usd="0.02", model="gpt-4.1", action="downgrade", downgrade_to="gpt-4.1-mini"),
        Budget(limit_usd="0.002", model="gpt-4.1-mini"),
    )
    app.call(cost="0.02")
    decision = app.call(cost="0.001")
    assert (decision.model, decision.downgraded_from) == ("gpt-4.1-mini", "gpt-4.1")
    assert decision.downgraded_by is not None and decision.downgraded_by.budget.model == "gpt-4.1"
    app.call(cost="0.001")
    # The cheaper model's own budget is now spent: re-checking it refuses the call.
    with pytest.raises(BudgetExceededError, match=r"model=gpt-4\.1-mini"):
        app.call()
    assert app.sent == ["gpt-4.1", "gpt-4.1-mini", "gpt-4.1-mini"]
    gpt, mini = app.book.states()
    assert (gpt.spent, mini.spent) == (Decimal("0.02"), Decimal("0.002"))


def test_a_call_is_downgraded_at_most_once() -> None:
    app = App(
        Budget(limit_usd="0.01", action="downgrade", downgrade_to="mini", name="global"),
        Budget(limit_usd="0.01", action="downgrade", downgrade_to="nano", name="also global"),
    )
    app.call()
    decision = app.call()
    # The first budget picks the model; the second points elsewhere, so it is only reported.
    assert (decision.model, decision.downgraded_from) == ("mini", "gpt-4.1")
    assert [state.budget.name for state in decision.warnings] == ["also global"]
    # A call asked for "mini" satisfies the first budget; the second switches it, and only once.
    direct = app.call(model="mini")
    assert (direct.model, direct.downgraded_from) == ("nano", "mini")
    assert [state.budget.name for state in direct.warnings] == ["global"]


def test_a_spent_raise_budget_wins_over_a_downgrade() -> None:
    app = App(
        Budget(limit_usd="0.01", model="gpt-4.1"),
        Budget(limit_usd="0.01", action="downgrade", downgrade_to="gpt-4.1-mini"),
    )
    app.call()
    with pytest.raises(BudgetExceededError):
        app.call()
    assert app.call(model="gpt-4.1-mini").downgraded_from is None


# --- windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "now", "start", "end"),
    [
        ("month", utc(2025, 12, 31, 23, 59), utc(2025, 12, 1), utc(2026, 1, 1)),
        ("month", utc(2024, 2, 29, 23, 59), utc(2024, 2, 1), utc(2024, 3, 1)),
        ("month", utc(2023, 2, 28, 12), utc(2023, 2, 1), utc(2023, 3, 1)),
        ("day", utc(2024, 2, 28, 23, 59), utc(2024, 2, 28), utc(2024, 2, 29)),
        ("day", utc(2024, 12, 31, 23, 59), utc(2024, 12, 31), utc(2025, 1, 1)),
        # Ho Chi Minh City is UTC+7 all year: its days start at 17:00 UTC.
        ("day@Asia/Ho_Chi_Minh", utc(2025, 1, 15, 18), utc(2025, 1, 15, 17), utc(2025, 1, 16, 17)),
        # A local spring-forward day is 23 hours long.
        ("day@Europe/Paris", utc(2025, 3, 30, 12), utc(2025, 3, 29, 23), utc(2025, 3, 30, 22)),
        ("month@Asia/Ho_Chi_Minh", utc(2025, 1, 31, 18), utc(2025, 1, 31, 17), utc(2025, 2, 28, 17)),
    ],
)
def test_calendar_window_bounds(spec: str, now: float, start: float, end: float) -> None:
    assert Window.parse(spec).bounds(now) == (start, end)


@pytest.mark.parametrize(
    ("at", "after"),
    [
        (utc(2025, 12, 31, 23, 59, 59), utc(2026, 1, 1)),  # December into January
        (utc(2024, 2, 29, 23, 59, 59), utc(2024, 3, 1)),  # the 29th of a leap February
    ],
)
def test_a_monthly_budget_starts_again_on_the_first(at: float, after: float) -> None:
    app = App(Budget(limit_usd="0.01", window="month"), at=at)
    app.call()
    with pytest.raises(BudgetExceededError):
        app.call()
    app.clock.now = after
    assert app.state().spent == 0
    app.call()
    assert len(app.sent) == 2


def test_a_daily_budget_rolls_over_at_midnight_utc() -> None:
    app = App(Budget(limit_usd="0.01", window="day"), at=utc(2025, 1, 15, 23, 59, 59))
    app.call()
    with pytest.raises(BudgetExceededError):
        app.call()
    app.clock.now = utc(2025, 1, 16)
    app.call()
    assert app.state().window_start == utc(2025, 1, 16)


def test_a_call_started_before_midnight_counts_for_the_day_it_started() -> None:
    app = App(Budget(limit_usd="1", window="day"), at=utc(2025, 1, 15, 23, 59))
    decision = app.book.check(model="gpt-4.1", tracking_path=())
    app.clock.now = utc(2025, 1, 16, 0, 1)
    app.book.settle(decision, record("0.5", at=utc(2025, 1, 15, 23, 59)))
    assert app.state().spent == 0


def test_a_rolling_window_drops_spend_after_its_days_have_passed() -> None:
    start = utc(2025, 1, 1)
    app = App(Budget(limit_usd="1", window="rolling:7"), at=start)
    app.call(cost="0.25")
    app.clock.now = start + 3 * DAY
    app.call(cost="0.5")
    app.clock.now = start + 7 * DAY
    assert app.state().spent == Decimal("0.75")  # counted for at least the full 7 days
    app.clock.now = start + 7 * DAY + HOUR
    assert app.state().spent == Decimal("0.5")  # and at most one hour more
    app.clock.now = start + 10 * DAY + HOUR
    assert app.state().spent == 0


def test_a_rolling_budget_admits_again_once_old_spend_slides_out() -> None:
    start = utc(2025, 1, 1, 9, 30)
    app = App(Budget(limit_usd="0.02", window="2d"), at=start)
    app.call()
    app.clock.now = start + DAY
    app.call()
    with pytest.raises(BudgetExceededError):
        app.call()
    app.clock.now = start + 2 * DAY + HOUR
    app.call()
    assert len(app.sent) == 3


def test_a_rolling_window_skips_long_idle_gaps_at_once() -> None:
    app = App(Budget(limit_usd="1", window="rolling:366"))
    app.call(cost="0.1")
    app.clock.now = T0 + 10 * 366 * DAY
    assert app.state().spent == 0


# --- restart ------------------------------------------------------------------------------------


def test_preload_carries_a_monthly_budget_across_a_restart() -> None:
    asked: list[tuple[str | None, float, float]] = []

    def from_ledger(budget: Budget, start: float, end: float) -> Decimal:
        asked.append((budget.name, start, end))
        return Decimal("49.99")

    app = App(Budget(limit_usd=50, window="month", name="monthly"))
    app.book.preload(from_ledger)
    assert asked == [("monthly", utc(2025, 1, 1), utc(2025, 2, 1))]
    app.call(cost="0.02")
    with pytest.raises(BudgetExceededError, match=r"\$50.01 spent of \$50.00"):
        app.call()


def test_preload_of_a_rolling_window_reads_it_a_day_at_a_time() -> None:
    asked: list[tuple[float, float]] = []

    def from_ledger(budget: Budget, start: float, end: float) -> int:
        asked.append((start, end))
        return 100

    app = App(Budget(limit_tokens=1000, window="7d"))
    app.book.preload(from_ledger)
    state = app.state()
    assert state.spent == 700
    # Seven slices, newest first, exactly covering the window with no gap or overlap.
    assert len(asked) == 7
    assert asked[0][1] == state.window_end and asked[-1][0] == state.window_start
    assert all(newer[0] == older[1] for newer, older in itertools.pairwise(asked))
    # A day's spend leaves when that whole day has slid out.
    app.clock.now = asked[-1][1] + 7 * DAY
    assert app.state().spent == 600


def test_preload_rejects_a_negative_amount() -> None:
    book = BudgetBook([Budget(limit_usd=1)])
    with pytest.raises(
        ValueError, match="preloaded for budget 'global USD/month' must be a finite amount >= 0"
    ):
        book.preload(lambda budget, start, end: Decimal(-1))


# --- scope and units ---------------------------------------------------------------------------


def test_a_tracking_id_budget_covers_calls_nested_inside_it() -> None:
    app = App(Budget(limit_usd="0.02", tracking_id="checkout"))
    app.call(path=("checkout",))
    app.call(path=("checkout", "summary"))
    with pytest.raises(BudgetExceededError):
        app.call(path=("checkout", "summary", "retry"))
    app.call(path=("search",))
    app.call(path=("summary",))
    app.call()
    assert app.state().spent == Decimal("0.02")


def test_a_model_budget_only_counts_that_model() -> None:
    app = App(Budget(limit_usd="0.02", model="gpt-4.1"))
    app.call(model="gpt-4.1-mini")
    assert app.state().spent == 0
    # The response names a dated snapshot; the requested model still matches the budget.
    app.book.charge(record("0.02", model="gpt-4.1", response_model="gpt-4.1-2025-04-14"))
    with pytest.raises(BudgetExceededError):
        app.call(model="gpt-4.1")
    app.call(model="gpt-4.1-mini")


def test_a_budget_on_a_tracking_id_and_a_model_needs_both() -> None:
    budget = Budget(limit_usd=1, tracking_id="checkout", model="gpt-4.1")
    assert budget.applies_to("gpt-4.1", ("checkout", "summary"))
    assert not budget.applies_to("gpt-4.1", ("search",))
    assert not budget.applies_to("gpt-4.1-mini", ("checkout",))
    assert budget.name == "tracking_id=checkout, model=gpt-4.1 USD/month"


def test_a_token_budget_counts_input_and_output_tokens() -> None:
    app = App(Budget(limit_tokens=1000, window="day"))
    app.call(tokens=(400, 200))
    app.call(tokens=(300, 100))
    with pytest.raises(BudgetExceededError):
        app.call()
    assert app.state().spent == 1000


def test_an_unknown_cost_cannot_be_charged_in_usd_but_its_tokens_are() -> None:
    app = App(Budget(limit_usd="0.01", name="usd"), Budget(limit_tokens=200, name="tokens"))
    app.call(cost=None, tokens=(120, 30))
    usd, tokens = app.book.states()
    assert (usd.spent, usd.unpriced_calls) == (Decimal(0), 1)
    assert tokens.spent == 150


def test_a_call_that_was_never_checked_can_still_be_charged() -> None:
    app = App(Budget(limit_usd="0.01"))
    app.book.charge(record("0.01"))
    with pytest.raises(BudgetExceededError):
        app.call()
    assert app.sent == []


# --- precheck and reservations ------------------------------------------------------------------


def test_precheck_counts_the_worst_case_of_calls_in_flight() -> None:
    app = App(Budget(limit_usd="1.00", precheck=True))
    app.book.charge(record("0.10"))
    first = app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.40"))
    second = app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.40"))
    assert (app.state().reserved, app.state().in_flight) == (Decimal("0.80"), 2)
    with pytest.raises(BudgetExceededError) as raised:
        app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.40"))
    assert raised.value.projected == Decimal("1.30")
    assert "this call could take it to $1.30 (counting calls in flight)" in str(raised.value)
    app.book.settle(first, record("0.05"))  # cheaper than its worst case: the difference comes back
    app.book.release(second)  # failed before sending: nothing is charged
    state = app.state()
    assert (state.spent, state.reserved, state.in_flight) == (Decimal("0.15"), Decimal(0), 0)
    app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.85"))


def test_precheck_refuses_a_single_call_larger_than_the_whole_budget() -> None:
    app = App(Budget(limit_usd="0.50", precheck=True, action="warn"))
    decision = app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.60"))
    assert decision.warnings and decision.warnings[0].spent == 0


def test_precheck_prices_a_downgrade_with_the_cheaper_model() -> None:
    worst = {"gpt-4.1": Decimal("0.50"), "gpt-4.1-mini": Decimal("0.05")}
    app = App(Budget(limit_usd="1", precheck=True, action="downgrade", downgrade_to="gpt-4.1-mini"))
    app.book.charge(record("0.60"))
    decision = app.book.check(
        model="gpt-4.1", tracking_path=(), worst_case_usd=lambda model: worst[model or ""]
    )
    assert decision.model == "gpt-4.1-mini" and decision.warnings == ()
    assert app.state().reserved == Decimal("0.05")


def test_settling_twice_charges_once() -> None:
    app = App(Budget(limit_usd=1, precheck=True))
    decision = app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.3"))
    app.book.settle(decision, record("0.2"))
    app.book.settle(decision, record("0.2"))
    app.book.release(decision)
    assert (app.state().spent, app.state().reserved, app.state().in_flight) == (Decimal("0.2"), Decimal(0), 0)


def test_without_budgets_a_call_passes_unchanged() -> None:
    book = BudgetBook()
    decision = book.check(model="gpt-4.1", tracking_path=("x",))
    assert (decision.model, decision.downgraded_from, decision.warnings) == ("gpt-4.1", None, ())
    book.settle(decision, record())
    assert book.states() == []


# --- concurrency ---------------------------------------------------------------------------------

THREADS = 16
COST = Decimal("0.03")


def run_threads(app: App, worst_case: Decimal | None) -> None:
    start = threading.Barrier(THREADS)

    def worker(seed: int) -> None:
        pause = random.Random(seed)
        start.wait()
        while True:
            try:
                decision = app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=worst_case)
            except BudgetExceededError:
                return
            app.sent.append(decision.model)
            time.sleep(pause.random() / 1000)  # the request is in flight
            app.book.settle(decision, record(COST))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_sixteen_threads_overspend_at_most_the_calls_already_in_flight() -> None:
    limit = Decimal("1.00")
    app = App(Budget(limit_usd=limit, window="day"))
    run_threads(app, worst_case=None)
    spent = app.state().spent
    assert spent == COST * len(app.sent)  # every call that was sent was charged, no other
    # No call is admitted once spend reaches the limit. The call that crossed it started below
    # the limit; besides it, at most the other 15 threads each had one call in flight.
    assert limit <= spent < limit + COST + (THREADS - 1) * COST


def test_the_overspend_bound_is_reached_when_every_thread_is_in_flight_at_once() -> None:
    app = App(Budget(limit_usd=COST))
    all_checked = threading.Barrier(THREADS)

    def worker() -> None:
        decision = app.book.check(model="gpt-4.1", tracking_path=())
        all_checked.wait()
        app.book.settle(decision, record(COST))

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert app.state().spent == COST + (THREADS - 1) * COST
    with pytest.raises(BudgetExceededError):
        app.book.check(model="gpt-4.1", tracking_path=())


def test_sixteen_threads_with_precheck_never_pass_the_limit() -> None:
    app = App(Budget(limit_usd="1.00", precheck=True))
    run_threads(app, worst_case=COST)
    assert len(app.sent) == 33  # floor(1.00 / 0.03): in-flight worst cases hold the rest back
    assert app.state().spent == Decimal("0.99")
    assert (app.state().reserved, app.state().in_flight) == (Decimal(0), 0)


async def spend_from_tasks(app: App, tasks: int, worst_case: Decimal | None) -> None:
    async def task() -> None:
        while True:
            try:
                decision = app.book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=worst_case)
            except BudgetExceededError:
                return
            app.sent.append(decision.model)
            await asyncio.sleep(0)  # the request is in flight; other tasks run
            app.book.settle(decision, record(COST))

    await asyncio.gather(*(task() for _ in range(tasks)))


async def test_asyncio_tasks_overspend_at_most_the_calls_in_flight() -> None:
    app = App(Budget(limit_usd="1.00"))
    await spend_from_tasks(app, 50, worst_case=None)
    spent = app.state().spent
    assert spent == COST * len(app.sent)
    assert Decimal("1.00") <= spent < Decimal("1.00") + 50 * COST


async def test_asyncio_tasks_with_precheck_never_pass_the_limit() -> None:
    app = App(Budget(limit_usd="1.00", precheck=True))
    await spend_from_tasks(app, 50, worst_case=COST)
    assert len(app.sent) == 33
    assert app.state().spent == Decimal("0.99")


# --- property -----------------------------------------------------------------------------------


@settings(deadline=None, max_examples=150)
@given(
    window=st.sampled_from(["day", "month", "2d", "day@Asia/Ho_Chi_Minh"]),
    calls=st.lists(
        st.tuples(
            st.integers(0, 3 * DAY),  # time since the previous call finished
            st.integers(0, 2 * HOUR),  # how long the call took
            st.decimals(min_value=0, max_value=5, places=6, allow_nan=False, allow_infinity=False),
        ),
        max_size=40,
    ),
)
def test_spend_in_a_window_is_the_sum_of_the_costs_settled_in_it(
    window: str, calls: list[tuple[int, int, Decimal]]
) -> None:
    app = App(Budget(limit_usd="1e9", window=window), at=utc(2024, 2, 27))
    started: list[tuple[float, Decimal]] = []
    for gap, duration, cost in calls:
        app.clock.now += gap
        decision = app.book.check(model="gpt-4.1", tracking_path=())
        at = app.clock.now
        app.clock.now += duration
        app.book.settle(decision, record(cost, at=at))
        started.append((at, cost))
    state = app.state()
    in_window = [cost for at, cost in started if state.window_start <= at < state.window_end]
    assert state.spent == sum(in_window, Decimal(0))


# --- budgets and windows as values -----------------------------------------------------------------


def test_budget_validation() -> None:
    with pytest.raises(ValueError, match="exactly one of limit_usd and limit_tokens"):
        Budget()
    with pytest.raises(ValueError, match="exactly one"):
        Budget(limit_usd=1, limit_tokens=1)
    with pytest.raises(ValueError, match="downgrade_to is required"):
        Budget(limit_usd=1, action="downgrade")
    with pytest.raises(ValueError, match="downgrade_to is required"):
        Budget(limit_usd=1, downgrade_to="mini")
    with pytest.raises(ValueError, match="finite amount >= 0"):
        Budget(limit_usd="-1")
    with pytest.raises(ValueError, match='"day", "month", "7d" or "rolling:7"'):
        Budget(limit_usd=1, window="weekly")
    with pytest.raises(ValueError, match="1 to 366 days"):
        Window.rolling(0)
    with pytest.raises(ValueError, match="only calendar windows"):
        Window.rolling(7).in_zone("UTC")


# Every constructor argument is checked: a wrong value is a ValueError whose message names the
# argument (or the window it was given), never a truthy string switching a check on, never
# zoneinfo's KeyError.
BAD_BUDGET_ARGUMENTS = [
    ({"precheck": "no"}, "precheck must be True or False, got 'no'"),
    ({"precheck": 1}, "precheck must be True or False"),
    ({"precheck": None}, "precheck must be True or False"),
    ({"window": "day@Mars/Olympus"}, "budget window 'day@Mars/Olympus': unknown time zone 'Mars/Olympus'"),
    ({"window": "month@../../etc/passwd"}, "budget window 'month@../../etc/passwd': unknown time zone"),
    ({"window": "day@"}, "budget window 'day@': no time zone after"),
    ({"window": "day@  "}, "budget window 'day@  ': no time zone after"),
    ({"window": "7d@UTC"}, "budget window '7d@UTC': a rolling window is a duration"),
    ({"window": 30}, "window must be a Window or a string"),
    ({"limit_usd": True}, "limit_usd must be a number, got True"),
    ({"limit_usd": [1]}, "limit_usd must be a number"),
    ({"limit_usd": None, "limit_tokens": 2.5}, "limit_tokens must be an int >= 0"),
    ({"action": "refuse"}, "action must be one of raise, warn, downgrade"),
    ({"tracking_id": 7}, "tracking_id must be a non-empty string"),
    ({"model": ""}, "model must be a non-empty string"),
    ({"name": b"x"}, "name must be a non-empty string"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_BUDGET_ARGUMENTS)
def test_every_bad_budget_argument_is_a_value_error_naming_it(
    arguments: dict[str, object], message: str
) -> None:
    given: dict[str, object] = {"limit_usd": "1", **arguments}
    with pytest.raises(ValueError) as raised:
        Budget(**given)  # type: ignore[arg-type]
    assert type(raised.value) is ValueError
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_precheck_no_fails_at_construction_instead_of_refusing_calls() -> None:
    # "no" is truthy: it once turned precheck on, and a call whose worst case crossed the limit
    # was refused with BudgetExceededError.

    def budget_then_a_call() -> None:
        app = App(Budget(limit_usd="1.00", precheck="no"))  # type: ignore[arg-type]
        app.call(worst_case_usd=Decimal("2"))

    with pytest.raises(ValueError, match="precheck must be True or False, got 'no'"):
        budget_then_a_call()


def test_window_zones_are_value_errors_through_in_zone_too() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Window.DAY.in_zone("Mars/Olympus")


def test_limits_and_windows_are_normalised() -> None:
    budget = Budget(limit_usd=0.1, window="rolling:7")
    assert budget.limit == Decimal("0.1")  # not the float's 0.1000000000000000055...
    assert budget.period == Window.rolling(7) and str(budget.period) == "7d"
    assert budget.name == "global USD/7d"
    assert Window.parse("7d") == Window.parse("rolling 7") == Window.parse(" 7 Days ")
    zoned = Window.parse("month@Asia/Ho_Chi_Minh")
    assert zoned == Window.MONTH.in_zone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert str(zoned) == "month@Asia/Ho_Chi_Minh"


def test_budget_names_are_unique_in_a_book() -> None:
    book = BudgetBook([Budget(limit_usd=1)])
    with pytest.raises(ValueError, match="already in the book"):
        book.add(Budget(limit_usd=2))
    book.add(Budget(limit_usd=2, name="second"))
    book.remove(Budget(limit_usd=1))
    assert [budget.name for budget in book.budgets] == ["second"]
    with pytest.raises(ValueError, match="not in the book"):
        book.remove(Budget(limit_usd=1))


# --- worst case -------------------------------------------------------------------------------------


def test_worst_case_cost_takes_the_dearest_way_to_bill_the_tokens() -> None:
    plain = Rates(input=Decimal(2), output=Decimal(8))
    assert worst_case_cost(plain, 1000, 500) == Decimal("0.006")
    dearer = Rates(input=Decimal(2), output=Decimal(8), cache_write=Decimal("2.5"), reasoning=Decimal(10))
    assert worst_case_cost(dearer, 1000, 500) == Decimal("0.0075")


def test_prompt_token_estimate() -> None:
    assert estimate_prompt_tokens("abcd" * 10) == 10
    messages = [{"role": "user", "content": "hello world!"}]  # 4 + 12 bytes, plus one message
    assert estimate_prompt_tokens(messages) == 4 + 4
    parts = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
        }
    ]
    assert estimate_prompt_tokens(parts) == estimate_prompt_tokens(
        [{"role": "user", "content": [{"type": "image_url"}]}]
    )
    # Vietnamese letters take 2-3 bytes, so they are not under-counted like at 4 characters a token.
    assert estimate_prompt_tokens("Xin chào thế giới") > len("Xin chào thế giới") // 4
    assert estimate_prompt_tokens(messages, count=lambda text: len(text.split())) == 3 + 4
