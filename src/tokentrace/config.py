"""Settings: each one comes from an ``instrument()`` argument, else its environment variable, else a default.

The table ``_FIELDS`` is the single place that says which is which, so documentation, the CLI and
``instrument()`` agree. Settings are read once at ``instrument()`` time; nothing here runs per call.
This module is the only reader of ``os.environ`` in tokentrace: the few variables read outside
``instrument()`` (the CLI's defaults, the OpenTelemetry exporters, the user folders, the internal
error switch) are read through the functions at its end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from . import names
from .calls.apis import SHAPES as _API_SHAPES

__all__ = [
    "DEFAULT_STREAM_USAGE_HOSTS",
    "BudgetFailureMode",
    "Settings",
    "SettingsError",
    "StreamUsagePolicy",
]

StreamUsagePolicy = Literal["auto", "always", "never"]
BudgetFailureMode = Literal["open", "closed"]
CoexistMode = Literal["enrich", "own", "both"]

# Hosts known to accept ``stream_options={"include_usage": true}`` on chat completions. Others may
# reject an unknown field, so in ``auto`` mode we only add it where it is known to be safe. A leading
# dot matches any subdomain.
DEFAULT_STREAM_USAGE_HOSTS: tuple[str, ...] = (
    "api.openai.com",
    ".openai.azure.com",
    "api.deepseek.com",
    "generativelanguage.googleapis.com",
    "api.groq.com",
    "openrouter.ai",
    "api.x.ai",
    "api.together.xyz",
    "api.fireworks.ai",
)


class SettingsError(ValueError):
    """A setting has a value tokentrace cannot use; the message names the setting and its source."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _parse_policy(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("auto", "always", "never"):
        raise ValueError(f"expected auto, always or never, got {raw!r}")
    return value


def _parse_failure_mode(raw: str) -> str:
    value = raw.strip().lower()
    if value not in names.BUDGET_FAILURE_MODES:
        raise ValueError(f"expected open or closed, got {raw!r}")
    return value


def _parse_coexist(raw: str) -> str:
    value = raw.strip().lower()
    if value not in names.COEXIST_MODES:
        raise ValueError(f"expected {', '.join(names.COEXIST_MODES)}, got {raw!r}")
    return value


