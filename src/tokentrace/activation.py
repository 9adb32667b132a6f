"""Switching tokentrace on and off: the one place that knows *where* it patches, and its state.

``tokentrace.instrument()`` calls this directly; ``TokenTraceInstrumentor`` (the entry point
``opentelemetry-instrument`` finds) is a thin ``BaseInstrumentor`` in front of the same state, so
the two ways of switching on are one switch. Keeping ``opentelemetry.instrumentation`` out of this
module keeps it (and the ``packaging`` library it imports for its dependency checks) out of an
app's start-up when the app uses ``tokentrace.instrument()``.

Each library is patched when it is imported (a post-import hook), so the order of ``import openai``
and ``instrument()`` does not matter, and importing tokentrace never imports the libraries it
patches.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import config, names
from ._guard import logger
from ._version import __version__
from .budgets import Budget, BudgetBook, BudgetState
from .budgets.from_ledger import preload_from_ledger
from .config import Settings
from .fallback import Fallback, FallbackBook
from .ledger.paths import ledger_path
from .pricing import PriceBook, PriceOverride, load_price_file
from .summary import GroupSummary, SummarySink

if TYPE_CHECKING:
    from .telemetry.recorder import Recorder

__all__ = [
    "Instrumentation",
    "add_budget",
    "add_fallback",
    "budget_states",
    "instrumentation",
    "price_book",
    "set_budgets",
    "set_fallbacks",
    "set_prices",
    "summary",
    "summary_sink",
]


_PROVIDER_ARGS = ("tracer_provider", "meter_provider")

Patch = tuple[str, str, Callable[..., Any]]  # module, "Class.method", wrapper


def _openai_patches(recorder: Recorder) -> list[Patch]:
    from .patches import openai_sdk

    version = str(getattr(sys.modules.get("openai"), "__version__", ""))
    if version.startswith("0."):  # the 0.x SDK runs on requests and aiohttp: those patches see it
        logger.debug(
            "tokentrace: openai %s predates the 1.x SDK; its calls are recorded through the "
            "requests and aiohttp patches",
            version,
        )
        return []
    base_client = importlib.import_module("openai._base_client")
    wrappers = openai_sdk.make_wrappers_for(recorder, (base_client.Stream, base_client.AsyncStream))
    return [(m, a, w) for (m, a), w in zip(openai_sdk.TARGETS, wrappers, strict=True)]


def _requests_patches(recorder: Recorder) -> list[Patch]:
    from .calls.apis import PathTable
    from .patches import requests_session

    wrapper = requests_session.make_wrapper_for(recorder, PathTable(recorder.settings.http_endpoints))
    return [(m, a, wrapper) for m, a in requests_session.TARGETS]


def _httpx_patches(module: str) -> Callable[[Recorder], list[Patch]]:
    def patches(recorder: Recorder) -> list[Patch]:
        from .calls.apis import PathTable
        from .patches import httpx_client

        wrappers = httpx_client.make_wrappers_for(recorder, PathTable(recorder.settings.http_endpoints))
        return [(m, a, w) for (m, a), w in zip(httpx_client.targets(module), wrappers, strict=True)]

    return patches


def _patch_failed(library: str, exc: Exception) -> None:
    """A library tokentrace could not patch: said once, with what failed; nothing else changes."""
    if config.raise_internal_errors():
        raise exc
    version = getattr(sys.modules.get(library), "__version__", "")
    logger.warning(
        "tokentrace could not patch %s %s (%s: %s): its calls are not recorded through that patch. "
        "Your calls are unaffected.",
        library,
        version,
        type(exc).__name__,
        exc,
    )
    logger.debug("tokentrace: patching %s failed", library, exc_info=exc)


def _aiohttp_patches(recorder: Recorder) -> list[Patch]:
    from .calls.apis import PathTable
    from .patches import aiohttp_session

    wrapper = aiohttp_session.make_wrapper_for(recorder, PathTable(recorder.settings.http_endpoints))
    return [(m, a, wrapper) for m, a in aiohttp_session.TARGETS]


def _pool_patches(recorder: Recorder) -> list[Patch]:
    from .patches import pools

    return [(m, a, pools.submit_in_context) for m, a in pools.TARGETS]


_SDK_LIBRARIES: dict[str, Callable[[Recorder], list[Patch]]] = {"openai": _openai_patches}
_POOL_LIBRARIES: dict[str, Callable[[Recorder], list[Patch]]] = {"concurrent.futures.thread": _pool_patches}
_HTTP_LIBRARIES: dict[str, Callable[[Recorder], list[Patch]]] = {
    "requests": _requests_patches,
    "httpx": _httpx_patches("httpx"),
    "httpx2": _httpx_patches("httpx2"),
    "aiohttp": _aiohttp_patches,
}


def _unwrap(module_name: str, attribute: str) -> None:
    """Put back the original of ``module.Class.method`` that ``wrapt.wrap_function_wrapper`` wrapped."""
    owner_name, _, method = attribute.rpartition(".")
    owner: Any = importlib.import_module(module_name)
    for part in owner_name.split(".") if owner_name else ():
        owner = getattr(owner, part)
    import wrapt

    current = vars(owner).get(method) if isinstance(owner, type) else getattr(owner, method, None)
    if isinstance(current, wrapt.FunctionWrapper):
        setattr(owner, method, current.__wrapped__)


class Instrumentation:
    """tokentrace switched on or off in this process: its recorder, ledger and patches.

    One instance per process (``instrumentation()``). ``start`` is what ``instrument()`` does;
    ``stop`` puts back every original.
    """

    def __init__(self) -> None:
        self.prices = PriceBook()
        """The price book calls are priced with: bundled data under the file's and code's overrides."""
        self.budgets = BudgetBook()
        """The budgets every call is checked against (``instrument(budgets=...)``, ``add_budget``)."""
        self.fallbacks = FallbackBook()
        """The fallback chains calls are resent along (``instrument(fallbacks=...)``, ``add_fallback``)."""
        self.summary = SummarySink()
        """The in-process summary every finished call is added to (``tokentrace.summary()``)."""
        # Overrides by origin: the price file first, code (``set_prices``) after, so code wins.
        self._overrides: dict[str, tuple[PriceOverride, ...]] = {"file": (), "code": ()}
        self._overrides_lock = threading.Lock()
        self._recorder: Recorder | None = None
        self._ledger: Any = None
        self._libraries: dict[str, Callable[[Recorder], list[Patch]]] = {}
        self._patched: dict[str, list[tuple[str, str]]] = {}
        self._hooked: set[str] = set()  # post-import hooks are registered once per process

    @property
    def active(self) -> bool:
        """Whether tokentrace is switched on."""
        return self._recorder is not None

    @property
    def recorder(self) -> Recorder | None:
        """What turns calls into telemetry while switched on (``None`` while off)."""
        return self._recorder

    @property
    def ledger(self) -> Any:
        """The ledger sink while switched on with a ledger (``flush()``, ``close()``, ``path``)."""
        return self._ledger

    def start(self, **kwargs: Any) -> bool:
        """Switch on with ``kwargs`` (providers and ``Settings`` fields); False if already on."""
        if self.active:
            logger.warning("tokentrace: instrument() called while already instrumented; nothing changed")
            return False
        settings = Settings.resolve({k: v for k, v in kwargs.items() if k not in _PROVIDER_ARGS})
        # A bad price file is the user's to fix: it raises here, never in the middle of a call.
        self.set_prices("file", tuple(load_price_file(settings.prices)) if settings.prices else ())
        # A missing redis client raises here, before the budgets change: a failed start changes nothing.
        store = _budget_store(settings)
        if settings.budgets is not None:
            self.set_budgets(settings.budgets)
        if settings.fallbacks is not None:
            self.fallbacks.replace(settings.fallbacks)
        self.budgets.failure_mode = settings.budget_failure_mode
        self.budgets.use_store(store, lease=settings.budget_store_lease)
        import wrapt
        from opentelemetry import metrics, trace

        from .telemetry.recorder import Recorder
        from .telemetry.sdk_setup import app_configured_telemetry, ensure_providers

        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        app_telemetry = app_configured_telemetry(tracer_provider, meter_provider)
        if tracer_provider is None or meter_provider is None:
            ensure_providers(traces=tracer_provider is None, metrics_=meter_provider is None)
        tracer = trace.get_tracer(names.SCOPE, __version__, tracer_provider, schema_url=names.SCHEMA_URL)
        meter = metrics.get_meter(names.SCOPE, __version__, meter_provider, schema_url=names.SCHEMA_URL)
        recorder = Recorder(tracer, meter, settings, self.prices, self.budgets, self.fallbacks)
        recorder.sinks.append(self.summary)
        path = ledger_path(settings.ledger, app_telemetry)
        if path is not None:
            from .ledger import LedgerSink

            self._ledger = LedgerSink(path)  # a file that is not a ledger raises here, at start
            recorder.sinks.append(self._ledger)
        preload_from_ledger(self.budgets, path)
        self._patched = {}
        from .patches._usage_hint import forget_hosts

        forget_hosts()  # a new instrument() tells each host again
        self._libraries = {
            **_SDK_LIBRARIES,
            **(_HTTP_LIBRARIES if settings.http else {}),
            **(_POOL_LIBRARIES if settings.pool_context else {}),
        }
        from . import tracking
        from .telemetry.context import OtelCarrier

        tracking.set_carrier(OtelCarrier(baggage_too=settings.tracking_baggage))
        self._recorder = recorder  # on from here: a start that raised above left it off
        for library in self._libraries:
            if library in sys.modules:
                self._patch(library)
            elif library not in self._hooked:
                # Registered once per process; the hook does nothing while switched off.
                self._hooked.add(library)
                wrapt.register_post_import_hook(self._on_import, library)
        return True

    def _on_import(self, module: Any) -> None:
        self._patch(module.__name__)

    def _patch(self, library: str) -> None:
        recorder = self._recorder
        make = self._libraries.get(library)
        if recorder is None or make is None or library in self._patched:
            return
        done: list[tuple[str, str]] = []
        import wrapt

        try:
            for module_name, attribute, wrapper in make(recorder):
                wrapt.wrap_function_wrapper(module_name, attribute, wrapper)
                done.append((module_name, attribute))
        except Exception as exc:  # an unsupported version of the library: leave it unpatched
            _patch_failed(library, exc)
        self._patched[library] = done

    def set_prices(self, origin: str, overrides: tuple[PriceOverride, ...]) -> None:
        """Replace the overrides of one origin (``file`` or ``code``)."""
        with self._overrides_lock:
            self._overrides[origin] = overrides
            self.prices.set_overrides((*self._overrides["file"], *self._overrides["code"]))

    def set_budgets(self, budgets: Iterable[Budget]) -> None:
        """Replace every budget."""
        for budget in self.budgets.budgets:
            self.budgets.remove(budget)
        for budget in budgets:
            self.budgets.add(budget)

    def stop(self) -> None:
        """Switch off: every patched method gets its original back, the ledger is retired.

        A call already under way (a stream still being read, an answer still on its way) finishes
        under the recorder that started it: its span ends, its cost is charged, and its row goes to
        the ledger it began with. That ledger is retired, not closed: what it holds is committed
        now, so a new activation's budgets read it whole, and it still writes the rows of calls
        that finish later, until it is closed at exit (``LedgerSink.retire``).
        """
        for patches in self._patched.values():
            for module_name, attribute in patches:
                _unwrap(module_name, attribute)
        self._patched = {}
        self._recorder = None
        from . import tracking

        tracking.set_carrier(None)
        if self._ledger is not None:
            self._ledger.retire()
            self._ledger = None


def _budget_store(settings: Settings) -> Any:
    """The shared budget store the settings name, or None; redis-py is imported only then."""
    if settings.budget_store is None:
        return None
    from .budgets.redis_store import RedisStore

    return RedisStore(
        settings.budget_store,
        prefix=settings.budget_store_prefix,
        timeout=settings.budget_store_timeout,
        password=settings.budget_store_password,
    )


_INSTANCE = Instrumentation()


def instrumentation() -> Instrumentation:
    """The process's one ``Instrumentation``."""
    return _INSTANCE


