"""What the plain-HTTP patches share: is this request an LLM call, and what did its response say.

A request is an LLM call when it is a POST whose path ends like a path of the API table
(``calls.apis``, extended by the ``http_endpoints`` setting) and its body is JSON. Anything else
returns at the first cheap test, so other HTTP traffic pays a method compare and a few
``endswith``. While an SDK call is being recorded, these patches step aside: one call, one span,
one cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import names
from ..calls.apis import ApiKind, PathTable, path_route
from ..calls.providers import endpoint_for
from ..tracking import in_recorded_call
from ._call import Call, CallSite
from .http_bodies import BodyObserver

__all__ = ["finish_read_body", "http_call", "observer_for", "start_json"]


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


# The families whose requests may name their model in the path (``models/{model}:{method}``).
_ROUTED = frozenset({ApiKind.GEMINI, ApiKind.GEMINI_EMBEDDINGS, ApiKind.MESSAGES})


def http_call(site: CallSite, table: PathTable, method: str, url: str, body: Any) -> Call | None:
    """Start the call if this request is one we should record; else None (cheaply).

    The call's ``body``, when set, is the JSON object to send instead (already a copy), and its
    ``url``, when set, the URL to send it to (a model in the path changed: ``calls.apis.PathRoute``).
    """
    if method != "POST":
        return None
    kind = table.match(url)
    if kind is None or in_recorded_call():
        return None
    payload = _json_body(body)
    if payload is None:
        return None
    return start_json(site, kind, url, payload)


def start_json(site: CallSite, kind: ApiKind, url: str, payload: Mapping[str, Any]) -> Call:
    """Start the call of a JSON request to ``url`` (see ``http_call``)."""
    route = path_route(url) if kind in _ROUTED else None
    if route is None:
        return site.start(kind, endpoint_for(_origin(url)), payload)
    call = site.start(kind, endpoint_for(_origin(url)), route.view(payload))
    if call.body is not None:
        call.body, call.url = route.wire(call.body, url)
    return call


def observer_for(call: Call, headers: Any, decoded: bool) -> BodyObserver:
    """A body observer; ``decoded`` bodies were already decompressed by the HTTP library."""
    encoding = "" if decoded else headers.get("content-encoding", "")
    return BodyObserver(call.site.recorder, call.record, call.api, headers.get("content-type", ""), encoding)


def finish_read_body(call: Call, status: int, headers: Any, body: bytes) -> None:
    """A response whose (decoded) body is already in memory."""
    if status >= 400:
        call.end(None, status_code=status)
        return
    observer = observer_for(call, headers, decoded=True)
    observer.feed(body)
    observer.end(names.STREAM_END_COMPLETED)
