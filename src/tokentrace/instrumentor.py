"""``TokenTraceInstrumentor``: the only code that knows *where* tokentrace patches.

Found by ``opentelemetry-instrument`` through the ``opentelemetry_instrumentor`` entry point named
``tokentrace``. Patches are applied when their library is imported (a post-import hook), so the
order of ``import openai`` and ``instrument()`` does not matter, and importing tokentrace never
imports the libraries it patches.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from . import costing
from ._otel_setup import ensure_providers
from ._version import __version__
from .config import Settings
from .package import _instruments
from .recorder import Recorder

__all__ = ["TokenTraceInstrumentor"]

_SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"
_PROVIDER_ARGS = ("tracer_provider", "meter_provider")


class TokenTraceInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the openai SDK (and, where installed, plain HTTP clients) for cost and usage."""

    _recorder: Recorder | None = None
    _patched: list[tuple[str, str]] = []  # noqa: RUF012 - replaced per instance on instrument
    _hooks_registered: bool = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    @property
    def recorder(self) -> Recorder | None:
        return self._recorder

    def _instrument(self, **kwargs: Any) -> None:
        settings = Settings.resolve({k: v for k, v in kwargs.items() if k not in _PROVIDER_ARGS})
        # A bad price file is the user's to fix: it raises here, never in the middle of a call.
        costing.load_prices_file(settings.prices)
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        if tracer_provider is None or meter_provider is None:
            ensure_providers(traces=tracer_provider is None, metrics_=meter_provider is None)
        tracer = trace.get_tracer(__name__, __version__, tracer_provider, schema_url=_SCHEMA_URL)
        meter = metrics.get_meter(__name__, __version__, meter_provider, schema_url=_SCHEMA_URL)
        self._recorder = Recorder(tracer, meter, settings)
        self._patched = []
        if "openai" in sys.modules:
            self._on_openai_import(sys.modules["openai"])
        elif not self._hooks_registered:
            # Registered once per process; the hook does nothing while uninstrumented.
            type(self)._hooks_registered = True
            wrapt.register_post_import_hook(self._on_openai_import, "openai")

    def _on_openai_import(self, module: Any) -> None:
        """Patch the SDK; runs at once if openai is already imported, else when it is."""
        recorder = self._recorder
        if recorder is None or self._patched:
            return
        from .patches import openai_sdk

        base_client = importlib.import_module("openai._base_client")
        stream_classes = (base_client.Stream, base_client.AsyncStream)
        sync_wrapper, async_wrapper = openai_sdk.make_wrappers(recorder, stream_classes)
        for (module_name, attribute), wrapper in zip(
            openai_sdk.TARGETS, (sync_wrapper, async_wrapper), strict=True
        ):
            wrapt.wrap_function_wrapper(module_name, attribute, wrapper)
            self._patched.append((module_name, attribute))

    def _uninstrument(self, **kwargs: Any) -> None:
        for module_name, attribute in self._patched:
            owner_name, _, method = attribute.rpartition(".")
            owner = getattr(importlib.import_module(module_name), owner_name)
            unwrap(owner, method)
        self._patched = []
        self._recorder = None
