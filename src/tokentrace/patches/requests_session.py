"""``requests``: one wrapper on ``Session.send``, the choke point of ``requests.post`` and friends.

A non-streamed response is read inside ``send`` already, so its JSON is parsed there. A streamed
one (``stream=True``) keeps its body unread: ``response.raw`` is wrapped so bytes are observed as
the caller reads them (``iter_lines``, ``iter_content``, ``raw.read``), never read ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import wrapt

from .. import names
from .._guard import internal_error
from ..telemetry.recorder import Recorder
from .http_bodies import BodyObserver, observe_chunks
from .http_common import EndpointTable, HttpStarted, begin_http, finish_read_body, observer_for, refuser

__all__ = ["TARGETS", "make_wrapper"]

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


Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def make_wrapper(recorder: Recorder, table: EndpointTable) -> Wrapper:
    refuse = refuser(recorder)
    add_usage = recorder.settings.stream_usage == "always"

    def finish(started: HttpStarted, response: Any, streamed: bool) -> None:
        if streamed and response.status_code < 400:
            observer = observer_for(recorder, started, response.headers, decoded=True)
            response.raw = _ObservedRaw(response.raw, observer)
            return
        body = response.content if not streamed else b""
        finish_read_body(recorder, started, response.status_code, response.headers, body)

    def send(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        request: Any = args[0] if args else kwargs.get("request")
        try:
            started = begin_http(recorder, table, request.method, request.url, request.body, add_usage)
            if started is not None and started.new_body is not None:
                request = request.copy()  # the caller's prepared request stays as it was
                request.body = started.new_body
                request.headers["Content-Length"] = str(len(started.new_body))
                args = (request, *args[1:]) if args else args
                if not args:
                    kwargs["request"] = request
        except Exception as exc:
            internal_error("starting a requests call", exc)
            started = None
        if started is None:
            return wrapped(*args, **kwargs)
        if started.refusal is not None:  # a budget said no: nothing is sent
            refuse(started)
        token = recorder.activate(started.call)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as error:
            recorder.deactivate(token)
            try:
                recorder.end(started.call, None, error)
            except Exception as exc:
                internal_error("recording a requests error", exc)
            raise
        recorder.deactivate(token)
        try:
            finish(started, response, bool(kwargs.get("stream")))
        except Exception as exc:
            internal_error("recording a requests response", exc)
        return response

    return send
