"""Real backends for the end-to-end tests: start, poll until ready, talk to, and stop them.

Prometheus comes from the Debian package (``prometheus`` and ``promtool`` on ``PATH``), Arize
Phoenix from its own virtual environment (``.venv-phoenix`` at the top of the repository, or
``TOKENTRACE_PHOENIX_VENV``); ``scripts/e2e.sh`` installs both. Everything listens on 127.0.0.1
only, and every process started here is stopped by whoever started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
LOOPBACK = "127.0.0.1"
PHOENIX_VENV_ENV = "TOKENTRACE_PHOENIX_VENV"
PHOENIX_LAUNCHER = Path(__file__).with_name("phoenix_loopback.py")
APP = Path(__file__).with_name("app.py")
E2E_HINT = "run scripts/e2e.sh, which installs the e2e backends"

T = TypeVar("T")


class BackendMissing(RuntimeError):
    """A backend the e2e stage needs is not installed."""


def http() -> requests.Session:
    """A session that talks to loopback directly, whatever proxy the environment names."""
    session = requests.Session()
    session.trust_env = False
    return session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    probe: Callable[[], T | Literal[False] | None], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except (requests.RequestException, OSError, ValueError, KeyError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s (last error: {last_error!r})")
        time.sleep(interval)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackendMissing(f"{name} is not on PATH; {E2E_HINT}")
    return found


def phoenix_python() -> Path:
    venv = Path(os.environ.get(PHOENIX_VENV_ENV) or REPO / ".venv-phoenix")
    python = venv / "bin" / "python"
    if not python.exists():
        raise BackendMissing(f"no Phoenix virtual environment at {venv}; {E2E_HINT}")
    return python


@dataclass
class Process:
    """A child process with its output in a log file; ``stop()`` ends it and waits."""

    name: str
    popen: subprocess.Popen[Any]
    log: Path

    @classmethod
    def start(
        cls, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Process:
        with log.open("wb") as out:
            popen = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, env=dict(env or os.environ), **kwargs
            )
        return cls(name, popen, log)

    def check_alive(self) -> bool:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
        return True

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)


# -- Prometheus -------------------------------------------------------------------------------------


def prometheus_config(app_target: str, rule_files: Sequence[Path]) -> dict[str, Any]:
    """A Prometheus config that scrapes the app every second and evaluates our alert rules."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": "tokentrace-app", "static_configs": [{"targets": [app_target]}]}],
    }


@dataclass
class Prometheus:
    process: Process
    url: str

    @classmethod
    @contextlib.contextmanager
    def running(cls, workdir: Path, config: Mapping[str, Any]) -> Iterator[Prometheus]:
        binary = tool("prometheus")
        workdir.mkdir(parents=True, exist_ok=True)
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        port = free_port()
        process = Process.start(
            "prometheus",
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
                "--web.enable-lifecycle",
            ],
            workdir / "prometheus.log",
        )
        try:
            server = cls(process, f"http://{LOOPBACK}:{port}")
            session = http()
            wait_for(
                lambda: process.check_alive() and session.get(f"{server.url}/-/ready", timeout=2).ok,
                timeout=60,
                what="Prometheus ready",
            )
            yield server
        finally:
            process.stop()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result vector (raises on a PromQL error)."""
        response = http().get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"PromQL {expr!r} failed: {body.get('errorType')}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def query_by(self, expr: str, label: str) -> dict[str, float]:
        """An instant query as {value of ``label``: number}."""
        return {sample["metric"].get(label, ""): float(sample["value"][1]) for sample in self.query(expr)}

    def rules(self) -> list[dict[str, Any]]:
        body = http().get(f"{self.url}/api/v1/rules", timeout=10).json()
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]


# -- Phoenix ----------------------------------------------------------------------------------------


@dataclass
class Phoenix:
    process: Process
    url: str

    @classmethod
    @contextlib.contextmanager
    def running(cls, workdir: Path) -> Iterator[Phoenix]:
        python = phoenix_python()
        workdir.mkdir(parents=True, exist_ok=True)
        port, grpc_port = free_port(), free_port()
        env = {
            **os.environ,
            "PHOENIX_HOST": LOOPBACK,
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(grpc_port),  # bound to loopback by the launcher
            "PHOENIX_WORKING_DIR": str(workdir),
            "PHOENIX_TELEMETRY_ENABLED": "false",
        }
        process = Process.start(
            "phoenix", [str(python), str(PHOENIX_LAUNCHER), "serve"], workdir / "phoenix.log", env
        )
        try:
            server = cls(process, f"http://{LOOPBACK}:{port}")
            session = http()
            wait_for(
                lambda: process.check_alive() and session.get(f"{server.url}/healthz", timeout=2).ok,
                timeout=120,
                what="Phoenix ready",
            )
            yield server
        finally:
            process.stop()

    def spans(self, project: str) -> list[dict[str, Any]]:
        """Every span of a project, through Phoenix's REST API."""
        spans: list[dict[str, Any]] = []
        cursor = None
        session = http()
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = session.get(f"{self.url}/v1/projects/{project}/spans", params=params, timeout=10)
            response.raise_for_status()
            body = response.json()
            spans.extend(body["data"])
            cursor = body.get("next_cursor")
            if not cursor:
                return spans

    def project_id(self, name: str) -> str:
        response = http().get(f"{self.url}/v1/projects", timeout=10)
        response.raise_for_status()
        return next(str(p["id"]) for p in response.json()["data"] if p["name"] == name)


