"""Turn a run's raw results into ``benchmarks/RESULTS.md``.

Added time is computed per pair of blocks (a peer's block minus its baseline's block of the same
round, a fraction of a second apart), then summarised over all pairs as median and interquartile
range.
The hand-written notes between the ``notes`` markers of an existing report are kept.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from . import catalog, instructions
from .payloads import STREAM_CHUNKS

__all__ = ["write"]

NOTES_BEGIN = "<!-- notes:begin (kept when the report is regenerated) -->"
NOTES_END = "<!-- notes:end -->"
_NON_STREAMING = ("chat", "achat", "embed")
_MIB = 1024 * 1024
_RSS_TOLERANCE = 1 * _MIB
_FLOOR_RATIO = 1.3
_PER_CHUNK_US = 3.0
DASH, MINUS, TIMES = "\u2013", "\u2212", "\u00d7"  # typography of the Markdown tables


def _spread(values: list[float]) -> tuple[float, float, float] | None:
    """(median, p25, p75) of the values, or None when there are none."""
    if not values:
        return None
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q2, q1, q3


CPU, WALL = 0, 1


def _blocks(raw: dict[str, Any], peer: str, key: str, clock: int) -> list[list[float]]:
    """The peer's block times (µs per call) for ``key``, one list per repetition (by round)."""
    out: list[list[float]] = []
    for run in raw["bench"].get(peer, []):
        out.append([block[clock] for block in ((run or {}).get("blocks") or {}).get(key, [])])
    return out


def _added(raw: dict[str, Any], peer: str, key: str, clock: int = CPU) -> tuple[float, float, float] | None:
    """Added µs per call: the peer's block minus its baseline's block of the same round, over all rounds."""
    base = catalog.peer(peer).baseline
    if base is None:
        return None
    diffs = [
        mine - theirs
        for mine_rep, theirs_rep in zip(
            _blocks(raw, peer, key, clock), _blocks(raw, base, key, clock), strict=False
        )
        for mine, theirs in zip(mine_rep, theirs_rep, strict=False)
    ]
    return _spread(diffs)


def _total(raw: dict[str, Any], peer: str, key: str, clock: int = CPU) -> tuple[float, float, float] | None:
    return _spread([value for rep in _blocks(raw, peer, key, clock) for value in rep])


def _startup(raw: dict[str, Any], peer: str) -> tuple[tuple[float, float, float] | None, float | None]:
    """(added CPU ms over the baseline, median total CPU ms); runs are paired by repetition."""
    runs = raw["startup"].get(peer, [])
    totals = [r["cpu_ms"] for r in runs if r and "cpu_ms" in r]
    base = catalog.peer(peer).baseline
    if base is None:
        return None, statistics.median(totals) if totals else None
    base_runs = raw["startup"].get(base, [])
    diffs = [
        r["cpu_ms"] - b["cpu_ms"]
        for r, b in zip(runs, base_runs, strict=False)
        if r and b and "cpu_ms" in r and "cpu_ms" in b
    ]
    return _spread(diffs), statistics.median(totals) if totals else None


def _startup_own(raw: dict[str, Any], peer: str) -> tuple[float, float, float] | None:
    """Added ms of the phases that differ between peers: instrument + first call (wall clock).

    The phase before (importing openai and the SDK, building providers) is the same code for every
    peer, yet it swings by a hundred ms and more between processes on this machine; leaving it out
    compares what the peers actually do. Paired by repetition, like ``_startup``.
    """
    base = catalog.peer(peer).baseline
    if base is None:
        return None

    def own(run: dict[str, Any]) -> float:
        return float(run["instrument_ms"] + run["first_call_ms"])

    diffs = [
        own(r) - own(b)
        for r, b in zip(raw["startup"].get(peer, []), raw["startup"].get(base, []), strict=False)
        if r and b and "instrument_ms" in r and "instrument_ms" in b
    ]
    return _spread(diffs)


def _rss(raw: dict[str, Any], peer: str) -> tuple[float, float] | None:
    """(growth over all measured calls, growth after the first step), in bytes."""
    result = (raw.get("memory") or {}).get(peer)
    if not result or "samples" not in result:
        return None
    samples = result["samples"]
    return samples[-1][1] - samples[0][1], samples[-1][1] - samples[1][1]


def _us(value: float) -> str:
    """A number of µs (or ms) for a table, with a real minus sign when negative."""
    text = f"{abs(value):,.0f}"
    return f"{MINUS}{text}" if round(value) < 0 else text


