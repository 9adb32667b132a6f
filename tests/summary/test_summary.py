"""In-process summaries: exact totals, sketch quantiles within their bound, windows, caps, threads.

Records are built directly, without OpenTelemetry. ``tokentrace.summary`` is the function; the
module is reached through from-imports. "True" quantiles use the lower sorted-index
definition the sketch documents: the value at 0-based index floor(q * (n - 1)) of the sorted values.
"""

from __future__ import annotations

import decimal
import itertools
import json
import math
import random
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokentrace
from tokentrace.activation import summary_sink as default_sink
from tokentrace.calls.records import CallRecord
from tokentrace.summary import (
    OVERFLOW,
    GroupSummary,
    LatencySketch,
    LogMapping,
    SummarySink,
    format_summary,
)
from tokentrace.summary.packed import PackedSlice

ALPHA = 0.01
MODELS = ("gpt-4.1", "claude-sonnet-4.5", "deepseek-v3.2")
TRACKING_IDS = ("checkout", "search", "support", None)


def call(**fields: Any) -> CallRecord:
    base: dict[str, Any] = {
        "timestamp": 0.0,
        "duration": 1.0,
        "operation": "chat",
        "provider": "openai",
        "server_address": "api.openai.com",
        "request_model": "gpt-4.1",
        "response_model": None,
        "tracking_id": "checkout",
        "tracking_path": (),
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "cost": Decimal("0.00036"),
        "cost_source": "local",
        "cost_unknown_reason": None,
        "error_type": None,
        "timed_out": False,
        "stream": False,
        "trace_id": None,
        "span_id": None,
    }
    base.update(fields)
    return CallRecord(**base)


def random_calls(count: int, seed: int = 1) -> list[CallRecord]:
    rng = random.Random(seed)
    calls = []
    for _ in range(count):
        priced = rng.random() > 0.1
        calls.append(
            call(
                duration=rng.lognormvariate(0.0, 1.2),
                request_model=rng.choice(MODELS),
                response_model=rng.choice((None, "gpt-4.1-2025-04-14")) if rng.random() < 0.2 else None,
                tracking_id=rng.choice(TRACKING_IDS),
                operation=rng.choice(("chat", "embeddings")),
                provider=rng.choice(("openai", "deepseek")),
                input_tokens=rng.choice((None, rng.randint(0, 50_000))),
                output_tokens=rng.choice((None, rng.randint(0, 5_000))),
                cache_read_tokens=rng.choice((None, rng.randint(0, 1_000))),
                reasoning_tokens=rng.choice((None, rng.randint(0, 1_000))),
                cost=Decimal(rng.randint(1, 10**9)).scaleb(-12) if priced else None,
                error_type=rng.choice(("APIError", "RateLimitError")) if rng.random() < 0.1 else None,
                timed_out=rng.random() < 0.05,
            )
        )
    return calls


def nearest_rank_quantile(values: Iterable[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(Fraction(repr(q)) * len(ordered)) - 1, 0)]


def assert_within_bound(estimate: float, true: float, alpha: float = ALPHA) -> None:
    # The bound is exact in real arithmetic; allow float rounding at bucket edges.
    assert abs(estimate - true) <= alpha * true * (1 + 1e-9), (estimate, true)


def expected(calls: list[CallRecord], key: tuple[str, ...]) -> dict[str, Any]:
    durations = [c.duration for c in calls]
    return {
        "key": key,
        "requests": len(calls),
        "errors": sum(c.status == "error" for c in calls),
        "timeouts": sum(c.status == "timeout" for c in calls),
        "input_tokens": sum(c.input_tokens or 0 for c in calls),
        "output_tokens": sum(c.output_tokens or 0 for c in calls),
        "cache_read_tokens": sum(c.cache_read_tokens or 0 for c in calls),
        "reasoning_tokens": sum(c.reasoning_tokens or 0 for c in calls),
        "cost": sum((c.cost for c in calls if c.cost is not None), Decimal(0)),
        "unknown_cost_calls": sum(c.cost is None for c in calls),
        "avg_latency": sum(round(d * 1e9) for d in durations) / len(durations) / 1e9,
        "p95": nearest_rank_quantile(durations, 0.95),
        "p50": nearest_rank_quantile(durations, 0.5),
    }


def field_value(record: CallRecord, field: str) -> str:
    value = record.model if field == "model" else getattr(record, field)
    return value or ""


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def record_all(sink: SummarySink, calls: Iterable[CallRecord]) -> None:
    for record in calls:
        sink(record)


