"""``TokenTraceInstrumentor``: tokentrace as ``opentelemetry-instrument`` finds it.

Found through the ``opentelemetry_instrumentor`` entry point named ``tokentrace``. It is a thin
``BaseInstrumentor`` in front of ``activation``, which holds the state and does the work, so
``TokenTraceInstrumentor().instrument()`` and ``tokentrace.instrument()`` switch the same thing on
and either one's ``uninstrument`` switches it off.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from .activation import instrumentation
from .telemetry.recorder import Recorder

__all__ = ["TokenTraceInstrumentor"]

# Each library is patched only if it is installed, so none is a hard requirement: an app with
# plain ``requests`` calls and no openai SDK is still instrumented.
_instruments: tuple[str, ...] = ()


class TokenTraceInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the openai SDK and plain HTTP clients (requests, httpx, httpx2) for cost and usage."""

    @property
    def _is_instrumented_by_opentelemetry(self) -> bool:
        # BaseInstrumentor keeps its own flag; the activation's state is the one truth, so that
        # switching on through tokentrace.instrument() counts here too.
        return instrumentation().active

    @_is_instrumented_by_opentelemetry.setter
    def _is_instrumented_by_opentelemetry(self, value: bool) -> None:
        pass  # set by BaseInstrumentor after _instrument/_uninstrument, which already decided it

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    @property
    def recorder(self) -> Recorder | None:
        return instrumentation().recorder

    @property
    def ledger(self) -> Any:
        """The ledger sink while instrumented with a ledger (``flush()``, ``close()``, ``path``)."""
        return instrumentation().ledger

    def _instrument(self, **kwargs: Any) -> None:
        instrumentation().start(**kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        instrumentation().stop()
