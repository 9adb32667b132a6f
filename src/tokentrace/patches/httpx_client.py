"""``httpx`` and ``httpx2``: ``Client.send`` and ``AsyncClient.send`` as targets of the call skeleton.

Both libraries share a design, so one body of code serves both. ``client.post(...)`` sends with
the body read; ``client.stream(...)`` sends with ``stream=True`` and the body is observed as the
caller reads it. The openai SDK runs on these clients too: its calls carry the SDK flag in the
context and are left to the SDK patch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..calls.apis import PathTable
from ..tracking import in_recorded_call
from ._call import Call, CallSite, Wrapper, make_wrappers
from ._http import finish_read_body, http_call
from ._secrets import request_secrets
from .http_bodies import observe_response

if TYPE_CHECKING:
    from ..telemetry.recorder import Recorder

__all__ = ["make_wrappers_for", "targets"]


def targets(module: str) -> tuple[tuple[str, str], ...]:
    return ((module, "Client.send"), (module, "AsyncClient.send"))


def _replace_body(request: Any, body: bytes) -> None:
    stream_type = type(request.stream)
    if stream_type.__name__ != "ByteStream":
        raise TypeError("request body is not an in-memory byte stream")
    request.stream = stream_type(body)
    request._content = body
    request.headers["Content-Length"] = str(len(body))


def make_wrappers_for(recorder: Recorder, table: PathTable) -> tuple[Wrapper, Wrapper]:
    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        request: Any = args[0] if args else kwargs.get("request")
        # Cheapest tests first: most traffic is not a POST, and the SDK's own calls carry a flag.
        if request.method != "POST" or in_recorded_call():
            return None
        url = str(request.url)
        if table.match(url) is None:
            return None
        try:
            body = request.content
        except Exception:  # a streamed request body: not a JSON API call we can read
            return None
        call = http_call(site, table, request.method, url, body)
        if call is None:
            return None
        if call.body is not None:
            _replace_body(request, json.dumps(call.body).encode())
        if call.url is not None:  # the model, which the path names, changed (same origin)
            request.url = type(request.url)(call.url)
        call.source = request
        call.streamed = bool(kwargs.get("stream"))
        return call

    def finish(call: Call, response: Any) -> Any:
        if call.streamed and response.status_code < 400:
            observe_response(recorder, call.record, call.api, False, response)
        else:
            body = b"" if call.streamed else response.content
            finish_read_body(call, response.status_code, response.headers, body)
        return response

    site = CallSite(recorder, "an httpx call", finish, secrets=request_secrets)
    return make_wrappers(start, "an httpx call")
