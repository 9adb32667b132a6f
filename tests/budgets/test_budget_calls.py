"""Budgets on real calls: refused before anything is sent, warned, downgraded, charged after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests

import tokentrace
from tests.conftest import Telemetry
from tokentrace.activation import set_budgets
from tokentrace.demo.server import DevServer

MESSAGES = [{"role": "user", "content": "How much does this cost"}]
ONE_CALL_USD = (8 * 2 + 7 * 8) / 1e6  # gpt-4.1 at the devserver's counts: 8 in, 7 out


@pytest.fixture(autouse=True)
def no_budgets_after() -> Iterator[None]:
    yield
    set_budgets([])


def client(server: DevServer) -> Any:
    server.reset()
    return openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)


def test_exhausted_budget_refuses_before_sending(
    instrument: Any, telemetry: Telemetry, server: DevServer
) -> None:
    instrument(budgets=[tokentrace.Budget(limit_usd=ONE_CALL_USD * 1.5, window="day")])
    sdk = client(server)
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)  # spent < limit still: admitted
    with pytest.raises(tokentrace.BudgetExceededError) as caught:
        sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(server.requests) == 2  # the refused call never reached the server
    error = caught.value
    assert float(error.limit) == pytest.approx(ONE_CALL_USD * 1.5)
    assert float(error.spent) == pytest.approx(2 * ONE_CALL_USD)
    assert "window day" in str(error)
    refused = telemetry.spans()[-1]
    attrs = dict(refused.attributes or {})
    assert attrs["error.type"] == "BudgetExceededError"
    assert "gen_ai.usage.cost.amount" not in attrs
    assert "tokentrace.cost.unknown_reason" not in attrs  # refused: cost is zero, not unknown
    (event,) = [e for e in refused.events if e.name == "tokentrace.budget"]
    assert (event.attributes or {})["tokentrace.budget.outcome"] == "refused"
    (state,) = tokentrace.budget_states()
    assert float(state.spent) == pytest.approx(2 * ONE_CALL_USD)


def test_plain_http_is_refused_too(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    instrument(budgets=[tokentrace.Budget(limit_tokens=10, window="month", tracking_id="batch")])
    server.reset()
    url = f"{server.base_url}/chat/completions"
    with tokentrace.track("batch"):
        requests.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}, timeout=30)  # 15 tokens
        with pytest.raises(tokentrace.BudgetExceededError):
            requests.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}, timeout=30)
    requests.post(url, json={"model": "gpt-4.1", "messages": MESSAGES}, timeout=30)  # other scope: fine
    assert len(server.requests) == 2


def test_warn_lets_the_call_through(
    instrument: Any, telemetry: Telemetry, server: DevServer, caplog: Any
) -> None:
    instrument(budgets=[tokentrace.Budget(limit_usd="0.0000001", action="warn")])
    sdk = client(server)
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(server.requests) == 3
    events = [e for s in telemetry.spans() for e in s.events if e.name == "tokentrace.budget"]
    assert [(e.attributes or {})["tokentrace.budget.outcome"] for e in events] == ["warned", "warned"]
    assert sum("over its limit" in r.getMessage() for r in caplog.records) == 1  # once per window


def test_downgrade_switches_the_model_and_says_so(
    instrument: Any, telemetry: Telemetry, server: DevServer
) -> None:
    instrument(
        budgets=[
            tokentrace.Budget(
                limit_usd=ONE_CALL_USD / 2, model="gpt-4.1", action="downgrade", downgrade_to="gpt-4.1-mini"
            )
        ]
    )
    sdk = client(server)
    messages = [{"role": "user", "content": "How much does this cost"}]
    sdk.chat.completions.create(model="gpt-4.1", messages=messages)
    result = sdk.chat.completions.create(model="gpt-4.1", messages=messages)
    assert [r.json["model"] for r in server.requests] == ["gpt-4.1", "gpt-4.1-mini"]
    assert result.model.startswith("gpt-4.1-mini")
    assert messages == [{"role": "user", "content": "How much does this cost"}]
    span = telemetry.spans()[-1]
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-4.1-mini"
    assert attrs["gen_ai.request.model"] == "gpt-4.1-mini"
    assert attrs["tokentrace.budget.downgraded_from"] == "gpt-4.1"
    assert [(e.attributes or {})["tokentrace.budget.outcome"] for e in span.events] == ["downgraded"]


def test_precheck_refuses_a_call_whose_worst_case_crosses(
    instrument: Any, telemetry: Telemetry, server: DevServer
) -> None:
    instrument(budgets=[tokentrace.Budget(limit_usd="0.001", precheck=True)])
    sdk = client(server)
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES, max_tokens=50)  # worst case ~ $0.0004
    with pytest.raises(tokentrace.BudgetExceededError, match="could take it to"):
        sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES, max_tokens=1000)  # worst ~ $0.008
    assert len(server.requests) == 1


def test_budget_metrics(instrument: Any, telemetry: Telemetry, server: DevServer) -> None:
    instrument(budgets=[tokentrace.Budget(limit_usd="1.00", name="monthly")])
    client(server).chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    metrics = telemetry.metrics()
    (remaining,) = metrics["tokentrace.budget.remaining"]
    assert remaining.attributes == {"tokentrace.budget.name": "monthly"}
    assert remaining.value == pytest.approx(1.0 - ONE_CALL_USD)
    (spent,) = metrics["tokentrace.budget.spent"]
    assert spent.value == pytest.approx(ONE_CALL_USD)
    assert telemetry.metric("tokentrace.budget.remaining").unit == "USD"
