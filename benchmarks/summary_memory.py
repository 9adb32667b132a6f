"""Memory and hot-path cost of the in-process summary sink over a million synthetic calls.

Run: ``python benchmarks/summary_memory.py [--calls N]``. Prints, per scenario, the traced memory
(tracemalloc) and the process RSS after 10k, 100k and N calls, and the time per ``sink(record)``.
Memory should stop growing with the number of calls; only the 24-hour ring fills over simulated time.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from decimal import Decimal

from tokentrace.calls.records import CallRecord
from tokentrace.summary import SummarySink

MODELS = ("gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2", "o4-mini")
PROVIDERS = ("openai", "openai", "anthropic", "gcp.gemini", "deepseek", "openai")
POOL = 20_000
TRACKING_IDS = 40


def make_record(rng: random.Random, tracking_id: str | None = None) -> CallRecord:
    which = rng.randrange(len(MODELS))
    failed = rng.random() < 0.03
    timed_out = rng.random() < 0.01
    input_tokens = rng.randint(10, 20_000)
    output_tokens = rng.randint(1, 4_000)
    priced = rng.random() > 0.02
    return CallRecord(
        timestamp=0.0,
        duration=rng.lognormvariate(0.0, 1.0),
        operation=rng.choice(("chat", "chat", "chat", "embeddings")),
        provider=PROVIDERS[which],
        server_address="api.example.com",
        request_model=MODELS[which],
        response_model=MODELS[which] + "-2025" if rng.random() < 0.5 else None,
        tracking_id=tracking_id if tracking_id is not None else f"feature-{rng.randrange(TRACKING_IDS)}",
        tracking_path=(),
        input_tokens=None if failed else input_tokens,
        output_tokens=None if failed else output_tokens,
        cache_read_tokens=rng.randint(0, input_tokens) if rng.random() < 0.3 else None,
        cache_write_tokens=None,
        reasoning_tokens=rng.randint(0, output_tokens) if which == 5 else None,
        cost=Decimal(input_tokens * 2 + output_tokens * 8).scaleb(-6) if priced and not failed else None,
        cost_source="local",
        cost_unknown_reason=None,
        error_type="APIError" if failed else None,
        timed_out=timed_out,
        stream=False,
        trace_id=None,
        span_id=None,
    )


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class FakeClock:
    """Simulated time, so a benchmark of seconds can cover days of slices."""

    def __init__(self, step: float) -> None:
        self.now = 1_700_000_000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def records(pool: list[CallRecord], count: int) -> Iterator[CallRecord]:
    for number in range(count):
        yield pool[number % len(pool)]


def checkpoints(total: int) -> list[int]:
    return sorted({min(10_000, total), min(100_000, total), total})


def memory_run(
    title: str, sink: SummarySink, calls: Callable[[int], Iterator[CallRecord]], total: int
) -> None:
    print(f"\n{title}")
    gc.collect()
    tracemalloc.start()
    base_traced = tracemalloc.get_traced_memory()[0]
    base_rss = rss_mib()
    done = 0
    for mark in checkpoints(total):
        for record in calls(mark - done):
            sink(record)
        done = mark
        traced = (tracemalloc.get_traced_memory()[0] - base_traced) / 2**20
        print(
            f"  {mark:>9,} calls: tracemalloc +{traced:7.2f} MiB   RSS +{rss_mib() - base_rss:7.2f} MiB   "
            f"{sink.footprint()}"
        )
    tracemalloc.stop()


def timed_run(sink: SummarySink, pool: list[CallRecord], total: int) -> float:
    started = time.perf_counter_ns()
    for record in records(pool, total):
        sink(record)
    return (time.perf_counter_ns() - started) / total


def closing_costs(pool: list[CallRecord], total: int, step: float) -> tuple[float, int, float]:
    """Mean cost per call, the slowest call, and the mean of the calls that closed a slice."""
    clock = FakeClock(step)
    sink = SummarySink(clock=clock)
    timer = time.perf_counter_ns
    spent = slowest = 0
    closing: list[int] = []
    last_minute = int(clock.now // 60)
    for record in records(pool, total):
        started = timer()
        sink(record)
        took = timer() - started
        spent += took
        slowest = max(slowest, took)
        minute = int(clock.now // 60)
        if minute != last_minute:
            closing.append(took)
            last_minute = minute
    return spent / total, slowest, sum(closing) / max(len(closing), 1)


class NoLock:
    """Stands in for the sink's lock: the floor any lock-free scheme could reach (totals may be off)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def threaded_run(
    pool: list[CallRecord], total: int, threads: int, locked: bool = True
) -> tuple[float, SummarySink]:
    sink = SummarySink()
    if not locked:
        sink._lock = NoLock()  # type: ignore[assignment]
    share = total // threads
    barrier = threading.Barrier(threads + 1)

    def work(offset: int) -> None:
        mine = [pool[(offset + number) % len(pool)] for number in range(share)]
        barrier.wait()
        for record in mine:
            sink(record)

    workers = [threading.Thread(target=work, args=(n * 997,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter_ns()
    for worker in workers:
        worker.join()
    return (time.perf_counter_ns() - started) / (share * threads), sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    total = parser.parse_args().calls
    rng = random.Random(7)
    pool = [make_record(rng) for _ in range(POOL)]
    print(
        f"{total:,} calls drawn from {POOL:,} synthetic records: {len(MODELS)} models, {TRACKING_IDS} tracking ids"
    )

    for attempt in range(3):
        per_call = timed_run(SummarySink(), pool, total)
        print(f"hot path, 1 thread (run {attempt + 1}): {per_call:,.0f} ns per call")
    lock = threading.Lock()
    started = time.perf_counter_ns()
    for _ in range(total):
        with lock:
            pass
    print(
        f"of which an uncontended `with lock:` alone costs {(time.perf_counter_ns() - started) / total:,.0f} ns"
    )
    for threads in (4, 16):
        # Best of three: the machine is shared, and the GIL hand-offs make single runs noisy.
        locked = min(threaded_run(pool, total, threads)[0] for _ in range(3))
        unlocked = min(threaded_run(pool, total, threads, locked=False)[0] for _ in range(3))
        per_call, sink = threaded_run(pool, total, threads)
        requests = sum(row.requests for row in sink.summary(by=()))
        print(
            f"hot path, {threads} threads: {locked:,.0f} ns per call (wall time / calls, best of 3), "
            f"{unlocked:,.0f} ns with no lock at all; {requests:,} of {total // threads * threads:,} counted"
        )

    sink = SummarySink(clock=lambda: 1_700_000_000.0)
    memory_run(
        "Frozen clock: every call in one slice, so only the call count grows",
        sink,
        lambda n: records(pool, n),
        total,
    )
    started = time.perf_counter_ns()
    rows = sink.summary(by=("model", "tracking_id"))
    print(
        f"  summary(by=(model, tracking_id)): {len(rows)} rows in {(time.perf_counter_ns() - started) / 1e6:.1f} ms"
    )

    step = 3 * 86400 / total
    mean, worst, closing = closing_costs(pool, total, step)
    print(
        f"\nhot path over 72 simulated hours: {mean:,.0f} ns per call on average; the calls that close a "
        f"slice pay {closing:,.0f} ns on average, the slowest one {worst / 1e6:.1f} ms (it closes an hour)"
    )
    sink = SummarySink(clock=FakeClock(step))
    memory_run(
        f"Simulated clock, {step:.3f} s between calls (72 h: the 24 h ring fills, then stays full)",
        sink,
        lambda n: records(pool, n),
        total,
    )
    started = time.perf_counter_ns()
    rows = sink.summary(by=("model",), since=86400)
    print(
        f"  summary(by=model, since=24 h): {len(rows)} rows in {(time.perf_counter_ns() - started) / 1e6:.1f} ms"
    )

    unique = random.Random(11)
    sink = SummarySink()
    memory_run(
        "A new tracking id on every call (overflow into _OTHER after 1,000 groups)",
        sink,
        lambda n: (make_record(unique, tracking_id=f"user-{unique.getrandbits(64):x}") for _ in range(n)),
        total,
    )
    sink = SummarySink(clock=FakeClock(step))
    memory_run(
        "A new tracking id on every call, over 72 simulated hours (the memory budget trims the windows)",
        sink,
        lambda n: (make_record(unique, tracking_id=f"user-{unique.getrandbits(64):x}") for _ in range(n)),
        total,
    )


if __name__ == "__main__":
    main()
