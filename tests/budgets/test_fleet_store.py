"""Budgets shared through a real Redis: one limit for every book (process) that names the store.

Each test starts its own redis-server on a free loopback port (``_redis.py``). Two `BudgetBook`
objects stand for two processes here (each with its own connection pool, as two processes have);
``test_fleet_processes.py`` runs real processes.
"""

from __future__ import annotations

import logging
import pickle
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

import tokentrace
from tests.budgets._redis import RedisServer, running_redis
from tests.budgets.test_budgets import record
from tests.conftest import Telemetry
from tokentrace import config
from tokentrace.activation import instrumentation
from tokentrace.budgets import Budget, BudgetBook, BudgetExceededError, BudgetStoreError
from tokentrace.budgets.redis_store import RedisStore, safe_url
from tokentrace.demo.server import DevServer

DAY = 86_400.0
T0 = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path) as server:
        yield server


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def shared_book(
    server: RedisServer,
    budgets: list[Budget],
    clock: Clock,
    *,
    lease: float = 60,
    failure_mode: str = "open",
    prefix: str = "t",
) -> BudgetBook:
    book = BudgetBook(budgets, clock=clock, failure_mode=failure_mode)
    book.use_store(RedisStore(server.url, prefix=prefix, timeout=0.05), lease=lease, retry_after=0.2)
    return book


def test_two_books_share_one_limit(redis_server: RedisServer) -> None:
    clock = Clock()
    budget = Budget(limit_usd="0.05", window="day", name="team")
    first, second = shared_book(redis_server, [budget], clock), shared_book(redis_server, [budget], clock)
    for _ in range(3):
        decision = first.check(model="gpt-4.1", tracking_path=())
        first.settle(decision, record("0.02", at=clock.now))
    # The other process never made a call, yet finds the fleet's $0.06 against its $0.05.
    with pytest.raises(BudgetExceededError) as refused:
        second.check(model="gpt-4.1", tracking_path=())
    assert refused.value.spent == Decimal("0.06")
    assert refused.value.limit == Decimal("0.05")
    [state] = second.states()
    assert (state.spent, state.remaining, state.in_flight) == (Decimal("0.06"), Decimal(0), 0)


def test_a_reservation_counts_for_every_book_until_released(redis_server: RedisServer) -> None:
    clock = Clock()
    budget = Budget(limit_usd="0.05", window="month", name="precheck", precheck=True)
    first, second = shared_book(redis_server, [budget], clock), shared_book(redis_server, [budget], clock)
    held = first.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.04"))
    with pytest.raises(BudgetExceededError) as refused:
        second.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.02"))
    assert refused.value.projected == Decimal("0.06")
    [state] = second.states()
    assert (state.reserved, state.in_flight) == (Decimal("0.04"), 1)
    first.release(held)
    admitted = second.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.02"))
    second.settle(admitted, record("0.015", at=clock.now))
    [state] = first.states()
    assert (state.spent, state.reserved, state.in_flight) == (Decimal("0.015"), Decimal(0), 0)


def test_token_budgets_and_scopes_are_shared_too(redis_server: RedisServer) -> None:
    clock = Clock()
    budgets = [
        Budget(limit_tokens=200, window="day", tracking_id="checkout", name="checkout tokens"),
        Budget(limit_usd="1", window="day", model="gpt-4.1-mini", name="mini"),
    ]
    first, second = shared_book(redis_server, budgets, clock), shared_book(redis_server, budgets, clock)
    decision = first.check(model="gpt-4.1", tracking_path=("checkout",))
    first.settle(decision, record("0.5", at=clock.now, path=("checkout",), tokens=(150, 60)))
    with pytest.raises(BudgetExceededError) as refused:
        second.check(model="gpt-4.1", tracking_path=("checkout", "summary"))
    assert refused.value.spent == 210
    # A call outside the scope of both is not touched by them.
    second.check(model="gpt-4.1", tracking_path=("search",))
    spent = {s.budget.name: s.spent for s in second.states()}
    assert spent == {"checkout tokens": Decimal(210), "mini": Decimal(0)}


def test_downgrade_and_warn_on_the_fleet_figures(redis_server: RedisServer, caplog: Any) -> None:
    clock = Clock()
    budgets = [
        Budget(
            limit_usd="0.01", window="day", model="gpt-4.1", action="downgrade", downgrade_to="gpt-4.1-mini"
        ),
        Budget(limit_usd="0.01", window="day", action="warn", name="all"),
    ]
    first, second = shared_book(redis_server, budgets, clock), shared_book(redis_server, budgets, clock)
    first.settle(first.check(model="gpt-4.1", tracking_path=()), record("0.02", at=clock.now))
    decision = second.check(model="gpt-4.1", tracking_path=())
    assert (decision.model, decision.downgraded_from) == ("gpt-4.1-mini", "gpt-4.1")
    assert decision.downgraded_by is not None
    assert decision.downgraded_by.spent == Decimal("0.02")
    assert [w.budget.name for w in decision.warnings] == ["all"]


