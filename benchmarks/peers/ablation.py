"""What each part of tokentrace costs, measured by switching parts off (tokentrace venv).

Sync chat on the mock transport, CPU time, blocks of every variant alternated round by round in
one process. The variants switch off one more part each, cumulatively, so each step's saving is
that part's cost *in place* (caches as cold as in a real call, unlike a micro-benchmark):

    full -> ledger off -> summary off -> cost off -> token/duration histograms off ->
    plain-HTTP patches off

What remains after the last step is the wrappers, reading the request and the response, and
the span. Parts are switched off through tokentrace internals (``Recorder.summary``,
``Recorder._costs``, ``Recorder._instruments``) and settings (``ledger``, ``http``); a step whose
internals changed is reported as unavailable rather than failing the run.

A second measurement splits a stream's cost into a per-call and a per-chunk part: tokentrace's
added time on 10-chunk and 50-chunk streams, the slope being the per-chunk cost.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from . import payloads, scenarios
from .adapters import Providers

__all__ = ["STEPS", "parts", "stream_split"]

STEPS: tuple[tuple[str, str], ...] = (
    ("full", "tokentrace defaults"),
    ("ledger", "the SQLite ledger (off by default when the app passes its own providers, as here)"),
    ("summary", "the in-process summary (fed without a CallRecord when no other sink needs one)"),
    ("cost", "pricing, the cost span attributes and the cost metrics"),
    ("metrics", "the duration and token histograms (3 points)"),
    ("http", "the plain-HTTP patches (httpx2's send, stepping aside for SDK calls)"),
)


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


class _Variants:
    def __init__(self, providers: Providers) -> None:
        import tokentrace
        from tokentrace.config import Settings

        self._tokentrace = tokentrace
        self._providers = providers
        self._settings = set(Settings.__dataclass_fields__)
        self.unavailable: dict[str, str] = {}

    def switch(self, upto: int | None) -> bool:
        """Instrument with the first ``upto`` steps' parts off (None: uninstrumented)."""
        from tokentrace.instrumentor import TokenTraceInstrumentor

        tokentrace = self._tokentrace
        if TokenTraceInstrumentor().is_instrumented_by_opentelemetry:
            tokentrace.uninstrument()
        if upto is None:
            return True
        off = {key for key, _ in STEPS[1 : upto + 1]}
        settings: dict[str, Any] = {}
        if "ledger" in off and "ledger" in self._settings:
            settings["ledger"] = False
        if "http" in off:
            settings["http"] = False
        tokentrace.instrument(
            tracer_provider=self._providers.tracer_provider,
            meter_provider=self._providers.meter_provider,
            **settings,
        )
        recorder: Any = TokenTraceInstrumentor().recorder
        try:
            if "summary" in off:
                recorder.sinks.remove(tokentrace.activation.summary_sink())
            if "cost" in off:
                recorder._pricer.price = lambda *args: (None, None)
                recorder._costs.record = _noop
            if "metrics" in off:
                recorder._instruments.record = _noop
        except AttributeError as exc:
            self.unavailable[STEPS[upto][0]] = f"internals changed: {exc}"
            return False
        return True


def _timed(once: Callable[[], Any], calls: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        once()
    return (time.process_time() - start) / calls * 1e6


def parts(providers: Providers, rounds: int, calls: int) -> dict[str, Any]:
    """Added CPU µs per call of each cumulative variant, and each step's saving.

    Both are medians of differences between blocks of the same round (each variant against the
    uninstrumented block, and against the previous variant), so drift between rounds cancels.
    """
    once = scenarios.build("mock", 3, None, None, False)[0].once
    variants = _Variants(providers)
    keys: list[int | None] = [None, *range(len(STEPS))]
    times: list[dict[int | None, float]] = []
    for round_index in range(rounds):
        shift = round_index % len(keys)
        this_round: dict[int | None, float] = {}
        for key in keys[shift:] + keys[:shift]:
            if not variants.switch(key):
                continue
            for _ in range(20):
                once()
            this_round[key] = _timed(once, calls)
        times.append(this_round)
    variants.switch(None)

    def paired(a: int | None, b: int | None) -> float | None:
        diffs = [r[a] - r[b] for r in times if a in r and b in r]
        return statistics.median(diffs) if diffs else None

    rows = []
    for index, (step, label) in enumerate(STEPS):
        rows.append(
            {
                "step": step,
                "label": label,
                "added_us": paired(index, None),
                "saving_us": paired(index - 1, index) if index else None,
            }
        )
    return {
        "bare_us": statistics.median(r[None] for r in times),
        "rows": rows,
        "unavailable": variants.unavailable,
        "rounds": rounds,
        "calls": calls,
    }


def _stream_client(chunks: int) -> Callable[[], None]:
    import httpx2
    import openai

    events = payloads.stream_events()  # role, deltas..., finish, usage, [DONE]
    body = b"".join([events[0], *events[1 : 1 + chunks - 3], *events[-3:]])

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(
        api_key="sk-bench",
        base_url="https://api.openai.com/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )

    create: Any = client.chat.completions.create

    def once() -> None:
        for _ in create(**payloads.STREAM_ARGS):
            pass

    return once


def stream_split(providers: Providers, rounds: int, calls: int) -> dict[str, float]:
    """tokentrace's added CPU µs on 10- and 50-chunk streams, split into per-call and per-chunk."""
    short, long = 10, payloads.STREAM_CHUNKS
    streams = {short: _stream_client(short), long: _stream_client(long)}
    variants = _Variants(providers)
    times: dict[tuple[bool, int], list[float]] = {(on, n): [] for on in (False, True) for n in streams}
    for round_index in range(rounds):
        for on in (False, True) if round_index % 2 else (True, False):
            variants.switch(0 if on else None)
            for n, once in streams.items():
                once()
                times[(on, n)].append(_timed(once, calls))
    variants.switch(None)
    added = {n: statistics.median(times[(True, n)]) - statistics.median(times[(False, n)]) for n in streams}
    per_chunk = (added[long] - added[short]) / (long - short)
    return {
        "added_short_us": added[short],
        "added_long_us": added[long],
        "short_chunks": short,
        "long_chunks": long,
        "per_chunk_us": per_chunk,
        "per_call_us": added[short] - short * per_chunk,
    }
