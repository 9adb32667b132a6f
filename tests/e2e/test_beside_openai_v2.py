"""Beside the official openai-v2 instrumentation, Prometheus sums every token once (issue 18).

The same app and workload as ``test_prometheus.py``, with ``opentelemetry-instrumentation-openai-v2``
switched on too, as ``opentelemetry-instrument`` does when both are installed. Its spans go nowhere
(``OTEL_TRACES_EXPORTER=none``): only the metrics are the question here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .backends import App, Prometheus, free_port, prometheus_config, wait_for
from .conftest import APP_JOB

pytestmark = pytest.mark.e2e

JOB = f'job="{APP_JOB}"'


@pytest.fixture(scope="module")
def app_beside_openai_v2(workdir: Path) -> Iterator[App]:
    port = free_port()
    env = {
        "OTEL_SERVICE_NAME": "tokentrace-e2e-openai-v2",
        "OTEL_TRACES_EXPORTER": "none",
        "TOKENTRACE_LEDGER": "off",
    }
    with App.running(workdir / "app-openai-v2", port, env, options=["--with-openai-v2"]) as running:
        assert not running.done["server_errors"], running.done["server_errors"]
        yield running


@pytest.fixture(scope="module")
def prometheus_beside_openai_v2(workdir: Path, app_beside_openai_v2: App) -> Iterator[Prometheus]:
    target = app_beside_openai_v2.metrics_url.split("/")[2]
    with Prometheus.running(workdir / "prometheus-openai-v2", prometheus_config(target, [])) as server:
        wait_for(
            lambda: server.query(f"gen_ai_client_cost_USD_total{{{JOB}}}"),
            timeout=60,
            what="the app's cost series in Prometheus",
        )
        yield server


def test_token_sum_is_the_servers_tokens_once(
    prometheus_beside_openai_v2: Prometheus, app_beside_openai_v2: App
) -> None:
    served = sum(
        call["input_tokens"] + call["output_tokens"]
        for call in app_beside_openai_v2.calls
        if call["error"] is None
    )
    assert served > 0
    scopes = prometheus_beside_openai_v2.query_by(
        f"sum by (otel_scope_name) (gen_ai_client_token_usage_sum{{{JOB}}})", "otel_scope_name"
    )
    assert len(scopes) == 2, scopes  # both recorded tokens: openai-v2 for SDK calls, tokentrace for requests
    total = prometheus_beside_openai_v2.query(f"sum(gen_ai_client_token_usage_sum{{{JOB}}})")
    assert float(total[0]["value"][1]) == served
    calls = prometheus_beside_openai_v2.query(f"sum(gen_ai_client_operation_duration_seconds_count{{{JOB}}})")
    assert float(calls[0]["value"][1]) == len(app_beside_openai_v2.calls)
