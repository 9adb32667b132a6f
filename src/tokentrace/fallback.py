"""Model fallback chains: which failures move a call on, and to which model.

The seeds write this loop by hand (``for model in models: try: ... except: continue``).
``Fallback(chain=("deepseek-v3.2", "gemini-2.5-flash", "gpt-4.1"))`` says it once: a call asking
for a model of the chain that fails with one of the ``on`` kinds is sent again with the next model,
until one answers or the chain ends. Pure: no OpenTelemetry, no patched library imported; the call
skeleton (``patches/_call.py``) runs the attempts and the recorder gives each its span.

Kinds of failure, from what the SDK raised or the HTTP status a plain call got back:

- ``rate_limit``: HTTP 429 (the openai SDK's ``RateLimitError``);
- ``timeout``: a timeout or a connection that failed or dropped (``openai.APIConnectionError`` and
  its ``APITimeoutError``, ``httpx``/``httpx2`` timeouts, network and remote protocol errors,
  ``requests`` ``Timeout``/``ConnectionError``, the builtin ``TimeoutError``/``ConnectionError``),
  and HTTP 408;
- ``server_error``: HTTP 500 to 599;
- ``budget``: a budget with ``action="raise"`` refused the call (nothing was sent).

``on`` may also hold exception classes: a failure raising one of them (or a subclass) moves on too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from . import names
from .budgets.budget import BudgetExceededError

__all__ = ["KINDS", "Attempt", "Fallback", "FallbackBook", "failure_kind", "resending"]

KINDS = (
    names.FALLBACK_RATE_LIMIT,
    names.FALLBACK_TIMEOUT,
    names.FALLBACK_SERVER_ERROR,
    names.FALLBACK_BUDGET,
)
_DEFAULT_ON = (names.FALLBACK_RATE_LIMIT, names.FALLBACK_TIMEOUT, names.FALLBACK_SERVER_ERROR)

# (top-level module, class name) of the exceptions that mean "timed out or could not connect",
# matched along the error's MRO so no HTTP library has to be imported here.
_TIMEOUTS = frozenset(
    {
        ("openai", "APIConnectionError"),  # APITimeoutError is a subclass
        ("httpx", "TimeoutException"),
        ("httpx", "NetworkError"),
        ("httpx", "RemoteProtocolError"),
        ("httpx2", "TimeoutException"),
        ("httpx2", "NetworkError"),
        ("httpx2", "RemoteProtocolError"),
        ("requests", "Timeout"),
        ("requests", "ConnectionError"),
        ("builtins", "TimeoutError"),
        ("builtins", "ConnectionError"),
    }
)


def status_kind(status: int | None) -> str | None:
    """The kind of failure an HTTP status says, or None when it is not one a chain moves on for."""
    if status == 429:
        return names.FALLBACK_RATE_LIMIT
    if status == 408:
        return names.FALLBACK_TIMEOUT
    if status is not None and 500 <= status <= 599:
        return names.FALLBACK_SERVER_ERROR
    return None


def failure_kind(error: BaseException | None, status: int | None = None) -> str | None:
    """The kind of a failure: an exception (its ``status_code`` when it has one) or an HTTP status."""
    if error is None:
        return status_kind(status)
    if isinstance(error, BudgetExceededError):
        return names.FALLBACK_BUDGET
    code = getattr(error, "status_code", None)
    if type(code) is int:
        return status_kind(code)
    for cls in type(error).__mro__:
        if (cls.__module__.partition(".")[0], cls.__name__) in _TIMEOUTS:
            return names.FALLBACK_TIMEOUT
    return None


@dataclass(frozen=True)
class Fallback:
    """A chain of models to try in order, and the failures that move a call to the next one.

    ``chain``: two or more distinct model names, as the caller writes them. ``on``: kinds among
    ``rate_limit``, ``timeout``, ``server_error`` and ``budget`` (default: the first three; a budget
    refusal moves on only when asked), and exception classes. Checked here, once.
    """

    chain: tuple[str, ...]
    on: tuple[str | type[Exception], ...] = _DEFAULT_ON
    _kinds: frozenset[str] = field(init=False, repr=False, compare=False)
    _classes: tuple[type[Exception], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chain = self.chain
        if isinstance(chain, str) or not isinstance(chain, Iterable):
            raise ValueError(f"chain must be a sequence of model names, got {chain!r}")
        chain = tuple(chain)
        bad = [m for m in chain if not isinstance(m, str) or not m.strip()]
        if bad:
            raise ValueError(f"chain holds model names (non-empty strings), got {bad[0]!r}")
        if len(chain) < 2 or len(set(chain)) != len(chain):
            raise ValueError(f"chain needs two or more distinct models, got {chain!r}")
        on = self.on
        on = (on,) if isinstance(on, (str, type)) or not isinstance(on, Iterable) else tuple(on)
        if not on:
            raise ValueError(f"on needs at least one kind of failure ({', '.join(KINDS)}) or exception class")
        for entry in on:
            known = (
                entry in KINDS
                if isinstance(entry, str)
                else isinstance(entry, type) and issubclass(entry, Exception)
            )
            if not known:
                raise ValueError(f"on takes {', '.join(KINDS)} or exception classes, got {entry!r}")
        object.__setattr__(self, "chain", chain)
        object.__setattr__(self, "on", on)
        object.__setattr__(self, "_kinds", frozenset(e for e in on if isinstance(e, str)))
        object.__setattr__(self, "_classes", tuple(e for e in on if isinstance(e, type)))

    def reason(self, error: BaseException | None, status: int | None = None) -> str | None:
        """Why this failure moves the call on (its kind, or the class ``on`` named), else None."""
        kind = failure_kind(error, status)
        if kind is not None and kind in self._kinds:
            return kind
        if error is not None and self._classes and isinstance(error, self._classes):
            return type(error).__qualname__
        return None


class Attempt:
    """One model of a chain being tried for one call: the body to send, its place, what came before.

    The first attempt's ``body`` is the caller's own (never changed); a later one's is a shallow
    copy with the next model, as a budget downgrade makes.
    """

    __slots__ = ("body", "failures", "fallback", "model", "number", "position", "reason", "replaces")

    def __init__(
        self,
        fallback: Fallback,
        position: int,
        body: Mapping[str, Any],
        number: int = 1,
        replaces: str | None = None,
        reason: str | None = None,
        failures: tuple[str, ...] = (),
    ) -> None:
        self.fallback = fallback
        self.position = position
        self.model = fallback.chain[position]
        self.body = body
        self.number = number
        self.replaces = replaces
        """The model of the attempt before this one (None for the first)."""
        self.reason = reason
        """Why the attempt before this one failed (``rate_limit``, …, or an exception class name)."""
        self.failures = failures
        """One line per earlier attempt's failure: the notes the last error carries."""

    def after(
        self,
        sent_model: str | None,
        error: BaseException | None,
        status: int | None = None,
        secrets: tuple[str | None, ...] = (),
    ) -> Attempt | None:
        """The next attempt when this one failed so (``error``, or an HTTP ``status``); None when the
        failure is not one the chain moves on for, or the chain has ended. ``secrets`` are the
        client's credentials, kept out of the note on this failure."""
        chain = self.fallback.chain
        if self.position + 1 >= len(chain):
            return None
        reason = self.fallback.reason(error, status)
        if reason is None:
            return None
        model = chain[self.position + 1]
        return Attempt(
            self.fallback,
            self.position + 1,
            {**self.body, "model": model},
            self.number + 1,
            sent_model or self.model,
            reason,
            (*self.failures, self.describe(sent_model, error, status, secrets)),
        )

    def describe(
        self,
        sent_model: str | None,
        error: BaseException | None,
        status: int | None = None,
        secrets: tuple[str | None, ...] = (),
    ) -> str:
        """One line on how this attempt failed, for the last error's notes: the error's text as the
        span's status shows it (no credentials), never the request's content."""
        if error is None:
            what = f"HTTP {status}"
        else:
            from .redact import redact  # failures only

            what = f"{type(error).__qualname__}: {redact(str(error)[:2048], secrets)[:400]}"
        return f"tokentrace fallback: attempt {self.number} with model {sent_model or self.model!r} failed: {what}"[
            :600
        ]

    def annotate(self, error: BaseException) -> None:
        """Attach the earlier attempts' failures to the error the caller gets (``add_note``; on
        Python 3.10, which has none, the same ``__notes__`` list is set as a plain attribute)."""
        for line in self.failures:
            add_note = getattr(error, "add_note", None)
            if add_note is not None:
                add_note(line)
            else:  # pragma: no cover - Python 3.10
                notes = getattr(error, "__notes__", None)
                error.__notes__ = [*(notes or ()), line]


