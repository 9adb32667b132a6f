"""One process of a fleet for ``test_fleet_processes.py``: ``python -m tests.budgets._fleet_worker JSON``.

``spend``: threads call the load server through the real openai SDK until the shared budget
refuses them for good; ``steady``: threads call it for a fixed time, whatever the store does;
``hold``: reserve a budget's whole limit and wait to be killed. Prints one JSON line of figures.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from decimal import Decimal
from typing import Any

import openai

import tokentrace
from tokentrace.activation import instrumentation
from tokentrace.budgets import BudgetBook, BudgetExceededError, BudgetStoreError
from tokentrace.budgets.redis_store import RedisStore

# Long enough that the prompt estimate (about 4 characters a token) covers the 7 to 59 input
# tokens the load server reports: worst cases are then upper bounds.
PROMPT = "Tell me what this costs, in detail, please. " * 6
MAX_TOKENS = 31  # the load server answers 3 to 31 output tokens


def _budget(spec: dict[str, Any]) -> tokentrace.Budget:
    return tokentrace.Budget(limit_usd=spec["limit"], window="day", name="fleet", precheck=spec["precheck"])


def _client(spec: dict[str, Any]) -> Any:
    return openai.OpenAI(base_url=spec["base_url"], api_key="k", max_retries=0, timeout=30)


def spend(spec: dict[str, Any]) -> dict[str, Any]:
    figures = {"calls": 0, "refusals": 0, "errors": 0}
    lock = threading.Lock()
    numbers = iter(range(spec["worker"] * 1_000_000, (spec["worker"] + 1) * 1_000_000))

    def run() -> None:
        client = _client(spec)
        refused_in_a_row = 0
        while refused_in_a_row < 30:
            with lock:
                number = next(numbers)
            try:
                client.chat.completions.create(
                    model="gpt-4.1",
                    messages=[{"role": "user", "content": PROMPT}],
                    max_tokens=MAX_TOKENS,
                    user=f"fleet:{number}",
                )
            except BudgetExceededError as refusal:
                with lock:
                    figures["refusals"] += 1
                if refusal.projected is None:
                    return  # spent: no call will get through in this window
                refused_in_a_row += 1
                time.sleep(0.01)  # others' calls in flight hold the rest: wait for them to settle
                continue
            except Exception:
                with lock:
                    figures["errors"] += 1
                return
            refused_in_a_row = 0
            with lock:
                figures["calls"] += 1

    threads = [threading.Thread(target=run) for _ in range(spec["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return figures


def steady(spec: dict[str, Any]) -> dict[str, Any]:
    costs: list[tuple[float, str]] = []
    refusals: list[str] = []
    errors: list[str] = []
    durations: list[float] = []
    lock = threading.Lock()
    recorder = instrumentation().recorder
    assert recorder is not None

    def keep(record: Any) -> None:
        if record.cost is not None and record.cost > 0:
            with lock:
                costs.append((record.timestamp, str(record.cost)))

    recorder.sinks.append(keep)
    deadline = time.time() + spec["seconds"]
    numbers = iter(range(spec["worker"] * 1_000_000, (spec["worker"] + 1) * 1_000_000))

    def run() -> None:
        client = _client(spec)
        while time.time() < deadline:
            with lock:
                number = next(numbers)
            started = time.monotonic()
            try:
                client.chat.completions.create(
                    model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], user=f"fleet:{number}"
                )
            except BudgetStoreError as refusal:
                with lock:
                    refusals.append(str(refusal))
                time.sleep(0.01)
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))
            with lock:
                durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=run) for _ in range(spec["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    states = tokentrace.budget_states()  # also hands Redis what was kept while it was away
    return {
        "costs": costs,
        "refusals": refusals,
        "errors": errors,
        "slowest": max(durations, default=0.0),
        "calls": len(durations),
        "spent_seen": str(states[0].spent),
    }


def hold(spec: dict[str, Any]) -> dict[str, Any]:
    book = BudgetBook([_budget(spec)])
    book.use_store(RedisStore(spec["store"], prefix=spec["prefix"], timeout=5), lease=spec["lease"])
    book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=Decimal(spec["limit"]))
    print(json.dumps({"held": True}), flush=True)
    time.sleep(3600)  # until killed
    return {}


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["mode"] != "hold":
        settings: dict[str, Any] = {
            "budgets": [_budget(spec)],
            "budget_failure_mode": spec.get("failure", "open"),
        }
        if spec["store"]:
            settings.update(budget_store=spec["store"], budget_store_prefix=spec["prefix"])
            settings.update(budget_store_timeout=spec.get("timeout", 0.05))
        tokentrace.instrument(**settings)
    figures = {"spend": spend, "steady": steady, "hold": hold}[spec["mode"]](spec)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
