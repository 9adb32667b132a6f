"""What a user sees in Arize Phoenix: the workload's spans, sent over OTLP/HTTP, read back.

Phoenix prices tokens with its own table; our cost is the raw ``gen_ai.usage.cost.amount``
attribute we sent, and that is what is checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from .app import FEATURE_SPAN_PREFIX, UNPRICED_MODEL, WORKLOAD_SPAN
from .backends import App, Phoenix, wait_for
from .conftest import PROJECT
from .expected import call_cost

pytestmark = pytest.mark.e2e

FEATURE_SPANS = 2


@pytest.fixture(scope="module")
def spans(phoenix: Phoenix, app: App) -> list[dict[str, Any]]:
    wanted = 1 + FEATURE_SPANS + len(app.calls)
    return wait_for(
        lambda: (found := phoenix.spans(PROJECT)) and len(found) >= wanted and found,
        timeout=60,
        what=f"{wanted} spans in Phoenix project {PROJECT}",
    )


def _llm_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if "gen_ai.operation.name" in s["attributes"]]


def test_one_llm_span_per_call_with_our_usage_cost_and_tracking_id(
    spans: list[dict[str, Any]], app: App
) -> None:
    llm = _llm_spans(spans)
    assert len(llm) == len(app.calls)

    def key(tracking_id: str, model: str, input_tokens: Any, output_tokens: Any) -> tuple[Any, ...]:
        return (tracking_id, model, input_tokens, output_tokens)

    sent = Counter(
        key(c["tracking_id"], c["model"], c.get("input_tokens"), c.get("output_tokens")) for c in app.calls
    )
    stored = Counter(
        key(
            s["attributes"].get("tokentrace.tracking_id"),
            s["attributes"].get("gen_ai.request.model"),
            s["attributes"].get("gen_ai.usage.input_tokens"),
            s["attributes"].get("gen_ai.usage.output_tokens"),
        )
        for s in llm
    )
    assert stored == sent

    for call in app.calls:
        span = next(
            s
            for s in llm
            if s["attributes"].get("tokentrace.tracking_id") == call["tracking_id"]
            and s["attributes"].get("gen_ai.request.model") == call["model"]
            and s["attributes"].get("gen_ai.usage.input_tokens") == call.get("input_tokens")
            and s["attributes"].get("error.type") == call["error"]
        )
        attributes = span["attributes"]
        assert span["name"] == f"chat {call['model']}"
        assert attributes["gen_ai.operation.name"] == "chat"
        cost = call_cost(call)
        if cost is not None:
            assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(cost, rel=1e-12)
            assert attributes["gen_ai.usage.cost.currency"] == "USD"
            assert attributes["gen_ai.usage.cost.source"] == "local"
            assert span["status_code"] != "ERROR"
        else:
            assert "gen_ai.usage.cost.amount" not in attributes  # unknown, never a made-up 0
        if call["error"] is not None:
            assert span["status_code"] == "ERROR"
            assert attributes["tokentrace.cost.unknown_reason"] == "error"
        elif call["model"] == UNPRICED_MODEL:
            assert attributes["tokentrace.cost.unpriced"] is True
            assert attributes["tokentrace.cost.unknown_reason"] == "unpriced_model"


def test_llm_spans_sit_under_the_app_spans_in_one_trace(spans: list[dict[str, Any]], app: App) -> None:
    (trace_id,) = app.done["trace_ids"]
    assert {s["context"]["trace_id"] for s in spans} == {trace_id}

    (root,) = [s for s in spans if s["name"] == WORKLOAD_SPAN]
    assert root["parent_id"] is None
    features = {
        s["name"].removeprefix(FEATURE_SPAN_PREFIX): s
        for s in spans
        if s["name"].startswith(FEATURE_SPAN_PREFIX)
    }
    assert set(features) == {"support-bot", "nightly-report"}
    for feature in features.values():
        assert feature["parent_id"] == root["context"]["span_id"]
    for span in _llm_spans(spans):
        tracking_id = span["attributes"]["tokentrace.tracking_id"]
        assert span["parent_id"] == features[tracking_id]["context"]["span_id"], span["name"]
        assert span["span_kind"] == "LLM"  # Phoenix recognised the GenAI span


def test_the_resource_attribute_picked_the_project(phoenix: Phoenix, spans: list[dict[str, Any]]) -> None:
    assert phoenix.project_id(PROJECT)
    assert phoenix.spans("default") == []
