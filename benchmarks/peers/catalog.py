"""The peers: what each one is, which venv it runs in, what that venv installs, what it is compared to.

Data, not code: adding a peer is one ``Peer`` here and one adapter in ``adapters``. Install quirks
(undeclared dependencies, pre-release-only packages, a pinned openai major) live in the requirement
lists, each with the reason next to it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PEERS", "SCENARIOS", "TRANSPORTS", "VENVS", "WORKER_ENV", "Peer", "Scenario", "Venv", "peer"]

REPO = "{repo}"
"""Replaced by the repository's path when installing (``pip install -e``)."""

_OTEL = "opentelemetry-sdk"

WORKER_ENV = {
    # Content capture off, each peer by its own switch. Off is the default of the official package
    # and tokentrace, and they disagree on the spelling of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    # (util-genai wants NO_CONTENT and logs a warning on every call for "false"), so it stays unset;
    # OpenLIT gets capture_message_content=False and OpenInference a TraceConfig in adapters.
    "TRACELOOP_TRACE_CONTENT": "false",
    "OPENINFERENCE_HIDE_INPUTS": "true",
    "OPENINFERENCE_HIDE_OUTPUTS": "true",
    # Nothing configured from the environment: the worker hands every peer its own providers.
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
}


@dataclass(frozen=True)
class Venv:
    name: str
    requirements: tuple[str, ...]
    packages: tuple[str, ...]
    """Distributions whose versions the report lists."""
    openai_major: int


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    venv: str
    baseline: str | None
    """The peer this one's added time is measured against; None for a baseline."""
    package: str | None = None
    """The distribution that is the peer (its version goes in the tables)."""
    plain_http: bool = False
    """Also run the plain ``requests`` scenario (only tokentrace records those calls)."""
    expects_files: tuple[str, ...] = ()
    """Files the peer should write into its scratch directory; the report says when one is missing."""
    note: str = ""


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    streams: bool = False
    plain_http: bool = False


_COMMON = ("openai", "pydantic", "opentelemetry-api", "opentelemetry-sdk", "wrapt")

VENVS: dict[str, Venv] = {
    v.name: v
    for v in (
        Venv("base", ("openai>=3", "httpx2", _OTEL, "requests"), (*_COMMON, "httpx2", "requests"), 3),
        Venv(
            "tokentrace",
            (f"-e {REPO}", "openai>=3", "httpx2", "requests"),
            (*_COMMON, "httpx2", "requests", "tokentrace", "genai-prices"),
            3,
        ),
        Venv(
            "official",
            (
                "openai>=3",
                "httpx2",
                # It imports httpx.URL without declaring httpx; with openai 3 (on httpx2) nothing
                # else installs it.
                "httpx",
                _OTEL,
                # Only pre-releases exist, so the specifiers name one to let pip pick them.
                "opentelemetry-instrumentation-openai-v2>=2.0b0",
                # 1.2 renamed a module the instrumentation imports.
                "opentelemetry-util-genai>=1.0b0,<1.2b0",
            ),
            (*_COMMON, "httpx2", "opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai"),
            3,
        ),
        Venv(
            "openllmetry",
            ("openai>=3", "httpx2", _OTEL, "opentelemetry-instrumentation-openai"),
            (
                *_COMMON,
                "httpx2",
                "opentelemetry-instrumentation-openai",
                "opentelemetry-semantic-conventions-ai",
            ),
            3,
        ),
        Venv(
            "openinference",
            ("openai>=3", "httpx2", _OTEL, "openinference-instrumentation-openai"),
            (*_COMMON, "httpx2", "openinference-instrumentation-openai", "openinference-instrumentation"),
            3,
        ),
        # OpenLIT requires openai<3, so it gets its own openai 2.x (httpx) baseline in its venv.
        Venv("openlit", ("openlit", "httpx", _OTEL), (*_COMMON, "httpx", "openlit"), 2),
    )
}

PEERS: tuple[Peer, ...] = (
    Peer("baseline", "no instrumentation (openai 3.x)", "base", None, "openai", plain_http=True),
    Peer(
        "floor",
        "floor: hand-written span (12 attributes) + 3 histogram points",
        "base",
        "baseline",
        note="written in the harness around each call, no wrapt",
    ),
    Peer("tokentrace", "tokentrace (defaults)", "tokentrace", "baseline", "tokentrace", plain_http=True),
    Peer(
        "tokentrace-ledger",
        "tokentrace + ledger + budgets",
        "tokentrace",
        "baseline",
        "tokentrace",
        plain_http=True,
        expects_files=("ledger.sqlite3",),
        note="a SQLite ledger in a scratch directory and a 1,000,000 USD/day budget (checked, never hit); "
        "skipped while those APIs are missing (TODO hook in adapters.py)",
    ),
    Peer(
        "official",
        "official (opentelemetry-instrumentation-openai-v2)",
        "official",
        "baseline",
        "opentelemetry-instrumentation-openai-v2",
    ),
    Peer(
        "openllmetry",
        "OpenLLMetry (opentelemetry-instrumentation-openai)",
        "openllmetry",
        "baseline",
        "opentelemetry-instrumentation-openai",
    ),
    Peer(
        "openinference",
        "OpenInference (openinference-instrumentation-openai)",
        "openinference",
        "baseline",
        "openinference-instrumentation-openai",
    ),
    Peer(
        "baseline-openai2", "no instrumentation (openai 2.x, OpenLIT's baseline)", "openlit", None, "openai"
    ),
    Peer("openlit", "OpenLIT (openlit)", "openlit", "baseline-openai2", "openlit"),
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("chat", "sync chat"),
    Scenario("achat", "async chat"),
    Scenario("stream", "50-chunk stream", streams=True),
    Scenario("embed", "embeddings"),
    Scenario("requests", "plain requests POST /chat/completions", plain_http=True),
)

TRANSPORTS = ("mock", "loopback")


def peer(key: str) -> Peer:
    for p in PEERS:
        if p.key == key:
            return p
    raise KeyError(key)
