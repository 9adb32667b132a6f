"""Instructions executed per call, counted by valgrind's callgrind: the same on a busy machine.

CPU time on a shared machine moves with other tenants' load, by tens of percent on a bad day;
the number of instructions a call executes does not. For each peer and mock-transport scenario a
worker runs twice under ``valgrind --tool=callgrind`` (``count`` mode: a few warm-up calls, then
a short and a long run of calls); the difference of the two totals over the difference in calls
is the instructions per call, start-up and warm-up cancelling out. A peer's added instructions
are its count minus its baseline's; the report converts them to µs at the baseline's own rate
(its CPU µs per call over its instructions per call, from the timed rounds of the same run).

The stream is counted at two sizes, ``STREAM_CHUNKS`` and ``LONG_STREAM_CHUNKS``: the difference
per call over the difference in chunks is what one chunk costs (the SDK's own in the baseline's
row, and each peer's beyond it), apart from what a stream costs once per call. A long stream
executes some 200 million instructions, so it runs fewer calls. The plain ``requests`` call is
counted for the peers that run it (the baseline and tokentrace: the others see nothing there).

Every counted process runs with ``PYTHONHASHSEED=0``: string hashing is then the same in every
process, and so is the work the interpreter does around dicts (without it a count moved by up to
±7 % between two runs of the same code). Two runs of the same code then agree to 0.01 %, but a
change in what a process allocates first moves its per-call counts by up to about 1.5 % (the
README has the figures): a per-chunk difference between two peers is that uncertain too.

Instructions are not time (a cache miss costs more than an add), but the peers here run the same
interpreter on the same kind of work, so the ratios track CPU time closely and do not drift.
Only the peers the targets compare are counted (valgrind makes each run some 50 times slower).
"""

from __future__ import annotations

import concurrent.futures
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import catalog
from .payloads import STREAM_CHUNKS
from .runner import Runner

__all__ = [
    "COUNTS",
    "LONG_STREAM",
    "LONG_STREAM_CHUNKS",
    "PEERS",
    "SCENARIOS",
    "Count",
    "available",
    "measure",
    "per_chunk",
]

PEERS = ("baseline", "floor", "tokentrace", "official")
LONG_STREAM = "stream-long"
"""The key of the long stream's counts, next to the scenarios' keys."""
LONG_STREAM_CHUNKS = 250


@dataclass(frozen=True)
class Count:
    """One counted scenario: the worker's ``count`` config and the (short, long) numbers of calls."""

    key: str
    config: dict[str, Any]
    calls: tuple[int, int]
    warmup: int = 10
    plain_http: bool = False


COUNTS = (
    Count("chat", {"scenario": "chat"}, (10, 110)),
    Count("achat", {"scenario": "achat"}, (10, 110)),
    Count("stream", {"scenario": "stream"}, (10, 110)),
    Count("embed", {"scenario": "embed"}, (10, 110)),
    Count(LONG_STREAM, {"scenario": "stream", "chunks": LONG_STREAM_CHUNKS}, (2, 10), warmup=2),
    # Only tokentrace records plain HTTP calls: counted for the peers that run that scenario.
    Count("requests", {"scenario": "requests", "plain_http": True}, (10, 110), plain_http=True),
)
SCENARIOS = tuple(c.key for c in COUNTS)
_COLLECTED = re.compile(r"Collected : (\d+)")


def available() -> bool:
    return shutil.which("valgrind") is not None


def _count(runner: Runner, peer: catalog.Peer, count: Count, calls: int) -> int | None:
    label = f"instructions-{count.key}-{calls}"
    # A fixed hash seed: with random string hashing, dict layouts (and the work of every import and
    # collision) differ from process to process, which moved a process's count by millions of
    # instructions, tens of thousands per call once divided; with it, a count repeats to 0.01 %.
    prefix = ("env", "PYTHONHASHSEED=0", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
    config = {**count.config, "calls": calls, "warmup": count.warmup}
    if runner.run(peer, "count", config, label, prefix) is None:
        return None
    found = _COLLECTED.findall(runner.log_path(peer, label).read_text(errors="replace"))
    return int(found[-1]) if found else None


def _applies(peer: catalog.Peer, count: Count) -> bool:
    return peer.key in PEERS and (peer.plain_http or not count.plain_http)


def measure(
    runner: Runner,
    peers: list[catalog.Peer],
    counts: tuple[Count, ...] = COUNTS,
    applies: Callable[[catalog.Peer, Count], bool] = _applies,
) -> dict[str, dict[str, float | None]]:
    """Instructions per call: ``{peer: {scenario or LONG_STREAM: count or None}}``, two workers at a time.

    Each peer runs the ``counts`` that ``applies`` to it (by default: the peers the targets
    compare, on every scenario they run); the provider-SDK benchmark passes its own.
    """
    wanted = [p for p in peers if any(applies(p, c) for c in counts)]
    jobs = [(p, c, n) for p in wanted for c in counts if applies(p, c) for n in c.calls]
    # The longest first (long streams: fewest calls), so the pool does not end waiting on one of them.
    jobs.sort(key=lambda job: job[1].calls[1])
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        found = pool.map(lambda job: _count(runner, *job), jobs)
        totals = {(p.key, c.key, n): total for (p, c, n), total in zip(jobs, found, strict=True)}
    result: dict[str, dict[str, float | None]] = {}
    for peer in wanted:
        per_call: dict[str, float | None] = {}
        for count in counts:
            if not applies(peer, count):
                continue
            few, many = count.calls
            short, long = totals[(peer.key, count.key, few)], totals[(peer.key, count.key, many)]
            per_call[count.key] = None if short is None or long is None else (long - short) / (many - few)
        result[peer.key] = per_call
    return result


def per_chunk(counted: dict[str, float | None]) -> float | None:
    """Instructions per stream chunk from one peer's counts (both stream sizes), or None."""
    short, long = counted.get("stream"), counted.get(LONG_STREAM)
    if short is None or long is None:
        return None
    return (long - short) / (LONG_STREAM_CHUNKS - STREAM_CHUNKS)
