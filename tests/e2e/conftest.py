"""End-to-end fixtures: real Prometheus and Phoenix, and the instrumented app feeding both.

These tests run only when selected with ``-m e2e`` (``scripts/e2e.sh`` installs the backends and
does so); a plain ``pytest`` run skips them. Once selected, a missing backend is an error, not a
skip, so CI cannot pass without having run them.

One session: Phoenix starts, the app runs its workload once (spans over OTLP/HTTP to Phoenix,
metrics on a loopback /metrics port), Prometheus scrapes it every second. Every fixture stops
what it started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .backends import DEPLOY, App, Phoenix, Prometheus, free_port, prometheus_config, wait_for

PROJECT = "tokentrace-e2e"
SERVICE = "tokentrace-e2e-app"
APP_JOB = "tokentrace-app"
ALERT_RULES = DEPLOY / "tokentrace-alerts.yml"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end to end against real Prometheus and Phoenix (scripts/e2e.sh runs them)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "e2e" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="end-to-end test: run scripts/e2e.sh (pytest -m e2e tests/e2e)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def phoenix(workdir: Path) -> Iterator[Phoenix]:
    with Phoenix.running(workdir / "phoenix") as server:
        yield server


@pytest.fixture(scope="session")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def app(workdir: Path, phoenix: Phoenix, metrics_port: int) -> Iterator[App]:
    env = {
        # what the docs tell a user to set: tokentrace.instrument() reads these
        "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.url,
        "OTEL_SERVICE_NAME": SERVICE,
        "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PROJECT}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        # opt-in: the per-call cost histogram, checked against the counter in Prometheus
        "TOKENTRACE_COST_HISTOGRAM": "true",
    }
    with App.running(workdir / "app", metrics_port, env) as running:
        assert running.done["spans_flushed"], "the app could not export its spans to Phoenix"
        assert not running.done["server_errors"], running.done["server_errors"]
        yield running


@pytest.fixture(scope="session")
def prometheus(workdir: Path, app: App, metrics_port: int) -> Iterator[Prometheus]:
    config = prometheus_config(f"127.0.0.1:{metrics_port}", [ALERT_RULES])
    with Prometheus.running(workdir / "prometheus", config) as server:
        # The first scrape becomes queryable a few seconds after start: poll, never sleep.
        wait_for(
            lambda: (
                server.query(f'gen_ai_client_cost_USD_total{{job="{APP_JOB}"}}')
                and server.query(f'tokentrace_calls_cost_unknown_total{{job="{APP_JOB}"}}')
            ),
            timeout=60,
            what="the app's cost series in Prometheus",
        )
        yield server