@pytest.mark.parametrize(
    "by",
    [("model",), ("tracking_id",), ("model", "tracking_id"), ("provider",), ("operation",), ()],
)
def test_each_group_adds_up_to_exactly_its_calls(by: tuple[str, ...]) -> None:
    calls = random_calls(3000)
    sink = SummarySink()
    record_all(sink, calls)
    groups: dict[tuple[str, ...], list[CallRecord]] = {}
    for record in calls:
        groups.setdefault(tuple(field_value(record, f) for f in by), []).append(record)

    rows = {row.key: row for row in sink.summary(by=by)}
    assert set(rows) == set(groups)
    for key, members in groups.items():
        want = expected(members, key)
        row = rows[key]
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
            assert getattr(row, name) == want[name], name
        assert_within_bound(row.p95_latency, want["p95"])
        assert_within_bound(row.p50_latency, want["p50"])


def test_rows_come_costliest_first() -> None:
    sink = SummarySink()
    record_all(sink, [call(request_model="cheap", cost=Decimal("0.001"))] * 3)
    sink(call(request_model="dear", cost=Decimal("0.01")))
    assert [row.key for row in sink.summary()] == [("dear",), ("cheap",)]


def test_model_is_the_response_model_else_the_requested_one() -> None:
    sink = SummarySink()
    sink(call(request_model="gpt-4.1", response_model="gpt-4.1-2025-04-14"))
    sink(call(request_model="gpt-4.1", response_model=None))
    sink(call(request_model=None, response_model=None))
    assert sorted(row.key for row in sink.summary()) == [("",), ("gpt-4.1",), ("gpt-4.1-2025-04-14",)]


def test_odd_records_count_without_raising() -> None:
    sink = SummarySink()
    odd = [
        call(input_tokens=None, output_tokens=None, cost=None),
        call(duration=-0.5),
        call(duration=math.nan),
        call(duration=math.inf),
        call(duration=2),  # an int
        call(duration=0.0),
        call(cost=Decimal("NaN")),
        call(cost=Decimal("sNaN")),
        call(cost=Decimal("Infinity")),
        call(cost=0.25),  # a float, by mistake
        call(input_tokens=True, output_tokens="7"),
        call(tracking_id=None, request_model=None, provider="", operation=""),
    ]
    record_all(sink, odd)
    assert sink.dropped == 0
    (total,) = sink.summary(by=())
    assert total.requests == len(odd)
    assert total.unknown_cost_calls == 4
    assert total.cost == Decimal("0.00036") * 7 + Decimal("0.25")
    assert total.input_tokens == 100 * 10 + 1
    assert total.output_tokens == 20 * 10 + 7
    # -0.5, NaN and inf say nothing about latency: only the nine others count.
    valid = [1.0] * 7 + [2.0, 0.0]
    assert total.avg_latency == sum(valid) / len(valid)
    assert total.p50_latency == pytest.approx(1.0, rel=ALPHA)


def test_a_record_that_cannot_be_counted_is_dropped_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENTRACE_RAISE_INTERNAL_ERRORS", "0")
    sink = SummarySink()
    sink(call())
    sink(call(tracking_id=["not", "hashable"]))
    assert sink.dropped == 1
    assert [row.requests for row in sink.summary(by=())] == [1]


def test_cost_sums_stay_exact_whatever_the_thread_decimal_context() -> None:
    sink = SummarySink()
    costs = [Decimal("0.000123456789"), Decimal("12345.6789"), Decimal("0.000000000001")] * 10
    with decimal.localcontext(decimal.Context(prec=3)):
        record_all(sink, [call(cost=cost, request_model="m") for cost in costs])
        (row,) = sink.summary()
    assert row.cost == sum(costs, Decimal(0))
    assert row.cost == Decimal("123456.79023456790")


def test_as_dict_is_json_and_keeps_cost_exact() -> None:
    sink = SummarySink()
    record_all(sink, [call(cost=Decimal("0.1")), call(cost=Decimal("0.2"))])
    (row,) = sink.summary(by=("model", "tracking_id"))
    data = json.loads(json.dumps(row.as_dict()))
    assert data["key"] == ["gpt-4.1", "checkout"]
    assert data["cost"] == "0.3"
    assert data["requests"] == 2
    assert set(data) == set(GroupSummary.__dataclass_fields__)


