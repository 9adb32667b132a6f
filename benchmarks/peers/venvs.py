"""One virtual environment per peer under ``benchmarks/.venvs/``, created once and reused.

A venv is reused when a stamp file inside it records the same requirements (and, for the
editable tokentrace install, the same ``pyproject.toml``); otherwise its requirements are
installed again. ``--reinstall`` starts each venv from scratch.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .catalog import REPO, Venv

__all__ = ["ensure", "python_of"]

_STAMP = ".peers-stamp.json"


def python_of(root: Path, name: str) -> Path:
    return root / name / "bin" / "python"


def _stamp(venv: Venv, repo: Path) -> dict[str, object]:
    stamp: dict[str, object] = {"requirements": list(venv.requirements), "python": sys.version.split()[0]}
    if any(REPO in r for r in venv.requirements):
        stamp["pyproject"] = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()
    return stamp


def _pip_args(venv: Venv, repo: Path) -> list[str]:
    args: list[str] = []
    for requirement in venv.requirements:
        if requirement.startswith("-e "):
            args += ["-e", requirement[3:].replace(REPO, str(repo))]
        else:
            args.append(requirement)
    return args


def ensure(venv: Venv, root: Path, repo: Path, python: str, reinstall: bool) -> bool:
    """Make ``root/<name>`` ready; True when something was installed."""
    path = root / venv.name
    stamp_file = path / _STAMP
    wanted = _stamp(venv, repo)
    if reinstall and path.exists():
        shutil.rmtree(path)
    if python_of(root, venv.name).exists() and stamp_file.exists():
        try:
            if json.loads(stamp_file.read_text()) == wanted:
                return False
        except ValueError:
            pass
    start = time.monotonic()
    print(f"  venv {venv.name}: installing {' '.join(venv.requirements).replace(REPO, '<repo>')}", flush=True)
    if not python_of(root, venv.name).exists():
        if path.exists():
            shutil.rmtree(path)  # a half-made venv from an interrupted run
        subprocess.run([python, "-m", "venv", str(path)], check=True)
    pip = [str(python_of(root, venv.name)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run([*pip, *_pip_args(venv, repo)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"installing the {venv.name} venv failed (pip exit {result.returncode})")
    stamp_file.write_text(json.dumps(wanted))
    print(f"  venv {venv.name}: ready in {time.monotonic() - start:.0f} s", flush=True)
    return True