def _signed(value: float) -> str:
    return _us(value) if round(value) < 0 else f"+{_us(value)}"


def _signed_ms(value: float) -> str:
    """Milliseconds added, one decimal, signed (a peer can start faster than its baseline)."""
    return f"{MINUS}{abs(value):.1f} ms" if round(value, 1) < 0 else f"+{value:.1f} ms"


def _cell_added(spread: tuple[float, float, float] | None) -> str:
    if spread is None:
        return "—"
    median, low, high = spread
    return f"{_signed(median)} ({_us(low)} {DASH} {_us(high)})"


def _cell_total(spread: tuple[float, float, float] | None) -> str:
    return "—" if spread is None else f"{_us(spread[0])} µs total"


def _label(peer: catalog.Peer, raw: dict[str, Any]) -> str:
    version = None
    if peer.package:
        version = ((raw["versions"].get(peer.venv) or {}).get("packages") or {}).get(peer.package)
    return f"{peer.label} {version}" if version and peer.package != "openai" else peer.label


def _peers(raw: dict[str, Any]) -> list[catalog.Peer]:
    return [p for p in catalog.PEERS if p.key in raw["peers"]]


def _added_table(raw: dict[str, Any], transport: str, clock: int = CPU) -> list[str]:
    scenarios = catalog.SCENARIOS
    lines = [
        "| peer | " + " | ".join(s.label for s in scenarios) + " |",
        "|---|" + "---|" * len(scenarios),
    ]
    for peer in _peers(raw):
        if peer.key in raw["skipped"]:
            lines.append(
                f"| {_label(peer, raw)} | skipped: {raw['skipped'][peer.key]} |" + " |" * (len(scenarios) - 1)
            )
            continue
        cells = []
        for scenario in scenarios:
            key = f"{transport}/{scenario.key}"
            if scenario.plain_http and not peer.plain_http:
                cells.append("sees nothing")
            elif peer.baseline is None:
                cells.append(_cell_total(_total(raw, peer.key, key, clock)))
            else:
                cells.append(_cell_added(_added(raw, peer.key, key, clock)))
        lines.append(f"| {_label(peer, raw)} | " + " | ".join(cells) + " |")
    return lines


def _throughput_table(raw: dict[str, Any]) -> list[str]:
    scenarios = catalog.SCENARIOS
    lines = [
        "| peer | " + " | ".join(s.label for s in scenarios) + " |",
        "|---|" + "---|" * len(scenarios),
    ]
    for peer in _peers(raw):
        if peer.key in raw["skipped"]:
            continue
        cells = []
        for scenario in scenarios:
            if scenario.plain_http and not peer.plain_http:
                cells.append("—")
                continue
            values = []
            for transport in catalog.TRANSPORTS:
                total = _total(raw, peer.key, f"{transport}/{scenario.key}", WALL)
                values.append("—" if total is None else f"{1e6 / total[0]:,.0f}")
            cells.append(" / ".join(values))
        lines.append(f"| {_label(peer, raw)} | " + " | ".join(cells) + " |")
    return lines


