"""Tracking ids: which feature, service or tenant a call was made for.

``track("checkout-summary")`` names every LLM call made inside it, through a context variable, so
threads and tasks that copy the context (``asyncio`` tasks, ``contextvars.copy_context()``,
``concurrent.futures`` via ``contextvars``) carry it too. Nested ``track`` calls build a path; the
innermost name is the tracking id.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar

from . import names

__all__ = [
    "IN_RECORDED_CALL",
    "MAX_TRACKING_ID_LENGTH",
    "TrackingIdCap",
    "current_path",
    "in_recorded_call",
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


current_path: Callable[[], tuple[str, ...]] = _PATH.get
"""The tracking path of the calling context, outermost first; empty when untracked. (The context
variable's own ``get``: a call of C, read on every LLM call.)"""


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
        self._tokens: list[Token[tuple[str, ...]]] = []

    @property
    def name(self) -> str:
        return self._name

    def __enter__(self) -> track:
        self._tokens.append(_PATH.set((*_PATH.get(), self._name)))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _PATH.reset(self._tokens.pop())

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
                token = _PATH.set((*_PATH.get(), name))
                try:
                    return await func(*args, **kwargs)
                finally:
                    _PATH.reset(token)

            return async_tracked  # type: ignore[return-value]

        @functools.wraps(func)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            token = _PATH.set((*_PATH.get(), name))
            try:
                return func(*args, **kwargs)
            finally:
                _PATH.reset(token)

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
