"""The openai SDK patch: the SDK's single request choke point, as a target of the call skeleton.

Every SDK method that consumes tokens — ``chat.completions.create`` / ``parse`` / ``stream``,
legacy ``completions.create``, ``embeddings.create``, ``responses.create`` / ``stream`` / ``parse``,
their ``with_raw_response`` and ``with_streaming_response`` forms, on ``OpenAI``, ``AzureOpenAI`` and
their async twins — ends in ``SyncAPIClient.request`` / ``AsyncAPIClient.request`` with the request
path and JSON body. Wrapping those two methods covers them all (openai 1.x to 3.x) and sees retries
as one call. This module says how to read the SDK's request options and results; ``_call`` does
the rest.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..calls import content
from ..calls.apis import api_kind_for_path
from ..calls.apis.read import RESPONSE_READERS, response_info
from ..calls.apis.stream import StreamAccumulator
from ..calls.providers import Endpoint, endpoint_for
from ._call import Call, CallSite, Wrapper, make_wrappers
from ._fallback_call import FallbackCall
from ._secrets import client_secrets
from .sdk_streams import AsyncStreamProxy, StreamState, SyncStreamProxy

if TYPE_CHECKING:
    from ..telemetry.recorder import Recorder

__all__ = ["TARGETS", "make_wrappers_for"]

# (module, attribute) pairs this patch wraps.
TARGETS: tuple[tuple[str, str], ...] = (
    ("openai._base_client", "SyncAPIClient.request"),
    ("openai._base_client", "AsyncAPIClient.request"),
)

_ENDPOINT_ATTR = "_tokentrace_endpoint"
_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


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


def make_wrappers_for(recorder: Recorder, stream_classes: tuple[type, type]) -> tuple[Wrapper, Wrapper]:
    """The sync and async wrappers, closing over what ``instrument()`` decided."""
    sync_stream_cls, async_stream_cls = stream_classes
    capture = recorder.settings.capture_content

    def start(client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
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
        call = site.start(kind, _endpoint(client), body)
        if call.body is not None:
            options.json_data = call.body  # the options are the SDK's own copy, not the caller's
            if call.hide_usage_chunk:
                _bytes_as_sent(options)
            if isinstance(call, FallbackCall) and call.record.stream:
                # A stream failing before its first chunk is sent again through this same method.
                call.resend = functools.partial(client.request, *args, **kwargs)
        call.source = client
        return call

    def finish(call: Call, result: Any) -> Any:
        record = call.record
        if isinstance(result, sync_stream_cls):
            acc = StreamAccumulator(call.api, call.hide_usage_chunk, capture)
            return SyncStreamProxy(result, StreamState(recorder, record, acc, call.stream_fallback))
        if isinstance(result, async_stream_cls):
            acc = StreamAccumulator(call.api, call.hide_usage_chunk, capture)
            return AsyncStreamProxy(result, StreamState(recorder, record, acc, call.stream_fallback))
        if _is_raw_response(result):
            _finish_raw(call, result.http_response)
            return result
        if capture:
            record.content_attributes = {
                **(record.content_attributes or {}),
                **content.output_attributes(call.api, result),
            }
        recorder.end(record, RESPONSE_READERS[call.api](result))
        return result

    site = CallSite(recorder, "an openai call", finish, secrets=client_secrets, hideable=True)
    return make_wrappers(start, "an openai call")


def _wants_raw(headers: Any) -> bool:
    """Raw-response calls (``with_raw_response``, ``with_streaming_response``, litellm) hand the
    caller the response's bytes."""
    return isinstance(headers, Mapping) and bool(headers.get(_RAW_RESPONSE_HEADER))


def _bytes_as_sent(options: Any) -> None:
    """A raw stream tokentrace will hide a usage event from: ask for an uncompressed body.

    ``http_bodies`` can leave an event out of bytes as sent, not out of compressed ones; what the
    caller decodes is the same either way. A caller's own ``Accept-Encoding`` is kept (then a
    compressed stream shows the usage event).
    """
    headers = options.headers
    if not _wants_raw(headers) or any(str(key).lower() == "accept-encoding" for key in headers):
        return
    options.headers = {**headers, "Accept-Encoding": "identity"}  # a new dict: never the caller's


_raw_by_type: dict[type, bool] = {}


def _is_raw_response(result: Any) -> bool:
    """Whether ``result`` is a ``with_raw_response`` wrapper rather than a parsed model.

    Decided once per type: asking a pydantic model for an attribute it lacks goes through its
    ``__getattr__`` and an exception, on every call otherwise.
    """
    cls = type(result)
    raw = _raw_by_type.get(cls)
    if raw is None:
        raw = getattr(result, "http_response", None) is not None and not hasattr(result, "choices")
        if len(_raw_by_type) < 256:
            _raw_by_type[cls] = raw
    return raw


def _finish_raw(call: Call, http_response: Any) -> None:
    """``with_raw_response`` / ``with_streaming_response``: read usage from the HTTP body.

    A body the SDK has already read is decoded here; an unread one (streamed) is observed as the
    caller reads it.
    """
    from .http_bodies import observe_response  # only these rarer calls need it

    record = call.record
    if not record.stream and _is_read(http_response):
        try:
            payload = json.loads(http_response.content)
        except ValueError:
            payload = None
        call.end(response_info(call.api, payload) if isinstance(payload, dict) else None)
        return
    observe_response(call.site.recorder, record, call.api, call.hide_usage_chunk, http_response)


def _is_read(http_response: Any) -> bool:
    try:
        http_response.content  # noqa: B018 - raises ResponseNotRead when the body is unread
    except Exception:
        return False
    return True
