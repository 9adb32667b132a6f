"""The tracking path in the OpenTelemetry context, and, opt-in, the tracking id in W3C baggage.

``track()`` keeps the path in a context variable of its own (``tracking``), read on every call.
While tokentrace is instrumented it also puts the path in the OpenTelemetry context, so anything
that carries that context carries the path: ``opentelemetry-instrumentation-threading``, a
framework's own hand-off, a worker that attaches a context it was given. With
``tracking_baggage`` the innermost id also goes into W3C baggage (``tokentrace.tracking_id``), which
the propagators of instrumented HTTP clients send on, and a service that received it reads it back
when its own context has no ``track()``.

``read`` runs only when the context variable is empty (an untracked call, or a thread the
OpenTelemetry context was carried into): the current OpenTelemetry context is read through the
runtime's own context variable where the runtime is the default one, a call of C, and through
``context.get_current()`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

from .. import names
from .._guard import internal_error
from ..tracking import MAX_TRACKING_ID_LENGTH

__all__ = ["OtelCarrier"]

# One key per process: a carrier made by a later instrument() reads what an earlier one attached.
_KEY = otel_context.create_key(names.CONTEXT_TRACKING_PATH)


def _current_context_reader() -> Callable[[], Any]:
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and variable is not None and hasattr(variable, "get"):
        return variable.get  # type: ignore[no-any-return]
    return otel_context.get_current


class OtelCarrier:
    """A ``tracking.ContextCarrier`` over the OpenTelemetry context (and baggage, when asked)."""

    __slots__ = ("_baggage", "read")

    def __init__(self, *, baggage_too: bool) -> None:
        self._baggage = baggage_too
        self.read: Callable[[], tuple[str, ...]] = self._reader(_current_context_reader(), baggage_too)

    @staticmethod
    def _reader(current: Callable[[], Any], baggage_too: bool) -> Callable[[], tuple[str, ...]]:
        key = _KEY
        entry = names.BAGGAGE_TRACKING_ID
        get_baggage = baggage.get_baggage

        def read() -> tuple[str, ...]:
            found = current().get(key)
            if found is not None:
                return found  # type: ignore[no-any-return]
            if baggage_too:
                value = get_baggage(entry, current())
                # From another service: an id like any other, cut as track() cuts it.
                if isinstance(value, str) and value:
                    return (value[:MAX_TRACKING_ID_LENGTH],)
            return ()

        return read

    def enter(self, path: tuple[str, ...]) -> object:
        try:
            carried = otel_context.set_value(_KEY, path)
            if self._baggage:
                carried = baggage.set_baggage(names.BAGGAGE_TRACKING_ID, path[-1], carried)
            return otel_context.attach(carried)
        except Exception as exc:  # track() itself never fails on our account
            internal_error("putting the tracking path in the OpenTelemetry context", exc)
            return None

    def leave(self, token: object) -> None:
        if token is not None:
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception as exc:
                internal_error("taking the tracking path out of the OpenTelemetry context", exc)
