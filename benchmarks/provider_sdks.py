"""What tokentrace adds to a Gemini call (google-genai) and an Anthropic call (anthropic), beside
an OpenAI call and beside the peer instrumentations of those SDKs.

    python3 benchmarks/provider_sdks.py [--quick] [--rows a,b] [--no-instructions] [--reinstall]

Standard library only; it reuses the OpenAI harness (``benchmarks/peers``): its venvs under
``benchmarks/.venvs/``, its workers (``"suite": "providers"`` switches them to the scenarios of
``peers/provider_scenarios.py``), its alternated CPU-time rounds and its callgrind counting. The
rows and their venvs are in ``peers/provider_catalog.py``; every call goes through the SDK's own
client on an httpx2 ``MockTransport`` answering canned bodies in the provider's shape.

The judge is instructions per call (``valgrind --tool=callgrind``, two run lengths, the
difference over the difference in calls), which a shared machine's load does not move; CPU µs
per call from alternated blocks goes beside it. Writes ``benchmarks/RESULTS-providers.md``; the
raw numbers and every worker's log go to ``benchmarks/.venvs/logs/providers-<time>/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

from peers import instructions, provider_catalog, provider_report, venvs
from peers.__main__ import _machine, _repetition, _revision
from peers.catalog import Peer
from peers.runner import BENCH_DIR, REPO, VENV_ROOT, Runner

_SUITE = {"suite": "providers"}
_FULL: dict[str, Any] = {
    "reps": 3,
    "rounds": 15,
    "warmup": 30,
    # Calls per block: about 50 ms each, so paired blocks stay close in time.
    "calls": {
        "openai": {"mock": 50},
        "gemini": {"mock": 50},
        "gemini-stream": {"mock": 12},
        "anthropic": {"mock": 80},
    },
}
_QUICK: dict[str, Any] = {**_FULL, "reps": 2, "rounds": 4, "warmup": 10}

COUNTS = (
    *(
        instructions.Count(s.key, {**_SUITE, "scenario": s.key}, (10, 110))
        for s in provider_catalog.SCENARIOS
    ),
    instructions.Count(
        provider_report.LONG_STREAM,
        {**_SUITE, "scenario": "gemini-stream", "chunks": provider_catalog.LONG_STREAM_CHUNKS},
        (2, 12),
        warmup=2,
    ),
)


def _applies(peer: Peer, count: instructions.Count) -> bool:
    return str(count.config["scenario"]) in provider_catalog.scenarios_of(peer.key)


class _NoServer:
    """The OpenAI harness resets its loopback server after each round; these scenarios have none."""

    def reset(self) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 benchmarks/provider_sdks.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds (indicative CPU times only)")
    parser.add_argument("--rows", help="comma-separated row keys (default: all); their baselines are added")
    parser.add_argument("--no-instructions", action="store_true", help="skip the callgrind counts")
    parser.add_argument("--no-times", action="store_true", help="skip the CPU-time rounds")
    parser.add_argument("--reinstall", action="store_true", help="recreate the venvs")
    parser.add_argument("--output", default=str(BENCH_DIR / "RESULTS-providers.md"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    config = json.loads(json.dumps(_QUICK if args.quick else _FULL))
    rows = list(provider_catalog.ROWS)
    if args.rows:
        wanted = set(args.rows.split(","))
        known = {r.peer.key for r in rows}
        if wanted - known:
            parser.error(f"unknown rows {sorted(wanted - known)}; known: {sorted(known)}")
        wanted |= {r.peer.baseline for r in rows if r.peer.key in wanted and r.peer.baseline}
        rows = [r for r in rows if r.peer.key in wanted]
    peers = [r.peer for r in rows]

    VENV_ROOT.mkdir(exist_ok=True)
    print("venvs (benchmarks/.venvs/):", flush=True)
    needed = list(dict.fromkeys(p.venv for p in peers))
    for name in needed:
        venvs.ensure(provider_catalog.VENVS[name], VENV_ROOT, REPO, sys.executable, args.reinstall)
    stamp = datetime.datetime.now(datetime.timezone.utc)
    log_dir = VENV_ROOT / "logs" / f"providers-{stamp.strftime('%Y%m%dT%H%M%SZ')}"
    log_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(log_dir)
    versions = {
        name: runner.run(
            Peer("versions", "", name, None),
            "versions",
            {"packages": list(provider_catalog.VENVS[name].packages)},
            name,
        )
        for name in needed
    }

    # One call of each scenario per row (checked: text and usage), which also byte-compiles the venvs.
    print("check: one checked call per row and scenario", flush=True)
    for row in rows:
        for key in row.scenarios:
            result = runner.run(
                row.peer, "count", {**_SUITE, "scenario": key, "calls": 0, "warmup": 1}, f"check-{key}"
            )
            if result is None or "skipped" in result:
                raise SystemExit(f"{row.peer.key} {key}: {result or 'failed'} (logs: {log_dir})")

    bench: dict[str, list[Any]] = {p.key: [] for p in peers}
    skipped: dict[str, str] = {}
    loads: list[float] = []
    if not args.no_times:
        bench_config = {**_SUITE, "transports": ["mock"], "warmup": config["warmup"]}
        for rep in range(config["reps"]):
            rep_start = time.monotonic()
            order = peers[rep % len(peers) :] + peers[: rep % len(peers)]
            result = _repetition(runner, order, config, bench_config, _NoServer(), rep, skipped, loads)  # type: ignore[arg-type]
            for peer in peers:
                bench[peer.key].append(result.get(peer.key))
            print(f"repetition {rep + 1}/{config['reps']}: {time.monotonic() - rep_start:.0f} s", flush=True)

    counted = None
    if not args.no_instructions and instructions.available():
        print("instructions: callgrind counts per call, two workers at a time", flush=True)
        counted = instructions.measure(runner, peers, COUNTS, _applies)

    raw = {
        "mode": "quick" if args.quick else "full",
        "config": config,
        "date": stamp.strftime("%Y-%m-%d %H:%M UTC"),
        "runtime_s": time.monotonic() - started,
        "machine": {**_machine(), "load_average_during_rounds": loads},
        "tokentrace_revision": _revision(),
        "versions": versions,
        "rows": [p.key for p in peers],
        "skipped": skipped,
        "failures": runner.failures,
        "bench": bench,
        "instructions": counted,
    }
    (log_dir / "results.json").write_text(json.dumps(raw, indent=1))
    output = Path(args.output)
    provider_report.write(raw, output)
    print(f"report: {output} ({(time.monotonic() - started) / 60:.1f} min); raw data: {log_dir}", flush=True)
    for failure in runner.failures:
        print(f"  failure: {failure}", flush=True)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
