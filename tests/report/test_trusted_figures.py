"""Figures a person trusts: p95 by nearest rank everywhere, refused calls in their own column.

A call a budget refused was never sent: it is no error, it cost nothing, and its few microseconds
stay out of the latency figures. The demo, the ledger's report and the in-process summary say so
alike, and a ledger written before refused calls had a status of their own reads the same.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from tests.ledger._helpers import T0, record
from tokentrace.calls.records import CallRecord
from tokentrace.cli import main
from tokentrace.ledger import LedgerSink, read_calls, read_figures, totals
from tokentrace.ledger.reader import LedgerRow
from tokentrace.report import render_text, summarize
from tokentrace.summary import SummarySink, format_summary


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(Fraction(1, 2) * len(ordered)) - 1, 0)]


def _refused(**changes: object) -> CallRecord:
    """A call its budget refused, as the recorder hands it on: no usage, zero cost, a few µs."""
    fields: dict[str, object] = {
        "duration": 0.00005,
        "response_model": None,
        "input_tokens": None,
        "output_tokens": None,
        "cost": Decimal(0),
        "cost_source": None,
        "error_type": "BudgetExceededError",
        "trace_id": None,
        "span_id": None,
    }
    return record(**{**fields, **changes})


CALLS = [
    record(timestamp=T0, duration=0.006),
    record(timestamp=T0 + 1, duration=0.003),
    _refused(timestamp=T0 + 2),
    record(timestamp=T0 + 3, duration=0.5, error_type="RateLimitError", cost=None, input_tokens=None),
]


def _ledger(tmp_path: Path, calls: list[CallRecord]) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        for call in calls:
            sink(call)
    return path


def test_a_refused_call_has_its_own_status() -> None:
    assert _refused().status == "refused"
    assert record(error_type="RateLimitError").status == "error"


def test_summary_and_report_count_a_refused_call_apart_and_out_of_latency(tmp_path: Path) -> None:
    sink = SummarySink()
    for call in CALLS:
        sink(call)
    (live,) = sink.summary(by=())
    stored = summarize(read_figures(_ledger(tmp_path, CALLS)), "model").total
    for figures in (live, stored):
        assert (figures.requests, figures.errors, figures.timeouts, figures.refused) == (4, 1, 0, 1)
        assert figures.cost == Decimal("0.0056")
        assert figures.unknown_cost_calls == 1  # the failed call; the refused one cost nothing
        assert figures.avg_latency == pytest.approx((0.006 + 0.003 + 0.5) / 3)
    assert stored.p95_latency == 0.5
    assert live.p95_latency == pytest.approx(0.5, rel=sink.relative_accuracy)


def test_p95_of_two_calls_is_the_slower_one_in_summary_and_report(tmp_path: Path) -> None:
    calls = CALLS[:2]  # 0.006 s and 0.003 s: the demo's "avg 0.006 s, p95 0.003 s"
    sink = SummarySink()
    for call in calls:
        sink(call)
    (live,) = sink.summary(by=())
    stored = summarize(read_figures(_ledger(tmp_path, calls)), "model").total
    assert stored.p95_latency == 0.006
    assert live.p95_latency == pytest.approx(0.006, rel=sink.relative_accuracy)
    assert live.p50_latency == pytest.approx(0.003, rel=sink.relative_accuracy)
    assert stored.avg_latency is not None and stored.p95_latency >= stored.avg_latency


def test_format_summary_names_the_unknown_column_as_the_report_does() -> None:
    sink = SummarySink()
    for call in CALLS:
        sink(call)
    text = format_summary(sink.summary(by=("model",)), ("model",))
    header = next(line for line in text.splitlines() if line.startswith("model"))
    assert "unpriced" not in text
    assert header.split() == [
        "model",
        *("requests", "errors", "timeouts", "refused", "input", "tok", "output", "tok"),
        *("cost", "(USD)", "unknown", "avg", "s", "p50", "s", "p95", "s"),
    ]
    rows = {line.split()[0]: line.split() for line in text.splitlines()[5:] if line and line[0] != "-"}
    # requests errors timeouts refused … unknown
    assert rows["gpt-4.1-2025-04-14"][1:5] == ["3", "1", "0", "0"]
    assert rows["gpt-4.1"][1:5] == ["1", "0", "0", "1"]
    assert rows["gpt-4.1"][7] == "0.000000" and rows["gpt-4.1"][8] == "0"


def test_a_ledger_from_before_the_refused_status_reads_its_refusals_as_refused(tmp_path: Path) -> None:
    path = _ledger(tmp_path, CALLS)
    with sqlite3.connect(path) as conn:  # what an earlier tokentrace wrote for a refused call
        conn.execute("UPDATE calls SET status = 'error' WHERE status = 'refused'")
        assert conn.execute("SELECT COUNT(*) FROM calls WHERE status = 'refused'").fetchone()[0] == 0
    conn.close()
    assert [row.status for row in read_calls(path)] == ["ok", "ok", "refused", "error"]
    report = summarize(read_figures(path), "model").total
    assert (report.errors, report.refused) == (1, 1)
    assert report.avg_latency == pytest.approx((0.006 + 0.003 + 0.5) / 3)
    (sql,) = totals(path)
    assert (sql.requests, sql.errors, sql.refused) == (4, 1, 1)
    assert sql.avg_duration == pytest.approx((0.006 + 0.003 + 0.5) / 3)


def test_the_text_report_has_a_refused_column(tmp_path: Path) -> None:
    text = render_text(summarize(read_calls(_ledger(tmp_path, CALLS)), "model"), 120)
    assert "  calls     4  (1 errors, 0 timeouts, 1 refused by a budget)" in text
    table = text.split("\nBy model\n", 1)[1].splitlines()
    assert table[0].split() == [
        *("model", "calls", "errors", "timeouts", "refused", "input", "tok", "output", "tok"),
        *("cost", "unknown", "avg", "s", "p95", "s"),
    ]
    refused_row = next(line.split() for line in table if line.startswith("gpt-4.1 "))
    assert refused_row == ["gpt-4.1", "1", "0", "0", "1", "0", "0", "$0.0000", "0", "-", "-"]


def _tracking_id(call: LedgerRow) -> str | None:
    return call.tracking_id


def _model(call: LedgerRow) -> str | None:
    return call.model


def _table_rows(text: str, title: str) -> tuple[list[str], list[list[str]]]:
    lines = text.split(f"\nBy {title}\n", 1)[1].splitlines()
    header = lines[0].replace("input tok", "input_tok").replace("output tok", "output_tok")
    header = header.replace("avg s", "avg_s").replace("p95 s", "p95_s").replace("tracking id", "key")
    rows = []
    for line in lines[2:]:
        if not line.strip():
            break
        if not line.startswith(("─", "-")):
            rows.append(line.split())
    return header.split(), rows


def test_the_demo_report_shows_p95_at_or_above_the_median_and_the_refused_call_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = (
        "import io, sys\n"
        "from tokentrace.demo import run_demo\n"
        "out = io.StringIO()\n"
        f"assert run_demo(out=out, keep={str(tmp_path)!r}) == 0\n"
        "sys.stdout.write(out.getvalue())\n"
    )
    env = {**os.environ, "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("refused before sending") == 1
    ledger = tmp_path / "ledger.sqlite3"
    calls = list(read_calls(ledger))
    assert [call.status for call in calls].count("refused") == 1
    sent = [call for call in calls if call.status != "refused"]
    key_of: Callable[[LedgerRow], str | None]
    for by, title, key_of in (
        ("tracking_id", "tracking id", _tracking_id),
        ("model", "model", _model),
    ):
        header, rows = _table_rows(out, title)
        assert header[:5] == ["model" if by == "model" else "key", "calls", "errors", "timeouts", "refused"]
        column = {name: index for index, name in enumerate(header)}
        for row in rows:
            key = row[0]
            durations = [c.duration for c in sent if (key_of(c) or "") == key]
            if key == "total":
                durations = [c.duration for c in sent]
            assert row[column["errors"]] == "0", row
            if not durations:  # the refused call's own group (its model never answered)
                assert row[column["refused"]] == "1" and row[column["p95_s"]] == "-", row
                continue
            assert float(row[column["p95_s"]]) >= round(_median(durations), 3), (by, row)
        refused = {row[0]: row[column["refused"]] for row in rows}
        assert refused["total"] == "1"
        if by == "tracking_id":
            assert refused == {"support-bot": "1", "nightly-report": "0", "total": "1"}

    # ``tokentrace report`` of the demo's ledger, as a program reads it: the same figures
    for by, key_of in (("tracking_id", _tracking_id), ("model", _model)):
        assert (
            main(["report", "--ledger", str(ledger), "--since", "all", "--format", "json", "--by", by]) == 0
        )
        document = json.loads(capsys.readouterr().out)
        assert (document["total"]["errors"], document["total"]["refused"]) == (0, 1)
        for group in document["groups"]:
            durations = [c.duration for c in sent if key_of(c) == group["key"]]
            if durations:
                assert group["p95_latency_s"] >= _median(durations), group
            else:
                assert (group["refused"], group["p95_latency_s"], group["cost_usd"]) == (1, None, "0"), group


def test_the_ledger_report_of_a_demo_like_ledger_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _ledger(tmp_path, CALLS)
    assert main(["report", "--ledger", str(path), "--since", "all", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    total = document["total"]
    assert (total["errors"], total["refused"], total["unknown_cost_calls"]) == (1, 1, 1)
    groups = {group["key"]: group for group in document["groups"]}
    assert groups["gpt-4.1"]["refused"] == 1
    assert groups["gpt-4.1"]["p95_latency_s"] is None  # its one call was never sent
    for group in document["groups"]:
        if group["p95_latency_s"] is not None:
            assert group["p95_latency_s"] >= group["avg_latency_s"] or group["requests"] > 2
