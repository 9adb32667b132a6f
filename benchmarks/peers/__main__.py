"""The one command behind ``bash benchmarks/run.sh``: venvs, loopback server, alternated runs, report.

    python -m peers [--quick] [--reps N] [--rounds N] [--peers a,b,...] [--reinstall] [--no-profile]

(run from ``benchmarks/``; ``run.sh`` does that). Standard library only: everything that imports
a peer runs in that peer's venv, in ``worker`` processes.

Per-call times: each repetition starts one fresh worker per peer and keeps them all alive; each
round then asks every worker, in turn, for one block (about 0.1 s) of each scenario, the peer
order rotated round by round. A peer's block and its baseline's block of the same round are thus
a fraction of a second apart, and a burst of load from other tenants of this machine hits a few
pairs, not a whole peer. Added time is computed per pair, then summarised over all pairs.

Start-up times: a fresh process per measurement, peers alternated. Memory: one long run per peer.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import hashlib
import json
import os
import platform
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import catalog, instructions, report, venvs
from .runner import BENCH_DIR, REPO, VENV_ROOT, WORKER_TIMEOUT, Runner, worker_env

_FULL: dict[str, Any] = {
    "reps": 3,
    "rounds": 15,
    "startup_reps": 7,
    "warmup": 50,
    "calls": {  # per block: about 50 ms each, so paired blocks stay close in time
        "chat": {"mock": 50, "loopback": 25},
        "achat": {"mock": 50, "loopback": 20},
        "stream": {"mock": 10, "loopback": 8},
        "embed": {"mock": 80, "loopback": 30},
        "requests": {"mock": 150, "loopback": 40},
    },
    "memory_warmup": 1000,
    "memory_calls": 50_000,
    "memory_step": 10_000,
    "profile_calls": 6000,
    "ablation_rounds": 30,
}
_QUICK: dict[str, Any] = {
    **_FULL,
    "reps": 2,
    "rounds": 4,
    "startup_reps": 3,
    "warmup": 20,
    "memory_warmup": 500,
    "memory_calls": 5000,
    "memory_step": 1000,
    "profile_calls": 1400,
    "ablation_rounds": 8,
}


class WorkerGone(Exception):
    pass


class ServedWorker:
    """A ``serve``-mode worker: commands on its stdin, answers on a pipe of their own."""

    def __init__(self, runner: Runner, peer: catalog.Peer, config: dict[str, Any], label: str) -> None:
        self.peer = peer
        self.log = runner.log_dir / f"{peer.key}-{label}.log"
        python = venvs.python_of(VENV_ROOT, peer.venv)
        read_fd, write_fd = os.pipe()
        command = [str(python), "-m", "peers.worker", "--peer", peer.key, "--mode", "serve"]
        command += ["--config", json.dumps(config), "--result-fd", str(write_fd)]
        if peer.plain_http:
            command.append("--plain-http")
        with open(self.log, "w", encoding="utf-8") as log_handle:
            self.process = subprocess.Popen(
                command,
                cwd=BENCH_DIR,
                env=runner.env,
                stdin=subprocess.PIPE,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                text=True,
                pass_fds=(write_fd,),
            )
        os.close(write_fd)
        self._results = os.fdopen(read_fd, "r", encoding="utf-8")

    def receive(self) -> dict[str, Any]:
        ready, _, _ = select.select([self._results], [], [], WORKER_TIMEOUT)
        line = self._results.readline() if ready else ""
        if not line:
            self.close()
            raise WorkerGone(f"{self.peer.key}: no answer (log: {self.log})")
        message: dict[str, Any] = json.loads(line)
        return message

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise WorkerGone(f"{self.peer.key}: exited (log: {self.log})") from None
        return self.receive()

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._results.close()


def _repetition(
    runner: Runner,
    peers: list[catalog.Peer],
    config: dict[str, Any],
    bench_config: dict[str, Any],
    loopback: Loopback,
    rep: int,
    skipped: dict[str, str],
    loads: list[float],
) -> dict[str, Any]:
    """One repetition: a fresh worker per peer, then ``rounds`` rounds of alternated blocks.

    Returns, per peer, its block times by scenario (``[cpu_us, wall_us]`` per round) and what it
    recorded; appends the load average after each round to ``loads``.
    """
    workers: dict[str, ServedWorker] = {}
    out: dict[str, Any] = {}
    try:
        for peer in peers:
            worker = ServedWorker(runner, peer, bench_config, f"serve-{rep}")
            try:
                hello = worker.receive()
            except WorkerGone as gone:
                runner.failures.append(str(gone))
                print(f"    ! {gone}", flush=True)
                continue
            if "skipped" in hello:
                skipped[peer.key] = hello["skipped"]
                worker.close()
                continue
            workers[peer.key] = worker
            out[peer.key] = {
                "blocks": {key: [] for key in hello["keys"]},
                "spans_per_call": hello["spans_per_call"],
                "span_attributes": hello["span_attributes"],
            }
        keys = list(dict.fromkeys(k for entry in out.values() for k in entry["blocks"]))
        for round_index in range(config["rounds"]):
            order = _rotated(list(workers), round_index + rep)
            for key in keys:
                transport, scenario = key.split("/")
                calls = config["calls"][scenario][transport]
                for peer_key in order:
                    blocks = out[peer_key]["blocks"]
                    if key not in blocks or peer_key not in workers:
                        continue
                    try:
                        blocks[key].append(workers[peer_key].ask({"op": "block", "key": key, "calls": calls}))
                    except WorkerGone as gone:
                        runner.failures.append(str(gone))
                        print(f"    ! {gone}", flush=True)
                        workers.pop(peer_key)
            loopback.reset()
            loads.append(_load_average())
        for peer_key, worker in workers.items():
            finished = worker.ask({"op": "finish"})
            out[peer_key]["metrics"] = finished.get("metrics")
            out[peer_key]["files"] = finished.get("files")
    finally:
        for worker in workers.values():
            worker.close()
    for entry in out.values():
        entry["blocks"] = {
            key: [[b["cpu_us"], b["wall_us"]] for b in blocks] for key, blocks in entry["blocks"].items()
        }
    return out


class Loopback:
    """The loopback server process (tokentrace venv); see ``peers.loopback``."""

    def __init__(self) -> None:
        python = venvs.python_of(VENV_ROOT, "tokentrace")
        self.process = subprocess.Popen(
            [str(python), "-m", "peers.loopback"],
            cwd=BENCH_DIR,
            env=worker_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the loopback server did not start")
        self.urls: dict[str, str] = json.loads(line)

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(self.urls["control"] + "/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=30)


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _revision() -> str:
    """The tokentrace commit measured, and whether its sources had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision (not a git checkout)"
    return f"commit {head}" + (" plus uncommitted changes under src/" if dirty else "")