def set_prices(overrides: Iterable[PriceOverride | Mapping[str, Any]]) -> None:
    """Prices from code (per 1M tokens, USD), winning over the price file and the bundled data.

    Each entry is a ``PriceOverride`` or a mapping of its fields, e.g.
    ``{"model": "house-llm", "provider": "llm.internal", "input": 0.2, "output": 0.6}``.
    Calling it again replaces the earlier code overrides.
    """
    entries = tuple(e if isinstance(e, PriceOverride) else PriceOverride(**dict(e)) for e in overrides)
    _INSTANCE.set_prices("code", entries)


def price_book() -> PriceBook:
    """The process-wide price book tokentrace prices calls with."""
    return _INSTANCE.prices


def add_budget(budget: Budget) -> Budget:
    """Add a budget now; it applies to the next call. Returns it (for ``remove``)."""
    _INSTANCE.budgets.add(budget)
    return budget


def budget_states() -> list[BudgetState]:
    """Spend and what remains of every budget, in its current window."""
    return _INSTANCE.budgets.states()


def set_budgets(budgets: Iterable[Budget]) -> None:
    """Replace every budget of the process."""
    _INSTANCE.set_budgets(budgets)


def add_fallback(fallback: Fallback) -> Fallback:
    """Add a fallback chain now; it applies to the next call. Returns it (for ``remove``).

    A ``ValueError`` when one of its models is already in another chain.
    """
    _INSTANCE.fallbacks.add(fallback)
    return fallback


def set_fallbacks(fallbacks: Iterable[Fallback]) -> None:
    """Replace every fallback chain of the process (``[]`` removes them all)."""
    _INSTANCE.fallbacks.replace(fallbacks)


def summary_sink() -> SummarySink:
    """The process's in-process summary (what ``summary()`` reads)."""
    return _INSTANCE.summary


def summary(
    by: Sequence[str] = ("model",),
    since: datetime | timedelta | float | None = None,
) -> list[GroupSummary]:
    """Totals per group of the calls this process made; see ``SummarySink.summary``."""
    return _INSTANCE.summary.summary(by, since)
