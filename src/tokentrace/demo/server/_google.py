"""What every Google API answer here shares: error bodies, the JSON content type, and reading a
request field by either of the names Google accepts."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from ._scripted import Scripted, json, status
from ._shapes import Json

__all__ = ["GOOGLE_JSON_TYPE", "field", "google_error", "google_status", "invalid_argument", "reply"]

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    401: "Request had invalid authentication credentials.",
    403: "Method doesn't allow unregistered callers (callers without established identity).",
    404: "Requested entity was not found.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}
GOOGLE_JSON_TYPE = "application/json; charset=UTF-8"


def google_error(code: int, message: str | None = None) -> Json:
    """Google's ``{"error": {"code", "message", "status"}}`` body for an HTTP status."""
    default = _MESSAGES.get(code, "Request failed.")
    return {"error": {"code": code, "message": message or default, "status": _STATUSES.get(code, "UNKNOWN")}}


def google_status(code: int, message: str | None = None, *, retry_after: float | None = None) -> Scripted:
    """An error answered the way Google's APIs do, for ``DevServer.script``."""
    return status(code, google_error(code, message), retry_after=retry_after)


@functools.lru_cache(maxsize=64)
def _proto_name(name: str) -> str:
    return re.sub(r"[A-Z]", lambda upper: "_" + upper[0].lower(), name)


def field(source: object, name: str) -> Any:
    """A request field by its JSON name (``maxOutputTokens``) or, as Google also accepts and some
    SDK versions send, its proto name (``max_output_tokens``); None when absent."""
    if not isinstance(source, Mapping):
        return None
    if name in source:
        return source[name]
    return source.get(_proto_name(name))


def reply(body: Json, code: int = 200) -> Scripted:
    """A JSON answer with the content type Google's APIs send."""
    return json(body, code, {"content-type": GOOGLE_JSON_TYPE})


def invalid_argument(message: str) -> Scripted:
    return reply(google_error(400, message), 400)