_RESENDING: ContextVar[Attempt | None] = ContextVar("tokentrace_fallback_resending", default=None)


@contextmanager
def resending(attempt: Attempt) -> Iterator[None]:
    """While this runs, the next call tokentrace starts is ``attempt`` (the patch re-reads the
    request; the attempt says which body and model to send instead). Used once, then forgotten."""
    token = _RESENDING.set(attempt)
    try:
        yield
    finally:
        _RESENDING.reset(token)


class FallbackBook:
    """The fallback chains of the process; a model belongs to one chain at most.

    ``empty`` is what every call reads first (a plain attribute). Changes replace the lookup table
    whole, so a call reads it without a lock.
    """

    def __init__(self, fallbacks: Iterable[Fallback] = ()) -> None:
        self._lock = threading.Lock()
        self._fallbacks: tuple[Fallback, ...] = ()
        self._by_model: dict[str, tuple[Fallback, int]] = {}
        self.empty = True
        for fallback in fallbacks:
            self.add(fallback)

    @property
    def fallbacks(self) -> tuple[Fallback, ...]:
        return self._fallbacks

    def add(self, fallback: Fallback) -> None:
        """Add a chain; a ``ValueError`` when one of its models is already in another chain."""
        if not isinstance(fallback, Fallback):
            raise TypeError(f"expected a tokentrace.Fallback, got {type(fallback).__name__}")
        with self._lock:
            taken = [m for m in fallback.chain if m in self._by_model]
            if taken:
                raise ValueError(
                    f"model {taken[0]!r} is already in a fallback chain: a model can be in one only"
                )
            self._set((*self._fallbacks, fallback))

    def remove(self, fallback: Fallback) -> None:
        with self._lock:
            kept = tuple(f for f in self._fallbacks if f != fallback)
            if len(kept) == len(self._fallbacks):
                raise ValueError(f"fallback {fallback.chain!r} is not in the book")
            self._set(kept)

    def replace(self, fallbacks: Iterable[Fallback]) -> None:
        """Replace every chain (checked whole first: on an error nothing changes)."""
        checked = FallbackBook(fallbacks)  # raises on a wrong or overlapping chain
        with self._lock:
            self._set(checked.fallbacks)

    def _set(self, fallbacks: tuple[Fallback, ...]) -> None:
        self._fallbacks = fallbacks
        self._by_model = {model: (f, i) for f in fallbacks for i, model in enumerate(f.chain)}
        self.empty = not fallbacks

    def first_attempt(self, model: str | None, body: Mapping[str, Any]) -> Attempt | None:
        """The attempt a call starts as: the one being resent (``resending``), else the first
        attempt of the chain holding ``model``; None when the call is in no chain."""
        resent = _RESENDING.get()
        if resent is not None:
            _RESENDING.set(None)  # one call only; ``resending`` puts back what was there
            return resent
        found = self._by_model.get(model) if model else None
        return None if found is None else Attempt(found[0], found[1], body)
