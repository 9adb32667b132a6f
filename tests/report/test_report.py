"""`tokentrace report` and the pure functions behind it, checked against exact figures."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.ledger._helpers import T0, record
from tokentrace.calls.records import CallRecord
from tokentrace.cli import main
from tokentrace.ledger import LedgerSink, read_calls, read_figures, totals
from tokentrace.report import command as report_command
from tokentrace.report import parse_period, parse_when, render_text, summarize
from tokentrace.report.html import render_html
from tokentrace.report.text import bar

DAY = 86400.0

CALLS: list[CallRecord] = [
    record(timestamp=T0, duration=1.0),  # gpt-4.1 -> gpt-4.1-2025-04-14, 1000 in, 100 out, $0.0028
    record(timestamp=T0 + 10, duration=3.0, input_tokens=500, output_tokens=50, cost=Decimal("0.0014")),
    record(
        timestamp=T0 + DAY,
        duration=0.5,
        tracking_id="support-bot",
        request_model="deepseek-v3.2",
        response_model=None,
        provider="deepseek",
        cost=Decimal("0.000142"),
    ),
    record(
        timestamp=T0 + DAY + 10,
        duration=2.0,
        tracking_id="support-bot",
        request_model="local-llama",
        response_model=None,
        provider="localhost",
        input_tokens=10,
        output_tokens=10,
        cost=None,
        cost_unknown_reason="unpriced_model",
    ),
    record(
        timestamp=T0 + 3 * DAY,
        duration=0.25,
        response_model=None,
        error_type="RateLimitError",
        input_tokens=None,
        output_tokens=None,
        cost=None,
        cost_unknown_reason="error",
    ),
    record(
        timestamp=T0 + 3 * DAY + 5,
        duration=30.0,
        response_model=None,
        error_type="APITimeoutError",
        timed_out=True,
        input_tokens=None,
        output_tokens=None,
        cost=None,
        cost_unknown_reason="error",
    ),
]
TOTAL = {
    "requests": 6,
    "errors": 1,
    "timeouts": 1,
    "input_tokens": 2510,
    "output_tokens": 260,
    "cache_read_tokens": 0,
    "cache_write_tokens": 0,
    "reasoning_tokens": 0,
    "cost_usd": "0.004342",
    "unknown_cost_calls": 3,
    "avg_latency_s": 6.125,  # (1 + 3 + 0.5 + 2 + 0.25 + 30) / 6
    "p95_latency_s": 30.0,  # sorted [0.25, 0.5, 1, 2, 3, 30]: nearest rank ceil(0.95 * 6) = 6th
    "refused": 0,
    "fallbacks": 0,
}


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        for call in CALLS:
            sink(call)
    return path


def report_of(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def table_rows(text: str) -> dict[str, list[str]]:
    """The rows of the breakdown table: first cell -> the other cells."""
    section = text.split("\nBy ", 1)[1].split("\n\n", 1)[0]
    rows = [
        re.split(r"\s{2,}", line.strip()) for line in section.splitlines()[1:] if not line.startswith("─")
    ]
    return {cells[0]: cells[1:] for cells in rows}


def table_header(text: str) -> str:
    return text.split("\nBy ", 1)[1].splitlines()[1]


# -- pure functions ---------------------------------------------------------------------------------


def test_summarize_totals_and_groups(ledger: Path) -> None:
    report = summarize(read_calls(ledger), "model")
    total = report.total
    assert (total.requests, total.errors, total.timeouts) == (6, 1, 1)
    assert (total.input_tokens, total.output_tokens) == (2510, 260)
    assert total.cost == Decimal("0.004342")
    assert total.unknown_cost_calls == 3
    assert total.avg_latency == pytest.approx(6.125)
    assert total.p95_latency == 30.0
    assert [g.key for g in report.groups] == ["gpt-4.1-2025-04-14", "deepseek-v3.2", "gpt-4.1", "local-llama"]
    gpt = report.groups[0].figures
    assert (gpt.requests, gpt.cost, gpt.avg_latency, gpt.p95_latency) == (2, Decimal("0.0042"), 2.0, 3.0)


def test_p95_is_the_nearest_rank() -> None:
    rows = [record(timestamp=T0 + n, duration=float(n)) for n in range(1, 21)]
    report = summarize((_as_row(r) for r in rows), "model")
    assert report.total.p95_latency == 19.0  # 20 durations 1..20: rank ceil(0.95 * 20) = 19th
    report = summarize((_as_row(r) for r in rows[:1]), "model")
    assert report.total.p95_latency == 1.0


def _as_row(call: CallRecord) -> Any:
    """A CallRecord seen the way the report reads a ledger row."""

    class Row:
        ts = call.timestamp
        tracking_id = call.tracking_id
        provider = call.provider
        request_model = call.request_model
        response_model = call.response_model
        input_tokens = call.input_tokens
        output_tokens = call.output_tokens
        cache_read_tokens = call.cache_read_tokens
        cache_write_tokens = call.cache_write_tokens
        reasoning_tokens = call.reasoning_tokens
        cost = call.cost
        duration = call.duration
        status = call.status
        fallback_from = call.fallback_from

    return Row()


def test_report_agrees_with_the_sql_totals(ledger: Path) -> None:
    report = summarize(read_figures(ledger), "tracking-id")
    sql = {row.key or "(no tracking id)": row for row in totals(ledger, by="tracking_id")}
    for group in report.groups:
        assert group.figures.cost == sql[group.key].cost
        assert group.figures.requests == sql[group.key].requests
        assert group.figures.avg_latency == pytest.approx(sql[group.key].avg_duration)


def test_bars_are_drawn_in_eighths() -> None:
    assert bar(1.0, 4) == "████"
    assert bar(0.5, 4) == "██"
    assert bar(0.5 + 1 / 32, 4) == "██▏"  # 4 cells x 8 = 32 eighths: one more eighth
    assert bar(0.5 + 3 / 32, 4) == "██▍"
    assert bar(0.0001, 4) == "▏"  # never invisible when not zero
    assert bar(0.0, 4) == ""
    assert bar(0.5, 4, ascii_only=True) == "##"


# -- the command: table, JSON, CSV ---------------------------------------------------------------


def test_table(ledger: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = report_of(capsys, "--ledger", str(ledger), "--since", "all")
    assert code == 0
    assert "  calls     6  (1 errors, 1 timeouts)" in out
    assert "  tokens    2,510 in, 260 out" in out
    assert "  cost      $0.0043  (+ 3 calls with unknown cost)" in out
    assert "  latency   avg 6.125 s, p95 30.000 s" in out
    rows = table_rows(out)
    #                         calls errors timeouts refused input output cost unknown avg p95
    assert rows["gpt-4.1-2025-04-14"] == [
        "2",
        "0",
        "0",
        "0",
        "1,500",
        "150",
        "$0.0042",
        "0",
        "2.000",
        "3.000",
    ]
    assert rows["deepseek-v3.2"] == ["1", "0", "0", "0", "1,000", "100", "$0.0001", "0", "0.500", "0.500"]
    assert rows["gpt-4.1"] == ["2", "1", "1", "0", "0", "0", "unknown", "2", "15.125", "30.000"]
    assert rows["local-llama"] == ["1", "0", "0", "0", "10", "10", "unknown", "1", "2.000", "2.000"]
    assert rows["total"] == ["6", "1", "1", "0", "2,510", "260", "$0.0043", "3", "6.125", "30.000"]
    chart = out.split("\nCost by model\n", 1)[1].splitlines()
    assert chart[0].startswith("gpt-4.1-2025-04-14  " + "█" * 10)
    assert chart[0].endswith("$0.0042  96.7%")
    assert chart[1].endswith("$0.0001   3.3%")


def test_table_fits_a_narrow_terminal(ledger: Path) -> None:
    report = summarize(read_calls(ledger), "model")
    for width in (60, 80, 100):
        text = render_text(report, width)
        assert max(len(line) for line in text.splitlines()) <= width, width
        assert "$0.0042" in text
    assert "timeouts" not in table_header(render_text(report, 80))  # the least telling column goes first
    assert "timeouts" in table_header(render_text(report, 120))


def test_ascii_output_for_terminals_that_need_it(ledger: Path) -> None:
    text = render_text(summarize(read_calls(ledger), "model"), 60, ascii_only=True)
    assert text.isascii()
    assert "#####" in text


def test_json(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report_of(capsys, "--ledger", str(ledger), "--since", "all", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["by"] == "model"
    assert document["ledger"] == str(ledger)
    assert document["since"] is None
    assert document["total"] == TOTAL
    groups = {group.pop("key"): group for group in document["groups"]}
    assert list(groups) == ["gpt-4.1-2025-04-14", "deepseek-v3.2", "gpt-4.1", "local-llama"]
    assert groups["gpt-4.1-2025-04-14"]["cost_usd"] == "0.0042"
    assert groups["deepseek-v3.2"]["cost_usd"] == "0.000142"  # exact, not rounded for display
    assert groups["local-llama"] == {**groups["local-llama"], "cost_usd": "0", "unknown_cost_calls": 1}
    assert groups["gpt-4.1"]["p95_latency_s"] == 30.0


def test_csv(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report_of(
        capsys, "--ledger", str(ledger), "--since", "all", "--format", "csv", "--by", "tracking-id"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["tracking_id", *TOTAL]
    by_key = {row["tracking_id"]: row for row in rows}
    assert by_key["checkout-summary"]["cost_usd"] == "0.0042"
    assert by_key["checkout-summary"]["requests"] == "4"
    assert by_key["support-bot"]["cost_usd"] == "0.000142"
    assert by_key["support-bot"]["unknown_cost_calls"] == "1"
    assert by_key["support-bot"]["p95_latency_s"] == "2.0"
    assert len(rows) == 2


def test_by_day_fills_empty_days(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report_of(
        capsys, "--ledger", str(ledger), "--since", "all", "--by", "day", "--utc", "--format", "json"
    )
    assert code == 0
    days = [(g["key"], g["requests"], g["cost_usd"]) for g in json.loads(out)["groups"]]
    assert days == [
        ("2026-09-21", 2, "0.0042"),
        ("2026-09-22", 2, "0.000142"),
        ("2026-09-23", 0, "0"),
        ("2026-09-24", 2, "0"),
    ]


def test_days_are_local_dates_unless_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "ICT-7")  # UTC+7, no DST
    time.tzset()
    try:
        evening_utc = datetime(2026, 9, 21, 20, 0, tzinfo=timezone.utc).timestamp()
        path = tmp_path / "ledger.sqlite3"
        with LedgerSink(path) as sink:
            sink(record(timestamp=evening_utc))
        assert [g.key for g in summarize(read_calls(path), "day").groups] == ["2026-09-22"]
        assert [g.key for g in summarize(read_calls(path), "day", utc=True).groups] == ["2026-09-21"]
        assert [row.key for row in totals(path, by="day")] == ["2026-09-22"]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_since_and_until_select_the_period(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report_of(
        capsys,
        "--ledger",
        str(ledger),
        "--since",
        "2026-09-22",
        "--until",
        "2026-09-22",
        "--utc",
        "--format",
        "json",
    )
    assert code == 0
    document = json.loads(out)
    assert document["since"] == "2026-09-22T00:00:00+00:00"
    assert document["until"] == "2026-09-23T00:00:00+00:00"  # a date as --until includes that day
    assert document["total"]["requests"] == 2
    assert document["total"]["cost_usd"] == "0.000142"


def test_default_period_is_the_last_30_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite3"
    now = time.time()
    with LedgerSink(path) as sink:
        sink(record(timestamp=now - 31 * DAY))
        sink(record(timestamp=now - 29 * DAY))
    code, out, _ = report_of(capsys, "--ledger", str(path), "--format", "json")
    assert code == 0
    assert json.loads(out)["total"]["requests"] == 1


# -- --since / --until --------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 14, 30, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW - timedelta(days=30)),
        ("12h", NOW - timedelta(hours=12)),
        ("15m", NOW - timedelta(minutes=15)),
        ("90s", NOW - timedelta(seconds=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1.5d", NOW - timedelta(hours=36)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
        ("2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)),
        ("2026-11-01T09:30+07:00", datetime(2026, 11, 1, 2, 30, tzinfo=timezone.utc)),
        ("today", datetime(2026, 11, 23, tzinfo=timezone.utc)),
        ("yesterday", datetime(2026, 11, 22, tzinfo=timezone.utc)),
        ("month", datetime(2026, 11, 1, tzinfo=timezone.utc)),
        ("now", NOW),
        ("all", None),
    ],
)
def test_parse_when(text: str, expected: datetime | None) -> None:
    assert parse_when(text, NOW) == expected


def test_parse_when_as_an_end() -> None:
    assert parse_when("2026-11-01", NOW, end=True) == datetime(2026, 11, 2, tzinfo=timezone.utc)
    assert parse_when("today", NOW, end=True) == datetime(2026, 11, 24, tzinfo=timezone.utc)
    assert parse_when("30d", NOW, end=True) == NOW - timedelta(days=30)


@pytest.mark.parametrize("text", ["30x", "last week", "2026-13-01", ""])
def test_parse_when_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        parse_when(text, NOW)


def test_empty_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period is empty"):
        parse_period("2026-11-02", "2026-11-01", utc=True, now=NOW)


def test_bad_since_is_exit_2(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = report_of(capsys, "--ledger", str(ledger), "--since", "lastweek")
    assert code == 2
    assert "cannot read 'lastweek'" in err


@pytest.mark.parametrize(
    ("option", "text"),
    [
        ("--since", "999999d"),  # before the year 1: "date value out of range"
        ("--since", "99999999999d"),  # "Python int too large to convert to C int"
        ("--since", "99999999999999999999999w"),
        ("--until", "999999d"),
    ],
)
def test_a_time_out_of_range_is_one_line_and_exit_2(
    ledger: Path, capsys: pytest.CaptureFixture[str], option: str, text: str
) -> None:
    code, out, err = report_of(capsys, "--ledger", str(ledger), option, text)
    assert code == 2
    assert out == ""
    assert err.startswith(
        f"tokentrace: cannot read {text!r} as a time: it falls outside the years 1 to 9999; use "
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize("utc", [True, False], ids=["utc", "local"])
def test_the_first_and_last_days_datetime_holds_are_a_period(
    ledger: Path, capsys: pytest.CaptureFixture[str], utc: bool
) -> None:
    argv = ["--ledger", str(ledger), "--since", "0001-01-01", "--until", "9999-12-31", "--format", "json"]
    code, out, err = report_of(capsys, *argv, *(["--utc"] if utc else []))
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["total"]["requests"] == len(CALLS)
    assert report["since"].startswith("0001-01-01T00:00:00")
    assert report["until"].startswith("9999-12-31T23:59:59.999999")


YEAR_999 = datetime(999, 6, 1, 12, tzinfo=timezone.utc).timestamp()


def test_years_below_1000_keep_four_digits_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        sink(record(timestamp=YEAR_999))
        sink(record(timestamp=YEAR_999 + DAY))
    period = ["--since", "0999-01-01", "--until", "0999-12-31", "--utc", "--by", "day"]
    base = ["--ledger", str(path), *period]
    code, table, _ = report_of(capsys, *base)
    assert code == 0
    assert "tokentrace report: 0999-01-01 00:00 to 1000-01-01 00:00 (UTC)" in table
    rows_by_day = table_rows(table)
    assert rows_by_day["0999-06-01"][0] == rows_by_day["0999-06-02"][0] == "1"  # one call each
    report = json.loads(report_of(capsys, *base, "--format", "json")[1])
    assert (report["since"], report["until"]) == ("0999-01-01T00:00:00+00:00", "1000-01-01T00:00:00+00:00")
    assert [group["key"] for group in report["groups"]] == ["0999-06-01", "0999-06-02"]
    rows = list(csv.reader(io.StringIO(report_of(capsys, *base, "--format", "csv")[1])))
    assert [row[0] for row in rows[1:3]] == ["0999-06-01", "0999-06-02"]
    page = tmp_path / "report.html"
    assert report_of(capsys, *base, "--html", str(page))[0] == 0
    html = page.read_text(encoding="utf-8")
    assert "0999-01-01 00:00 to 1000-01-01 00:00 (UTC)" in html
    assert " 999-01-01" not in html and ">999-" not in html


# -- no ledger, no calls, not a ledger ----------------------------------------------------------


def test_missing_ledger_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = report_of(capsys, "--ledger", str(tmp_path / "none.sqlite3"))
    assert code == 1
    assert out == ""
    assert f"no ledger at {tmp_path / 'none.sqlite3'}" in err
    assert not (tmp_path / "none.sqlite3").exists()


def test_default_ledger_location_is_named_when_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_command, "default_ledger_path", lambda: tmp_path / "x" / "ledger.sqlite3")
    code, _, err = report_of(capsys)
    assert code == 1
    assert str(tmp_path / "x" / "ledger.sqlite3") in err
    assert "--ledger" in err


def test_ledger_named_by_the_environment(
    ledger: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENTRACE_LEDGER", str(ledger))
    code, out, _ = report_of(capsys, "--since", "all", "--format", "json")
    assert code == 0
    assert json.loads(out)["ledger"] == str(ledger)
    monkeypatch.setenv("TOKENTRACE_LEDGER", "1")  # on, at the default location
    monkeypatch.setattr(report_command, "default_ledger_path", lambda: ledger)
    assert report_of(capsys, "--since", "all")[0] == 0


def test_no_calls_in_the_period_is_exit_0(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report_of(capsys, "--ledger", str(ledger), "--since", "1h")
    assert code == 0
    assert "no calls recorded in this period" in out
    code, out, _ = report_of(capsys, "--ledger", str(ledger), "--since", "1h", "--format", "json")
    assert json.loads(out)["total"]["requests"] == 0
    code, out, _ = report_of(capsys, "--ledger", str(ledger), "--since", "1h", "--format", "csv")
    assert out == "model," + ",".join(TOTAL) + "\n"


def test_not_a_ledger_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 1000)
    code, _, err = report_of(capsys, "--ledger", str(path))
    assert code == 2
    assert str(path) in err
    assert "not a tokentrace ledger" in err


# -- HTML -------------------------------------------------------------------------------------------


def test_html_page(ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "report.html"
    code, _, err = report_of(capsys, "--ledger", str(ledger), "--since", "all", "--html", str(page))
    assert code == 0
    assert f"wrote {page}" in err
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 1
    assert html.count('class="bar"') == 2  # two groups with a known cost; the unknown ones have no bar
    for figure in (
        "$0.0043",
        "3 calls with unknown cost",
        "6",
        "30.000 s",
        "2,510 in, 260 out",
        "gpt-4.1-2025-04-14",
    ):
        assert figure in html, figure
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from anywhere


def test_html_by_day_and_escaping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        sink(record(tracking_id="<script>alert(1)</script>"))
        sink(record(timestamp=T0 + 2 * DAY))
    page = tmp_path / "day.html"
    assert (
        report_of(capsys, "--ledger", str(path), "--since", "all", "--by", "day", "--html", str(page))[0] == 0
    )
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 1
    assert html.count('class="bar"') == 3  # one column per day, the empty day included
    page = tmp_path / "tracking.html"
    assert (
        report_of(
            capsys, "--ledger", str(path), "--since", "all", "--by", "tracking-id", "--html", str(page)
        )[0]
        == 0
    )
    html = page.read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_that_cannot_be_written_is_exit_1(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = report_of(
        capsys, "--ledger", str(ledger), "--since", "all", "--html", str(tmp_path / "no" / "dir.html")
    )
    assert code == 1
    assert "cannot write" in err


# -- large ledgers, imports -------------------------------------------------------------------------


def test_progress_on_a_terminal_for_large_ledgers(
    ledger: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_command, "PROGRESS_OVER", 3)
    monkeypatch.setattr(report_command, "_PROGRESS_EVERY", 2)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = report_of(capsys, "--ledger", str(ledger), "--since", "all", "--format", "json")
    assert code == 0
    assert "\rreading the ledger: 2 of 6 calls (33%)" in err
    assert "\rreading the ledger: 6 of 6 calls (100%)" in err
    assert err.endswith("\r\033[K")  # the counter is wiped once done
    assert json.loads(out)["total"]["requests"] == 6


def test_no_progress_when_stderr_is_not_a_terminal(
    ledger: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_command, "PROGRESS_OVER", 3)
    code, _, err = report_of(capsys, "--ledger", str(ledger), "--since", "all")
    assert code == 0
    assert err == ""


def test_the_command_never_imports_patches_or_the_sdk(ledger: Path) -> None:
    code = (
        "import sys\n"
        "from tokentrace.cli import main\n"
        f"assert main(['report', '--ledger', {str(ledger)!r}, '--since', 'all', '--format', 'json']) == 0\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('tokentrace.patches', 'opentelemetry.sdk', 'openai')))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["cost_usd"] == "0.004342"


def test_fallbacks_are_counted_where_the_calls_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite3"
    with LedgerSink(path) as sink:
        sink(
            record(
                timestamp=T0, request_model="deepseek-v3.2", response_model=None, error_type="RateLimitError"
            )
        )
        sink(
            record(
                timestamp=T0 + 1,
                request_model="gemini-2.5-flash",
                response_model=None,
                fallback_from="deepseek-v3.2",
            )
        )
        sink(record(timestamp=T0 + 2, request_model="gemini-2.5-flash", response_model=None))
    report = summarize(read_calls(path), "model")
    assert {g.key: g.figures.fallbacks for g in report.groups} == {"gemini-2.5-flash": 1, "deepseek-v3.2": 0}
    assert report.total.fallbacks == 1
    text = render_text(report, 120)
    assert table_header(text).split()[-1] == "fallbacks"
    assert table_rows(text)["gemini-2.5-flash"][-1] == "1"
    without = summarize([row for row in read_calls(path) if row.fallback_from is None], "model")
    assert "fallbacks" not in table_header(
        render_text(without, 120)
    )  # the column only when it says something
    code, out, _ = report_of(capsys, "--ledger", str(path), "--since", "all", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["fallbacks"] == 1
    assert "<th>fallbacks</th>" in render_html(report)
    assert "<th>fallbacks</th>" not in render_html(without)
