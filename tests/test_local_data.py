"""Summaries, the ledger switched on by instrument(), budgets that survive a restart, and the demo."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

import tokentrace
from tests.conftest import Telemetry
from tokentrace.activation import set_budgets
from tokentrace.demo.server import DevServer
from tokentrace.ledger import read_calls
from tokentrace.ledger.paths import ledger_path

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "How much does this cost"}]
ONE_CALL_USD = Decimal(8 * 2 + 7 * 8) / Decimal(10**6)


@pytest.fixture(autouse=True)
def no_budgets_after() -> Iterator[None]:
    yield
    set_budgets([])


def test_ledger_default_follows_otlp_configuration(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert ledger_path(None) == tmp_path / "tokentrace" / "ledger.sqlite3"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert ledger_path(None) is None  # a collector gets the data; the ledger only when asked
    assert ledger_path(True) == tmp_path / "tokentrace" / "ledger.sqlite3"
    assert ledger_path(str(tmp_path / "x.db")) == tmp_path / "x.db"
    assert ledger_path(False) is None
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert ledger_path(None, app_telemetry=True) is None  # the app's own providers get the data
    assert ledger_path(True, app_telemetry=True) is not None


def test_ledger_is_off_by_default_for_apps_with_their_own_providers(
    instrument: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.delenv("TOKENTRACE_LEDGER")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert instrument().ledger is None  # providers handed over: their pipeline has the data
    tokentrace.uninstrument()
    assert instrument(ledger=True).ledger is not None


def test_instrument_writes_the_ledger_and_summaries(
    instrument: Any, telemetry: Telemetry, server: DevServer, tmp_path: Path
) -> None:
    path = tmp_path / "calls.sqlite3"
    instrumentor = instrument(ledger=str(path))
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    with tokentrace.track("alpha"):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert instrumentor.ledger.flush(timeout=10)
    rows = list(read_calls(path))
    assert [(r.tracking_id, r.input_tokens, r.output_tokens, r.cost) for r in rows] == [
        ("alpha", 8, 7, ONE_CALL_USD),
        ("alpha", 8, 7, ONE_CALL_USD),
    ]
    assert rows[0].trace_id == format(telemetry.spans()[0].context.trace_id, "032x")
    groups = {g.key: g for g in tokentrace.summary(by=("tracking_id",))}
    assert groups[("alpha",)].requests >= 2


def test_monthly_budget_survives_a_restart(instrument: Any, server: DevServer, tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    budget = tokentrace.Budget(limit_usd=ONE_CALL_USD * 2, window="month", tracking_id="beta")
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    instrument(ledger=str(path), budgets=[budget])
    with tokentrace.track("beta"):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    tokentrace.uninstrument()  # "restart": the process forgets, the ledger remembers
    set_budgets([])
    instrument(ledger=str(path), budgets=[budget])
    (state,) = tokentrace.budget_states()
    assert state.spent == ONE_CALL_USD * 2
    with tokentrace.track("beta"), pytest.raises(tokentrace.BudgetExceededError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    from tokentrace.demo import run_demo

    out = io.StringIO()
    assert run_demo(out=out, keep=str(tmp_path)) == 0
    text = out.getvalue()
    assert "refused before sending" in text
    assert "support-bot" in text
    assert "nightly-report" in text
    assert (tmp_path / "ledger.sqlite3").exists()
    statuses = [r.status for r in read_calls(tmp_path / "ledger.sqlite3")]
    assert statuses.count("refused") == 1  # the refused call: its own status, no error (issue 18)
    assert statuses.count("error") == 0
    assert len(statuses) >= 5