def test_since_windows_merge_the_slices_at_or_after_it() -> None:
    clock = Clock(1_699_999_980.0)  # a multiple of 60: the calls open the slices
    sink = SummarySink(clock=clock)
    for minute in range(10):
        sink(call(cost=Decimal(minute)))
        clock.advance(60)
    clock.advance(-30)  # now: half-way through the 10th minute after the first call
    calls_in = {row.requests for row in sink.summary(by=(), since=timedelta(minutes=3))}
    # since = 3 min ago falls mid-slice: its whole slice counts, so one minute more at most.
    assert calls_in == {4}
    assert sink.summary(by=(), since=120.0)[0].requests == 3
    start = datetime.fromtimestamp(clock.now - 300, tz=timezone.utc)
    assert sink.summary(by=(), since=start)[0].cost == Decimal(4 + 5 + 6 + 7 + 8 + 9)
    assert sink.summary(by=(), since=0)[0].requests == 1
    assert sink.summary(by=(), since=timedelta(days=1))[0].requests == 10  # before the sink: all time


def test_a_window_holds_everything_since_it_and_at_most_one_slice_more() -> None:
    clock = Clock(1_700_000_000.0)
    sink = SummarySink(clock=clock, slice_seconds=10)
    times = []
    rng = random.Random(5)
    for _ in range(500):
        clock.advance(rng.uniform(0, 4))
        times.append(clock.now)
        sink(call())
    for back in (5.0, 17.5, 100.0, 333.3, 550.0):
        start = clock.now - back
        got = sink.summary(by=(), since=back)[0].requests
        assert sum(t >= start for t in times) <= got <= sum(t >= start - 10 for t in times)


def test_slices_expire_after_the_retention_but_all_time_stays() -> None:
    clock = Clock(1_700_000_000.0)
    sink = SummarySink(clock=clock, slice_seconds=60, retention_seconds=600)
    sink(call())
    clock.advance(700)
    sink(call())
    assert sink.summary(by=(), since=600)[0].requests == 1
    assert sink.summary(by=())[0].requests == 2
    with pytest.raises(ValueError, match="past the history"):
        sink.summary(by=(), since=660)
    clock.advance(10 * 86400)
    sink(call())
    assert sink.footprint()["fine_slices"] <= 11
    assert sink.summary(by=(), since=60)[0].requests == 1


def test_older_windows_are_answered_at_the_coarse_resolution() -> None:
    # 10 s slices: the last 60 of them (600 s) at 10 s, older ones up to 1 h at 600 s.
    clock = Clock(1_700_000_400.0)  # a multiple of 600
    sink = SummarySink(clock=clock, slice_seconds=10, retention_seconds=3600)
    for _ in range(300):
        sink(call())
        clock.advance(10)
    # 3000 s later: a window of 2000 s starts at now - 2000, on a 600 s boundary minus 200 s.
    got = sink.summary(by=(), since=2000)[0].requests
    assert 200 <= got <= 200 + 60
    assert sink.summary(by=(), since=400)[0].requests == 40
    clock.advance(2000)  # the sink has now run longer than its retention
    sink(call())
    assert sink.summary(by=(), since=3500)[0].requests >= 1
    with pytest.raises(ValueError, match="past the history"):
        sink.summary(by=(), since=4000)


def budgeted_sink(memory_budget: int) -> tuple[SummarySink, Clock]:
    clock = Clock(1_700_000_400.0)
    sink = SummarySink(clock=clock, slice_seconds=10, retention_seconds=3600, memory_budget=memory_budget)
    for number in range(600):  # 3000 s of calls, 7 tracking ids, 13 latencies
        sink(call(tracking_id=f"id-{number % 7}", duration=0.1 + number % 13))
        clock.advance(5)
    return sink, clock


def test_the_memory_budget_drops_fine_detail_first() -> None:
    sink, _ = budgeted_sink(40_000)
    footprint = sink.footprint()
    assert footprint["window_bytes_estimate"] <= 40_000
    assert footprint["fine_slices"] < 61
    # Recent windows still answer, from the coarse slots (600 s), and older ones too.
    assert 60 <= sink.summary(by=(), since=300)[0].requests <= 60 + 120
    assert sink.summary(by=(), since=2900)[0].requests == 600
    assert sink.summary(by=())[0].requests == 600


def test_a_tighter_budget_then_shortens_the_history() -> None:
    sink, _ = budgeted_sink(20_000)
    assert sink.footprint()["window_bytes_estimate"] <= 20_000
    assert 60 <= sink.summary(by=(), since=300)[0].requests <= 60 + 120
    with pytest.raises(ValueError, match="past the history"):
        sink.summary(by=(), since=2900)
    assert sink.summary(by=())[0].requests == 600