def _sources_digest() -> str:
    """A digest of tokentrace's sources, to tell whether they changed while the run went on."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "src" / "tokentrace").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def _rotated(items: list[Any], by: int) -> list[Any]:
    by %= len(items)
    return items[by:] + items[:by]


def _profile(config: dict[str, Any], log_dir: Path) -> dict[str, Any] | None:
    python = venvs.python_of(VENV_ROOT, "tokentrace")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    log = log_dir / "profile.log"
    with open(log, "w", encoding="utf-8") as log_handle:
        completed = subprocess.run(
            [
                str(python),
                "-m",
                "peers.profile_hot_path",
                "--calls",
                str(config["profile_calls"]),
                "--ablation-rounds",
                str(config.get("ablation_rounds", 30)),
                "--json",
                str(out),
            ],
            cwd=BENCH_DIR,
            env=worker_env(),
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            timeout=WORKER_TIMEOUT,
        )
    try:
        if completed.returncode != 0:
            print(f"    ! profile failed (log: {log})", flush=True)
            return None
        result: dict[str, Any] = json.loads(out.read_text())
        return result
    finally:
        out.unlink(missing_ok=True)


def _last_run(what: str) -> tuple[Path, dict[str, Any]]:
    """The last run's raw results, for redoing ``what`` on them; only while the sources are the same."""
    runs = sorted((VENV_ROOT / "logs").glob("*/results.json"))
    if not runs:
        raise SystemExit("no earlier run under benchmarks/.venvs/logs/: run the benchmark first")
    raw: dict[str, Any] = json.loads(runs[-1].read_text())
    if raw.get("tokentrace_sources") != _sources_digest():
        raise SystemExit(
            f"tokentrace's sources changed since {runs[-1].parent.name}: run the whole benchmark"
        )
    print(f"{what} only, on {runs[-1].parent.name}", flush=True)
    return runs[-1], raw


