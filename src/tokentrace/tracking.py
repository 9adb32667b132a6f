"""Tracking ids: which feature, service or tenant a call was made for.

``track("checkout-summary")`` names every LLM call made inside it, through a context variable, so
threads and tasks that copy the context (``asyncio`` tasks, ``contextvars.copy_context()``, and,
while tokentrace is instrumented, work submitted to a ``ThreadPoolExecutor``) carry it too. Nested
``track`` calls build a path; the innermost name is the tracking id.

While tokentrace is instrumented the path also travels in the OpenTelemetry context (a
``ContextCarrier`` from ``telemetry.context``, set here by ``activation``), so whatever carries
that context into another thread carries the path, and, with ``tracking_baggage``, W3C baggage
takes the id to downstream services. The context variable is read first, on every call; the
carrier only when it is empty.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Protocol, TypeVar

from . import names

__all__ = [
    "IN_RECORDED_CALL",
    "MAX_TRACKING_ID_LENGTH",
    "ContextCarrier",
    "TrackingIdCap",
    "carried_path",
    "current_path",
    "in_recorded_call",
    "path_here",
    "set_carrier",
    "track",
]

MAX_TRACKING_ID_LENGTH = 128

_PATH: ContextVar[tuple[str, ...]] = ContextVar("tokentrace_tracking_path", default=())

# True while a call is being recorded: HTTP-level patches step aside then, so one call is one span
# and one cost. A plain context variable (it follows threads' and tasks' contexts the same way the
# OpenTelemetry context does) costs a fraction of an OpenTelemetry context value.
IN_RECORDED_CALL: ContextVar[bool] = ContextVar("tokentrace_in_recorded_call", default=False)
in_recorded_call = IN_RECORDED_CALL.get

F = TypeVar("F", bound=Callable[..., Any])


path_here: Callable[[], tuple[str, ...]] = _PATH.get
"""The tracking path ``track()`` set in the calling context (the context variable's own ``get``: a
call of C, read on every LLM call); empty when there is none here."""


class ContextCarrier(Protocol):
    """Where the path travels besides the context variable (the OpenTelemetry context)."""

    read: Callable[[], tuple[str, ...]]
    """The path carried there; empty when none."""

    def enter(self, path: tuple[str, ...]) -> object:
        """Make ``path`` current there; returns what ``leave`` needs."""

    def leave(self, token: object) -> None: ...


def _no_path() -> tuple[str, ...]:
    return ()


_carrier: ContextCarrier | None = None

carried_path: Callable[[], tuple[str, ...]] = _no_path
"""The path the carrier holds, for a context where ``path_here()`` is empty (a thread the
OpenTelemetry context was carried into, a service downstream); empty while not instrumented.
Read it as ``tracking.carried_path()``: ``set_carrier`` rebinds it."""


def set_carrier(carrier: ContextCarrier | None) -> None:
    """Switch the OpenTelemetry carrying on (instrument) or off (uninstrument)."""
    global _carrier, carried_path  # noqa: PLW0603
    _carrier = carrier
    carried_path = carrier.read if carrier is not None else _no_path


def current_path() -> tuple[str, ...]:
    """The tracking path of the calling context, outermost first; empty when untracked."""
    return _PATH.get() or carried_path()


_Entered = tuple[Token[tuple[str, ...]], "ContextCarrier | None", object]


def _enter(name: str) -> _Entered:
    path = (*current_path(), name)
    token = _PATH.set(path)
    carrier = _carrier
    if carrier is None:
        return token, None, None
    return token, carrier, carrier.enter(path)


def _leave(entered: _Entered) -> None:
    token, carrier, carried = entered
    if carrier is not None:
        carrier.leave(carried)
    _PATH.reset(token)


class track:  # used like a function: ``with track("x")`` / ``@track("x")``
    """Give every LLM call made inside a tracking id.

    Use as a context manager (``with`` or ``async with``) or as a decorator of a sync or async
    function. Ids longer than 128 characters are cut, so a caller cannot flood a backend.
    """

    __slots__ = ("_name", "_tokens")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("track() needs a non-empty string tracking id")
        self._name = name[:MAX_TRACKING_ID_LENGTH]
        self._tokens: list[_Entered] = []

    @property
    def name(self) -> str:
        return self._name

    def __enter__(self) -> track:
        self._tokens.append(_enter(self._name))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _leave(self._tokens.pop())

    async def __aenter__(self) -> track:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        name = self._name
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_tracked(*args: Any, **kwargs: Any) -> Any:
                entered = _enter(name)
                try:
                    return await func(*args, **kwargs)
                finally:
                    _leave(entered)

            return async_tracked  # type: ignore[return-value]

        @functools.wraps(func)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            entered = _enter(name)
            try:
                return func(*args, **kwargs)
            finally:
                _leave(entered)

        return tracked  # type: ignore[return-value]


class TrackingIdCap:
    """Keeps tracking ids on metrics low-cardinality.

    With an allow-list, only listed ids pass. Otherwise the first ``limit`` distinct ids pass and
    every later one is reported as ``_OTHER``. The seen-set only grows up to ``limit``, so memory is
    bounded whatever callers send; the lock is taken only when a new id is admitted.
    """

    __slots__ = ("_allowed", "_limit", "_lock", "_seen")

    def __init__(self, allow: tuple[str, ...] | None, limit: int) -> None:
        self._allowed = frozenset(allow) if allow is not None else None
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, tracking_id: str) -> str:
        if self._allowed is not None:
            return tracking_id if tracking_id in self._allowed else names.OVERFLOW_TRACKING_ID
        if tracking_id in self._seen:
            return tracking_id
        with self._lock:
            if len(self._seen) < self._limit:
                self._seen.add(tracking_id)
                return tracking_id
        return names.OVERFLOW_TRACKING_ID
