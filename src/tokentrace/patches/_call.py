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

The sync and async wrappers differ only at the ``await``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import tracking
from .._guard import internal_error
from ..budgets.gate import gate as budget_gate
from ..calls import content
from ..calls.apis import OPERATIONS, ApiKind
from ..calls.apis.request import request_attributes
from ..calls.fields import model_name
from ..calls.providers import OPENAI_PROVIDERS, Endpoint, host_matches
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

    __slots__ = ("capture", "finish", "hideable", "hosts", "name", "policy", "recorder", "secrets")

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

    def start(self, api: ApiKind, endpoint: Endpoint, body: Mapping[str, Any]) -> Call:
        """Start a call: budgets, usage request, span.

        The returned call's ``body`` is the body to send instead of the caller's, when the call
        changed it (a copy: the caller's own objects are never changed); else None.
        """
        recorder = self.recorder
        model = model_name(body.get("model"))
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
        record = recorder.start(OPERATIONS[api], model, endpoint, stream, attributes, gate, path)
        record.usage_injected = asked
        if self.capture:
            record.content_attributes = content.input_attributes(api, body)
        return Call(self, record, api, asked and self.hideable, new_body)

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


class Call:
    """One call on its way through a patch: a context manager around the wrapped method."""

    __slots__ = ("_tokens", "api", "args", "body", "hide_usage_chunk", "record", "site", "source", "streamed")

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
        self._tokens: Any = None

    def __enter__(self) -> Call:
        gate = self.record.budget
        if gate is not None and gate.refusal is not None:  # a budget said no: nothing is sent
            self.end(None, gate.refusal)
            raise gate.refusal
        self._tokens = self.site.recorder.activate(self.record)
        return self

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> None:
        site = self.site
        site.recorder.deactivate(self._tokens)
        if error is not None:
            if site.secrets is not None:
                self.record.secrets = site.secrets(self.source, error)
            self.end(None, error)

    def done(self, result: Any) -> Any:
        """What the caller gets: the result as the patch read it, or the result itself."""
        try:
            return self.site.finish(self, result)
        except Exception as exc:
            internal_error(f"recording the response of {self.site.name}", exc)
            return result

    def end(
        self, info: ResponseInfo | None, error: BaseException | None = None, status_code: int | None = None
    ) -> None:
        """Finish the call's record (guarded: never raises into the caller's code)."""
        try:
            self.site.recorder.end(self.record, info, error, status_code=status_code)
        except Exception as exc:
            internal_error(f"recording the end of {self.site.name}", exc)


def make_wrappers(start: Start, name: str) -> tuple[Wrapper, Wrapper]:
    """The sync and async ``wrapt`` wrappers of one patch around its ``start``."""

    def sync_wrapper(wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        try:
            call = start(instance, args, kwargs)
        except Exception as exc:
            call = _not_started(name, exc)
        if call is None:
            return wrapped(*args, **kwargs)
        with call:
            result = wrapped(*(call.args or args), **kwargs)
        return call.done(result)

    async def async_wrapper(wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        try:
            call = start(instance, args, kwargs)
        except Exception as exc:
            call = _not_started(name, exc)
        if call is None:
            return await wrapped(*args, **kwargs)
        with call:
            result = await wrapped(*(call.args or args), **kwargs)
        return call.done(result)

    return sync_wrapper, async_wrapper


def _not_started(name: str, exc: Exception) -> Call | None:
    """A failure of tokentrace's own ``start``: reported, and the call goes out unrecorded."""
    internal_error(f"starting {name}", exc)
    return None
