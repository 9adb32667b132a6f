"""What a shared budget store adds to a call: ``BudgetBook.check`` and ``settle`` against a loopback Redis.

Starts its own ``redis-server`` on a free 127.0.0.1 port (nothing on disk) and stops it by PID at
the end. For ``--calls`` calls it times, one by one, the check before the call (one round trip:
the reserve script) and the settle after it (one more: the settle script), with one USD budget
and ``precheck`` on, and the same two operations on the in-memory book for comparison. Prints the
median and p99 in µs of each, and of the two together.

    python benchmarks/budget_store_latency.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from decimal import Decimal

from tokentrace.budgets import Budget, BudgetBook
from tokentrace.budgets.redis_store import RedisStore
from tokentrace.calls.records import CallRecord


def _record() -> CallRecord:
    return CallRecord(
        timestamp=time.time(),
        duration=0.84,
        operation="chat",
        provider="openai",
        server_address="api.openai.com",
        request_model="gpt-4.1",
        response_model="gpt-4.1-2025-04-14",
        tracking_id=None,
        tracking_path=(),
        input_tokens=1000,
        output_tokens=100,
        cache_read_tokens=None,
        cache_write_tokens=None,
        reasoning_tokens=None,
        cost=Decimal("0.0028"),
        cost_source="local",
        cost_unknown_reason=None,
        error_type=None,
        timed_out=False,
        stream=False,
        trace_id=None,
        span_id=None,
    )


def _measure(book: BudgetBook, calls: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"check": [], "settle": [], "both": []}
    worst = Decimal("0.01")
    for _ in range(calls):
        started = time.perf_counter()
        decision = book.check(model="gpt-4.1", tracking_path=(), worst_case_usd=worst)
        checked = time.perf_counter()
        book.settle(decision, _record())
        settled = time.perf_counter()
        timings["check"].append((checked - started) * 1e6)
        timings["settle"].append((settled - checked) * 1e6)
        timings["both"].append((settled - started) * 1e6)
    return timings


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _start_redis(directory: str) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (bash scripts/dev.sh setup installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([binary, *options, "--dir", directory], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return server, port
        except OSError:
            time.sleep(0.02)
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    calls = parser.parse_args().calls
    budget = Budget(limit_usd="1000000", window="month", name="bench", precheck=True)
    with tempfile.TemporaryDirectory() as directory:
        server, port = _start_redis(directory)
        try:
            shared = BudgetBook([budget])
            shared.use_store(RedisStore(f"redis://127.0.0.1:{port}/0", prefix="bench", timeout=1.0))
            _measure(shared, 200)  # connection, scripts loaded
            with_store = _measure(shared, calls)
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait()
    local = BudgetBook([budget])
    _measure(local, 200)
    in_memory = _measure(local, calls)
    print(f"{calls} calls, one USD budget with precheck; µs per call, median / p99")
    print("| book | check (reserve) | settle | both |")
    print("|---|---|---|---|")
    for name, timings in (("in memory", in_memory), ("Redis on loopback", with_store)):
        cells = [f"{statistics.median(timings[k]):,.0f} / {_p99(timings[k]):,.0f}" for k in timings]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
