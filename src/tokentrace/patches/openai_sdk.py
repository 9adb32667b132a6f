"""The openai SDK patch: one wrapper around the SDK's single request choke point.

Every SDK method that consumes tokens — ``chat.completions.create`` / ``parse`` / ``stream``,
legacy ``completions.create``, ``embeddings.create``, ``responses.create`` / ``stream`` / ``parse``,
their ``with_raw_response`` and ``with_streaming_response`` forms, on ``OpenAI``, ``AzureOpenAI`` and
their async twins — ends in ``SyncAPIClient.request`` / ``AsyncAPIClient.request`` with the request
path and JSON body. Wrapping those two methods covers them all (openai 1.x to 3.x) and sees retries
as one call. The path says which API it is; everything else is in ``extract``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .._guard import internal_error
from ..budgets.gate import gate as budget_gate
from ..calls import content
from ..calls.apis import ApiKind, api_kind_for_path
from ..calls.apis.read import response_info
from ..calls.apis.request import request_attributes
from ..calls.apis.stream import StreamAccumulator
from ..calls.fields import model_name
from ..calls.providers import Endpoint, endpoint_for, host_matches
from ..telemetry.recorder import OPENAI_PROVIDERS, LLMCall, Recorder
from ..tracking import current_path
from .sdk_streams import AsyncStreamProxy, StreamState, SyncStreamProxy

__all__ = ["TARGETS", "make_wrappers"]

# (module, attribute) pairs this patch wraps.
TARGETS: tuple[tuple[str, str], ...] = (
    ("openai._base_client", "SyncAPIClient.request"),
    ("openai._base_client", "AsyncAPIClient.request"),
)

_ENDPOINT_ATTR = "_tokentrace_endpoint"
_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


class _Started:
    __slots__ = ("call", "hide_usage_chunk", "kind")

    def __init__(self, call: LLMCall, kind: ApiKind, hide_usage_chunk: bool) -> None:
        self.call = call
        self.kind = kind
        self.hide_usage_chunk = hide_usage_chunk


def _client_secrets(client: Any) -> tuple[str | None, ...]:
    """The credentials a client sends: its API key, its auth-like headers, its query values."""
    try:
        found: list[object] = [getattr(client, "api_key", None)]
        headers = getattr(client, "_custom_headers", None)
        if isinstance(headers, Mapping):
            found += [v for k, v in headers.items() if _secret_header(k)]
        query = getattr(client, "_custom_query", None)
        if isinstance(query, Mapping):
            found += list(query.values())
        return tuple(v for v in found if isinstance(v, str))
    except Exception:  # called while the caller's own exception is on its way: never add one
        return ()


def _secret_header(name: object) -> bool:
    lowered = str(name).lower()
    return any(part in lowered for part in ("auth", "key", "token", "secret"))


def _endpoint(client: Any) -> Endpoint:
    """The client's endpoint, cached on the client and recomputed if its base URL changes."""
    base = client._base_url
    cached = client.__dict__.get(_ENDPOINT_ATTR)
    if cached is not None and cached[0] is base:
        endpoint: Endpoint = cached[1]
        return endpoint
    endpoint = endpoint_for(str(base))
    client.__dict__[_ENDPOINT_ATTR] = (base, endpoint)
    return endpoint