def _records_table(raw: dict[str, Any]) -> list[str]:
    calls = raw["config"]["memory_calls"]
    lines = [
        "| peer | import + instrument + first call | RSS growth over "
        f"{calls:,} calls (after the first {raw['config']['memory_step']:,}) | spans per call | attributes on the chat span | metric instruments (data points) |",
        "|---|---|---|---|---|---|",
    ]
    for peer in _peers(raw):
        if peer.key in raw["skipped"]:
            continue
        added, total = _startup(raw, peer.key)
        if peer.baseline is None:
            startup = f"{total:,.0f} ms CPU total" if total is not None else "—"
        else:
            startup = (
                "—" if added is None else f"{_signed(added[0])} ms ({_us(added[1])} {DASH} {_us(added[2])})"
            )
        rss = _rss(raw, peer.key)
        rss_cell = "—" if rss is None else f"{rss[0] / _MIB:+.1f} MiB ({rss[1] / _MIB:+.1f} MiB)"
        runs = [r for r in raw["bench"].get(peer.key, []) if r and "blocks" in r]
        if runs:
            spans = f"{runs[-1]['spans_per_call'].get('mock/chat', 0):g}"
            attributes = str(runs[-1]["span_attributes"].get("mock/chat", 0))
            metric_summary = runs[-1].get("metrics") or {}
            metric_cell = f"{len(metric_summary)} ({sum(metric_summary.values())})" if metric_summary else "0"
        else:
            spans = attributes = metric_cell = "—"
        lines.append(
            f"| {_label(peer, raw)} | {startup} | {rss_cell} | {spans} | {attributes} | {metric_cell} |"
        )
    written = []
    for peer in _peers(raw):
        runs = [r for r in raw["bench"].get(peer.key, []) if r and "blocks" in r]
        files = (runs[-1].get("files") or {}) if runs else {}
        if files:
            listed = ", ".join(f"`{name}` ({size / 1024:,.0f} KiB)" for name, size in files.items())
            written.append(f"{_label(peer, raw)}: {listed}")
        missing = [name for name in peer.expects_files if runs and name not in files]
        if missing:
            written.append(
                f"{_label(peer, raw)}: **no {', '.join(missing)} was written** (the setting was accepted, "
                "but nothing behind it ran: its row measures the rest only)"
            )
    if written:
        lines += ["", "Files written during a repetition: " + "; ".join(written) + "."]
    notes = [f"{_label(p, raw)}: {p.note}." for p in _peers(raw) if p.note and p.key not in raw["skipped"]]
    if notes:
        lines += ["", *notes]
    return lines


def _targets(raw: dict[str, Any]) -> list[str]:
    present = {p.key for p in _peers(raw)} - set(raw["skipped"])
    lines = ["| target | measured | met |", "|---|---|---|"]
    if not {"tokentrace", "official", "floor", "baseline"} <= present:
        return [*lines, "| (needs tokentrace, official, floor and baseline in the run) | | |"]

    def mark(ok: bool) -> str:
        return "yes" if ok else "**no**"

    for transport in catalog.TRANSPORTS:
        ours = {s: _added(raw, "tokentrace", f"{transport}/{s}") for s in _NON_STREAMING}
        official = {s: _added(raw, "official", f"{transport}/{s}") for s in _NON_STREAMING}
        floor = {s: _added(raw, "floor", f"{transport}/{s}") for s in _NON_STREAMING}
        if any(v is None for v in (*ours.values(), *official.values(), *floor.values())):
            continue
        detail = ", ".join(f"{s} {ours[s][0]:.0f} vs {official[s][0]:.0f}" for s in _NON_STREAMING)  # type: ignore[index]
        below = all(ours[s][0] < official[s][0] for s in _NON_STREAMING)  # type: ignore[index]
        lines.append(
            f"| {transport}: non-streaming added time below the official instrumentation's (µs) | {detail} | {mark(below)} |"
        )
        ratios = {s: ours[s][0] / floor[s][0] for s in _NON_STREAMING}  # type: ignore[index]
        detail = ", ".join(f"{s} {r:.2f}{TIMES}" for s, r in ratios.items())
        ok = all(r <= _FLOOR_RATIO for r in ratios.values())
        lines.append(
            f"| {transport}: non-streaming added time ≤ {_FLOOR_RATIO}{TIMES} the floor's | {detail} | {mark(ok)} |"
        )
        stream_ours = _added(raw, "tokentrace", f"{transport}/stream")
        stream_floor = _added(raw, "floor", f"{transport}/stream")
        if stream_ours and stream_floor:
            per_chunk = (stream_ours[0] - stream_floor[0]) / 50
            lines.append(
                f"| {transport}: stream ≤ {_PER_CHUNK_US:g} µs per chunk beyond the floor's per-call cost | "
                f"({_us(stream_ours[0])} {MINUS} {_us(stream_floor[0])}) / 50 = {per_chunk:.1f} µs | "
                f"{mark(per_chunk <= _PER_CHUNK_US)} |"
            )
    ours_startup, _ = _startup(raw, "tokentrace")
    official_startup, _ = _startup(raw, "official")
    if ours_startup and official_startup:
        lines.append(
            f"| import + instrument + first call ≤ the official instrumentation's | "
            f"{_signed_ms(ours_startup[0])} vs {_signed_ms(official_startup[0])} | "
            f"{mark(ours_startup[0] <= official_startup[0])} |"
        )
    ours_own, official_own = _startup_own(raw, "tokentrace"), _startup_own(raw, "official")
    if ours_own and official_own:
        lines.append(
            "| the same, without the import phase every peer shares (instrument + first call, wall ms) | "
            f"{_signed_ms(ours_own[0])} vs {_signed_ms(official_own[0])} | {mark(ours_own[0] <= official_own[0])} |"
        )
    ours_rss, base_rss = _rss(raw, "tokentrace"), _rss(raw, "baseline")
    if ours_rss and base_rss:
        delta = ours_rss[1] - base_rss[1]
        lines.append(
            f"| RSS growth indistinguishable from the baseline's (after warm-up, within {_RSS_TOLERANCE // _MIB} MiB) | "
            f"{ours_rss[1] / _MIB:+.2f} MiB vs {base_rss[1] / _MIB:+.2f} MiB | {mark(abs(delta) <= _RSS_TOLERANCE)} |"
        )
    return lines


