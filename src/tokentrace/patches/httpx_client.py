"""``httpx`` and ``httpx2``: one wrapper on ``Client.send`` and one on ``AsyncClient.send``.

Both libraries share a design, so one body of code serves both. ``client.post(...)`` sends with
the body read; ``client.stream(...)`` sends with ``stream=True`` and the body is observed as the
caller reads it. The openai SDK runs on these clients too: its calls carry the SDK flag in the
context and are left to the SDK patch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._guard import internal_error
from ..telemetry.recorder import Recorder, in_recorded_call
from .http_bodies import observe_response
from .http_common import EndpointTable, HttpStarted, begin_http, finish_read_body, refuser

__all__ = ["make_wrappers", "targets"]


def targets(module: str) -> tuple[tuple[str, str], ...]:
    return ((module, "Client.send"), (module, "AsyncClient.send"))


Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _replace_body(request: Any, body: bytes) -> None:
    stream_type = type(request.stream)
    if stream_type.__name__ != "ByteStream":
        raise TypeError("request body is not an in-memory byte stream")
    request.stream = stream_type(body)
    request._content = body
    request.headers["Content-Length"] = str(len(body))


def make_wrappers(recorder: Recorder, table: EndpointTable) -> tuple[Wrapper, Wrapper]:
    refuse = refuser(recorder)
    add_usage = recorder.settings.stream_usage == "always"

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HttpStarted | None:
        request: Any = args[0] if args else kwargs.get("request")
        try:
            # Cheapest tests first: most traffic is not a POST, and the SDK's own calls carry a flag.
            if request.method != "POST" or in_recorded_call():
                return None
            if table.match(str(request.url)) is None:
                return None
            try:
                body = request.content
            except Exception:  # a streamed request body: not a JSON API call we can read
                return None
            started = begin_http(recorder, table, request.method, str(request.url), body, add_usage)
            if started is not None and started.new_body is not None:
                _replace_body(request, started.new_body)
            return started
        except Exception as exc:
            internal_error("starting an httpx call", exc)
            return None

    def finish(started: HttpStarted, response: Any, streamed: bool) -> None:
        try:
            if streamed and response.status_code < 400:
                observe_response(recorder, started.call, started.kind, False, response)
                return
            body = b"" if streamed else response.content
            finish_read_body(recorder, started, response.status_code, response.headers, body)
        except Exception as exc:
            internal_error("recording an httpx response", exc)

    def fail(started: HttpStarted, error: BaseException) -> None:
        try:
            recorder.end(started.call, None, error)
        except Exception as exc:
            internal_error("recording an httpx error", exc)

    def sync_send(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        started = begin(args, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        if started.refusal is not None:  # a budget said no: nothing is sent
            refuse(started)
        token = recorder.activate(started.call)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as error:
            recorder.deactivate(token)
            fail(started, error)
            raise
        recorder.deactivate(token)
        finish(started, response, bool(kwargs.get("stream")))
        return response

    async def async_send(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        started = begin(args, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        if started.refusal is not None:  # a budget said no: nothing is sent
            refuse(started)
        token = recorder.activate(started.call)
        try:
            response = await wrapped(*args, **kwargs)
        except BaseException as error:
            recorder.deactivate(token)
            fail(started, error)
            raise
        recorder.deactivate(token)
        finish(started, response, bool(kwargs.get("stream")))
        return response

    return sync_send, async_send
