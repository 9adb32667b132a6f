"""What a user sees in Prometheus: the workload's exact cost and tokens, by model and tracking id.

Prometheus (the Debian package) scrapes the app's opentelemetry-exporter-prometheus endpoint; the
expected numbers are the server's token counts times list prices (``expected.py``).
"""

from __future__ import annotations

import pytest

from .backends import App, Prometheus, wait_for
from .conftest import APP_JOB
from .expected import Expected, expected_from

pytestmark = pytest.mark.e2e

JOB = f'job="{APP_JOB}"'


@pytest.fixture(scope="module")
def expected(app: App) -> Expected:
    assert {call["tracking_id"] for call in app.calls} == {"support-bot", "nightly-report"}
    assert {call["via"] for call in app.calls} == {"openai", "requests"}
    return expected_from(app.calls)


def test_cost_per_model_is_the_list_price_of_the_tokens_used(
    prometheus: Prometheus, expected: Expected
) -> None:
    got = prometheus.query_by(
        f"sum by (gen_ai_request_model) (gen_ai_client_cost_USD_total{{{JOB}}})", "gen_ai_request_model"
    )
    assert got == pytest.approx(dict(expected.cost_by_model), rel=1e-12)
    assert set(got) == {"gpt-4.1", "gpt-4.1-mini"}  # the unpriced model costs nothing made up


def test_cost_per_tracking_id(prometheus: Prometheus, expected: Expected) -> None:
    got = prometheus.query_by(
        f"sum by (tokentrace_tracking_id) (gen_ai_client_cost_USD_total{{{JOB}}})", "tokentrace_tracking_id"
    )
    assert got == pytest.approx(dict(expected.cost_by_tracking_id), rel=1e-12)


def test_per_call_cost_histogram_adds_up_to_the_counter(prometheus: Prometheus, expected: Expected) -> None:
    total = prometheus.query(f"sum(gen_ai_client_operation_cost_USD_sum{{{JOB}}})")
    assert float(total[0]["value"][1]) == pytest.approx(expected.total_cost, rel=1e-12)
    priced_calls = prometheus.query(f"sum(gen_ai_client_operation_cost_USD_count{{{JOB}}})")
    assert float(priced_calls[0]["value"][1]) == expected.priced_calls


def test_token_sums_by_type_and_tracking_id(prometheus: Prometheus, expected: Expected) -> None:
    by_type = prometheus.query_by(
        f"sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum{{{JOB}}})", "gen_ai_token_type"
    )
    assert by_type == dict(expected.tokens_by_type)

    samples = prometheus.query(
        f"sum by (tokentrace_tracking_id, gen_ai_token_type) (gen_ai_client_token_usage_sum{{{JOB}}})"
    )
    got = {
        (s["metric"]["tokentrace_tracking_id"], s["metric"]["gen_ai_token_type"]): float(s["value"][1])
        for s in samples
    }
    assert got == dict(expected.tokens_by_tracking_id_and_type)


def test_calls_errors_and_unknown_costs_are_counted(prometheus: Prometheus, expected: Expected) -> None:
    calls = prometheus.query_by(
        f"sum by (gen_ai_request_model) (gen_ai_client_operation_duration_seconds_count{{{JOB}}})",
        "gen_ai_request_model",
    )
    assert calls == dict(expected.calls_by_model)

    errors = prometheus.query_by(
        f'sum by (error_type) (gen_ai_client_operation_duration_seconds_count{{{JOB}, error_type!=""}})',
        "error_type",
    )
    assert errors == dict(expected.errors_by_type) == {"InternalServerError": 1, "APITimeoutError": 1}

    unknown = prometheus.query_by(
        f"sum by (tokentrace_cost_unknown_reason) (tokentrace_calls_cost_unknown_total{{{JOB}}})",
        "tokentrace_cost_unknown_reason",
    )
    assert unknown == dict(expected.unknown_by_reason) == {"unpriced_model": 1, "error": 2}


def test_service_name_arrives_on_target_info(prometheus: Prometheus) -> None:
    info = prometheus.query(f"target_info{{{JOB}}}")
    assert [s["metric"]["service_name"] for s in info] == ["tokentrace-e2e-app"]


def test_alert_rules_load_and_evaluate_without_errors(prometheus: Prometheus) -> None:
    rules = wait_for(
        lambda: (r := prometheus.rules()) and all(rule["health"] != "unknown" for rule in r) and r,
        timeout=30,
        what="every alert rule evaluated once",
    )
    assert {rule["name"] for rule in rules} >= {
        "LLMBudgetFastBurn",
        "LLMBudgetSlowBurn",
        "LLMCostUnknownShareHigh",
        "LLMErrorRateHigh",
    }
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
