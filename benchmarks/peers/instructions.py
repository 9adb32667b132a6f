"""Instructions executed per call, counted by valgrind's callgrind: the same on a busy machine.

CPU time on a shared machine moves with other tenants' load, by tens of percent on a bad day;
the number of instructions a call executes does not. For each peer and mock-transport scenario a
worker runs twice under ``valgrind --tool=callgrind`` (``count`` mode: 10 warm-up calls, then
``SHORT`` or ``LONG`` calls); the difference of the two totals over ``LONG - SHORT`` calls is the
instructions per call, start-up and warm-up cancelling out. A peer's added instructions are its
count minus its baseline's; the report converts them to µs at the baseline's own rate (its CPU µs
per call over its instructions per call, from the timed rounds of the same run).

Every counted process runs with ``PYTHONHASHSEED=0``: string hashing is then the same in every
process, and so is the work the interpreter does around dicts (without it a count moved by up to
±7 % between two runs of the same code).

Instructions are not time (a cache miss costs more than an add), but the peers here run the same
interpreter on the same kind of work, so the ratios track CPU time closely and do not drift.
Only the peers the targets compare are counted (valgrind makes each run some 50 times slower).
"""

from __future__ import annotations

import concurrent.futures
import re
import shutil

from . import catalog
from .runner import Runner

__all__ = ["PEERS", "SCENARIOS", "available", "measure"]

PEERS = ("baseline", "floor", "tokentrace", "official")
SCENARIOS = ("chat", "achat", "stream", "embed")
SHORT, LONG = 10, 110
_COLLECTED = re.compile(r"Collected : (\d+)")


def available() -> bool:
    return shutil.which("valgrind") is not None


def _count(runner: Runner, peer: catalog.Peer, scenario: str, calls: int) -> int | None:
    label = f"instructions-{scenario}-{calls}"
    # A fixed hash seed: with random string hashing, dict layouts (and the work of every import and
    # collision) differ from process to process, which moved a process's count by millions of
    # instructions, tens of thousands per call once divided; with it, a count repeats to 0.01 %.
    prefix = ("env", "PYTHONHASHSEED=0", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
    if runner.run(peer, "count", {"scenario": scenario, "calls": calls}, label, prefix) is None:
        return None
    found = _COLLECTED.findall(runner.log_path(peer, label).read_text(errors="replace"))
    return int(found[-1]) if found else None


def measure(runner: Runner, peers: list[catalog.Peer]) -> dict[str, dict[str, float | None]]:
    """Instructions per call: ``{peer: {scenario: count or None}}``, two workers at a time."""
    wanted = [p for p in peers if p.key in PEERS]
    jobs = [(p, s, n) for p in wanted for s in SCENARIOS for n in (SHORT, LONG)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: _count(runner, *job), jobs), strict=True))
    result: dict[str, dict[str, float | None]] = {}
    for peer in wanted:
        per_call: dict[str, float | None] = {}
        for scenario in SCENARIOS:
            short, long = counts[(peer, scenario, SHORT)], counts[(peer, scenario, LONG)]
            per_call[scenario] = None if short is None or long is None else (long - short) / (LONG - SHORT)
        result[peer.key] = per_call
    return result