@pytest.mark.parametrize("window", ["day", "month", "2d"])
def test_window_rollover_with_an_injected_clock_on_two_books(redis_server: RedisServer, window: str) -> None:
    clock_a, clock_b = Clock(), Clock()
    budget = Budget(limit_usd="0.05", window=window, name=f"roll {window}")
    first, second = shared_book(redis_server, [budget], clock_a), shared_book(redis_server, [budget], clock_b)
    first.settle(first.check(model="m", tracking_path=()), record("0.05", at=clock_a.now))
    with pytest.raises(BudgetExceededError):
        second.check(model="m", tracking_path=())
    # One machine's clock reaches the next window first: it is in the new window, the other is not.
    step = {"day": DAY, "month": 32 * DAY, "2d": 2 * DAY + 3600}[window]
    clock_a.now += step
    second_decision = None
    with pytest.raises(BudgetExceededError):
        second_decision = second.check(model="m", tracking_path=())
    assert second_decision is None
    first.settle(first.check(model="m", tracking_path=()), record("0.01", at=clock_a.now))
    clock_b.now += step
    [state] = second.states()
    assert state.spent == Decimal("0.01")
    assert state.window_start <= clock_b.now < state.window_end


def test_rolling_window_spend_slides_out_hour_by_hour(redis_server: RedisServer) -> None:
    clock = Clock()
    budget = Budget(limit_usd="1", window="1d", name="rolling")
    first, second = shared_book(redis_server, [budget], clock), shared_book(redis_server, [budget], clock)
    first.settle(first.check(model="m", tracking_path=()), record("0.3", at=clock.now))
    clock.now += 12 * 3600
    second.settle(second.check(model="m", tracking_path=()), record("0.2", at=clock.now))
    assert first.states()[0].spent == Decimal("0.5")
    clock.now += 13 * 3600  # the first call is now more than a day and an hour old
    assert first.states()[0].spent == Decimal("0.2")


def test_a_call_of_the_previous_window_is_not_charged_to_the_new_one(redis_server: RedisServer) -> None:
    clock = Clock(T0 - T0 % DAY + DAY - 1)  # one second before midnight UTC
    budget = Budget(limit_usd="1", window="day", name="midnight")
    book = shared_book(redis_server, [budget], clock)
    decision = book.check(model="m", tracking_path=())
    started = clock.now
    clock.now += 2
    book.settle(decision, record("0.7", at=started))
    assert book.states()[0].spent == 0


def test_reservations_of_a_book_that_never_settles_expire_after_the_lease(redis_server: RedisServer) -> None:
    clock = Clock()
    budget = Budget(limit_usd="0.05", window="day", name="lease", precheck=True)
    crashed = shared_book(redis_server, [budget], clock, lease=0.5)
    other = shared_book(redis_server, [budget], clock, lease=0.5)
    crashed.check(model="m", tracking_path=(), worst_case_usd=Decimal("0.05"))  # never settled
    with pytest.raises(BudgetExceededError):
        other.check(model="m", tracking_path=(), worst_case_usd=Decimal("0.01"))
    started = time.monotonic()
    while True:
        try:
            other.check(model="m", tracking_path=(), worst_case_usd=Decimal("0.01"))
            break
        except BudgetExceededError:
            assert time.monotonic() - started < 60, "the lease never expired"
            time.sleep(0.05)
    assert time.monotonic() - started >= 0.3  # not before the lease's end (server time)


def test_settling_after_the_lease_expired_does_not_free_other_reservations(redis_server: RedisServer) -> None:
    clock = Clock()
    budget = Budget(limit_usd="1", window="day", name="late", precheck=True)
    slow = shared_book(redis_server, [budget], clock, lease=0.2)
    late = slow.check(model="m", tracking_path=(), worst_case_usd=Decimal("0.4"))
    time.sleep(0.3)
    other = shared_book(redis_server, [budget], clock, lease=60)
    held = other.check(model="m", tracking_path=(), worst_case_usd=Decimal("0.5"))
    slow.settle(late, record("0.1", at=clock.now))
    [state] = other.states()
    assert (state.spent, state.reserved, state.in_flight) == (Decimal("0.1"), Decimal("0.5"), 1)
    other.release(held)


def wait_until(predicate: Any, what: str) -> None:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < 60, what
        time.sleep(0.05)


