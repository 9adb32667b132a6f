"""Pictures for docs/where-to-see-it.md: Prometheus's graph of a cost query and Phoenix's trace view.

Run by hand (``bash scripts/e2e.sh --screenshots``), not in CI. Starts Prometheus and Phoenix on
loopback, runs the e2e app's workload a few times a few seconds apart (so the graph has steps),
then takes each page with headless Chromium and writes docs/img/*.png. Look at them before
committing: a picture of an error page is still a picture.

    python -m tests.e2e.screenshots [--out docs/img]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from .backends import REPO, App, Phoenix, Prometheus, free_port, prometheus_config, tool, wait_for
from .conftest import ALERT_RULES, APP_JOB, PROJECT, SERVICE

ROUNDS = 6
PAUSE = 4.0  # seconds between rounds: steps a person can see on a 2-minute graph
COST_QUERY = "sum by (gen_ai_request_model, tokentrace_tracking_id) (gen_ai_client_cost_USD_total)"
WINDOW = "--window-size=1400,900"


def chromium_screenshot(url: str, out: Path) -> None:
    binary = shutil.which("chromium") or tool("chromium-browser")
    subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=15000",  # let the page's scripts fetch and draw first
            f"--screenshot={out}",
            WINDOW,
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="tokentrace-screens-") as tmp:
        workdir = Path(tmp)
        metrics_port = free_port()
        config = prometheus_config(f"127.0.0.1:{metrics_port}", [ALERT_RULES])
        with (
            Prometheus.running(workdir / "prometheus", config) as prometheus,
            Phoenix.running(workdir / "phoenix") as phoenix,
        ):
            env = {
                "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.url,
                "OTEL_SERVICE_NAME": SERVICE,
                "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PROJECT}",
            }
            with App.running(workdir / "app", metrics_port, env, rounds=ROUNDS, pause=PAUSE) as app:
                calls = f'sum(gen_ai_client_operation_duration_seconds_count{{job="{APP_JOB}"}})'
                wait_for(
                    lambda: float(prometheus.query(calls)[0]["value"][1]) == len(app.calls),
                    timeout=30,
                    what="the last round in Prometheus",
                )
                graph = urlencode(
                    {"g0.expr": COST_QUERY, "g0.tab": "0", "g0.stacked": "0", "g0.range_input": "30s"}
                )
                chromium_screenshot(f"{prometheus.url}/graph?{graph}", args.out / "prometheus-cost.png")

                spans = wait_for(
                    lambda: (found := phoenix.spans(PROJECT)) and len(found) >= ROUNDS * 11 and found,
                    timeout=60,
                    what="every span in Phoenix",
                )
                trace_id = app.done["trace_ids"][-1]
                chosen = next(
                    s
                    for s in spans
                    if s["context"]["trace_id"] == trace_id
                    and s["name"] == "chat gpt-4.1"
                    and "gen_ai.usage.cost.amount" in s["attributes"]
                )
                project_id = phoenix.project_id(PROJECT)
                query = urlencode({"selectedSpanNodeId": chosen["id"]})
                chromium_screenshot(
                    f"{phoenix.url}/projects/{project_id}/traces/{trace_id}?{query}",
                    args.out / "phoenix-trace.png",
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
