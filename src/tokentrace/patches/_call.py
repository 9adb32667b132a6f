"""The one way a call goes through tokentrace, whichever patch saw it.

A patch only describes: which API a request calls, its endpoint and JSON body, how to put a
changed body back, and how to read what came back. Everything else happens here, once, for the
SDK and every HTTP library alike:

1. ``CallSite.start``: the budget gate (a refusal, a warning or a cheaper model), asking a stream
   for its usage, the request's attributes, the span opened (``telemetry.Recorder.start``);
2. ``Call.__enter__`` / ``__exit__`` around the wrapped method: a refused call is recorded and its
   ``BudgetExceededError`` raised before anything is sent; otherwise the call's span is current
   while it runs, and a failure is recorded, without the client's secrets, then re-raised as is;
3. ``Call.done``: once the span is no longer current, the patch reads the result (a response, or
   a stream it wraps), guarded, so the caller always gets their result back, whatever tokentrace's
   own code does.

A call asking for a model of a fallback chain (``tokentrace.Fallback``) is a ``FallbackCall``: one
per attempt, each with its own span. A budget refusal that the chain moves on for is recorded and
the next model tried inside ``CallSite.start``, before anything is sent; a failure of the wrapped
method (an exception, or a plain HTTP call's error status) sets ``then``, the next attempt, and the
wrapper starts it the way it started the first (the patch reads the request again and sends the
attempt's body). A stream that fails before its first chunk is resent from its proxy
(``FallbackCall.stream_fallback``); ``FallbackCall`` lives in ``_fallback_call.py``, loaded by the
first call in a chain. With no chain configured a call pays one attribute test.

The sync and async wrappers differ only at the ``await``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import names, tracking
from .._guard import internal_error
from ..budgets.gate import gate as budget_gate
from ..calls import content
from ..calls.apis import OPERATIONS, ApiKind
from ..calls.apis.request import request_attributes
from ..calls.fields import model_name
from ..calls.providers import OPENAI_PROVIDERS, Endpoint, host_matches
from ..fallback import Attempt, resending
from ..tracking import path_here

if TYPE_CHECKING:
    from ..calls.records import LLMCall, ResponseInfo
    from ..telemetry.recorder import Recorder

__all__ = ["Call", "CallSite", "make_wrappers"]

Wrapped = Callable[..., Any]
Args = tuple[Any, ...]
Kwargs = dict[str, Any]
Wrapper = Callable[[Wrapped, Any, Args, Kwargs], Any]
Start = Callable[[Any, Args, Kwargs], "Call | None"]
Finish = Callable[["Call", Any], Any]


class CallSite:
    """What every call through one patch shares, fixed when ``instrument()`` built the patch.

    ``finish(call, result)`` reads a result and returns what the caller gets (the result, or a
    proxy of a stream). ``secrets(source, error)``, run on failures only, names the credentials
    a failed call's error text must lose (``_secrets``); ``source`` is what the patch put on the
    call (the client, the request). ``hideable`` says whether a usage chunk tokentrace asked for
    can be hidden from the caller (the SDK's objects, and its raw responses' bytes) or not (plain
    HTTP: bytes the caller reads itself, in whatever way), which decides the ``auto`` stream usage
    policy.
    """

    __slots__ = (
        "capture",
        "fallbacks",
        "finish",
        "hideable",
        "hosts",
        "name",
        "policy",
        "recorder",
        "secrets",
    )

    def __init__(
        self,
        recorder: Recorder,
        name: str,
        finish: Finish,
        *,
        secrets: Callable[[Any, BaseException | None], tuple[str, ...]] | None = None,
        hideable: bool = False,
    ) -> None:
        settings = recorder.settings
        self.recorder = recorder
        self.name = name
        self.finish = finish
        self.secrets = secrets
        self.hideable = hideable
        self.policy = settings.stream_usage
        self.hosts = settings.all_stream_usage_hosts()
        self.capture = settings.capture_content
        self.fallbacks = recorder.fallbacks

    def start(
        self, api: ApiKind, endpoint: Endpoint, body: Mapping[str, Any], *, attempt: Attempt | None = None
    ) -> Call:
        """Start a call: budgets, usage request, span.

        The returned call's ``body`` is the body to send instead of the caller's, when the call
        changed it (a copy: the caller's own objects are never changed); else None. ``attempt``
        is given by ``_attempts`` only: the call is that attempt of a fallback chain.
        """
        recorder = self.recorder
        model = model_name(body.get("model"))
        if attempt is None and not self.fallbacks.empty:
            first = self.fallbacks.first_attempt(model, body)
            if first is not None:
                return self._attempts(api, endpoint, first)
        # The context variable first (a call of C); the OpenTelemetry context only when it is empty.
        path = path_here() or tracking.carried_path()
        budgets = recorder.budgets
        gate = (
            None
            if budgets.empty
            else budget_gate(budgets, recorder.prices, endpoint.provider, model, path, body)
        )
        new_body = None
        if gate is not None and gate.downgraded_from is not None:
            new_body = body = {**body, "model": gate.model}
            model = gate.model
        stream = body.get("stream") is True
        asked = stream and api is ApiKind.CHAT and self._asks_usage(endpoint, body)
        if asked:
            new_body = _with_usage(body)
        attributes = request_attributes(api, body, endpoint.provider in OPENAI_PROVIDERS)
        if attempt is not None and attempt.replaces is not None:
            _describe_fallback(attributes, attempt, recorder, endpoint, model)
        record = recorder.start(OPERATIONS[api], model, endpoint, stream, attributes, gate, path)
        record.usage_injected = asked
        if self.capture:
            record.content_attributes = content.input_attributes(api, body)
        if attempt is None:
            return Call(self, record, api, asked and self.hideable, new_body)
        record.fallback_from = attempt.replaces
        # Always a body to send: the request may still hold an earlier attempt's.
        from ._fallback_call import FallbackCall  # calls in a fallback chain only

        return FallbackCall(self, record, api, asked and self.hideable, new_body or body, attempt)

    def _attempts(self, api: ApiKind, endpoint: Endpoint, attempt: Attempt) -> Call:
        """Start ``attempt``; while a budget refuses it and the chain moves on for that, record the
        refused attempt (nothing is sent) and start the next one."""
        while True:
            call = self.start(api, endpoint, attempt.body, attempt=attempt)
            gate = call.record.budget
            refusal = gate.refusal if gate is not None else None
            following = attempt.after(call.record.request_model, refusal) if refusal is not None else None
            if following is None:
                return call  # a refusal left is raised by ``Call.__enter__``, notes and all
            call.end(None, refusal)
            attempt = following

    def _asks_usage(self, endpoint: Endpoint, body: Mapping[str, Any]) -> bool:
        """Whether to add ``stream_options.include_usage`` (DESIGN §5).

        ``auto`` asks only where the added usage chunk can be hidden from the caller (the SDK's
        parsed streams, and its raw ones, whose bytes ``http_bodies`` hands on without it), on a
        known host, when the caller left ``stream_options`` alone. Loopback and private hosts are
        not known: what listens there is anyone's server, and one that rejects an unknown field
        would fail the call; the end of such a stream logs how to ask (``_usage_hint``).
        """
        policy = self.policy
        if policy == "never":
            return False
        options = body.get("stream_options")
        if policy == "always":
            return not (isinstance(options, Mapping) and options.get("include_usage") is True)
        return self.hideable and options is None and host_matches(endpoint.address, self.hosts)


def _with_usage(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the body asking for usage; the caller's own dicts are never changed."""
    options = body.get("stream_options")
    merged = dict(options) if isinstance(options, Mapping) else {}
    merged["include_usage"] = True
    return {**body, "stream_options": merged}


def _describe_fallback(
    attributes: dict[str, Any], attempt: Attempt, recorder: Recorder, endpoint: Endpoint, model: str | None
) -> None:
    """An attempt after the first: which model it replaces, its number, why; and the counter."""
    replaces = attempt.replaces or ""
    attributes[names.FALLBACK_FROM] = replaces
    attributes[names.FALLBACK_ATTEMPT] = attempt.number
    if attempt.reason:
        attributes[names.FALLBACK_REASON] = attempt.reason
    recorder.fallback_counter.add(endpoint.provider, replaces, model, attempt.reason)


class Call:
    """One call on its way through a patch: a context manager around the wrapped method."""

    then: Attempt | None = None
    """The attempt to make instead when this one failed (``FallbackCall`` only)."""
    stream_fallback: Callable[[BaseException], Callable[[], Any] | None] | None = None
    """For a stream proxy: how to resend the call when its stream fails before the first chunk."""

    __slots__ = (
        "_tokens",
        "api",
        "args",
        "body",
        "hide_usage_chunk",
        "record",
        "site",
        "source",
        "streamed",
        "url",
    )

    def __init__(
        self, site: CallSite, record: LLMCall, api: ApiKind, hide_usage_chunk: bool, body: Any
    ) -> None:
        self.site = site
        self.record = record
        self.api = api
        self.hide_usage_chunk = hide_usage_chunk
        self.body = body
        self.source: Any = None
        """What the site's ``secrets`` reads on failure (the client, the request)."""
        self.streamed = False
        """Set by a plain-HTTP patch when the caller asked for the body unread."""
        self.args: tuple[Any, ...] | None = None
        """The positional arguments to call the wrapped method with instead of the caller's."""
        self.url: str | None = None
        """The URL to send ``body`` to instead of the caller's (set by a plain-HTTP patch when the
        model, which the path names, changed)."""
        self._tokens: Any = None

    def __enter__(self) -> Call:
        gate = self.record.budget
        if gate is not None and gate.refusal is not None:  # a budget said no: nothing is sent
            self.end(None, gate.refusal)
            raise gate.refusal
        self._tokens = self.site.recorder.activate(self.record)
        return self

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> bool | None:
        site = self.site
        site.recorder.deactivate(self._tokens)
        if error is not None:
            if site.secrets is not None:
                self.record.secrets = site.secrets(self.source, error)
            self.end(None, error)
        return None

    def done(self, result: Any) -> Any:
        """What the caller gets: the result as the patch read it, or the result itself."""
        try:
            return self.site.finish(self, result)
        except Exception as exc:
            internal_error(f"recording the response of {self.site.name}", exc)
            return result

    def discard(self, result: Any) -> None:
        """Let go of what this attempt returned, now that the next attempt answers instead
        (``FallbackCall``: a streamed error response's connection)."""

    async def adiscard(self, result: Any) -> None:
        """``discard`` in an async call."""

    def end(
        self, info: ResponseInfo | None, error: BaseException | None = None, status_code: int | None = None
    ) -> None:
        """Finish the call's record (guarded: never raises into the caller's code)."""
        try:
            self.site.recorder.end(self.record, info, error, status_code=status_code)
        except Exception as exc:
            internal_error(f"recording the end of {self.site.name}", exc)


def make_wrappers(start: Start, name: str) -> tuple[Wrapper, Wrapper]:
    """The sync and async ``wrapt`` wrappers of one patch around its ``start``.

    The loop runs once unless the call is in a fallback chain and an attempt fails (``then``).
    """

    def sync_wrapper(wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        try:
            call = start(instance, args, kwargs)
        except Exception as exc:
            call = _not_started(name, exc)
        if call is None:
            return wrapped(*args, **kwargs)
        while True:
            result = None
            with call:
                result = wrapped(*(call.args or args), **kwargs)
            result = call.done(result)
            # Done, unless the call is in a fallback chain and moves on to its next attempt.
            if call.then is None:
                return result
            following = _next_attempt(start, name, instance, args, kwargs, call)
            if following is None:
                return result
            call.discard(result)
            call = following

    async def async_wrapper(wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        try:
            call = start(instance, args, kwargs)
        except Exception as exc:
            call = _not_started(name, exc)
        if call is None:
            return await wrapped(*args, **kwargs)
        while True:
            result = None
            with call:
                result = await wrapped(*(call.args or args), **kwargs)
            result = call.done(result)
            # Done, unless the call is in a fallback chain and moves on to its next attempt.
            if call.then is None:
                return result
            following = _next_attempt(start, name, instance, args, kwargs, call)
            if following is None:
                return result
            await call.adiscard(result)
            call = following

    return sync_wrapper, async_wrapper


def _next_attempt(
    start: Start, name: str, instance: Any, args: Args, kwargs: Kwargs, failed: Call
) -> Call | None:
    """Start ``failed.then``: the patch reads the request again, and sends the attempt's body.

    If tokentrace cannot start it (its own error, logged), the caller gets the failed attempt's
    exception, or None is returned and the caller gets its error response.
    """
    assert failed.then is not None
    with resending(failed.then):
        try:
            call = start(instance, args, kwargs)
        except Exception as exc:
            call = _not_started(name, exc)
    from ._fallback_call import FallbackCall  # loaded already: ``failed`` is one

    if call is None and isinstance(failed, FallbackCall) and failed.failure is not None:
        raise failed.failure
    return call


def _not_started(name: str, exc: Exception) -> Call | None:
    """A failure of tokentrace's own ``start``: reported, and the call goes out unrecorded."""
    internal_error(f"starting {name}", exc)
    return None