def test_new_keys_past_the_cap_overflow_into_other() -> None:
    clock = Clock(1_700_000_000.0)
    sink = SummarySink(clock=clock, max_groups=3)
    calls = [call(tracking_id=f"tenant-{n}", cost=Decimal(n)) for n in range(10)]
    record_all(sink, calls)
    rows = {row.key: row for row in sink.summary(by=("tracking_id",))}
    assert set(rows) == {("tenant-0",), ("tenant-1",), ("tenant-2",), (OVERFLOW,)}
    assert rows[(OVERFLOW,)].requests == 7
    assert rows[(OVERFLOW,)].cost == sum(Decimal(n) for n in range(3, 10))
    assert {row.key for row in sink.summary(by=("model",))} == {("gpt-4.1",), (OVERFLOW,)}
    # A fresh slice admits new keys; the all-time aggregate keeps its own cap.
    clock.advance(60)
    record_all(sink, [call(tracking_id="late-1"), call(tracking_id="late-2")])
    assert ("late-1",) in {row.key for row in sink.summary(by=("tracking_id",), since=30)}
    clock.advance(60)
    sink(call(tracking_id="tenant-0"))
    all_time = {row.key: row.requests for row in sink.summary(by=("tracking_id",))}
    assert len(all_time) == 4
    assert all_time[(OVERFLOW,)] == 9
    assert sum(all_time.values()) == 13


def test_sixteen_threads_give_exact_totals() -> None:
    sink = SummarySink()
    per_thread = [random_calls(2000, seed=seed) for seed in range(16)]
    barrier = threading.Barrier(16)

    def work(calls: list[CallRecord]) -> None:
        barrier.wait()
        record_all(sink, calls)

    threads = [threading.Thread(target=work, args=(calls,)) for calls in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [record for calls in per_thread for record in calls]
    (row,) = sink.summary(by=())
    want = expected(everything, ())
    assert (row.requests, row.errors, row.timeouts) == (want["requests"], want["errors"], want["timeouts"])
    assert (row.input_tokens, row.output_tokens) == (want["input_tokens"], want["output_tokens"])
    assert row.cost == want["cost"]
    assert row.unknown_cost_calls == want["unknown_cost_calls"]
    assert row.avg_latency == want["avg_latency"]
    assert_within_bound(row.p95_latency, want["p95"])


def test_summaries_read_while_threads_record_and_slices_rotate() -> None:
    clock = Clock(1_700_000_000.0)
    sink = SummarySink(clock=clock, slice_seconds=1, retention_seconds=600)
    per_thread = [random_calls(1500, seed=100 + seed) for seed in range(8)]
    barrier = threading.Barrier(9)
    failures: list[BaseException] = []

    def work(calls: list[CallRecord]) -> None:
        barrier.wait()
        for record in calls:
            clock.advance(0.01)  # racy on purpose: the clock only has to move forward
            sink(record)

    def read() -> None:
        barrier.wait()
        try:
            for _ in range(40):
                sink.summary(by=("model", "tracking_id"), since=30)
                sink.summary(by=("tracking_id",))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(calls,)) for calls in per_thread]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sink.dropped == 0
    everything = [record for calls in per_thread for record in calls]
    (row,) = sink.summary(by=())
    assert (row.requests, row.cost) == (len(everything), expected(everything, ())["cost"])
    assert sink.footprint()["fine_slices"] > 1


def test_reset_forgets_everything() -> None:
    sink = SummarySink()
    sink(call())
    sink.reset()
    assert sink.summary() == []
    sink(call())
    assert sink.summary(since=3600)[0].requests == 1


