"""Runs inside one peer's venv: ``python -m peers.worker --peer KEY --mode MODE --config JSON ...``.

Modes:

* ``serve``: set up every scenario on the configured transports (with ``"suite": "providers"``,
  the provider-SDK benchmark's scenarios of this row, ``peers.provider_scenarios``), then time one block of ``calls`` calls
  per ``{"op": "block", "key": ..., "calls": ...}`` line read from stdin, answering each on the
  result pipe, until ``{"op": "finish"}`` (answered with the metric summary).
* ``startup``: import openai + the OpenTelemetry SDK + the peer, instrument, build a client and
  make the first call (mock transport), timed in this fresh process.
* ``memory``: RSS after a warm-up and then every ``memory_step`` calls up to ``memory_calls``
  (sync chat, mock transport).
* ``versions``: the installed versions of the listed distributions.
* ``count``: make ``warmup`` (10) warm-up calls and then ``calls`` calls of one mock-transport
  ``scenario`` (a stream of ``chunks`` chunks, 50 by default; the plain ``requests`` call with
  ``plain_http``; a provider-SDK scenario with ``"suite": "providers"``), untimed: the harness runs it under
  callgrind twice with different ``calls`` and divides the difference in executed instructions
  (``peers/instructions.py``).

Results are JSON, written to ``--out`` (one object) or, in ``serve`` mode, as lines on the pipe
``--result-fd``: peers may print to stdout/stderr, so neither is used.
"""

from __future__ import annotations

import time

_PROCESS_T0 = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import atexit  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from importlib import metadata  # noqa: E402
from typing import Any  # noqa: E402


