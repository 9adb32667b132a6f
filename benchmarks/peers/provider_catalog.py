"""The provider-SDK benchmark's rows, venvs and scenarios (``benchmarks/provider_sdks.py``).

Data, like ``catalog``, and standard library only: the orchestrator and the workers both read it.
A row is a ``catalog.Peer`` (so ``Runner`` and the served workers take it as they are) with the
scenarios it runs: a peer instruments one SDK, so it runs that SDK's scenarios only.

The anthropic SDK opens a span of its own for each call (``anthropic.messages.create``) when a
tracer provider is set globally, as the harness does for every peer; without one it gets a
no-op tracer. The rows whose key ends in ``-no-global`` set no global provider (``adapters``),
so the SDK's own span is measured apart from what an instrumentation adds to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import REPO, Peer, Scenario, Venv

__all__ = ["LONG_STREAM_CHUNKS", "ROWS", "SCENARIOS", "VENVS", "Row", "row", "scenarios_of"]

_OTEL = "opentelemetry-sdk"
_SDKS = ("openai>=3", "anthropic>=2", "google-genai>=3", "httpx2")
_SHOWN = ("opentelemetry-api", "opentelemetry-sdk", "httpx2", "wrapt")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("openai", "OpenAI chat.completions.create"),
    Scenario("gemini", "Gemini generate_content"),
    Scenario("gemini-stream", "Gemini 20-chunk stream", streams=True),
    Scenario("anthropic", "Anthropic messages.create"),
)
LONG_STREAM_CHUNKS = 100
"""The Gemini stream is also counted at this size: the difference is what one chunk costs."""

VENVS: dict[str, Venv] = {
    v.name: v
    for v in (
        Venv("sdks-base", (*_SDKS, _OTEL), ("openai", "anthropic", "google-genai", *_SHOWN), 3),
        Venv(
            "sdks-tokentrace",
            (f"-e {REPO}", *_SDKS),
            ("openai", "anthropic", "google-genai", *_SHOWN, "tokentrace", "genai-prices"),
            3,
        ),
        Venv(
            "genai-official",
            # Only pre-releases exist, so the specifier names one to let pip pick them. It
            # instruments google-genai < 3 only (it leaves 3.x alone, with a warning), so its venv
            # has the newest 2.x, on httpx2 as 3.x is, and its row has a baseline there.
            (
                "google-genai[httpx2]>=1.32,<3",
                "httpx2",
                _OTEL,
                "opentelemetry-instrumentation-google-genai>=1.0b0",
            ),
            (
                "google-genai",
                *_SHOWN,
                "opentelemetry-instrumentation-google-genai",
                "opentelemetry-util-genai",
            ),
            3,
        ),
        Venv(
            "genai-openinference",
            ("google-genai>=3", "httpx2", _OTEL, "openinference-instrumentation-google-genai"),
            ("google-genai", *_SHOWN, "openinference-instrumentation-google-genai"),
            3,
        ),
        Venv(
            "genai-openllmetry",
            # OpenLLMetry's Gemini package keeps its old name; it instruments google.genai.
            ("google-genai>=3", "httpx2", _OTEL, "opentelemetry-instrumentation-google-generativeai"),
            ("google-genai", *_SHOWN, "opentelemetry-instrumentation-google-generativeai"),
            3,
        ),
        Venv(
            "anthropic-openinference",
            ("anthropic>=2", "httpx2", _OTEL, "openinference-instrumentation-anthropic"),
            ("anthropic", *_SHOWN, "openinference-instrumentation-anthropic"),
            3,
        ),
        Venv(
            "anthropic-openllmetry",
            ("anthropic>=2", "httpx2", _OTEL, "opentelemetry-instrumentation-anthropic"),
            ("anthropic", *_SHOWN, "opentelemetry-instrumentation-anthropic"),
            3,
        ),
    )
}


@dataclass(frozen=True)
class Row:
    peer: Peer
    scenarios: tuple[str, ...]


_ALL = tuple(s.key for s in SCENARIOS)
_GEMINI = ("gemini", "gemini-stream")
_ANTHROPIC = ("anthropic",)

ROWS: tuple[Row, ...] = (
    Row(Peer("sdk-baseline", "no instrumentation", "sdks-base", None, "google-genai"), _ALL),
    Row(
        Peer(
            "sdk-baseline-no-global",
            "no instrumentation, no global tracer provider",
            "sdks-base",
            None,
            note="the anthropic SDK's own span then goes to a no-op tracer",
        ),
        _ALL,
    ),
    Row(
        Peer("sdk-tokentrace", "tokentrace (defaults)", "sdks-tokentrace", "sdk-baseline", "tokentrace"), _ALL
    ),
    Row(
        Peer(
            "sdk-tokentrace-no-global",
            "tokentrace (defaults), no global tracer provider",
            "sdks-tokentrace",
            "sdk-baseline-no-global",
            "tokentrace",
            note="its own span instead of enriching the anthropic SDK's",
        ),
        _ANTHROPIC,
    ),
    Row(
        Peer(
            "genai2-baseline",
            "no instrumentation (google-genai 2.x, the official package's baseline)",
            "genai-official",
            None,
            "google-genai",
        ),
        _GEMINI,
    ),
    Row(
        Peer(
            "genai-official",
            "official (opentelemetry-instrumentation-google-genai)",
            "genai-official",
            "genai2-baseline",
            "opentelemetry-instrumentation-google-genai",
        ),
        _GEMINI,
    ),
    Row(
        Peer(
            "genai-openinference",
            "OpenInference (openinference-instrumentation-google-genai)",
            "genai-openinference",
            "sdk-baseline",
            "openinference-instrumentation-google-genai",
        ),
        _GEMINI,
    ),
    Row(
        Peer(
            "genai-openllmetry",
            "OpenLLMetry (opentelemetry-instrumentation-google-generativeai)",
            "genai-openllmetry",
            "sdk-baseline",
            "opentelemetry-instrumentation-google-generativeai",
        ),
        _GEMINI,
    ),
    Row(
        Peer(
            "anthropic-openinference",
            "OpenInference (openinference-instrumentation-anthropic)",
            "anthropic-openinference",
            "sdk-baseline",
            "openinference-instrumentation-anthropic",
        ),
        _ANTHROPIC,
    ),
    Row(
        Peer(
            "anthropic-openllmetry",
            "OpenLLMetry (opentelemetry-instrumentation-anthropic)",
            "anthropic-openllmetry",
            "sdk-baseline",
            "opentelemetry-instrumentation-anthropic",
        ),
        _ANTHROPIC,
    ),
)


def row(key: str) -> Row:
    for r in ROWS:
        if r.peer.key == key:
            return r
    raise KeyError(key)


def scenarios_of(key: str) -> tuple[str, ...]:
    return row(key).scenarios