def test_open_sends_calls_while_redis_is_down_and_adds_their_spend_when_it_returns(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    budget = Budget(limit_usd="0.05", window="day", name="outage")
    book = shared_book(redis_server, [budget], clock)
    book.settle(book.check(model="m", tracking_path=()), record("0.01", at=clock.now))
    redis_server.kill()
    waits = []
    with caplog.at_level(logging.WARNING, logger="tokentrace"):
        for _ in range(5):
            started = time.monotonic()
            decision = book.check(model="m", tracking_path=())
            book.settle(decision, record("0.01", at=clock.now))
            waits.append(time.monotonic() - started)
    assert max(waits) < 1.0, waits  # the bound is 50 ms a round trip; refused connections are faster
    assert sum("cannot be reached" in r.getMessage() for r in caplog.records) == 1
    redis_server.start()  # back, and empty: what a restart without persistence gives
    observer = shared_book(redis_server, [budget], clock)
    wait_until(lambda: book.states()[0].spent == Decimal("0.05"), "the kept spend never reached Redis")
    assert observer.states()[0].spent == Decimal("0.05")
    with pytest.raises(BudgetExceededError):
        observer.check(model="m", tracking_path=())


def test_closed_refuses_with_an_error_naming_the_store_without_its_password(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    url = f"redis://:hunter2secret@127.0.0.1:{server.port}/0"
    book = BudgetBook([Budget(limit_usd="1", window="day")], failure_mode="closed")
    book.use_store(RedisStore(url, prefix="t", timeout=0.05))  # nothing listens there
    with pytest.raises(BudgetStoreError) as refused:
        book.check(model="m", tracking_path=())
    message = str(refused.value)
    assert f"redis://:***@127.0.0.1:{server.port}/0" in message
    assert "hunter2secret" not in message + repr(refused.value.__dict__)
    assert isinstance(refused.value, tokentrace.BudgetUnavailableError)
    again = pickle.loads(pickle.dumps(refused.value))
    assert str(again) == message


def test_a_paused_redis_costs_each_call_at_most_the_bound(redis_server: RedisServer) -> None:
    clock = Clock()
    budget = Budget(limit_usd="1", window="day", name="paused")
    opened = shared_book(redis_server, [budget], clock)
    closed = shared_book(redis_server, [budget], clock, failure_mode="closed")
    for book in (opened, closed):
        book.settle(book.check(model="m", tracking_path=()), record("0.1", at=clock.now))
    redis_server.pause()
    try:
        started = time.monotonic()
        decision = opened.check(model="m", tracking_path=())
        opened.settle(decision, record("0.1", at=clock.now))
        with pytest.raises(BudgetStoreError):
            closed.check(model="m", tracking_path=())
        elapsed = time.monotonic() - started
    finally:
        redis_server.resume()
    assert elapsed < 2.0, elapsed  # three round trips of at most 50 ms each, on a busy machine
    wait_until(lambda: opened.states()[0].spent == Decimal("0.3"), "the open book's spend never arrived")


def test_a_store_restarted_empty_is_seeded_from_the_ledger(redis_server: RedisServer) -> None:
    clock = Clock()
    budget = Budget(limit_usd="1", window="day", name="seeded")
    book = shared_book(redis_server, [budget], clock)
    assert book.shared is not None
    book.shared.seeder = lambda b, start, end: Decimal("0.75") if start <= clock.now < end else 0
    redis_server.restart_empty()
    wait_until(lambda: _checks(book), "the store never answered again")
    assert book.states()[0].spent == Decimal("0.75")


def _checks(book: BudgetBook) -> bool:
    book.check(model="m", tracking_path=())
    return book.shared is not None and not book.shared._down_until


MESSAGES = [{"role": "user", "content": "How much does this cost"}]


@pytest.fixture
def devserver() -> Iterator[DevServer]:
    with DevServer() as running:
        yield running


def test_instrument_with_a_store_shares_the_budget_of_real_sdk_calls(
    instrument: Any, telemetry: Telemetry, devserver: DevServer, redis_server: RedisServer
) -> None:
    budget = Budget(limit_usd="0.0001", window="day", name="sdk")
    # Another process already spent the whole limit today.
    other = shared_book(redis_server, [budget], Clock(time.time()))
    other.settle(other.check(model="gpt-4.1", tracking_path=()), record("0.0001", at=time.time()))
    instrument(budgets=[budget], budget_store=redis_server.url, budget_store_prefix="t")
    client: Any = openai.OpenAI(base_url=devserver.base_url, api_key="k", max_retries=0, timeout=10)
    try:
        with pytest.raises(BudgetExceededError):
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        assert devserver.requests == []  # refused before anything was sent
        # The gauges show the fleet's spend, which this process never made itself.
        metrics = telemetry.metrics()
        assert [p.value for p in metrics["tokentrace.budget.spent"]] == [pytest.approx(0.0001)]
        assert [p.value for p in metrics["tokentrace.budget.remaining"]] == [0.0]
    finally:
        instrumentation().set_budgets([])
        instrumentation().budgets.use_store(None)
    [span] = telemetry.spans()
    assert [e.attributes["tokentrace.budget.outcome"] for e in span.events if e.attributes] == ["refused"]


def test_instrument_closed_refuses_when_the_store_is_down_and_records_no_password(
    instrument: Any, telemetry: Telemetry, devserver: DevServer, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path)  # never started
    url = f"redis://:hunter2secret@127.0.0.1:{server.port}/0"
    instrument(budgets=[Budget(limit_usd="5")], budget_store=url, budget_failure_mode="closed")
    client: Any = openai.OpenAI(base_url=devserver.base_url, api_key="k", max_retries=0, timeout=10)
    try:
        with pytest.raises(BudgetStoreError, match=r"redis://:\*\*\*@127\.0\.0\.1"):
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    finally:
        instrumentation().set_budgets([])
        instrumentation().budgets.use_store(None)
    assert devserver.requests == []
    [span] = telemetry.spans()
    assert "hunter2secret" not in str(span.to_json())


def test_a_missing_redis_client_is_one_clear_error_at_instrument(
    instrument: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = instrumentation().budgets.shared
    monkeypatch.setitem(sys.modules, "redis", None)  # what an install without tokentrace[redis] has
    with pytest.raises(ImportError, match=r"tokentrace\[redis\]"):
        instrument(budgets=[Budget(limit_usd="5")], budget_store="redis://127.0.0.1:1/0")
    # The failed start changed nothing: no budget, no store, still off.
    assert instrumentation().budgets.budgets == ()
    assert instrumentation().budgets.shared is before
    assert not instrumentation().active


def test_the_store_settings_come_from_the_environment_and_never_echo_the_url() -> None:
    settings = config.Settings.resolve(
        {},
        {
            "TOKENTRACE_BUDGET_STORE": "rediss://:urlpassword@cache.internal:6380/2",
            "TOKENTRACE_BUDGET_STORE_PREFIX": "app1",
            "TOKENTRACE_BUDGET_STORE_TIMEOUT": "0.02",
            "TOKENTRACE_BUDGET_STORE_LEASE": "30",
            "TOKENTRACE_BUDGET_STORE_PASSWORD": "settingpassword",
        },
    )
    assert settings.budget_store == "rediss://:urlpassword@cache.internal:6380/2"
    assert (settings.budget_store_prefix, settings.budget_store_timeout) == ("app1", 0.02)
    assert (settings.budget_store_lease, settings.budget_store_password) == (30.0, "settingpassword")
    assert "urlpassword" not in repr(settings)
    assert "settingpassword" not in repr(settings)
    with pytest.raises(config.SettingsError) as bad:
        config.Settings.resolve({}, {"TOKENTRACE_BUDGET_STORE": "memcached://:secretpw@host"})
    assert "secretpw" not in str(bad.value)
    assert safe_url("rediss://user:pw@[::1]:6380/0") == "rediss://user:***@[::1]:6380/0"


ONE_CALL_USD = Decimal(8 * 2 + 7 * 8) / 1_000_000  # gpt-4.1 at the devserver's counts: 8 in, 7 out


def test_a_redis_restarted_empty_is_seeded_from_this_hosts_ledger(
    instrument: Any, devserver: DevServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    budget = Budget(limit_usd="1", window="day", name="ledger-seeded")
    instrument(budgets=[budget], budget_store=redis_server.url, ledger=str(tmp_path / "calls.sqlite3"))
    client: Any = openai.OpenAI(base_url=devserver.base_url, api_key="k", max_retries=0, timeout=10)
    try:
        for _ in range(3):
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        assert tokentrace.budget_states()[0].spent == 3 * ONE_CALL_USD
        assert instrumentation().ledger.flush()
        redis_server.restart_empty()
        # The first read after the restart finds the budget unknown to Redis and seeds it.
        wait_until(lambda: tokentrace.budget_states()[0].spent == 3 * ONE_CALL_USD, "Redis was never seeded")
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        observer = shared_book(redis_server, [budget], Clock(time.time()), prefix="tokentrace")
        assert observer.states()[0].spent == 4 * ONE_CALL_USD
    finally:
        instrumentation().set_budgets([])
        instrumentation().budgets.use_store(None)
