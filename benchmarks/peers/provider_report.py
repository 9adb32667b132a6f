"""Turn a provider-SDK run's raw results into ``benchmarks/RESULTS-providers.md``.

Instructions per call (callgrind) are the judge; CPU µs per call from the alternated blocks goes
beside them: a row's block minus its baseline's block of the same round, summarised over all
pairs as the median (and the interquartile range in the second table).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from . import provider_catalog
from .provider_catalog import LONG_STREAM_CHUNKS, SCENARIOS
from .provider_payloads import GEMINI_STREAM_CHUNKS

__all__ = ["LONG_STREAM", "write"]

LONG_STREAM = "gemini-stream-long"
"""The key of the long Gemini stream's counts, next to the scenarios' keys."""
DASH, MINUS, TIMES = "\u2013", "\u2212", "\u00d7"


def _k(value: float, signed: bool = True, digits: int = 0) -> str:
    text = f"{abs(value) / 1000:,.{digits}f} k"
    if not signed:
        return text
    return f"{MINUS}{text}" if round(value / 1000, digits) < 0 else f"+{text}"


def _us(value: float, signed: bool = True) -> str:
    text = f"{abs(value):,.0f}"
    if not signed:
        return text
    return f"{MINUS}{text}" if round(value) < 0 else f"+{text}"


def _blocks(raw: dict[str, Any], key: str, scenario: str) -> list[list[float]]:
    """CPU µs per call of each block, one list per repetition (by round)."""
    return [
        [block[0] for block in ((run or {}).get("blocks") or {}).get(f"mock/{scenario}", [])]
        for run in raw["bench"].get(key, [])
    ]


def _spread(values: list[float]) -> tuple[float, float, float] | None:
    if len(values) < 2:
        return (values[0],) * 3 if values else None
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q2, q1, q3


def _cpu(raw: dict[str, Any], key: str, scenario: str) -> tuple[float, float, float] | None:
    """Added CPU µs per call over the row's baseline (paired by round), or its total for a baseline."""
    base = provider_catalog.row(key).peer.baseline
    mine = _blocks(raw, key, scenario)
    if base is None:
        return _spread([v for rep in mine for v in rep])
    theirs = _blocks(raw, base, scenario)
    return _spread([a - b for m, t in zip(mine, theirs, strict=False) for a, b in zip(m, t, strict=False)])


def _counted(raw: dict[str, Any], key: str, scenario: str) -> float | None:
    return ((raw.get("instructions") or {}).get(key) or {}).get(scenario)


def _label(raw: dict[str, Any], key: str) -> str:
    peer = provider_catalog.row(key).peer
    found = (raw["versions"].get(peer.venv) or {}).get("packages", {})
    version = found.get(peer.package) if peer.package and peer.baseline else None
    return f"{peer.label} {version}" if version else peer.label


def _main_table(raw: dict[str, Any]) -> list[str]:
    lines = [
        "| row | " + " | ".join(s.label for s in SCENARIOS) + " |",
        "|---|" + "---|" * len(SCENARIOS),
    ]
    for key in raw["rows"]:
        row = provider_catalog.row(key)
        base = row.peer.baseline
        cells = []
        for s in SCENARIOS:
            if s.key not in row.scenarios:
                cells.append("not its SDK")
                continue
            count, cpu = _counted(raw, key, s.key), _cpu(raw, key, s.key)
            if base is None:
                text = "—" if count is None else f"{_k(count, signed=False)} total"
                if key != "sdk-baseline" and count is not None and _counted(raw, "sdk-baseline", s.key):
                    text += f" ({_k(count - _counted(raw, 'sdk-baseline', s.key), digits=1)})"  # type: ignore[operator]
                text += "" if cpu is None else f" · {_us(cpu[0], signed=False)} µs"
            else:
                theirs = _counted(raw, base, s.key)
                text = "—" if count is None or theirs is None else _k(count - theirs)
                text += "" if cpu is None else f" · {_us(cpu[0])} µs"
            cells.append(text)
        lines.append(f"| {_label(raw, key)} | " + " | ".join(cells) + " |")
    return lines


def _cpu_table(raw: dict[str, Any]) -> list[str]:
    lines = [
        "| row | " + " | ".join(s.label for s in SCENARIOS) + " |",
        "|---|" + "---|" * len(SCENARIOS),
    ]
    for key in raw["rows"]:
        row = provider_catalog.row(key)
        cells = []
        for s in SCENARIOS:
            cpu = _cpu(raw, key, s.key) if s.key in row.scenarios else None
            if cpu is None:
                cells.append("—")
            elif row.peer.baseline is None:
                cells.append(f"{_us(cpu[0], signed=False)} µs total")
            else:
                cells.append(f"{_us(cpu[0])} ({_us(cpu[1])} {DASH} {_us(cpu[2])})")
        lines.append(f"| {_label(raw, key)} | " + " | ".join(cells) + " |")
    return lines


