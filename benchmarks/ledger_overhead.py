"""What the ledger costs the thread that makes an LLM call: ``LedgerSink.__call__``.

The caller only queues the record; a daemon thread writes. This measures, over ``--calls`` calls
in a tight loop (the worst case: the writer is busy the whole time and competes for the GIL):

- the mean time per ``sink(record)`` on the calling thread, minus the same loop calling a no-op;
- the spread of single calls (p50, p99, max), timed one by one;
- the writer's throughput, i.e. the off-thread cost of one row (conversion, insert, commit).

Repetitions alternate sink and no-op and the median is reported, because this machine is shared.

    python benchmarks/ledger_overhead.py [--calls 100000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tokentrace.calls.records import CallRecord
from tokentrace.ledger import LedgerSink

RECORD = CallRecord(
    timestamp=time.time(),
    duration=0.84,
    operation="chat",
    provider="openai",
    server_address="api.openai.com",
    request_model="gpt-4.1",
    response_model="gpt-4.1-2025-04-14",
    tracking_id="checkout-summary",
    tracking_path=("checkout-summary",),
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
    trace_id="0af7651916cd43dd8448eb211c80319c",
    span_id="b7ad6b7169203331",
)


def _loop(target: Callable[[CallRecord], None], calls: int) -> float:
    """Seconds for ``calls`` calls of ``target`` in a tight loop."""
    record = RECORD
    started = time.perf_counter()
    for _ in range(calls):
        target(record)
    return time.perf_counter() - started


def _one_by_one(target: Callable[[CallRecord], None], calls: int) -> list[int]:
    """Nanoseconds of each call, timer overhead included."""
    record = RECORD
    clock = time.perf_counter_ns
    spans = []
    for _ in range(calls):
        started = clock()
        target(record)
        spans.append(clock() - started)
    return spans


def _noop(record: CallRecord) -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    calls = args.calls

    with tempfile.TemporaryDirectory() as folder:
        sink = LedgerSink(Path(folder) / "ledger.sqlite3", max_pending=calls * 2)
        per_call, noop_per_call, throughput = [], [], []
        for _ in range(args.repeats):
            noop_per_call.append(_loop(_noop, calls) / calls)
            written = sink.written
            started = time.perf_counter()
            per_call.append(_loop(sink, calls) / calls)
            assert sink.flush(120), "the writer did not keep up"
            throughput.append((sink.written - written) / (time.perf_counter() - started))
        spans = sorted(_one_by_one(sink, calls))
        noop_spans = sorted(_one_by_one(_noop, calls))
        assert sink.flush(120)
        assert sink.close()
        dropped = sink.dropped

    def at(values: list[int], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] / 1000

    sink_us = statistics.median(per_call) * 1e6
    noop_us = statistics.median(noop_per_call) * 1e6
    print(f"LedgerSink.__call__ over {calls:,} calls, median of {args.repeats} tight loops")
    print(f"  per call, calling thread : {sink_us:.3f} µs  (no-op call: {noop_us:.3f} µs)")
    print(f"  added by the sink        : {sink_us - noop_us:.3f} µs")
    print(
        f"  one by one (µs)          : p50 {at(spans, 0.5):.2f}, p99 {at(spans, 0.99):.2f}, "
        f"p99.99 {at(spans, 0.9999):.0f}, max {spans[-1] / 1000:.0f}  (no-op: p50 {at(noop_spans, 0.5):.2f}, p99 {at(noop_spans, 0.99):.2f})"
    )
    print(
        f"  writer thread            : {statistics.median(throughput):,.0f} rows/s "
        f"({1e6 / statistics.median(throughput):.1f} µs of background work per row)"
    )
    print(f"  dropped                  : {dropped}")


if __name__ == "__main__":
    main()
