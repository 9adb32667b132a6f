"""What the plain-HTTP patches share: is this request an LLM call, and what did its response say.

A request is an LLM call when it is a POST whose path ends like an OpenAI-compatible (or
Anthropic-shaped) endpoint — an extensible table — and its body is JSON. Anything else returns
at the first cheap test, so other HTTP traffic pays a method compare and a few ``endswith``.
While an SDK call is being recorded, these patches step aside: one call, one span, one cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .._guard import internal_error
from ..budgets.gate import gate as budget_gate
from ..calls import content
from ..calls.apis import ApiKind, api_kind_for_path
from ..calls.apis.request import request_attributes
from ..calls.fields import model_name
from ..calls.providers import endpoint_for
from ..telemetry.recorder import OPENAI_PROVIDERS, LLMCall, Recorder, in_recorded_call
from ..tracking import current_path
from .http_bodies import BodyObserver

__all__ = ["EndpointTable", "HttpStarted", "begin_http", "finish_read_body", "observer_for", "refuser"]

_DEFAULT_SUFFIXES = ("completions", "embeddings", "responses", "/v1/messages")


class EndpointTable:
    """Which request paths are LLM calls: the built-in OpenAI/Anthropic shapes plus the user's.

    ``extra`` maps a path suffix (``/generate``, ``/v2/chat``) to an API shape name: ``chat``,
    ``completions``, ``embeddings``, ``responses`` or ``messages``.
    """

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._extra = {suffix.rstrip("/"): ApiKind(kind) for suffix, kind in (extra or {}).items()}
        suffixes = [*_DEFAULT_SUFFIXES, *self._extra]
        self._suffixes = tuple(suffixes) + tuple(s + "/" for s in suffixes)

    def match(self, url: str) -> ApiKind | None:
        query = url.find("?")
        if query >= 0:
            url = url[:query]
        if not url.endswith(self._suffixes):
            return None
        path = url.rstrip("/")
        for suffix, kind in self._extra.items():
            if path.endswith(suffix):
                return kind
        return api_kind_for_path(path)


class HttpStarted:
    __slots__ = ("call", "kind", "new_body")

    @property
    def refusal(self) -> BaseException | None:
        """Set when a budget refused the call: the patch must raise it without sending."""
        gate = self.call.budget
        return gate.refusal if gate is not None else None

    def __init__(self, call: LLMCall, kind: ApiKind, new_body: bytes | None) -> None:
        self.call = call
        self.kind = kind
        self.new_body = new_body


def _json_body(body: Any) -> dict[str, Any] | None:
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, str):
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _origin(url: str) -> str:
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3 if scheme_end >= 0 else 0)
    return url if path_start < 0 else url[:path_start]


def begin_http(
    recorder: Recorder, table: EndpointTable, method: str, url: str, body: Any, add_usage: bool
) -> HttpStarted | None:
    """Start recording if this request is an LLM call we should record; else None (cheaply)."""
    if method != "POST":
        return None
    kind = table.match(url)
    if kind is None or in_recorded_call():
        return None
    payload = _json_body(body)
    if payload is None:
        return None
    endpoint = endpoint_for(_origin(url))
    stream = payload.get("stream") is True
    model = payload.get("model")
    model = model_name(model)
    new_body = None
    path = current_path()
    gate = budget_gate(recorder.budgets, recorder.prices, endpoint.provider, model, path, payload)
    if gate is not None and gate.downgraded_from is not None:
        payload = {**payload, "model": gate.model}
        model = gate.model
        new_body = json.dumps(payload).encode()
    if add_usage and stream and kind is ApiKind.CHAT:
        options = payload.get("stream_options")
        if not (isinstance(options, Mapping) and options.get("include_usage") is True):
            merged = {**(options if isinstance(options, Mapping) else {}), "include_usage": True}
            new_body = json.dumps({**payload, "stream_options": merged}).encode()
    attributes = request_attributes(kind, payload, endpoint.provider in OPENAI_PROVIDERS)
    call = recorder.start(kind.operation, model, endpoint, stream, attributes, gate, path)
    call.usage_injected = new_body is not None
    if recorder.settings.capture_content:
        call.content_attributes = content.input_attributes(kind, payload)
    return HttpStarted(call, kind, new_body)


def observer_for(recorder: Recorder, started: HttpStarted, headers: Any, decoded: bool) -> BodyObserver:
    """A body observer; ``decoded`` bodies were already decompressed by the HTTP library."""
    encoding = "" if decoded else headers.get("content-encoding", "")
    return BodyObserver(recorder, started.call, started.kind, headers.get("content-type", ""), encoding)


def finish_read_body(
    recorder: Recorder, started: HttpStarted, status: int, headers: Any, body: bytes
) -> None:
    """A response whose (decoded) body is already in memory."""
    if status >= 400:
        recorder.end(started.call, None, status_code=status)
        return
    observer = observer_for(recorder, started, headers, decoded=True)
    observer.feed(body)
    observer.end("completed")


def refuser(recorder: Recorder) -> Callable[[HttpStarted], None]:
    """What a plain-HTTP patch does when a budget refused the call: record it, then raise."""

    def refuse(started: HttpStarted) -> None:
        refusal = started.refusal
        assert refusal is not None
        try:
            recorder.end(started.call, None, refusal)
        except Exception as exc:
            internal_error("recording a budget refusal", exc)
        raise refusal

    return refuse