def _instructions(raw: dict[str, Any]) -> list[str]:
    """Added instructions per call (callgrind), their µs at the baseline's rate, and the targets on them."""
    counted: dict[str, dict[str, float | None]] = raw.get("instructions") or {}
    base = counted.get("baseline") or {}
    scenarios = [s for s in catalog.SCENARIOS if s.key in base]
    if not scenarios:
        return ["(not counted in this run: valgrind missing or `--no-instructions`)"]

    def added(peer: str, scenario: str) -> float | None:
        mine, theirs = (counted.get(peer) or {}).get(scenario), base.get(scenario)
        return None if mine is None or theirs is None else mine - theirs

    def rate(scenario: str) -> float | None:
        """The baseline's CPU µs per instruction in this scenario (mock transport, timed rounds)."""
        total, count = _total(raw, "baseline", f"mock/{scenario}"), base.get(scenario)
        return total[0] / count if total and count else None

    lines = [
        "| peer | " + " | ".join(s.label for s in scenarios) + " |",
        "|---|" + "---|" * len(scenarios),
    ]
    for peer in _peers(raw):
        if peer.key not in counted:
            continue
        cells = []
        for s in scenarios:
            if peer.key == "baseline":
                count = base.get(s.key)
                cells.append("—" if count is None else f"{count / 1000:,.0f} k total")
                continue
            if s.plain_http and not peer.plain_http:
                cells.append("sees nothing")
                continue
            extra, per_us = added(peer.key, s.key), rate(s.key)
            if extra is None:
                cells.append("—")
            else:
                cells.append(f"+{extra / 1000:,.0f} k" + (f" (≈ {_us(extra * per_us)} µs)" if per_us else ""))
        lines.append(f"| {_label(peer, raw)} | " + " | ".join(cells) + " |")
    lines += _per_chunk(raw, counted)
    if not all(k in counted for k in ("tokentrace", "official", "floor")):
        return lines

    def mark(ok: bool) -> str:
        return "yes" if ok else "**no**"

    lines += [
        "",
        "Targets judged on instructions (mock transport):",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    found = {(p, s): added(p, s) for p in ("tokentrace", "official", "floor") for s in _NON_STREAMING}
    known = {key: value for key, value in found.items() if value is not None}
    if len(known) == len(found):
        ours = {s: known[("tokentrace", s)] for s in _NON_STREAMING}
        official = {s: known[("official", s)] for s in _NON_STREAMING}
        floor = {s: known[("floor", s)] for s in _NON_STREAMING}
        detail = ", ".join(
            f"{s} {ours[s] / 1000:,.0f} k vs {official[s] / 1000:,.0f} k" for s in _NON_STREAMING
        )
        below = all(ours[s] < official[s] for s in _NON_STREAMING)
        lines.append(
            f"| non-streaming: added instructions below the official instrumentation's | {detail} | {mark(below)} |"
        )
        ratios = {s: ours[s] / floor[s] for s in _NON_STREAMING}
        detail = ", ".join(f"{s} {r:.2f}{TIMES}" for s, r in ratios.items())
        ok = all(r <= _FLOOR_RATIO for r in ratios.values())
        lines.append(
            f"| non-streaming: added instructions ≤ {_FLOOR_RATIO}{TIMES} the floor's | {detail} | {mark(ok)} |"
        )
    stream_ours, stream_floor, per_us = (
        added("tokentrace", "stream"),
        added("floor", "stream"),
        rate("stream"),
    )
    # Instrumentation code runs fewer instructions per µs than the SDK's own work: the floor's timed
    # µs over its instructions (sync chat) is the rate for code like ours, the baseline's a lower bound.
    floor_timed, floor_chat = _added(raw, "floor", "mock/chat"), added("floor", "chat")
    floor_rate = floor_timed[0] / floor_chat if floor_timed and floor_chat else None
    if stream_ours is not None and stream_floor is not None and per_us:
        per_chunk = (stream_ours - stream_floor) / 50
        at_base = per_chunk * per_us
        at_floor = per_chunk * floor_rate if floor_rate else None
        detail = (
            f"({stream_ours / 1000:,.0f} k {MINUS} {stream_floor / 1000:,.0f} k) / 50 = {per_chunk / 1000:.1f} k "
            f"instructions: {at_base:.1f} µs at the baseline's rate ({per_us * 1000:.3f} µs per 1,000)"
        )
        verdict = mark(at_base <= _PER_CHUNK_US)
        if at_floor is not None:
            detail += f", {at_floor:.1f} µs at the floor's ({floor_rate * 1000:.3f})"  # type: ignore[operator]
            if at_base <= _PER_CHUNK_US < at_floor:
                verdict = "at the baseline's rate only"
        lines.append(
            f"| stream ≤ {_PER_CHUNK_US:g} µs per chunk beyond the floor's per-call cost | {detail} | {verdict} |"
        )
    return lines


def _per_chunk(raw: dict[str, Any], counted: dict[str, dict[str, float | None]]) -> list[str]:
    """What one stream chunk costs: the long stream's count against the 50-chunk one's."""
    short, long = STREAM_CHUNKS, instructions.LONG_STREAM_CHUNKS
    base = counted.get("baseline") or {}
    sdk_chunk, sdk_long = instructions.per_chunk(base), base.get(instructions.LONG_STREAM)
    if sdk_chunk is None or sdk_long is None:
        return []
    lines = [
        "",
        f"Streams chunk by chunk: each stream also counted at {long} chunks; the difference from the "
        f"{short}-chunk stream, per call, over the {long - short} chunks between them is what one chunk "
        "costs: the SDK's own in the baseline's row, beyond it in the others. A peer's per-chunk figure "
        "against another's is uncertain by about 1 % of the SDK's own (the layout noise the README "
        "describes).",
        "",
        f"| peer | {long}-chunk stream | per chunk |",
        "|---|---|---|",
        f"| {_label(catalog.peer('baseline'), raw)}: the SDK itself | {sdk_long / 1000:,.0f} k total | "
        f"{sdk_chunk / 1000:,.1f} k |",
    ]
    for peer in _peers(raw):
        mine = counted.get(peer.key)
        if peer.key == "baseline" or mine is None:
            continue
        chunk, whole = instructions.per_chunk(mine), mine.get(instructions.LONG_STREAM)
        if chunk is None or whole is None:
            lines.append(f"| {_label(peer, raw)} | — | — |")
            continue
        lines.append(
            f"| {_label(peer, raw)} | {_signed_k(whole - sdk_long, 0)} | {_signed_k(chunk - sdk_chunk, 1)} |"
        )
    return lines


def _signed_k(value: float, digits: int) -> str:
    """Thousands of instructions, signed, with a real minus sign."""
    text = f"{abs(value) / 1000:,.{digits}f} k"
    return f"{MINUS}{text}" if round(value / 1000, digits) < 0 else f"+{text}"


def _versions(raw: dict[str, Any]) -> list[str]:
    lines = ["| venv | packages |", "|---|---|"]
    for name, found in raw["versions"].items():
        if not found:
            continue
        packages = ", ".join(f"{k} {v}" for k, v in found["packages"].items() if v)
        lines.append(f"| {name} (Python {found['python']}) | {packages} |")
    # Baselines are shared: flag any drift of the common packages between openai 3.x venvs.
    drift = []
    for package in ("openai", "httpx2", "pydantic", "opentelemetry-sdk"):
        seen = {
            (found or {}).get("packages", {}).get(package)
            for name, found in raw["versions"].items()
            if catalog.VENVS[name].openai_major == 3
        } - {None}
        if len(seen) > 1:
            drift.append(f"{package} ({', '.join(sorted(seen))})")
    if drift:
        lines += [
            "",
            f"Warning: the openai 3.x venvs differ in {'; '.join(drift)}: `--reinstall` aligns them.",
        ]
    return lines


def _ablation(profile: dict[str, Any]) -> list[str]:
    ablation = profile.get("ablation")
    if not ablation:
        return []
    lines = [
        f"**Each part's cost in place** (`peers/ablation.py`): sync chat on the mock transport, CPU µs per call, "
        f"{ablation['rounds']} alternated rounds of {ablation['calls']} calls per variant; each row switches one "
        "more part off, so its saving is that part's cost inside a real call.",
        "",
        "| switched off, cumulatively | added µs per call | that part costs |",
        "|---|---|---|",
    ]
    for row in ablation["rows"]:
        added = "n/a" if row["added_us"] is None else _us(row["added_us"])
        saving = "" if row["saving_us"] is None else _us(row["saving_us"])
        name = "nothing: " + row["label"] if row["step"] == "full" else row["label"]
        lines.append(f"| {name} | {added} | {saving} |")
    last = next((r["added_us"] for r in reversed(ablation["rows"]) if r["added_us"] is not None), None)
    if last is not None:
        lines.append(
            f"| what remains: wrappers, reading request and response, the span | {_us(last)} | {_us(last)} |"
        )
    for step, why in ablation.get("unavailable", {}).items():
        lines.append(f"| ({step}: {why}) | | |")
    split = profile.get("stream_split")
    if split:
        lines += [
            "",
            f"**Streams**: tokentrace adds {_us(split['added_short_us'])} µs to a {split['short_chunks']}-chunk stream and "
            f"{_us(split['added_long_us'])} µs to a {split['long_chunks']}-chunk one: "
            f"**{split['per_chunk_us']:.1f} µs per chunk** and {_us(split['per_call_us'])} µs per call.",
        ]
    return [*lines, ""]


def _profile(raw: dict[str, Any]) -> list[str]:
    profile = raw.get("profile")
    if not profile:
        return ["(no profile in this run)"]
    lines = [
        *_ablation(profile),
        f"cProfile of {profile['calls']:,} sync chat calls (mock transport), alternating uninstrumented and "
        f"instrumented blocks. Unprofiled (CPU time), tokentrace adds **{profile['real_added_us']:.0f} µs** per call "
        f"({profile['real_bare_us']:.0f} → {profile['real_instrumented_us']:.0f} µs) and "
        f"{profile['extra_function_calls_per_call']:.0f} Python function calls. Own time added, by owner "
        "(profiled time scaled to the real added time; built-ins are `isinstance`, `dict.get`… called from any of them):",
        "",
        "| owner | share of added time | ≈ µs per call |",
        "|---|---|---|",
    ]
    for row in profile["owners"]:
        if abs(row["share"]) >= 0.005:
            lines.append(f"| {row['owner']} | {row['share']:.0%} | {row['real_us']:.0f} |")
    lines += [
        "",
        "Functions adding the most own time (profiled µs per call, calls per call):",
        "",
        "| function | owner | own µs | calls |",
        "|---|---|---|---|",
    ]
    for row in profile["top_own"][:20]:
        lines.append(
            f"| `{row['function']}` | {row['owner']} | {row['own_us']:.1f} | {row['calls_per_call']:.0f} |"
        )
    lines += [
        "",
        "tokentrace functions by cumulative time (profiled µs per call, including what they call):",
        "",
        "| function | cumulative µs | own µs |",
        "|---|---|---|",
    ]
    for row in profile["top_tokentrace_cumulative"][:14]:
        lines.append(f"| `{row['function']}` | {row['cumulative_us']:.1f} | {row['own_us']:.1f} |")
    return lines


def _load_line(raw: dict[str, Any]) -> str:
    loads = [v for v in raw["machine"].get("load_average_during_rounds", []) if not math.isnan(v)]
    if not loads:
        return ""
    return f"1-minute load average during the rounds: median {statistics.median(loads):.1f} (max {max(loads):.1f})."


def _kept_notes(path: Path) -> str:
    if path.exists():
        text = path.read_text(encoding="utf-8")
        start, end = text.find(NOTES_BEGIN), text.find(NOTES_END)
        if 0 <= start < end:
            return text[start + len(NOTES_BEGIN) : end].strip("\n")
    return "(Hand-written reading of the profile goes here; it is kept when the report is regenerated.)"


def write(raw: dict[str, Any], path: Path) -> None:
    config = raw["config"]
    machine = raw["machine"]
    calls = config["calls"]
    per_block = ", ".join(f"{s} {v['mock']}/{v['loopback']}" for s, v in calls.items())
    pairs = config["reps"] * config["rounds"]
    out = [
        "# tokentrace next to the other OpenAI instrumentations",
        "",
        f"Written by `bash benchmarks/run.sh{' --quick' if raw['mode'] == 'quick' else ''}` on {raw['date']}; "
        "regenerate rather than edit (only the notes block below is kept). How it is measured: "
        "[README.md](README.md).",
        "",
        f"- tokentrace: {raw.get('tokentrace_revision', 'unknown revision')}"
        + (
            " — **its sources changed while this run went on**: numbers mix versions, run again."
            if raw.get("tokentrace_sources_changed")
            else "."
        ),
        f"- Machine: {machine['nproc']} cores, {machine['cpu']}, Python {machine['python']}, {machine['platform']}; "
        "shared and noisy, so read ratios and medians.",
        f"- Run: {raw['mode']}; {config['reps']} repetitions {TIMES} {config['rounds']} rounds, each round one block per "
        f"peer and scenario, peers alternated (calls per block, mock/loopback: {per_block}); "
        f"{raw['runtime_s'] / 60:.0f} min ({raw['setup_s']:.0f} s of it installing). {_load_line(raw)}",
        f"- Added time: a peer's block minus its baseline's block of the same round ({pairs} pairs per cell); "
        "shown as the median over pairs (interquartile range), in µs per call. Measured as **CPU time of the "
        "calling process**, which is what instrumentation costs the caller and, unlike wall time, does not count "
        "waiting for a core other tenants hold (a wall-clock cross-check follows). Content capture off; every "
        "peer gets the same SDK providers (spans dropped by a `SimpleSpanProcessor` exporter, metrics aggregated by "
        "an `InMemoryMetricReader`).",
    ]
    if raw["mode"] == "quick":
        out += [
            "",
            f"**Quick run: {pairs} pairs per cell and a short memory run — indicative only; a burst of load on "
            "this shared machine can swing a cell. Targets are judged on a full run.**",
        ]
    if raw["failures"]:
        out += ["", "Failures in this run:", ""] + [f"- {f}" for f in raw["failures"]]
    out += ["", "## Targets (tokentrace defaults)", "", *_targets(raw)]
    out += [
        "",
        "## Added CPU µs per call — mock transport (the SDK's own HTTP client over an in-process transport)",
        "",
        *_added_table(raw, "mock"),
        "",
        "## Added CPU µs per call — loopback HTTP server (`tokentrace.demo.server`, its own process)",
        "",
        *_added_table(raw, "loopback"),
        "",
        "OpenLIT pins `openai<3`: its row is against the openai 2.x baseline in its own venv. The plain "
        "`requests` call to `/chat/completions` is recorded by tokentrace only: the other peers patch the "
        "openai SDK and see nothing there.",
        "",
        "## Cross-check: added wall-clock µs per call — mock transport",
        "",
        "Same pairs, wall clock: noisier on a shared machine (bursts of other tenants' load land in single "
        "blocks), but it should tell the same story.",
        "",
        *_added_table(raw, "mock", WALL),
        "",
        "## Added instructions per call — mock transport (callgrind; unmoved by other tenants' load)",
        "",
        "Instructions each call executes, counted by valgrind (`peers/instructions.py`): the difference "
        "between two runs of 10 and 110 calls, over 100 (2 and 10 calls of the 250-chunk stream, over 8); "
        "added is the peer's count minus the baseline's, and "
        "≈ µs converts it at the baseline's own CPU µs per instruction in this run. Instrumentation code "
        "runs fewer instructions per µs than the SDK's own work, so ≈ µs is a lower bound: read the ratios. "
        "Only the peers the targets compare are counted.",
        "",
        *_instructions(raw),
        "",
        "## Calls per second, one thread, wall clock (mock / loopback)",
        "",
        *_throughput_table(raw),
        "",
        "## Start-up, memory, and what each peer records",
        "",
        "Start-up: a fresh process imports openai and the SDK, switches the peer on, builds a client and makes "
        "one call (mock transport); added CPU ms over the baseline, median (IQR). RSS: after a warm-up, over "
        "all measured calls (and after the first step), sync chat on the mock transport.",
        "",
        *_records_table(raw),
        "",
        "## Versions",
        "",
        *_versions(raw),
        "",
        "## Where tokentrace's time goes",
        "",
        *_profile(raw),
        "",
        NOTES_BEGIN,
        _kept_notes(path),
        NOTES_END,
        "",
    ]
    path.write_text("\n".join(out), encoding="utf-8")
