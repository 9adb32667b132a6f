"""``requests``: ``Session.send``, the choke point of ``requests.post`` and friends, as a target of
the call skeleton.

A non-streamed response is read inside ``send`` already, so its JSON is parsed there. A streamed
one (``stream=True``) keeps its body unread: ``response.raw`` is wrapped so bytes are observed as
the caller reads them (``iter_lines``, ``iter_content``, ``raw.read``), never read ahead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import wrapt

from .. import names
from ..calls.apis import PathTable
from ._call import Call, CallSite, Wrapper, make_wrappers
from ._http import finish_read_body, http_call, observer_for
from ._secrets import request_secrets
from .http_bodies import BodyObserver, observe_chunks

if TYPE_CHECKING:
    from ..telemetry.recorder import Recorder

__all__ = ["TARGETS", "make_wrapper_for"]

TARGETS: tuple[tuple[str, str], ...] = (("requests.sessions", "Session.send"),)

_BaseProxy: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


class _ObservedRaw(_BaseProxy):  # type: ignore[misc]
    """urllib3's response with every read also fed to the observer."""

    def __init__(self, raw: Any, observer: BodyObserver) -> None:
        super().__init__(raw)
        self._self_observer = observer

    def stream(self, amt: int | None = 2**16, decode_content: bool | None = None) -> Any:
        return observe_chunks(
            self.__wrapped__.stream(amt, decode_content=decode_content), self._self_observer
        )

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> Any:
        observer = self._self_observer
        try:
            data = self.__wrapped__.read(amt, *args, **kwargs)
        except BaseException as exc:
            observer.end(names.STREAM_END_ERROR, exc)
            raise
        observer.feed(data)
        if amt is None or not data:
            observer.end(names.STREAM_END_COMPLETED)
        return data

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_observer.end(names.STREAM_END_CLOSED)

    def __del__(self) -> None:
        observer = getattr(self, "_self_observer", None)
        if observer is not None:
            observer.end(names.STREAM_END_ABANDONED)


def make_wrapper_for(recorder: Recorder, table: PathTable) -> Wrapper:
    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        request: Any = args[0] if args else kwargs.get("request")
        call = http_call(site, table, request.method, request.url, request.body)
        if call is None:
            return None
        if call.body is not None:
            body = json.dumps(call.body).encode()
            request = request.copy()  # the caller's prepared request stays as it was
            request.body = body
            request.headers["Content-Length"] = str(len(body))
            if call.url is not None:  # the model, which the path names, changed
                request.url = call.url
            if args:
                call.args = (request, *args[1:])
            else:
                kwargs["request"] = request
        call.source = request
        call.streamed = bool(kwargs.get("stream"))
        return call

    def finish(call: Call, response: Any) -> Any:
        if call.streamed and response.status_code < 400:
            observer = observer_for(call, response.headers, decoded=True)
            response.raw = _ObservedRaw(response.raw, observer)
        else:
            body = response.content if not call.streamed else b""
            finish_read_body(call, response.status_code, response.headers, body)
        return response

    site = CallSite(recorder, "a requests call", finish, secrets=request_secrets)
    sync_wrapper, _ = make_wrappers(start, "a requests call")
    return sync_wrapper
