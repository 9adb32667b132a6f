"""A cost the response carries that no call could cost (a gateway's bug) never reaches a sink.

OpenRouter-style gateways put their own price in ``usage.cost``. One response saying 1e300 USD
once spent every budget for the month, put a 300-digit figure in the report and 1e300 in the cost
counter for the rest of the process. Such a cost is now discarded, logged once per provider, and
the call priced locally (or counted as unknown): the budget still refuses what it should, every
call keeps its span and its ledger row, and the report's total is the calls' real cost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

import tokentrace
from tests.conftest import Telemetry
from tokentrace.activation import instrumentation
from tokentrace.cli import main
from tokentrace.demo.server import DevServer
from tokentrace.demo.server import json as json_reply
from tokentrace.ledger import read_calls

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "how much"}]
PROMPT, COMPLETION = 10, 5
# gpt-4.1 at its list price (USD 2 and 8 per million tokens), which prices a call to 127.0.0.1
LOCAL_COST = Decimal(PROMPT * 2 + COMPLETION * 8) / 1_000_000


@pytest.fixture(autouse=True)
def _fresh(server: DevServer) -> Iterator[None]:
    server.reset()
    yield
    tokentrace.set_prices([])
    instrumentation().set_budgets([])


def reply(cost: Any, model: str = "gpt-4.1", prompt: int = PROMPT, completion: int = COMPLETION) -> Any:
    return json_reply(
        {
            "id": "gen-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "cost": cost,
            },
        }
    )


def client_of(server: DevServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-hostile", max_retries=0, timeout=10)


def report_json(ledger: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["report", "--ledger", str(ledger), "--since", "all", "--format", "json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def counter_total(telemetry: Telemetry) -> float:
    return float(sum(point.value for point in telemetry.metrics()["gen_ai.client.cost"]))


@pytest.mark.parametrize("absurd", [1e300, 1e20], ids=["1e300", "1e20"])
def test_an_absurd_provider_cost_is_discarded_and_the_budget_keeps_deciding(
    instrument: Any,
    telemetry: Telemetry,
    server: DevServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    absurd: float,
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    # Spent by the first call's real cost, whatever the response claims.
    budget = tokentrace.Budget(limit_usd="0.00001", name="monthly")
    instrument(ledger=str(ledger), budgets=[budget])
    client = client_of(server)
    server.script(reply(absurd))
    caplog.set_level(logging.WARNING, logger="tokentrace")
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    refusals = []
    for _ in range(3):
        with pytest.raises(tokentrace.BudgetExceededError) as refused:
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        refusals.append(str(refused.value))
    assert len(server.requests) == 1  # the refused calls were never sent
    assert all("$0.00006 spent of $0.00001" in message for message in refusals), refusals[0]

    spans = telemetry.spans()
    assert len(spans) == 4
    first = dict(spans[0].attributes or {})
    assert first["gen_ai.usage.cost.source"] == "local"
    assert Decimal(str(first["gen_ai.usage.cost.amount"])) == LOCAL_COST
    assert [s.attributes["error.type"] for s in spans[1:] if s.attributes] == ["BudgetExceededError"] * 3
    assert counter_total(telemetry) == pytest.approx(float(LOCAL_COST))
    discarded = [r.getMessage() for r in caplog.records if "cannot cost that much" in r.getMessage()]
    assert len(discarded) == 1 and "'127.0.0.1'" in discarded[0], discarded

    assert instrumentation().ledger.flush()
    rows = list(read_calls(ledger))
    assert sorted(str(row.span_id) for row in rows) == sorted(f"{s.context.span_id:016x}" for s in spans)
    assert [row.cost for row in rows if row.error_type is None] == [LOCAL_COST]
    total = report_json(ledger, capsys)["total"]
    assert (total["requests"], Decimal(total["cost_usd"])) == (4, LOCAL_COST)

    # A new process reads the spend back from the ledger: the real spend, so it refuses as well.
    tokentrace.uninstrument()
    instrument(ledger=str(ledger), budgets=[budget])
    assert [state.spent for state in tokentrace.budget_states()] == [LOCAL_COST]
    with pytest.raises(tokentrace.BudgetExceededError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(telemetry.spans()) == 5


def test_an_absurd_cost_for_a_model_without_a_price_is_unknown(
    instrumented: Telemetry, server: DevServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(reply("1e999999999", model="house-model"))
    caplog.set_level(logging.WARNING, logger="tokentrace")
    client_of(server).chat.completions.create(model="house-model", messages=MESSAGES)
    attributes = dict(instrumented.span().attributes or {})
    assert "gen_ai.usage.cost.amount" not in attributes
    assert attributes["tokentrace.cost.unknown_reason"] == "unpriced_model"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (10, 5)
    assert "gen_ai.client.cost" not in instrumented.metrics()
    message = next(r.getMessage() for r in caplog.records if "cannot cost that much" in r.getMessage())
    assert "$1.000E+999999999" in message  # the log line itself stays short


def test_a_plausible_provider_cost_above_the_floor_is_kept(
    instrumented: Telemetry, server: DevServer
) -> None:
    # 200,000 tokens at USD 12.50: a long call to an expensive model, well within ten times the
    # highest known rate (genai-prices' dearest output price is USD 600 per million tokens).
    server.script(reply(12.5, prompt=150_000, completion=50_000))
    client_of(server).chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    attributes = dict(instrumented.span().attributes or {})
    assert attributes["gen_ai.usage.cost.source"] == "provider"
    assert attributes["gen_ai.usage.cost.amount"] == 12.5


def test_an_override_raises_the_bound(instrumented: Telemetry, server: DevServer) -> None:
    # USD 50 for 15 tokens is absurd at public prices, plausible at a reseller's USD 500,000 per
    # million output tokens that the user told tokentrace about.
    server.script(reply(50))
    client = client_of(server)
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    tokentrace.set_prices(
        [tokentrace.PriceOverride("gold-model", input=Decimal(1000), output=Decimal(500_000))]
    )
    server.script(reply(50))
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    first, second = (dict(s.attributes or {}) for s in instrumented.spans())
    assert first["gen_ai.usage.cost.source"] == "local"
    assert second["gen_ai.usage.cost.source"] == "provider"
    assert second["gen_ai.usage.cost.amount"] == 50.0
