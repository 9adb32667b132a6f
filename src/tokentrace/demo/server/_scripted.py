"""Canned replies a test queues with ``DevServer.script()``, and OpenAI-shaped error bodies.

Every reply, scripted or computed, is one ``Scripted`` value: a body, an SSE event stream, the
default behaviour (optionally paced or cut short), or a dropped connection, after an optional delay.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "Scripted",
    "default",
    "delay",
    "disconnect",
    "error_body",
    "json",
    "raw",
    "sse",
    "sse_event",
    "status",
]

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"


@dataclass(frozen=True)
class Scripted:
    """One reply. Build it with the constructors below rather than by hand.

    ``kind`` is ``"reply"`` (``status``, ``headers`` and ``body``, or ``events`` for an SSE
    stream), ``"default"`` (what the server would have answered) or ``"disconnect"`` (the
    connection is closed without an answer). ``delay`` waits before answering; ``interval`` waits
    before each SSE event; ``drop_after`` closes the connection after that many events, without
    ending the stream properly.
    """

    kind: Literal["reply", "default", "disconnect"] = "reply"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    events: tuple[bytes, ...] | None = None
    delay: float = 0.0
    interval: float = 0.0
    drop_after: int | None = None


def _header_pairs(headers: Mapping[str, str] | None, content_type: str | None) -> tuple[tuple[str, str], ...]:
    pairs = {name.lower(): str(value) for name, value in (headers or {}).items()}
    if content_type is not None:
        pairs.setdefault("content-type", content_type)
    return tuple(pairs.items())


def encode_json(body: object) -> bytes:
    return _json.dumps(body, separators=(",", ":")).encode()


def json(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Scripted:
    """Answer ``body`` as JSON with ``status``."""
    return Scripted(status=status, headers=_header_pairs(headers, JSON_TYPE), body=encode_json(body))


_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to sample from this model.", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    409: ("The request conflicts with another request.", "invalid_request_error", None),
    422: ("The request could not be processed.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests. Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


def error_body(
    status: int, message: str | None = None, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's ``{"error": {...}}`` body for an HTTP status."""
    default_message, error_type, default_code = _ERRORS.get(
        status, ("Request failed.", "server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {
        "error": {
            "message": message or default_message,
            "type": error_type,
            "param": param,
            "code": code or default_code,
        }
    }


def status(
    code: int,
    json_body: object = None,
    *,
    message: str | None = None,
    retry_after: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> Scripted:
    """An error (or any status) answered the way OpenAI does.

    Without ``json_body`` the body is OpenAI's error shape for ``code`` (``message`` replaces the
    default text). A 429 carries ``retry-after`` (1 second unless ``retry_after`` says otherwise)
    and rate-limit headers.
    """
    body = json_body if json_body is not None else error_body(code, message)
    extra = dict(headers or {})
    if code == 429 or retry_after is not None:
        seconds = 1.0 if retry_after is None else retry_after
        extra.setdefault("retry-after", f"{seconds:g}")
        if code == 429:
            extra.setdefault("x-ratelimit-limit-requests", "500")
            extra.setdefault("x-ratelimit-remaining-requests", "0")
            extra.setdefault("x-ratelimit-reset-requests", f"{seconds:g}s")
    return json(body, code, extra)


def raw(status: int, body: bytes | str, headers: Mapping[str, str] | None = None) -> Scripted:
    """Answer exactly ``body`` (HTML, invalid JSON, gzip bytes...) with the given headers."""
    data = body.encode() if isinstance(body, str) else body
    return Scripted(status=status, headers=_header_pairs(headers, None), body=data)


def sse_event(event: str | bytes | Mapping[str, Any]) -> bytes:
    """One SSE event on the wire: bytes verbatim, a mapping as ``data: <json>``, a string
    verbatim with the blank line that ends an event added when missing."""
    if isinstance(event, bytes):
        return event
    if isinstance(event, Mapping):
        return b"data: " + encode_json(event) + b"\n\n"
    if not event.endswith("\n\n"):
        event += "\n" if event.endswith("\n") else "\n\n"
    return event.encode()


def sse(
    events: Iterable[str | bytes | Mapping[str, Any]],
    close_early: bool = False,
    *,
    interval: float = 0.0,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Scripted:
    """Stream ``events`` (see ``sse_event``); with ``close_early`` the connection drops after the
    last one instead of ending the response, like a server that died mid-stream."""
    encoded = tuple(sse_event(event) for event in events)
    return Scripted(
        status=status,
        headers=_header_pairs(headers, SSE_TYPE),
        events=encoded,
        interval=interval,
        drop_after=len(encoded) if close_early else None,
    )


def default(*, interval: float = 0.0, drop_after: int | None = None) -> Scripted:
    """The server's usual answer; a stream paced by ``interval`` or dropped after ``drop_after``
    events (counted on the wire, the ``data: [DONE]`` line included)."""
    return Scripted(kind="default", interval=interval, drop_after=drop_after)


def delay(seconds: float, then: Scripted | None = None) -> Scripted:
    """Wait ``seconds`` before answering with ``then`` (the usual answer by default).

    The wait ends early when the server stops, so a test provoking a client timeout never hangs.
    """
    base = then if then is not None else default()
    return replace(base, delay=base.delay + seconds)


def disconnect() -> Scripted:
    """Close the connection without answering (the client sees a connection error)."""
    return Scripted(kind="disconnect")
