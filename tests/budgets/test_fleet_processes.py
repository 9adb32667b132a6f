"""A fleet of real processes sharing one budget through a real Redis (``_fleet_worker.py``).

The load server counts the tokens it answered with, so the spend it billed is known exactly and
compared with the limit. Each run prints its figures (``pytest -s`` shows them; docs/fleet.md
quotes them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.budgets._redis import RedisServer, running_redis
from tests.reliability._load_server import LoadServer
from tokentrace.budgets import Budget, BudgetBook, BudgetExceededError
from tokentrace.budgets.redis_store import RedisStore

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, THREADS = 4, 8
LIMIT = Decimal("0.02")
INPUT_RATE, OUTPUT_RATE = Decimal(2) / 10**6, Decimal(8) / 10**6  # gpt-4.1, USD per token
MOST_A_CALL_COSTS = 59 * INPUT_RATE + 31 * OUTPUT_RATE  # the load server's largest answer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture
def load_server() -> Iterator[LoadServer]:
    with LoadServer.running() as server:
        yield server


def start_workers(count: int, **spec: Any) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.budgets._fleet_worker", json.dumps({**spec, "worker": n})],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]


def finish(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """Each worker's figures; a worker that does not exit within minutes has hung."""
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def billed(server: LoadServer) -> Decimal:
    tally = server.tallies["fleet"]
    return tally.input_tokens * INPUT_RATE + tally.output_tokens * OUTPUT_RATE


def run_fleet(load_server: LoadServer, store: str | None, precheck: bool) -> tuple[Decimal, int, int]:
    spec: dict[str, Any] = {
        "mode": "spend",
        "store": store,
        "prefix": "fleet",
        "base_url": load_server.base_url,
    }
    # What is measured is the accounting while the store answers: on this busy 2-core machine 32
    # threads can make a loopback round trip exceed the 50 ms default, which is an outage (open).
    spec["timeout"] = 5.0
    results = finish(start_workers(PROCESSES, **spec, threads=THREADS, limit=str(LIMIT), precheck=precheck))
    assert all(r["errors"] == 0 for r in results), results
    total = billed(load_server)
    refusals = sum(r["refusals"] for r in results)
    calls = sum(r["calls"] for r in results)
    print(
        f"\nfleet {PROCESSES}x{THREADS} store={'redis' if store else 'none'} precheck={precheck}: "
        f"limit ${LIMIT}, billed ${total}, overshoot ${total - LIMIT}, calls {calls}, refusals {refusals}"
    )
    return total, calls, refusals


@pytest.mark.slow
def test_a_fleet_with_precheck_stays_within_the_limit(
    load_server: LoadServer, redis_server: RedisServer
) -> None:
    total, calls, refusals = run_fleet(load_server, redis_server.url, precheck=True)
    # Worst cases are upper bounds here (the prompt estimate covers the input), so no overshoot at all.
    assert total <= LIMIT
    # ... and the limit is reached: what is left is less than one call's worst case.
    assert total > LIMIT - MOST_A_CALL_COSTS * 2
    assert refusals > 0
    assert calls == load_server.tallies["fleet"].calls


@pytest.mark.slow
def test_a_fleet_without_precheck_overshoots_by_at_most_the_calls_in_flight(
    load_server: LoadServer, redis_server: RedisServer
) -> None:
    total, _, _ = run_fleet(load_server, redis_server.url, precheck=False)
    assert LIMIT <= total <= LIMIT + PROCESSES * THREADS * MOST_A_CALL_COSTS


@pytest.mark.slow
def test_without_the_store_each_process_spends_its_own_limit(load_server: LoadServer) -> None:
    total, _, _ = run_fleet(load_server, None, precheck=True)
    assert total > 3 * LIMIT  # four processes, four budgets: the overshoot the store removes


def test_a_process_killed_holding_a_reservation_releases_it_after_the_lease(
    redis_server: RedisServer,
) -> None:
    spec = {"mode": "hold", "store": redis_server.url, "prefix": "fleet", "limit": "1", "precheck": True}
    [holder] = start_workers(1, **spec, lease=1.0)
    assert holder.stdout is not None
    assert json.loads(holder.stdout.readline()) == {"held": True}
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    killed_at = time.monotonic()
    book = BudgetBook([Budget(limit_usd="1", window="day", name="fleet", precheck=True)])
    book.use_store(RedisStore(redis_server.url, prefix="fleet", timeout=5))
    with pytest.raises(BudgetExceededError) as refused:
        book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.1"))
    assert refused.value.projected == Decimal("1.1")
    while True:
        try:
            decision = book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal("0.1"))
            break
        except BudgetExceededError:
            assert time.monotonic() - killed_at < 60, "the dead process's lease never expired"
            time.sleep(0.05)
    book.release(decision)
    [state] = book.states()
    assert (state.reserved, state.in_flight) == (Decimal(0), 0)


def outage_run(
    load_server: LoadServer, redis_server: RedisServer, failure: str
) -> tuple[list[dict[str, Any]], float]:
    spec = {"mode": "steady", "store": redis_server.url, "prefix": "fleet", "base_url": load_server.base_url}
    workers = start_workers(2, **spec, threads=4, limit="1000", precheck=False, failure=failure, seconds=9)
    time.sleep(3)  # the processes import, instrument and call for a while
    redis_server.pause()
    time.sleep(1.0)
    redis_server.resume()
    time.sleep(0.5)
    killed_at = time.time()
    redis_server.kill()
    time.sleep(1.0)
    redis_server.start()  # empty: nothing was persisted
    return finish(workers), killed_at


@pytest.mark.slow
def test_open_keeps_calling_through_a_pause_a_kill_and_an_empty_restart(
    load_server: LoadServer, redis_server: RedisServer
) -> None:
    results, killed_at = outage_run(load_server, redis_server, "open")
    assert [r["errors"] for r in results] == [[], []]
    assert [r["refusals"] for r in results] == [[], []]
    # A call's own work on the local server is milliseconds; the store may add its 50 ms bound twice.
    slowest = max(r["slowest"] for r in results)
    costs = [(at, Decimal(cost)) for r in results for at, cost in r["costs"]]
    after_kill = sum((c for at, c in costs if at > killed_at + 0.2), Decimal(0))
    in_redis = BudgetBook([Budget(limit_usd="1000", window="day", name="fleet")])
    in_redis.use_store(RedisStore(redis_server.url, prefix="fleet", timeout=5))
    [state] = in_redis.states()
    print(
        f"\noutage (open): calls {sum(r['calls'] for r in results)}, slowest {slowest * 1000:.0f} ms, "
        f"spend after the kill ${after_kill}, in Redis ${state.spent}"
    )
    assert slowest < 5.0
    assert after_kill > 0
    # What was spent while Redis was down or after it came back empty reached it.
    assert after_kill <= state.spent <= sum((c for _, c in costs), Decimal(0))


@pytest.mark.slow
def test_closed_refuses_with_the_clear_error_while_redis_is_away(
    load_server: LoadServer, redis_server: RedisServer
) -> None:
    results, _ = outage_run(load_server, redis_server, "closed")
    assert [r["errors"] for r in results] == [[], []]
    refusals = [text for r in results for text in r["refusals"]]
    assert refusals, "no call was refused while Redis was away"
    assert all(f"the budget store {redis_server.url}" in text for text in refusals)
    assert all(r["costs"] for r in results)  # calls went through before and after