def make_wrappers(recorder: Recorder, stream_classes: tuple[type, type]) -> tuple[Wrapper, Wrapper]:
    """Build the sync and async wrappers, closing over what ``instrument()`` decided."""
    settings = recorder.settings
    sync_stream_cls, async_stream_cls = stream_classes
    usage_hosts = settings.all_stream_usage_hosts()
    policy = settings.stream_usage
    capture = settings.capture_content

    def begin(client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Started | None:
        options = args[1] if len(args) > 1 else kwargs.get("options")
        if options is None:
            return None
        method = options.method
        if method != "post" and str(method).lower() != "post":  # the SDK writes it lower-case
            return None
        kind = api_kind_for_path(options.url)
        if kind is None:
            return None
        body = options.json_data
        if type(body) is not dict and not isinstance(body, Mapping):
            body = {}
        endpoint = _endpoint(client)
        stream = body.get("stream") is True
        model = body.get("model")
        model = model_name(model)
        path = current_path()
        gate = budget_gate(recorder.budgets, recorder.prices, endpoint.provider, model, path, body)
        if gate is not None and gate.downgraded_from is not None:
            body = {**body, "model": gate.model}  # a copy: the caller's arguments stay as they were
            options.json_data = body
            model = gate.model
        hide = False
        if (
            stream
            and kind is ApiKind.CHAT
            and _should_add_usage(policy, usage_hosts, endpoint, body)
            and not _wants_raw(options.headers)
        ):
            options.json_data = _with_usage(body)
            hide = True
        attributes = request_attributes(kind, body, endpoint.provider in OPENAI_PROVIDERS)
        call = recorder.start(kind.operation, model, endpoint, stream, attributes, gate, path)
        call.usage_injected = hide
        if capture:
            call.content_attributes = content.input_attributes(kind, body)
        return _Started(call, kind, hide)

    def finish(started: _Started, result: Any) -> Any:
        call = started.call
        if isinstance(result, sync_stream_cls):
            acc = StreamAccumulator(started.kind, started.hide_usage_chunk, capture)
            return SyncStreamProxy(result, StreamState(recorder, call, acc))
        if isinstance(result, async_stream_cls):
            acc = StreamAccumulator(started.kind, started.hide_usage_chunk, capture)
            return AsyncStreamProxy(result, StreamState(recorder, call, acc))
        if _is_raw_response(result):
            _finish_raw(recorder, started, result.http_response)
            return result
        if capture:
            call.content_attributes = {
                **(call.content_attributes or {}),
                **content.output_attributes(started.kind, result),
            }
        recorder.end(call, response_info(started.kind, result))
        return result

    def fail(started: _Started, error: BaseException) -> None:
        recorder.end(started.call, None, error)

    def sync_wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            started = begin(instance, args, kwargs)
        except Exception as exc:
            internal_error("starting an openai call", exc)
            started = None
        if started is None:
            return wrapped(*args, **kwargs)
        refusal = started.call.budget.refusal if started.call.budget is not None else None
        if refusal is not None:  # a budget said no: nothing is sent
            _guarded(fail, started, refusal)
            raise refusal
        token = recorder.activate(started.call)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            recorder.deactivate(token)
            started.call.secrets = _client_secrets(instance)
            _guarded(fail, started, error)
            raise
        recorder.deactivate(token)
        try:
            return finish(started, result)
        except Exception as exc:
            internal_error("recording an openai response", exc)
            return result

    async def async_wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            started = begin(instance, args, kwargs)
        except Exception as exc:
            internal_error("starting an openai call", exc)
            started = None
        if started is None:
            return await wrapped(*args, **kwargs)
        refusal = started.call.budget.refusal if started.call.budget is not None else None
        if refusal is not None:  # a budget said no: nothing is sent
            _guarded(fail, started, refusal)
            raise refusal
        token = recorder.activate(started.call)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as error:
            recorder.deactivate(token)
            started.call.secrets = _client_secrets(instance)
            _guarded(fail, started, error)
            raise
        recorder.deactivate(token)
        try:
            return finish(started, result)
        except Exception as exc:
            internal_error("recording an openai response", exc)
            return result

    return sync_wrapper, async_wrapper


def _guarded(
    fail: Callable[[_Started, BaseException], None], started: _Started, error: BaseException
) -> None:
    try:
        fail(started, error)
    except Exception as exc:
        internal_error("recording an openai error", exc)


def _should_add_usage(
    policy: str, hosts: tuple[str, ...], endpoint: Endpoint, body: Mapping[str, Any]
) -> bool:
    if policy == "never":
        return False
    options = body.get("stream_options")
    if policy == "always":
        return not (isinstance(options, Mapping) and options.get("include_usage") is True)
    return options is None and host_matches(endpoint.address, hosts)


def _wants_raw(headers: Any) -> bool:
    """Raw-response calls hand the caller the bytes, where an added usage chunk cannot be hidden."""
    return isinstance(headers, Mapping) and bool(headers.get(_RAW_RESPONSE_HEADER))


def _with_usage(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the body asking for usage; the caller's own dicts are never changed."""
    options = body.get("stream_options")
    merged = dict(options) if isinstance(options, Mapping) else {}
    merged["include_usage"] = True
    return {**body, "stream_options": merged}


_raw_by_type: dict[type, bool] = {}


def _is_raw_response(result: Any) -> bool:
    """Whether ``result`` is a ``with_raw_response`` wrapper rather than a parsed model.

    Decided once per type: asking a pydantic model for an attribute it lacks goes through its
    ``__getattr__`` and an exception, a few microseconds on every call otherwise.
    """
    cls = type(result)
    raw = _raw_by_type.get(cls)
    if raw is None:
        raw = getattr(result, "http_response", None) is not None and not hasattr(result, "choices")
        if len(_raw_by_type) < 256:
            _raw_by_type[cls] = raw
    return raw


def _finish_raw(recorder: Recorder, started: _Started, http_response: Any) -> None:
    """``with_raw_response`` / ``with_streaming_response``: read usage from the HTTP body.

    A body the SDK has already read is decoded here; an unread one (streamed) is observed as the
    caller reads it.
    """
    from .http_bodies import observe_response  # only these rarer calls need it

    call = started.call
    if not started.call.stream and _is_read(http_response):
        try:
            payload = json.loads(http_response.content)
        except ValueError:
            payload = None
        recorder.end(call, response_info(started.kind, payload) if isinstance(payload, dict) else None)
        return
    observe_response(recorder, call, started.kind, started.hide_usage_chunk, http_response)


def _is_read(http_response: Any) -> bool:
    try:
        http_response.content  # noqa: B018 - raises ResponseNotRead when the body is unread
    except Exception:
        return False
    return True
