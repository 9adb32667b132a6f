"""``TokenTraceInstrumentor``: the only code that knows *where* tokentrace patches.

Found by ``opentelemetry-instrument`` through the ``opentelemetry_instrumentor`` entry point named
``tokentrace``. Each library is patched when it is imported (a post-import hook), so the order of
``import openai`` and ``instrument()`` does not matter, and importing tokentrace never imports the
libraries it patches.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection
from typing import Any

import wrapt
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from . import budgeting, costing
from ._guard import internal_error
from ._otel_setup import app_configured_telemetry, ensure_providers
from ._version import __version__
from .config import Settings
from .local_data import ledger_path, preload_budgets
from .package import _instruments
from .recorder import Recorder
from .summary import default_sink as default_summary_sink

__all__ = ["TokenTraceInstrumentor"]

_SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"
_PROVIDER_ARGS = ("tracer_provider", "meter_provider")

Patch = tuple[str, str, Callable[..., Any]]  # module, "Class.method", wrapper


def _openai_patches(recorder: Recorder) -> list[Patch]:
    from .patches import openai_sdk

    base_client = importlib.import_module("openai._base_client")
    wrappers = openai_sdk.make_wrappers(recorder, (base_client.Stream, base_client.AsyncStream))
    return [(m, a, w) for (m, a), w in zip(openai_sdk.TARGETS, wrappers, strict=True)]


def _requests_patches(recorder: Recorder) -> list[Patch]:
    from .patches import requests_patch
    from .patches.http_common import EndpointTable

    wrapper = requests_patch.make_wrapper(recorder, EndpointTable(recorder.settings.http_endpoints))
    return [(m, a, wrapper) for m, a in requests_patch.TARGETS]


def _httpx_patches(module: str) -> Callable[[Recorder], list[Patch]]:
    def patches(recorder: Recorder) -> list[Patch]:
        from .patches import httpx_patch
        from .patches.http_common import EndpointTable

        wrappers = httpx_patch.make_wrappers(recorder, EndpointTable(recorder.settings.http_endpoints))
        return [(m, a, w) for (m, a), w in zip(httpx_patch.targets(module), wrappers, strict=True)]

    return patches


_SDK_LIBRARIES: dict[str, Callable[[Recorder], list[Patch]]] = {"openai": _openai_patches}
_HTTP_LIBRARIES: dict[str, Callable[[Recorder], list[Patch]]] = {
    "requests": _requests_patches,
    "httpx": _httpx_patches("httpx"),
    "httpx2": _httpx_patches("httpx2"),
}


class TokenTraceInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the openai SDK and plain HTTP clients (requests, httpx, httpx2) for cost and usage."""

    _recorder: Recorder | None = None
    _ledger: Any = None
    _libraries: dict[str, Callable[[Recorder], list[Patch]]] = {}  # noqa: RUF012 - set per instrument()
    _patched: dict[str, list[tuple[str, str]]] = {}  # noqa: RUF012 - set per instrument()
    _hooked: set[str] = set()  # noqa: RUF012 - hooks are registered once per process

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    @property
    def recorder(self) -> Recorder | None:
        return self._recorder

    @property
    def ledger(self) -> Any:
        """The ledger sink while instrumented with a ledger (``flush()``, ``close()``, ``path``)."""
        return self._ledger

    def _instrument(self, **kwargs: Any) -> None:
        settings = Settings.resolve({k: v for k, v in kwargs.items() if k not in _PROVIDER_ARGS})
        # A bad price file is the user's to fix: it raises here, never in the middle of a call.
        costing.load_prices_file(settings.prices)
        if settings.budgets is not None:
            budgeting.set_budgets(settings.budgets)
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        app_telemetry = app_configured_telemetry(tracer_provider, meter_provider)
        if tracer_provider is None or meter_provider is None:
            ensure_providers(traces=tracer_provider is None, metrics_=meter_provider is None)
        tracer = trace.get_tracer(__name__, __version__, tracer_provider, schema_url=_SCHEMA_URL)
        meter = metrics.get_meter(__name__, __version__, meter_provider, schema_url=_SCHEMA_URL)
        self._recorder = recorder = Recorder(tracer, meter, settings)
        recorder.summary = default_summary_sink()
        path = ledger_path(settings.ledger, app_telemetry)
        if path is not None:
            from .ledger import LedgerSink

            self._ledger = LedgerSink(path)  # a file that is not a ledger raises here, at start
            recorder.sinks.append(self._ledger)
        preload_budgets(budgeting.budget_book(), path)
        self._patched = {}
        self._libraries = {**_SDK_LIBRARIES, **(_HTTP_LIBRARIES if settings.http else {})}
        for library in self._libraries:
            if library in sys.modules:
                self._patch(library)
            elif library not in self._hooked:
                # Registered once per process; the hook does nothing while uninstrumented.
                self._hooked.add(library)
                wrapt.register_post_import_hook(self._on_import, library)

    def _on_import(self, module: Any) -> None:
        self._patch(module.__name__)

    def _patch(self, library: str) -> None:
        recorder = self._recorder
        make = self._libraries.get(library)
        if recorder is None or make is None or library in self._patched:
            return
        done: list[tuple[str, str]] = []
        try:
            for module_name, attribute, wrapper in make(recorder):
                wrapt.wrap_function_wrapper(module_name, attribute, wrapper)
                done.append((module_name, attribute))
        except Exception as exc:  # an unsupported version of the library: leave it unpatched
            internal_error(f"patching {library}", exc)
        self._patched[library] = done

    def _uninstrument(self, **kwargs: Any) -> None:
        for patches in self._patched.values():
            for module_name, attribute in patches:
                owner_name, _, method = attribute.rpartition(".")
                owner = getattr(importlib.import_module(module_name), owner_name)
                unwrap(owner, method)
        self._patched = {}
        self._recorder = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