# -- the instrumented app ---------------------------------------------------------------------------


@dataclass
class App:
    """The running instrumented app: its calls as the server answered them, and its /metrics."""

    process: subprocess.Popen[str]
    metrics_url: str
    calls: list[dict[str, Any]]
    done: dict[str, Any]

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        workdir: Path,
        port: int,
        env: Mapping[str, str],
        rounds: int = 1,
        pause: float = 0.0,
        timeout: float = 120,
        options: Sequence[str] = (),
    ) -> Iterator[App]:
        argv = [sys.executable, str(APP), "--metrics-port", str(port), "--rounds", str(rounds)]
        argv += ["--pause", str(pause), *options]
        workdir.mkdir(parents=True, exist_ok=True)
        with (workdir / "app.log").open("w") as stderr:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, **env},
                cwd=REPO,
            )
        try:
            calls, done = _read_until_done(process.stdout, timeout, workdir / "app.log")
            yield cls(process, f"http://{LOOPBACK}:{port}/metrics", calls, done)
        finally:
            if process.stdin:
                process.stdin.close()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)
            if process.stdout:
                process.stdout.close()

    def scrape(self) -> str:
        response = http().get(self.metrics_url, timeout=10)
        response.raise_for_status()
        return response.text


def _read_until_done(
    stdout: IO[str] | None, timeout: float, log: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    assert stdout is not None
    calls: list[dict[str, Any]] = []
    selector = selectors.DefaultSelector()
    selector.register(stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = stdout.readline()
            if not line:
                raise RuntimeError(f"the app exited before finishing its workload:\n{log.read_text()}")
            record = json.loads(line)
            if record.get("done"):
                return calls, record
            calls.append(record)
    finally:
        selector.close()
    raise TimeoutError(f"the app did not finish its workload within {timeout:.0f} s:\n{log.read_text()}")


# -- who listens where ------------------------------------------------------------------------------

_LISTEN = "0A"


def _listening_sockets() -> dict[str, str]:
    """Socket inode -> local address (host:port) of every listening TCP socket on the machine."""
    found: dict[str, str] = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == _LISTEN:
                    host_hex, port_hex = local.split(":")
                    found[inode] = f"{_host(host_hex, width)}:{int(port_hex, 16)}"
    return found


def _host(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc prints each 32-bit word in host (little-endian) order
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if width == 8 else socket.AF_INET6
    return socket.inet_ntop(family, ordered)


def _descendants(pid: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, set()).add(int(entry.name))
    found, todo = {pid}, [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def listening_addresses(pid: int) -> list[str]:
    """Every address a process (or any of its children) listens on."""
    sockets = _listening_sockets()
    addresses = []
    for each in _descendants(pid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{each}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inode = target[len("socket:[") : -1]
                        if inode in sockets:
                            addresses.append(sockets[inode])
    return sorted(addresses)


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0]
    return host in ("127.0.0.1", "::1", "::ffff:127.0.0.1") or host.startswith("127.")