@pytest.mark.parametrize(
    ("by", "since", "error"),
    [
        (("cost",), None, ValueError),
        (("model", "model"), None, ValueError),
        (("model",), -5, ValueError),
        (("model",), "yesterday", TypeError),
    ],
)
def test_bad_questions_are_refused(by: tuple[str, ...], since: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        SummarySink().summary(by=by, since=since)


def test_a_bare_field_name_means_that_one_field() -> None:
    sink = SummarySink()
    sink(call())
    assert sink.summary(by="tracking_id")[0].key == ("checkout",)


def test_tokentrace_summary_reads_the_process_wide_sink() -> None:
    sink = default_sink()
    sink.reset()
    try:
        sink(call(tracking_id="module-level"))
        assert tokentrace.summary(by=("tracking_id",))[0].key == ("module-level",)
    finally:
        sink.reset()


def test_format_summary_reads_like_a_report() -> None:
    sink = SummarySink()
    record_all(sink, [call(request_model="gpt-4.1", duration=1.2), call(request_model="deepseek-v3.2")])
    sink(call(request_model="deepseek-v3.2", tracking_id=None, cost=None, error_type="APIError"))
    text = format_summary(sink.summary(by=("model", "tracking_id")), by=("model", "tracking_id"))
    lines = text.splitlines()
    assert lines[0] == "Total requests: 3"
    assert lines[1] == "Total tokens:   360"
    assert lines[2] == "Total cost:     $0.000720  (+1 calls of unknown cost)"
    header = lines[4].split()
    assert header[:4] == ["model", "tracking", "id", "requests"]
    assert "p95" in header
    assert any(line.startswith("deepseek-v3.2") and "(none)" in line for line in lines)
    assert lines[-1].split()[:2] == ["TOTAL", "3"]
    assert "0.000720" in lines[-1]
    assert format_summary(sink.summary(by=()), by=()).splitlines()[-1].split()[0] == "3"


# The sketch


def test_mapping_values_are_within_alpha_of_their_bucket() -> None:
    mapping = LogMapping(ALPHA)
    for value in (1e-9, 0.001, 0.5, 1.0, 1.0202, 3.3, 600.0, 1e12):
        assert_within_bound(mapping.value(mapping.index(value)), value)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.floats(min_value=1e-6, max_value=1e6), min_size=1, max_size=400),
    q=st.floats(min_value=0.0, max_value=1.0),
)
def test_sketch_quantiles_are_within_the_relative_error(values: list[float], q: float) -> None:
    sketch = LatencySketch(LogMapping(ALPHA))
    for value in values:
        sketch.add(value)
    assert sketch.count == len(values)
    assert_within_bound(sketch.quantile(q), nearest_rank_quantile(values, q))
    for common in (0.5, 0.95, 0.99):
        assert_within_bound(sketch.quantile(common), nearest_rank_quantile(values, common))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=1e9)), min_size=0, max_size=300
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=4),
    max_buckets=st.sampled_from((4, 16, 2048)),
)
def test_merged_sketches_equal_the_sketch_of_the_union(
    values: list[float], cuts: list[int], max_buckets: int
) -> None:
    mapping = LogMapping(ALPHA, max_buckets)
    bounds = sorted({0, len(values), *(min(cut, len(values)) for cut in cuts)})
    parts = [values[start:end] for start, end in itertools.pairwise(bounds)]
    whole = LatencySketch(mapping)
    for value in values:
        whole.add(value)
    merged = LatencySketch(mapping)
    for part in parts:
        piece = LatencySketch(mapping)
        for value in part:
            piece.add(value)
        merged.merge(piece)
    assert merged == whole
    assert len(merged.buckets) <= max_buckets


def test_a_full_sketch_folds_its_lowest_buckets_and_keeps_high_quantiles() -> None:
    mapping = LogMapping(ALPHA, max_buckets=64)
    sketch = LatencySketch(mapping)
    values = [0.001 * 1.05**n for n in range(400)]  # far more than 64 buckets' worth
    for value in values:
        sketch.add(value)
    assert len(sketch.buckets) == 64
    assert sketch.floor is not None
    assert sketch.count == 400
    for q in (0.95, 0.99, 1.0):
        assert_within_bound(sketch.quantile(q), nearest_rank_quantile(values, q))


def test_sketches_of_different_accuracy_do_not_merge() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        LatencySketch(LogMapping(0.01)).merge(LatencySketch(LogMapping(0.02)))


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
def test_a_sketch_refuses_what_is_not_a_latency(value: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        LatencySketch().add(value)


def test_packed_slices_read_back_what_was_packed() -> None:
    clock = Clock()
    sink = SummarySink(clock=clock, max_buckets=8)
    record_all(sink, random_calls(500))
    groups = sink._ring.current  # the open slice, as the ring would pack it on closing
    packed = PackedSlice(groups, LogMapping(ALPHA, 8))
    assert len(packed) == len(groups)
    unpacked = dict(packed.items())
    assert list(unpacked) == list(groups)
    for key, totals in groups.items():
        again = unpacked[key]
        assert again.freeze(key) == totals.freeze(key)
        assert again.sketch == totals.sketch


def test_a_window_over_closed_packed_slices_equals_all_time() -> None:
    clock = Clock(1_700_000_000.0)
    calls = random_calls(1200, seed=9)
    sink = SummarySink(clock=clock, slice_seconds=10)
    for record in calls:
        sink(record)
        clock.advance(1)
    reference = SummarySink()
    record_all(reference, calls)
    windowed = sink.summary(by=("model", "tracking_id"), since=1199)
    assert windowed == reference.summary(by=("model", "tracking_id"))
    assert sink.summary(by=("model", "tracking_id")) == windowed