def _per_chunk(raw: dict[str, Any]) -> list[str]:
    chunks = LONG_STREAM_CHUNKS - GEMINI_STREAM_CHUNKS
    lines = [
        f"| row | {LONG_STREAM_CHUNKS}-chunk Gemini stream | per chunk | per stream, once |",
        "|---|---|---|---|",
    ]
    for key in raw["rows"]:
        short, long = _counted(raw, key, "gemini-stream"), _counted(raw, key, LONG_STREAM)
        if short is None or long is None:
            continue
        chunk = (long - short) / chunks
        base = provider_catalog.row(key).peer.baseline
        if base is None:
            once = short - chunk * GEMINI_STREAM_CHUNKS
            lines.append(
                f"| {_label(raw, key)} | {_k(long, signed=False)} total | {_k(chunk, False, 1)} | {_k(once, False)} |"
            )
            continue
        b_short, b_long = _counted(raw, base, "gemini-stream"), _counted(raw, base, LONG_STREAM)
        if b_short is None or b_long is None:
            continue
        b_chunk = (b_long - b_short) / chunks
        once = (short - b_short) - (chunk - b_chunk) * GEMINI_STREAM_CHUNKS
        lines.append(
            f"| {_label(raw, key)} | {_k(long - b_long)} | {_k(chunk - b_chunk, digits=1)} | {_k(once)} |"
        )
    return lines


def _spans(raw: dict[str, Any]) -> list[str]:
    lines = ["| row | " + " | ".join(s.label for s in SCENARIOS) + " |", "|---|" + "---|" * len(SCENARIOS)]
    for key in raw["rows"]:
        runs = [r for r in raw["bench"].get(key, []) if r]
        if not runs:
            continue
        spans, attributes = runs[-1].get("spans_per_call", {}), runs[-1].get("span_attributes", {})
        cells = []
        for s in SCENARIOS:
            found = spans.get(f"mock/{s.key}")
            cells.append("—" if found is None else f"{found:g} ({attributes.get(f'mock/{s.key}', 0)})")
        lines.append(f"| {_label(raw, key)} | " + " | ".join(cells) + " |")
    return lines


def _versions(raw: dict[str, Any]) -> list[str]:
    lines = ["| venv | packages |", "|---|---|"]
    for name, found in raw["versions"].items():
        if found:
            packages = ", ".join(f"{k} {v}" for k, v in found["packages"].items() if v)
            lines.append(f"| {name} (Python {found['python']}) | {packages} |")
    return lines


def write(raw: dict[str, Any], path: Path) -> None:
    config, machine = raw["config"], raw["machine"]
    loads = [x for x in machine.get("load_average_during_rounds", []) if not math.isnan(x)]
    load = f"median {statistics.median(loads):.1f} (max {max(loads):.1f})" if loads else "not measured"
    calls = ", ".join(f"{s} {c['mock']}" for s, c in config["calls"].items())
    parts = [
        "# tokentrace on the providers' own SDKs: Gemini (google-genai) and Anthropic (anthropic)",
        "",
        f"Written by `python3 benchmarks/provider_sdks.py` on {raw['date']}; regenerate rather than edit. "
        "How it is measured: [README.md](README.md#the-providers-own-sdks-gemini-and-anthropic).",
        "",
        f"- tokentrace: {raw['tokentrace_revision']}.",
        f"- Machine: {machine['nproc']} cores, {machine['cpu']}, Python {machine['python']}; shared and noisy.",
        f"- Run: {raw['mode']}; CPU time from {config['reps']} repetitions {TIMES} {config['rounds']} rounds of "
        f"alternated blocks (calls per block: {calls}); load average during the rounds: {load}; "
        f"{raw['runtime_s'] / 60:.0f} min in all.",
        "",
        "## Instructions per call (callgrind) · CPU µs per call",
        "",
        "A baseline's cell is its total; every other row's is what it adds to its baseline "
        "(`sdk-baseline` unless the row says no global tracer provider, then the baseline without one). "
        "The baseline without a global provider shows in brackets how far it is from the one with. "
        "Instructions are the judge (they repeat to about 0.01 % and move by up to about 1.5 % with a "
        "process's memory layout); the CPU µs beside them are medians of paired blocks on a shared machine.",
        "",
        *_main_table(raw),
        "",
        f"## The Gemini stream chunk by chunk (instructions; {GEMINI_STREAM_CHUNKS} against "
        f"{LONG_STREAM_CHUNKS} chunks)",
        "",
        *_per_chunk(raw),
        "",
        "## CPU µs per call: median (interquartile range) over paired blocks",
        "",
        *_cpu_table(raw),
        "",
        "## Spans per call (attributes on the last span)",
        "",
        *_spans(raw),
        "",
        "## Versions",
        "",
        *_versions(raw),
    ]
    if raw["failures"] or raw["skipped"]:
        parts += ["", "## Failures", ""]
        parts += [f"- {f}" for f in raw["failures"]] + [
            f"- {k} skipped: {v}" for k, v in raw["skipped"].items()
        ]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