def _openai_major() -> int:
    return int(metadata.version("openai").split(".")[0])


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _run(loop: asyncio.AbstractEventLoop, scenario: Any, n: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call over ``n`` calls.

    CPU time is this process's (``time.process_time``): what the calls cost the caller, without
    the time spent waiting for the loopback server or for a core that other tenants of this
    machine hold. Wall time is kept too, for calls per second.
    """
    once = scenario.once
    gc.collect()
    if scenario.is_async:

        async def block() -> tuple[float, float]:
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(n):
                await once()
            return time.process_time() - cpu, time.perf_counter() - wall

        cpu_s, wall_s = loop.run_until_complete(block())
    else:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            once()
        cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    return cpu_s / n * 1e6, wall_s / n * 1e6


def _workdir(peer: str) -> str:
    """A scratch directory for the peer's files (a ledger, OpenLIT's price list), removed at exit."""
    base = os.environ.get("XDG_DATA_HOME") or tempfile.gettempdir()
    path = tempfile.mkdtemp(prefix=f"{peer}-", dir=base)
    atexit.register(shutil.rmtree, path, True)
    # Files a peer puts in the user's data directory by default (tokentrace's ledger) land here
    # too, so the report lists them.
    os.environ["XDG_DATA_HOME"] = path
    return path


def _files(path: str) -> dict[str, int]:
    """Files a peer wrote into its scratch directory, with their sizes."""
    out = {}
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            out[os.path.relpath(full, path)] = os.path.getsize(full)
    return out


def _build(
    peer: str, config: dict[str, Any], transport: str, floor: Any, plain_http: bool = False
) -> list[Any]:
    """The scenarios of one transport: the OpenAI harness's, or with ``"suite": "providers"`` the
    provider-SDK benchmark's (mock transport only) for this row, or only ``config["scenario"]``.

    ``config["chunks"]`` sizes the mock transport's stream (each suite has its default).
    """
    chunks = {"stream_chunks": config["chunks"]} if "chunks" in config else {}
    if config.get("suite") == "providers":
        from . import provider_catalog, provider_scenarios

        keys = [config["scenario"]] if "scenario" in config else provider_catalog.scenarios_of(peer)
        return provider_scenarios.build(keys, **chunks)
    from . import scenarios

    built = scenarios.build(transport, _openai_major(), floor, config.get("servers"), plain_http, **chunks)
    return [s for s in built if s.key == config["scenario"]] if "scenario" in config else built


def _one(loop: asyncio.AbstractEventLoop, scenario: Any) -> Any:
    if scenario.is_async:
        return loop.run_until_complete(scenario.once())
    return scenario.once()


def serve(peer: str, plain_http: bool, config: dict[str, Any], results: Any) -> None:
    """Set up, then time one block per ``block`` command read from stdin, until ``finish``.

    The orchestrator keeps one such worker per peer alive and asks them for blocks in turn, so a
    peer's block and its baseline's are a fraction of a second apart.
    """
    from . import adapters

    def send(message: dict[str, Any]) -> None:
        results.write(json.dumps(message) + "\n")
        results.flush()

    providers = adapters.providers_for(peer)
    workdir = _workdir(peer)
    try:
        floor = adapters.instrument(peer, providers, workdir)
    except adapters.Skipped as skipped:
        send({"skipped": str(skipped)})
        return
    loop = asyncio.new_event_loop()
    served: dict[str, Any] = {}
    spans_per_call: dict[str, float] = {}
    span_attributes: dict[str, int] = {}
    exporter = providers.exporter
    for transport in config["transports"]:
        for scenario in _build(peer, config, transport, floor, plain_http):
            key = f"{transport}/{scenario.key}"
            warmup = config["warmup"]
            scenario.prepare(warmup + 1)
            scenario.check(_one(loop, scenario))
            before = exporter.spans
            for _ in range(warmup):
                _one(loop, scenario)
            spans_per_call[key] = (exporter.spans - before) / warmup
            span_attributes[key] = exporter.last_attributes if exporter.spans > before else 0
            served[key] = scenario
    send(
        {
            "ready": True,
            "keys": list(served),
            "spans_per_call": spans_per_call,
            "span_attributes": span_attributes,
        }
    )
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "block":
            scenario = served[command["key"]]
            calls = command["calls"]
            scenario.prepare(calls)
            cpu_us, wall_us = _run(loop, scenario, calls)
            send({"cpu_us": cpu_us, "wall_us": wall_us})
        elif command["op"] == "finish":
            send({"metrics": providers.metric_summary(), "files": _files(workdir)})
            break
    loop.close()


def startup(peer: str) -> dict[str, Any]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    import openai  # noqa: F401

    from . import adapters, scenarios

    providers = adapters.Providers()
    workdir = _workdir(peer)
    t1 = time.perf_counter()
    try:
        floor = adapters.instrument(peer, providers, workdir)
    except adapters.Skipped as skipped:
        return {"skipped": str(skipped)}
    t2 = time.perf_counter()
    chat = scenarios.build("mock", _openai_major(), floor, None, False)[0]
    chat.check(chat.once())
    cpu3, t3 = time.process_time(), time.perf_counter()
    return {
        "cpu_ms": (cpu3 - cpu0) * 1e3,
        "total_ms": (t3 - t0) * 1e3,
        "imports_ms": (t1 - t0) * 1e3,
        "instrument_ms": (t2 - t1) * 1e3,
        "first_call_ms": (t3 - t2) * 1e3,
        "interpreter_ms": (t0 - _PROCESS_T0) * 1e3,
    }


def count(peer: str, config: dict[str, Any]) -> dict[str, Any]:
    from . import adapters

    providers = adapters.providers_for(peer)
    try:
        floor = adapters.instrument(peer, providers, _workdir(peer))
    except adapters.Skipped as skipped:
        return {"skipped": str(skipped)}
    (scenario,) = _build(peer, config, "mock", floor, config.get("plain_http", False))
    once = scenario.once
    if scenario.is_async:
        loop = asyncio.new_event_loop()
        call = once
        once = lambda: loop.run_until_complete(call())  # noqa: E731
    scenario.check(once())
    for _ in range(config.get("warmup", 10) - 1):
        once()
    for _ in range(config["calls"]):
        once()
    return {"calls": config["calls"]}


def memory(peer: str, config: dict[str, Any]) -> dict[str, Any]:
    from . import adapters, scenarios

    providers = adapters.Providers()
    workdir = _workdir(peer)
    try:
        floor = adapters.instrument(peer, providers, workdir)
    except adapters.Skipped as skipped:
        return {"skipped": str(skipped)}
    chat = scenarios.build("mock", _openai_major(), floor, None, False)[0]
    once = chat.once
    for _ in range(config["memory_warmup"]):
        once()
    samples: list[tuple[int, int]] = []
    done = 0
    gc.collect()
    samples.append((done, _rss_bytes()))
    step = config["memory_step"]
    while done < config["memory_calls"]:
        for _ in range(step):
            once()
        done += step
        gc.collect()
        samples.append((done, _rss_bytes()))
    return {"samples": samples, "spans": providers.exporter.spans, "files": _files(workdir)}


def versions(packages: list[str]) -> dict[str, Any]:
    found: dict[str, str | None] = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return {"packages": found, "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peers.worker")
    parser.add_argument("--peer", required=True)
    parser.add_argument("--mode", choices=("serve", "startup", "memory", "versions", "count"), required=True)
    parser.add_argument("--config", default="{}", help="JSON")
    parser.add_argument("--plain-http", action="store_true")
    parser.add_argument("--out", help="result file (all modes but serve)")
    parser.add_argument("--result-fd", type=int, help="result pipe (serve)")
    args = parser.parse_args(argv)
    config = json.loads(args.config)
    if args.mode == "serve":
        with os.fdopen(args.result_fd, "w", encoding="utf-8") as results:
            serve(args.peer, args.plain_http, config, results)
        return 0
    if args.mode == "startup":
        result = startup(args.peer)
    elif args.mode == "memory":
        result = memory(args.peer, config)
    elif args.mode == "count":
        result = count(args.peer, config)
    else:
        result = versions(config["packages"])
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
