"""``tokentrace report --prometheus``: the fleet's report from a real Prometheus equals the ledger's.

The e2e app runs its workload with the ledger on; Prometheus scrapes its /metrics. The report read
from Prometheus's counters and the one read from the ledger must agree: requests, errors, timeouts,
tokens and cost (to 1e-9 USD) per model, per tracking id and per provider. Its own app and
Prometheus (no Phoenix): run with ``scripts/e2e.sh`` or ``pytest -m e2e tests/e2e/test_report_prometheus.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tokentrace.cli import main
from tokentrace.report import Report
from tokentrace.report.command import build_report
from tokentrace.report.prometheus import build_prometheus_report

from .backends import App, Prometheus, free_port, prometheus_config, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ledger_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Path]]:
    workdir = tmp_path_factory.mktemp("report-prometheus")
    ledger = workdir / "ledger.sqlite"
    env = {"OTEL_TRACES_EXPORTER": "none", "TOKENTRACE_LEDGER": str(ledger)}
    port = free_port()
    with App.running(workdir / "app", port, env) as running:
        yield running, ledger


@pytest.fixture(scope="module")
def fleet_prometheus(
    tmp_path_factory: pytest.TempPathFactory, ledger_app: tuple[App, Path]
) -> Iterator[Prometheus]:
    app, _ = ledger_app
    target = app.metrics_url.removeprefix("http://").removesuffix("/metrics")
    with Prometheus.running(tmp_path_factory.mktemp("prometheus"), prometheus_config(target, [])) as server:
        yield server


def figures(report: Report) -> dict[str, tuple[Any, ...]]:
    found = {"(total)": report.total}
    found.update({group.key: group.figures for group in report.groups})
    return {
        key: (f.requests, f.errors, f.timeouts, f.input_tokens, f.output_tokens, round(f.cost, 9))
        for key, f in found.items()
    }


@pytest.mark.parametrize("by", ["model", "tracking_id", "provider"])
def test_the_prometheus_report_equals_the_ledger_report(
    ledger_app: tuple[App, Path], fleet_prometheus: Prometheus, by: str
) -> None:
    app, ledger = ledger_app
    calls = len(app.calls)
    wait_for(
        lambda: ledger.exists() and build_report(ledger, "all", None, by, True).total.requests == calls,
        timeout=60,
        what="every call in the ledger",
    )
    from_ledger = build_report(ledger, "all", None, by, True)
    # Prometheus has the final counters once a scrape after the workload is queryable.
    wait_for(
        lambda: build_prometheus_report(fleet_prometheus.url, "1h", None, by, True).total.requests == calls,
        timeout=60,
        what="the workload's counters in Prometheus",
    )
    from_prometheus = build_prometheus_report(fleet_prometheus.url, "1h", None, by, True)
    print(f"\nby {by}: {figures(from_prometheus)}")
    assert figures(from_prometheus) == figures(from_ledger)
    assert abs(from_prometheus.total.cost - from_ledger.total.cost) <= 1e-9
    assert from_ledger.total.cost > 0


def test_the_command_prints_the_fleet_table(
    fleet_prometheus: Prometheus, capsys: pytest.CaptureFixture[str], ledger_app: tuple[App, Path]
) -> None:
    wait_for(
        lambda: (
            build_prometheus_report(fleet_prometheus.url, "1h", None, "model", True).total.requests
            == len(ledger_app[0].calls)
        ),
        timeout=60,
        what="the workload's counters in Prometheus",
    )
    assert main(["report", "--prometheus", fleet_prometheus.url, "--since", "1h", "--by", "model"]) == 0
    out = capsys.readouterr().out
    assert "gpt-4.1-mini" in out
    assert f"Prometheus at {fleet_prometheus.url}" in out
    assert main(["report", "--prometheus", fleet_prometheus.url, "--by", "day"]) == 2