def _rewrite(path: Path, raw: dict[str, Any], output: Path) -> None:
    path.write_text(json.dumps(raw, indent=1))
    report.write(raw, output)
    print(f"report: {output}", flush=True)


def _profile_only(output: Path) -> int:
    path, raw = _last_run("profile")
    raw["profile"] = _profile(raw["config"], path.parent)
    _rewrite(path, raw, output)
    return 0 if raw["profile"] else 1


def _instructions_only(output: Path) -> int:
    if not instructions.available():
        raise SystemExit("valgrind is not on PATH")
    path, raw = _last_run("instructions")
    runner = Runner(path.parent)
    active = [p for p in catalog.PEERS if p.key in raw["peers"] and p.key not in raw["skipped"]]
    raw["instructions"] = instructions.measure(runner, active)
    _rewrite(path, raw, output)
    return 1 if runner.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bash benchmarks/run.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and calls: a few minutes")
    parser.add_argument("--reps", type=int, help="repetitions, each with fresh workers (default 3, quick 2)")
    parser.add_argument(
        "--rounds", type=int, help="rounds of alternated blocks per repetition (default 15, quick 4)"
    )
    parser.add_argument("--peers", help="comma-separated peer keys (default: all); baselines are added")
    parser.add_argument("--reinstall", action="store_true", help="recreate every venv")
    parser.add_argument("--no-profile", action="store_true", help="skip the tokentrace hot-path profile")
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip the callgrind instruction counts (about 16 min)"
    )
    parser.add_argument(
        "--instructions-only",
        action="store_true",
        help="re-run only the instruction counts, on the last run's results (same sources), and rewrite the report",
    )
    parser.add_argument("--output", default=str(BENCH_DIR / "RESULTS.md"), help="Markdown report to write")
    parser.add_argument(
        "--profile-only",
        action="store_true",
        help="re-run only the profile, on the last run's results (same tokentrace sources), and rewrite the report",
    )
    args = parser.parse_args(argv)
    if args.profile_only:
        return _profile_only(Path(args.output))
    if args.instructions_only:
        return _instructions_only(Path(args.output))

    started = time.monotonic()
    config = json.loads(json.dumps(_QUICK if args.quick else _FULL))
    if args.reps:
        config["reps"] = args.reps
    if args.rounds:
        config["rounds"] = args.rounds
    peers = list(catalog.PEERS)
    if args.peers:
        wanted = set(args.peers.split(","))
        unknown = wanted - {p.key for p in peers}
        if unknown:
            parser.error(f"unknown peers {sorted(unknown)}; known: {[p.key for p in peers]}")
        wanted |= {p.baseline for p in peers if p.key in wanted and p.baseline}
        peers = [p for p in peers if p.key in wanted]

    VENV_ROOT.mkdir(exist_ok=True)
    print("venvs (benchmarks/.venvs/):", flush=True)
    needed = {p.venv for p in peers} | {"tokentrace"}  # the loopback server runs in the tokentrace venv
    for name in catalog.VENVS:
        if name in needed:
            venvs.ensure(catalog.VENVS[name], VENV_ROOT, REPO, sys.executable, args.reinstall)
    setup_seconds = time.monotonic() - started
    revision = _revision()
    digest_at_start = _sources_digest()

    stamp = datetime.datetime.now(datetime.timezone.utc)
    log_dir = VENV_ROOT / "logs" / stamp.strftime("%Y%m%dT%H%M%SZ")
    log_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(log_dir)

    versions: dict[str, Any] = {}
    for name in sorted(needed):
        probe = catalog.Peer("versions", "", name, None)
        versions[name] = runner.run(probe, "versions", {"packages": list(catalog.VENVS[name].packages)}, name)

    skipped: dict[str, str] = {}
    print("warm-up (byte-compiles every venv; not measured)", flush=True)
    for peer in peers:
        result = runner.run(peer, "startup", {}, "warmup")
        if result is not None and "skipped" in result:
            skipped[peer.key] = result["skipped"]
            print(f"  {peer.key}: skipped — {result['skipped']}", flush=True)
    active = [p for p in peers if p.key not in skipped]

    startup: dict[str, list[Any]] = {p.key: [] for p in active}
    measured_started = time.monotonic()
    print(f"start-up: {config['startup_reps']} fresh processes per peer, alternated", flush=True)
    for rep in range(config["startup_reps"]):
        for peer in _rotated(active, rep):
            startup[peer.key].append(runner.run(peer, "startup", {}, f"startup-{rep}"))

    loopback = Loopback()
    bench_config = {
        "servers": loopback.urls,
        "transports": list(catalog.TRANSPORTS),
        "warmup": config["warmup"],
    }
    bench: dict[str, list[Any]] = {p.key: [] for p in active}
    loads: list[float] = []
    try:
        for rep in range(config["reps"]):
            rep_start = time.monotonic()
            result = _repetition(
                runner, _rotated(active, rep), config, bench_config, loopback, rep, skipped, loads
            )
            for peer in active:
                bench[peer.key].append(result.get(peer.key))
            print(
                f"repetition {rep + 1}/{config['reps']}: {config['rounds']} rounds in "
                f"{time.monotonic() - rep_start:.0f} s",
                flush=True,
            )
    finally:
        loopback.stop()
    active = [p for p in active if p.key not in skipped]

    print(f"memory: {config['memory_calls']:,} sync chat calls per peer, two peers at a time", flush=True)
    memory_config = {k: config[k] for k in ("memory_warmup", "memory_calls", "memory_step")}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {p.key: pool.submit(runner.run, p, "memory", memory_config, "memory") for p in active}
        memory = {key: future.result() for key, future in futures.items()}

    counted = None
    if not args.no_instructions and instructions.available():
        print("instructions: callgrind counts per call (mock transport), two workers at a time", flush=True)
        counted = instructions.measure(runner, active)

    profile = None
    if not args.no_profile and any(p.key == "tokentrace" for p in active):
        print("profile: tokentrace's hot path (sync chat, mock transport)", flush=True)
        profile = _profile(config, log_dir)

    runtime = time.monotonic() - started
    raw = {
        "mode": "quick" if args.quick else "full",
        "config": config,
        "date": stamp.strftime("%Y-%m-%d %H:%M UTC"),
        "runtime_s": runtime,
        "measured_s": time.monotonic() - measured_started,
        "setup_s": setup_seconds,
        "machine": {**_machine(), "load_average_during_rounds": loads},
        "tokentrace_revision": revision,
        "tokentrace_sources_changed": _sources_digest() != digest_at_start,
        "tokentrace_sources": digest_at_start,
        "versions": versions,
        "peers": [p.key for p in peers],
        "skipped": skipped,
        "failures": runner.failures,
        "startup": startup,
        "bench": bench,
        "memory": memory,
        "instructions": counted,
        "profile": profile,
    }
    raw_path = log_dir / "results.json"
    raw_path.write_text(json.dumps(raw, indent=1))
    output = Path(args.output)
    report.write(raw, output)
    print(f"raw data: {raw_path.relative_to(BENCH_DIR.parent)}", flush=True)
    print(
        f"report: {output} ({runtime / 60:.1f} min in all, {setup_seconds:.0f} s of it installing)",
        flush=True,
    )
    for failure in runner.failures:
        print(f"  failure: {failure}", flush=True)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
