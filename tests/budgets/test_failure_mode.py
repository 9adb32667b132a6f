"""A budget that cannot decide still decides: ``budget_failure_mode`` open or closed.

When checking a call's budgets fails inside tokentrace, the call used to go out unchecked with no
span and no ledger row (the whole call skeleton gave up). Now ``open`` (the default) sends it,
recorded and charged like any call, and says so once in the log; ``closed`` refuses it with
`BudgetUnavailableError` before anything is sent, recorded like any refusal.
"""

from __future__ import annotations

import decimal
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import requests

import tokentrace
from tests.conftest import Telemetry
from tokentrace.activation import instrumentation
from tokentrace.budgets import book, budget, gate
from tokentrace.demo.server import DevServer
from tokentrace.ledger import read_calls

MESSAGES = [{"role": "user", "content": "How much does this cost"}]
ONE_CALL_USD = decimal.Decimal(8 * 2 + 7 * 8) / 1_000_000  # gpt-4.1 at the devserver's counts: 8 in, 7 out


@pytest.fixture(autouse=True)
def _fresh(server: DevServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server.reset()
    monkeypatch.setattr(gate, "_failures_reported", set())
    yield
    instrumentation().set_budgets([])


@pytest.fixture
def production_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Internal errors logged, not raised: what an application sees."""
    monkeypatch.setenv("TOKENTRACE_RAISE_INTERNAL_ERRORS", "0")


def broken_check(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("simulated budget bug")


def calls(server: DevServer) -> list[Any]:
    """Three calls: two through the SDK, one plain ``requests`` POST."""
    sdk: Any = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=10)
    url = f"{server.base_url}/chat/completions"
    return [
        lambda: sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES),
        lambda: sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES),
        lambda: requests.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}, timeout=30).json(),
    ]


def ledger_rows(path: Path) -> list[Any]:
    assert instrumentation().ledger.flush()
    return list(read_calls(path))


def test_open_sends_the_call_recorded_and_charged(
    instrument: Any,
    telemetry: Telemetry,
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    production_mode: None,
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    instrument(ledger=str(ledger), budgets=[tokentrace.Budget(limit_usd="1")])
    monkeypatch.setattr(book.BudgetBook, "check", broken_check)
    caplog.set_level(logging.WARNING, logger="tokentrace")
    for call in calls(server):
        call()
    assert len(server.requests) == 3
    spans = telemetry.spans()
    assert len(spans) == 3
    assert all("error.type" not in (s.attributes or {}) for s in spans)
    assert all((s.attributes or {})["gen_ai.usage.cost.source"] == "local" for s in spans)
    assert len(ledger_rows(ledger)) == 3
    (state,) = tokentrace.budget_states()
    assert state.spent == 3 * ONE_CALL_USD  # charged after the call, as if no budget had been checked
    said = [r.getMessage() for r in caplog.records if "could not be checked" in r.getMessage()]
    assert len(said) == 1, said
    assert "RuntimeError: simulated budget bug" in said[0] and "budget_failure_mode=open" in said[0]


def test_under_the_test_suite_a_failing_check_surfaces(
    instrument: Any, server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    instrument(budgets=[tokentrace.Budget(limit_usd="1")])
    monkeypatch.setattr(book.BudgetBook, "check", broken_check)
    with pytest.raises(RuntimeError, match="simulated budget bug"):
        calls(server)[0]()


def test_closed_refuses_with_a_clear_error(
    instrument: Any, telemetry: Telemetry, server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    instrument(ledger=str(ledger), budgets=[tokentrace.Budget(limit_usd="1")], budget_failure_mode="closed")
    monkeypatch.setattr(book.BudgetBook, "check", broken_check)
    before = _totals()
    errors = []
    for call in calls(server):
        with pytest.raises(tokentrace.BudgetUnavailableError) as refused:
            call()
        errors.append(refused.value)
    assert server.requests == []  # nothing was sent
    error = errors[0]
    assert isinstance(error, tokentrace.BudgetError)
    assert not isinstance(error, tokentrace.BudgetExceededError)
    assert str(error).startswith("the budgets could not be checked (RuntimeError); the call was refused")
    assert isinstance(error.__cause__, RuntimeError)
    assert pickle.loads(pickle.dumps(error)).args == error.args
    spans = telemetry.spans()
    assert [(s.attributes or {})["error.type"] for s in spans] == ["BudgetUnavailableError"] * 3
    for span in spans:
        (event,) = [e for e in span.events if e.name == "tokentrace.budget"]
        assert (event.attributes or {})["tokentrace.budget.outcome"] == "unavailable"
    rows = ledger_rows(ledger)
    # refused before sending, like a budget's own refusal: not an error, and costing nothing
    assert [(row.status, row.error_type, row.cost) for row in rows] == [
        ("refused", "BudgetUnavailableError", 0)
    ] * 3
    after = _totals()
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 3, 0]


def _totals() -> tuple[int, int, int]:
    """Requests, refused calls and errors in the process's summary so far."""
    groups = tokentrace.summary(by=())
    if not groups:
        return (0, 0, 0)
    (group,) = groups
    return (group.requests, group.refused, group.errors)


def test_a_refusal_that_cannot_be_formatted_keeps_its_span_and_row(
    instrument: Any,
    telemetry: Telemetry,
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    production_mode: None,
) -> None:
    # The issue's own failure: formatting a refusal raised decimal.InvalidOperation inside the
    # gate, and every later call went out with no span and no ledger row.
    ledger = tmp_path / "ledger.sqlite3"
    instrument(ledger=str(ledger), budgets=[tokentrace.Budget(limit_usd="0.00001")])
    sdk = calls(server)[0]
    sdk()  # spends the budget
    monkeypatch.setattr(budget, "format_amount", lambda *a: decimal.Decimal("NaN") < 0)
    sdk()  # open: sent, recorded
    assert len(telemetry.spans()) == 2
    instrumentation().budgets.failure_mode = "closed"
    with pytest.raises(tokentrace.BudgetUnavailableError, match=r"\(InvalidOperation\)"):
        sdk()
    assert len(server.requests) == 2
    assert len(telemetry.spans()) == 3
    assert [row.error_type for row in ledger_rows(ledger)] == [None, None, "BudgetUnavailableError"]


def test_the_mode_comes_from_the_environment_too(
    instrument: Any, server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENTRACE_BUDGET_FAILURE_MODE", "Closed")
    instrument(budgets=[tokentrace.Budget(limit_usd="1")])
    assert instrumentation().budgets.failure_mode == "closed"
    monkeypatch.setattr(book.BudgetBook, "check", broken_check)
    with pytest.raises(tokentrace.BudgetUnavailableError):
        calls(server)[2]()


@pytest.mark.parametrize("mode", ["ajar", 1])
def test_an_unknown_mode_is_refused_at_instrument_time(
    instrument: Any, monkeypatch: pytest.MonkeyPatch, mode: Any
) -> None:
    with pytest.raises(
        tokentrace.SettingsError, match=r"instrument\(budget_failure_mode=...\): expected open or closed"
    ):
        instrument(budget_failure_mode=mode)
    monkeypatch.setenv("TOKENTRACE_BUDGET_FAILURE_MODE", str(mode))
    with pytest.raises(
        tokentrace.SettingsError, match="TOKENTRACE_BUDGET_FAILURE_MODE: expected open or closed"
    ):
        instrument()
    with pytest.raises(ValueError, match="open or closed"):
        book.BudgetBook(failure_mode=str(mode))
