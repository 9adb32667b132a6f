"""Where tokentrace's added time goes: ``python -m peers.profile_hot_path`` (tokentrace venv).

Sync chat over the mock transport, the scenario the benchmark calls ``mock/chat``:

1. timed without a profiler (CPU time), alternating uninstrumented and instrumented blocks in
   one process (``tokentrace.uninstrument()`` in between), for the real added microseconds;
2. profiled with cProfile, uninstrumented and then instrumented, and every function's own time
   attributed to its owner (tokentrace, the OpenTelemetry SDK or API, wrapt, openai, httpx2,
   pydantic, the standard library). The owners' extra time is scaled to the real added time,
   because cProfile inflates small functions most;
3. each part's cost in place, by switching parts off one after another, and a stream's cost
   split into per-call and per-chunk parts (``ablation``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import statistics
import sys
import time
from typing import Any

from . import ablation, adapters, scenarios

_PACKAGE_OWNERS = {
    "opentelemetry/sdk": "opentelemetry SDK",
    "opentelemetry": "opentelemetry API",
    "wrapt": "wrapt",
    "openai": "openai",
    "httpx2": "httpx2/httpcore2",
    "httpcore2": "httpx2/httpcore2",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "genai_prices": "genai-prices",
}


def _owner(filename: str) -> str:
    if filename == "~" or filename.startswith("<"):
        return "builtins"
    if "/src/tokentrace/" in filename:
        return "tokentrace"
    if "/benchmarks/peers/" in filename:
        return "harness"
    marker = "/site-packages/"
    index = filename.rfind(marker)
    if index < 0:
        return "stdlib"
    module = filename[index + len(marker) :]
    for prefix, owner in _PACKAGE_OWNERS.items():
        if module.startswith(prefix + "/"):
            return owner
    return "other"


def _short(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        index = filename.rfind(marker)
        if index >= 0:
            filename = filename[index + len(marker) :]
            break
    return f"{filename}:{line} {name}"


def _timed(once: Any, calls: int) -> float:
    """CPU µs per call (this process's CPU time: steady on a shared machine)."""
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        once()
    return (time.process_time() - start) / calls * 1e6


def _profile_into(profiler: cProfile.Profile, once: Any, calls: int) -> None:
    gc.collect()
    profiler.enable()
    for _ in range(calls):
        once()
    profiler.disable()


def _by_function(stats: pstats.Stats, calls: int) -> dict[tuple[str, int, str], tuple[float, float, int]]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return {
        func: (tt / calls * 1e6, ct / calls * 1e6, nc / calls) for func, (cc, nc, tt, ct, _) in raw.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peers.profile_hot_path")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--json", help="write the result here")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--ablation-rounds", type=int, default=30, help="0 skips the ablation")
    args = parser.parse_args(argv)

    import tokentrace

    providers = adapters.Providers()
    tokentrace.track(adapters.TRACKING_ID).__enter__()  # as the tokentrace peer runs
    once = scenarios.build("mock", 3, None, None, False)[0].once
    block = max(args.calls // args.blocks, 200)
    for _ in range(300):
        once()

    # 1. Real added time: alternate bare and instrumented blocks.
    bare, instrumented = [], []
    for index in range(args.blocks):
        if index:
            tokentrace.uninstrument()
        bare.append(_timed(once, block))
        tokentrace.instrument(
            tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider
        )
        for _ in range(50):
            once()
        instrumented.append(_timed(once, block))
    tokentrace.uninstrument()
    real_bare, real_instrumented = statistics.median(bare), statistics.median(instrumented)

    # 2. Profiles, alternated the same way, each side accumulated over all its blocks.
    bare_profiler, inst_profiler = cProfile.Profile(), cProfile.Profile()
    for _ in range(args.blocks):
        _profile_into(bare_profiler, once, block)
        tokentrace.instrument(
            tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider
        )
        for _ in range(50):
            once()
        _profile_into(inst_profiler, once, block)
        tokentrace.uninstrument()
    profiled_calls = block * args.blocks
    base_stats = _by_function(pstats.Stats(bare_profiler), profiled_calls)
    inst_stats = _by_function(pstats.Stats(inst_profiler), profiled_calls)

    owners_base: dict[str, float] = {}
    owners_inst: dict[str, float] = {}
    for stats, into in ((base_stats, owners_base), (inst_stats, owners_inst)):
        for func, (tt, _, _) in stats.items():
            owner = _owner(func[0])
            into[owner] = into.get(owner, 0.0) + tt
    profiled_added = sum(owners_inst.values()) - sum(owners_base.values())
    real_added = real_instrumented - real_bare
    scale = real_added / profiled_added if profiled_added > 0 else 0.0
    owners: list[dict[str, Any]] = sorted(
        (
            {
                "owner": owner,
                "profiled_us": owners_inst.get(owner, 0.0) - owners_base.get(owner, 0.0),
                "share": (owners_inst.get(owner, 0.0) - owners_base.get(owner, 0.0)) / profiled_added,
                "real_us": (owners_inst.get(owner, 0.0) - owners_base.get(owner, 0.0)) * scale,
            }
            for owner in set(owners_base) | set(owners_inst)
        ),
        key=lambda row: -float(row["profiled_us"]),
    )

    def rows(owner_filter: Any, key: int) -> list[dict[str, Any]]:
        picked: list[dict[str, Any]] = []
        for func, values in inst_stats.items():
            if not owner_filter(_owner(func[0])):
                continue
            extra_tt = values[0] - base_stats.get(func, (0.0, 0.0, 0.0))[0]
            extra_calls = values[2] - base_stats.get(func, (0.0, 0.0, 0.0))[2]
            picked.append(
                {
                    "function": _short(func),
                    "owner": _owner(func[0]),
                    "own_us": extra_tt if key == 0 else values[0],
                    "cumulative_us": values[1],
                    "calls_per_call": values[2],
                    "extra_calls_per_call": extra_calls,
                }
            )
        sort_key = "own_us" if key == 0 else "cumulative_us"
        picked.sort(key=lambda row: -float(row[sort_key]))
        return picked[: args.top]

    result = {
        "calls": profiled_calls,
        "real_bare_us": real_bare,
        "real_instrumented_us": real_instrumented,
        "real_added_us": real_added,
        "profiled_added_us": profiled_added,
        "owners": owners,
        "top_own": rows(lambda owner: owner != "harness", 0),
        "top_tokentrace_cumulative": rows(lambda owner: owner == "tokentrace", 1),
        "extra_function_calls_per_call": sum(
            max(values[2] - base_stats.get(func, (0.0, 0.0, 0.0))[2], 0.0)
            for func, values in inst_stats.items()
        ),
    }
    print(
        f"real: bare {real_bare:.0f} µs, instrumented {real_instrumented:.0f} µs, added {real_added:.0f} µs"
    )
    print(
        f"profiled added {profiled_added:.0f} µs/call (scale {scale:.2f}), "
        f"{result['extra_function_calls_per_call']:.0f} extra Python function calls per call"
    )
    for row in owners:
        print(
            f"  {row['owner']:<20} {row['profiled_us']:7.1f} µs profiled  {row['share']:6.1%}  ~{row['real_us']:5.1f} µs real"
        )
    print("top own time added:")
    for row in result["top_own"]:
        print(f"  {row['own_us']:6.2f} µs  x{row['calls_per_call']:.0f}  {row['function']}")
    print("tokentrace functions, cumulative:")
    for row in result["top_tokentrace_cumulative"]:
        print(
            f"  {row['cumulative_us']:6.2f} µs cum {row['own_us']:6.2f} own x{row['calls_per_call']:.0f}  {row['function']}"
        )
    if args.ablation_rounds:
        result["ablation"] = ablation.parts(providers, args.ablation_rounds, 200)
        result["stream_split"] = ablation.stream_split(providers, args.ablation_rounds, 15)
        print("ablation (CPU µs added per call; each step switches one more part off):")
        for row in result["ablation"]["rows"]:
            print(f"  {row['step']:<8} added {row['added_us']}  saves {row['saving_us']}")
        print(f"stream split: {result['stream_split']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
