"""Running one worker process in a peer's venv: the paths, the workers' environment, ``Runner``.

Shared by the orchestrator (``__main__``) and the instruction counts (``instructions``), which
runs its workers under valgrind. Standard library only, like the orchestrator.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from . import catalog, venvs

__all__ = ["BENCH_DIR", "REPO", "VENV_ROOT", "WORKER_TIMEOUT", "Runner", "worker_env"]

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
VENV_ROOT = BENCH_DIR / ".venvs"

WORKER_TIMEOUT = 900
_DROPPED_ENV_PREFIXES = ("OTEL_", "TOKENTRACE_", "TRACELOOP_", "OPENINFERENCE_", "OPENLIT_")
# PYTHONDONTWRITEBYTECODE would make every worker compile its imports from source again (the
# editable tokentrace in particular, whose .pyc pip does not write): start-up would measure that.
_DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST", "PYTHONDONTWRITEBYTECODE")


def worker_env() -> dict[str, str]:
    """The environment of every worker: the caller's, minus what would switch a peer on or off."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_DROPPED_ENV_PREFIXES) and k not in _DROPPED_ENV
    }
    env.update(catalog.WORKER_ENV)
    env["PYTHONHASHSEED"] = "0"
    # Anything a peer writes to the user's data directory (tokentrace's default ledger) lands here.
    scratch = VENV_ROOT / "scratch-data"
    scratch.mkdir(parents=True, exist_ok=True)
    env["XDG_DATA_HOME"] = str(scratch)
    return env


class Runner:
    """Runs one-shot workers (startup, memory, versions, count) in the peers' venvs."""

    def __init__(self, log_dir: Path) -> None:
        self.env = worker_env()
        self.log_dir = log_dir
        self.failures: list[str] = []

    def run(
        self,
        peer: catalog.Peer,
        mode: str,
        config: dict[str, Any],
        label: str,
        prefix: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        """Run one worker (under ``prefix``, e.g. valgrind); its output goes to ``log_path``."""
        python = venvs.python_of(VENV_ROOT, peer.venv)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = Path(handle.name)
        command = [*prefix, str(python), "-m", "peers.worker", "--peer", peer.key, "--mode", mode]
        command += ["--config", json.dumps(config), "--out", str(out)]
        log = self.log_path(peer, label)
        try:
            with open(log, "w", encoding="utf-8") as log_handle:
                completed = subprocess.run(
                    command,
                    cwd=BENCH_DIR,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_handle,
                    stderr=subprocess.STDOUT,
                    timeout=WORKER_TIMEOUT,
                )
            if completed.returncode != 0:
                self._failed(peer, label, f"exit {completed.returncode}", log)
                return None
            result: dict[str, Any] = json.loads(out.read_text())
            return result
        except subprocess.TimeoutExpired:
            self._failed(peer, label, f"timed out after {WORKER_TIMEOUT} s", log)
            return None
        finally:
            out.unlink(missing_ok=True)

    def log_path(self, peer: catalog.Peer, label: str) -> Path:
        return self.log_dir / f"{peer.key}-{label}.log"

    def _failed(self, peer: catalog.Peer, label: str, why: str, log: Path) -> None:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
        self.failures.append(f"{peer.key} {label}: {why}: {' | '.join(tail)}")
        print(f"    ! {peer.key} {label} failed: {why} (log: {log})", flush=True)