def _parse_store(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    scheme, sep, _ = value.partition("://")
    if not sep or scheme.lower() not in names.BUDGET_STORE_SCHEMES:
        # The URL itself may hold a password: the message shows its scheme only.
        raise ValueError(f"expected a redis:// or rediss:// URL, got one starting {scheme[:10]!r}")
    return value


def _parse_seconds(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise ValueError(f"expected a number of seconds above zero, got {raw!r}")
    return value


def _parse_prefix(raw: str) -> str:
    value = raw.strip()
    if not value or any(c in value for c in "{} \t\n"):
        raise ValueError(f"expected a non-empty key prefix without braces or spaces, got {raw!r}")
    return value


def _parse_count(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"expected a whole number of zero or more, got {raw!r}")
    return value


def _parse_endpoints(raw: str) -> dict[str, str]:
    endpoints: dict[str, str] = {}
    for item in _parse_list(raw):
        suffix, sep, kind = item.partition("=")
        if not sep or not suffix.strip() or kind.strip() not in _API_SHAPES:
            raise ValueError(
                f"expected PATH_SUFFIX=SHAPE with SHAPE one of {', '.join(_API_SHAPES)}, got {item!r}"
            )
        endpoints[suffix.strip()] = kind.strip()
    return endpoints


def _parse_ledger(raw: str) -> str | bool:
    value = raw.strip()
    if value.lower() in ("0", "false", "no", "off", "none"):
        return False
    if value.lower() in ("1", "true", "yes", "on", ""):
        return True
    return value


def _parse_semconv(raw: str) -> bool:
    return names.SEMCONV_OPT_IN_LATEST in _parse_list(raw)


@dataclass(frozen=True)
class _Field:
    name: str
    env: str | None
    parse: Callable[[str], Any]


_FIELDS: tuple[_Field, ...] = (
    _Field("capture_content", names.ENV_CAPTURE_CONTENT, _parse_bool),
    _Field("latest_semconv", names.ENV_SEMCONV_OPT_IN, _parse_semconv),
    _Field("stream_usage", names.ENV_STREAM_USAGE, _parse_policy),
    _Field("stream_usage_hosts", names.ENV_STREAM_USAGE_HOSTS, _parse_list),
    _Field("tracking_ids", names.ENV_TRACKING_IDS, _parse_list),
    _Field("max_tracking_ids", names.ENV_MAX_TRACKING_IDS, _parse_count),
    _Field("max_models", names.ENV_MAX_MODELS, _parse_count),
    _Field("prices", names.ENV_PRICES, str),
    _Field("http", names.ENV_HTTP, _parse_bool),
    _Field("http_endpoints", names.ENV_HTTP_ENDPOINTS, _parse_endpoints),
    _Field("budgets", None, str),
    _Field("fallbacks", None, str),
    _Field("budget_failure_mode", names.ENV_BUDGET_FAILURE_MODE, _parse_failure_mode),
    _Field("budget_store", names.ENV_BUDGET_STORE, _parse_store),
    _Field("budget_store_password", names.ENV_BUDGET_STORE_PASSWORD, str),
    _Field("budget_store_prefix", names.ENV_BUDGET_STORE_PREFIX, _parse_prefix),
    _Field("budget_store_timeout", names.ENV_BUDGET_STORE_TIMEOUT, _parse_seconds),
    _Field("budget_store_lease", names.ENV_BUDGET_STORE_LEASE, _parse_seconds),
    _Field("ledger", names.ENV_LEDGER, _parse_ledger),
    _Field("cost_breakdown", names.ENV_COST_BREAKDOWN, _parse_bool),
    _Field("cost_histogram", names.ENV_COST_HISTOGRAM, _parse_bool),
    _Field("pool_context", names.ENV_POOL_CONTEXT, _parse_bool),
    _Field("tracking_baggage", names.ENV_TRACKING_BAGGAGE, _parse_bool),
    _Field("coexist", names.ENV_COEXIST, _parse_coexist),
)


@dataclass(frozen=True)
class Settings:
    """What ``instrument()`` was asked to do.

    ``stream_usage_hosts`` extends (never replaces) ``DEFAULT_STREAM_USAGE_HOSTS``.
    ``tracking_ids``, when given, is the allow-list of tracking ids that may appear on metrics;
    otherwise the first ``max_tracking_ids`` distinct ids do, and later ones become ``_OTHER``.
    Spans always carry the real tracking id.
    """

    capture_content: bool = False
    latest_semconv: bool = False
    stream_usage: StreamUsagePolicy = "auto"
    stream_usage_hosts: tuple[str, ...] = ()
    tracking_ids: tuple[str, ...] | None = None
    max_tracking_ids: int = 100
    max_models: int = 100
    """Distinct request and response model names on metrics before ``_OTHER``; a model with a
    known price always keeps its name (the price table bounds those). Spans keep every name."""
    prices: str | None = None
    http: bool = True
    """Also record plain ``requests`` / ``httpx`` / ``httpx2`` calls to LLM endpoints."""
    http_endpoints: Mapping[str, str] | None = None
    """More LLM endpoints for plain HTTP calls: path suffix -> API shape (``chat``, ``messages``, …)."""
    budgets: tuple[Any, ...] | None = None
    """``tokentrace.Budget`` objects; they replace the budgets added before (code only, no env var)."""
    fallbacks: tuple[Any, ...] | None = None
    """``tokentrace.Fallback`` chains; they replace the chains added before (code only, no env var)."""
    budget_failure_mode: BudgetFailureMode = "open"
    """What a call gets when its budgets cannot be checked: ``open`` sends it (logged once),
    ``closed`` refuses it with ``BudgetUnavailableError``. A setting of the whole budget book.
    It also decides what calls get while the shared budget store is unreachable."""
    budget_store: str | None = field(default=None, repr=False)
    """A ``redis://`` or ``rediss://`` URL: every budget's spend and reservations are kept there,
    shared by every process and machine naming the same store (docs/fleet.md). None: in memory."""
    budget_store_password: str | None = field(default=None, repr=False)
    """The store's password, when it is not in the URL. Never logged or recorded."""
    budget_store_prefix: str = names.BUDGET_STORE_DEFAULT_PREFIX
    """The first part of every key in the store, so several apps can share one Redis."""
    budget_store_timeout: float = names.BUDGET_STORE_DEFAULT_TIMEOUT
    """Seconds a call waits on the store per round trip before counting it as unreachable."""
    budget_store_lease: float = names.BUDGET_STORE_DEFAULT_LEASE
    """Seconds a call's reservation lives in the store if the call never settles (a crash)."""
    ledger: str | bool | None = None
    """A path, True (the default path), False (off), or None: on when the app has no telemetry
    pipeline of its own (no OTLP endpoint, no OpenTelemetry providers it set up)."""
    cost_breakdown: bool = False
    """Also put each call's cost by token kind on its span (``tokentrace.cost.input`` …)."""
    cost_histogram: bool = False
    """Also record each call's cost in the ``gen_ai.client.operation.cost`` histogram. Off by
    default: one more SDK histogram point per call, about as much as the rest of pricing; the
    cost counter (totals and rates by model and tracking id) is always on and nearly free."""
    pool_context: bool = True
    """Work submitted to a ``concurrent.futures.ThreadPoolExecutor`` (``submit``, ``map``,
    ``loop.run_in_executor``) from inside ``track()`` runs with the submitter's context, as an
    asyncio task does, so its calls carry the tracking id."""
    tracking_baggage: bool = False
    """Also put the innermost tracking id in W3C baggage (``tokentrace.tracking_id``), so an
    instrumented HTTP client takes it to downstream services, and read it from baggage when the
    calling context has no ``track()`` of its own (a service downstream)."""
    coexist: CoexistMode = "enrich"
    """What tokentrace does when another instrumentation's GenAI span of the call is open (DESIGN
    §7a): ``enrich`` puts cost, tracking id and price on that span and leaves the token and duration
    histograms to it; ``own`` records everything itself and asks instrumentations under it to step
    aside (OpenTelemetry's suppression key); ``both`` lets both record."""

    @classmethod
    def resolve(cls, arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``instrument()`` keyword arguments, then the environment, then defaults."""
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise SettingsError(
                f"unknown tokentrace setting(s): {', '.join(unknown)}; known: {sorted(known)}"
            )
        values: dict[str, Any] = {}
        for spec in _FIELDS:
            if arguments.get(spec.name) is not None:
                values[spec.name] = _coerce(spec, arguments[spec.name])
            elif spec.env is not None and spec.env in env:
                try:
                    values[spec.name] = spec.parse(env[spec.env])
                except ValueError as exc:
                    raise SettingsError(f"environment variable {spec.env}: {exc}") from None
        return cls(**values)

    def all_stream_usage_hosts(self) -> tuple[str, ...]:
        return DEFAULT_STREAM_USAGE_HOSTS + tuple(h.lower() for h in self.stream_usage_hosts)


def _coerce(spec: _Field, value: Any) -> Any:
    """Accept the natural Python type for an argument, or the same text the env var takes.

    Anything else is a ``SettingsError`` naming the argument: ``capture_content="no"`` means no,
    but ``capture_content=0`` or ``max_tracking_ids=True`` is refused rather than guessed at.
    """
    try:
        if isinstance(value, str) and spec.parse is not str:
            return spec.parse(value)
        return _ARGUMENTS[spec.name](value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"instrument({spec.name}=...): {exc}") from None


def _flag(value: Any) -> bool:
    if type(value) is not bool:
        raise ValueError(f"expected True or False, got {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of zero or more, got {value!r}")
    return value


def _policy(value: Any) -> str:
    raise ValueError(f"expected auto, always or never, got {value!r}")  # only strings are read


def _failure_mode(value: Any) -> str:
    raise ValueError(f"expected open or closed, got {value!r}")  # only strings are read


def _coexist(value: Any) -> str:
    raise ValueError(f"expected {', '.join(names.COEXIST_MODES)}, got {value!r}")  # only strings are read


def _store(value: Any) -> str | None:
    if not isinstance(value, str):
        raise ValueError("expected a redis:// or rediss:// URL")
    return _parse_store(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number of seconds, got {value!r}")
    return _parse_seconds(str(value))


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings (or one comma-separated string), got {value!r}")
    return tuple(value)


def _path(value: Any) -> str | os.PathLike[str]:
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"expected a file path, got {value!r}")
    return value


def _ledger(value: Any) -> str | bool:
    if isinstance(value, bool):
        return value
    return str(os.fspath(_path(value)))


def _endpoints(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of path suffix to API shape, got {value!r}")
    bad = {k: v for k, v in value.items() if not isinstance(k, str) or v not in _API_SHAPES}
    if bad:
        raise ValueError(f"unknown API shape(s) {bad}; use {_API_SHAPES}")
    return dict(value)


def _budgets(value: Any) -> tuple[Any, ...]:
    from .budgets.budget import Budget  # only when budgets are given

    given = (value,) if isinstance(value, Budget) or not isinstance(value, Iterable) else tuple(value)
    wrong = [b for b in given if not isinstance(b, Budget)]
    if wrong:
        raise ValueError(f"expected tokentrace.Budget objects, got {wrong[0]!r}")
    return given


def _fallbacks(value: Any) -> tuple[Any, ...]:
    from .fallback import Fallback, FallbackBook  # only when fallbacks are given

    given = (value,) if isinstance(value, Fallback) or not isinstance(value, Iterable) else tuple(value)
    wrong = [f for f in given if not isinstance(f, Fallback)]
    if wrong:
        raise ValueError(f"expected tokentrace.Fallback objects, got {wrong[0]!r}")
    FallbackBook(given)  # a model in two chains is refused here, at instrument() time
    return given


_ARGUMENTS: dict[str, Callable[[Any], Any]] = {
    "capture_content": _flag,
    "latest_semconv": _flag,
    "stream_usage": _policy,
    "stream_usage_hosts": _names,
    "tracking_ids": _names,
    "max_tracking_ids": _count,
    "max_models": _count,
    "prices": _path,
    "http": _flag,
    "http_endpoints": _endpoints,
    "budgets": _budgets,
    "fallbacks": _fallbacks,
    "ledger": _ledger,
    "cost_breakdown": _flag,
    "cost_histogram": _flag,
    "budget_failure_mode": _failure_mode,
    "pool_context": _flag,
    "tracking_baggage": _flag,
    "coexist": _coexist,
    "budget_store": _store,
    "budget_store_password": _text,
    "budget_store_prefix": lambda value: _parse_prefix(_text(value)),
    "budget_store_timeout": _seconds,
    "budget_store_lease": _seconds,
}


def environment_setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting as the environment alone gives it (None when unset), parsed as ``instrument()``
    parses it: the CLI reads the same variables an instrumented app does."""
    env = os.environ if environ is None else environ
    spec = next(f for f in _FIELDS if f.name == name)
    if spec.env is None or spec.env not in env:
        return None
    try:
        return spec.parse(env[spec.env])
    except ValueError as exc:
        raise SettingsError(f"environment variable {spec.env}: {exc}") from None


def otlp_endpoint_configured(signal: str | None = None) -> bool:
    """Whether an OTLP endpoint is named in the environment: for ``signal`` (``traces``,
    ``metrics``) or, without one, for any signal."""
    if signal is None:
        return any(os.environ.get(name) for name in names.ENV_OTLP_ENDPOINTS)
    return (
        names.ENV_OTLP_ENDPOINT in os.environ or f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT" in os.environ
    )


def exporter_names(signal: str) -> list[str] | None:
    """The exporters ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` name (``none`` left out),
    or None when the variable is unset."""
    configured = os.environ.get(names.ENV_EXPORTERS[signal])
    if configured is None:
        return None
    return [n.strip().lower() for n in configured.split(",") if n.strip() and n.strip().lower() != "none"]


def raise_internal_errors() -> bool:
    """Whether tokentrace's own errors are raised instead of logged: under the test suite, or when
    ``TOKENTRACE_RAISE_INTERNAL_ERRORS`` says so."""
    flag = os.environ.get(names.ENV_RAISE_INTERNAL_ERRORS)
    if flag is not None:
        return flag.strip().lower() in ("1", "true", "yes", "on")
    return names.ENV_PYTEST_CURRENT_TEST in os.environ


def environment_value(name: str) -> str:
    """A variable read outside the settings table (the platform's folders such as ``XDG_DATA_HOME``,
    the price cache's ``TOKENTRACE_PRICE_CACHE``), or ``""`` when unset."""
    return os.environ.get(name, "")
