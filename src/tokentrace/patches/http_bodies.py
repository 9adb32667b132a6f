"""Watch an HTTP response body as the caller reads it, and finish the call's record at its end.

Used where tokentrace sees bytes rather than SDK objects: raw and streaming responses of the SDK,
and plain HTTP clients. The body's byte stream is replaced by a pass-through that feeds a copy of
each chunk to a parser — SSE events one by one, or one JSON document at the end — and never reads
ahead or consumes anything on the caller's behalf.

Where tokentrace asked an SSE stream for its usage on the caller's behalf (an SDK raw response: the
caller parses the bytes itself), the pass-through hands the bytes on whole events at a time and
leaves out the usage-only event it caused, so the caller reads exactly the events it would have
read. That needs the bytes as sent: a compressed body passes unchanged (the SDK patch asks for an
uncompressed one when it will hide).

A stream whose end marker arrived (``data: [DONE]``, the Responses API's ``response.completed``,
Messages' ``message_stop``, a Gemini candidate's finish reason) ends ``completed``, whoever closes
it afterwards.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .. import names
from .._guard import internal_error
from ..calls.apis import ApiKind
from ..calls.apis.read import response_info
from ..calls.apis.stream import StreamAccumulator
from ..calls.records import ResponseInfo
from ._usage_hint import note_stream_end

if TYPE_CHECKING:
    from ..calls.records import LLMCall
    from ..telemetry.recorder import Recorder

__all__ = ["BodyObserver", "observe_chunks", "observe_response"]

_MAX_JSON_BODY = 16 * 1024 * 1024  # a usage-bearing JSON body is small; never hold more than this
_MAX_SSE_EVENT = 1024 * 1024
_DONE = b"[DONE]"
# Event types after which a stream has said all it will say, by family (chat ends with [DONE]).
_END_EVENTS: dict[ApiKind, frozenset[str]] = {
    ApiKind.RESPONSES: frozenset({"response.completed", "response.incomplete", "response.failed"}),
    ApiKind.MESSAGES: frozenset({"message_stop"}),
    ApiKind.GEMINI: frozenset(),  # no end event: a candidate's finish reason (``acc.ended``)
}
_MARKED_ENDS = (names.STREAM_END_CLOSED, names.STREAM_END_ABANDONED)


class BodyObserver:
    """Parses a copy of the body's bytes; finishes the record exactly once."""

    __slots__ = (
        "_acc",
        "_add",
        "_buffer",
        "_data",
        "_decoder",
        "_end_events",
        "_held",
        "_json",
        "_json_size",
        "_line_start",
        "_sse",
        "call",
        "done",
        "hiding",
        "kind",
        "marker_seen",
        "recorder",
    )

    def __init__(
        self,
        recorder: Recorder,
        call: LLMCall,
        kind: ApiKind,
        content_type: str,
        content_encoding: str,
        hide_usage_chunk: bool = False,
    ) -> None:
        self.recorder = recorder
        self.call = call
        self.kind = kind
        self.done = False
        self.marker_seen = False
        """Whether the stream's end marker arrived: an end by close or collection is then ``completed``."""
        self._sse = "text/event-stream" in content_type.lower()
        self._acc = StreamAccumulator(kind, hide_usage_chunk)
        self._add = self._acc.reader()
        self._end_events = _END_EVENTS.get(kind)
        self._buffer = b""
        self._data: list[bytes] = []
        self._json: list[bytes] | None = [] if not self._sse else None
        self._json_size = 0
        encoding = content_encoding.strip().lower()
        self.hiding = hide_usage_chunk and self._sse and encoding in ("", "identity")
        """Whether ``pass_on`` leaves out the usage-only event tokentrace caused (bytes as sent only)."""
        self._held = b""
        self._line_start = 0
        self._decoder: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            self._json = None  # an encoding we cannot decode: usage stays unknown
            self._sse = False

    def feed(self, chunk: bytes) -> None:
        if self.done or not chunk:
            return
        try:
            if self._decoder is not None:
                try:
                    chunk = self._decoder.decompress(chunk)
                except zlib.error:  # the provider's body is not what its headers say: usage unknown
                    self._sse = False
                    self._json = None
                    self._decoder = None
                    return
            if self._sse:
                self._feed_sse(chunk)
            elif self._json is not None:
                self._json.append(chunk)
                self._json_size += len(chunk)
                if self._json_size > _MAX_JSON_BODY:
                    self._json = None
        except Exception as exc:
            self._sse = False
            self._json = None
            internal_error("reading a response body", exc)

    def _feed_sse(self, chunk: bytes) -> None:
        buffer = self._buffer + chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > _MAX_SSE_EVENT:
            self._buffer = b""
        for raw_line in lines:
            line = raw_line.rstrip(b"\r")
            if not line:
                self._dispatch()
            elif line.startswith(b"data:"):
                data = line[5:]
                self._data.append(data[1:] if data.startswith(b" ") else data)

    def pass_on(self, chunk: bytes) -> bytes:
        """Feed ``chunk``; return the bytes to hand the caller: whole events, less a hidden one.

        Only while ``hiding``. The bytes of an event still arriving are held back until its blank
        line: an SSE reader can do nothing with part of an event anyway. ``held`` returns what is
        left at the end of the body.
        """
        if self.done or not self.hiding:
            self.feed(chunk)
            return chunk
        buffer = self._held + chunk
        out: list[bytes] = []
        event_start = 0
        try:
            line_start = self._line_start
            while True:
                newline = buffer.find(b"\n", line_start)
                if newline < 0:
                    break
                line = buffer[line_start:newline].rstrip(b"\r")
                line_start = newline + 1
                if not line:
                    if not self._dispatch():
                        out.append(buffer[event_start:line_start])
                    event_start = line_start
                elif line.startswith(b"data:"):
                    data = line[5:]
                    self._data.append(data[1:] if data.startswith(b" ") else data)
            self._held = buffer[event_start:]
            self._line_start = line_start - event_start
            if len(self._held) > _MAX_SSE_EVENT:  # not an event stream we can follow: hand it all on
                out.append(self._held)
                self._stop_hiding()
            return b"".join(out)
        except Exception as exc:  # hand on all not handed on yet, and follow this body no further
            self._stop_hiding()
            internal_error("reading a response body", exc)
            return b"".join(out) + buffer[event_start:]

    def held(self) -> bytes:
        """The bytes held back when the body ended without a last blank line (handed on unchanged)."""
        rest = self._held
        self._held = b""
        self._line_start = 0
        return rest

    def _stop_hiding(self) -> None:
        self.hiding = False
        self._held = b""
        self._line_start = 0
        self._data = []
        self._sse = False  # a body we stopped following gives no usage rather than a wrong one

    def _dispatch(self) -> bool:
        """Note the event gathered so far; True means leave it out (the usage-only chunk we caused)."""
        if not self._data:
            return False
        data = b"\n".join(self._data)
        self._data = []
        if data == _DONE:
            self.marker_seen = True
            return False
        call = self.call
        if call.time_to_first_chunk is None:
            call.time_to_first_chunk = time.perf_counter() - call.start
        try:
            event = json.loads(data)
        except ValueError:
            return False
        if not isinstance(event, dict):
            return False
        hide = self._add(event)
        end_events = self._end_events
        if end_events is not None and (event.get("type") in end_events or self._acc.ended):
            self.marker_seen = True
        return hide

    def end(self, how: str, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        try:
            info = self._result()
            call = self.call
            if call.stream:
                if how in _MARKED_ENDS and self.marker_seen:
                    how = names.STREAM_END_COMPLETED  # read to its end; closed or dropped after
                call.stream_end = how
            self.recorder.end(call, info, error)
            if call.stream and how == names.STREAM_END_COMPLETED:
                note_stream_end(self.recorder.settings.stream_usage, call, info)
        except Exception as exc:
            internal_error("finishing a response body", exc)

    def _result(self) -> ResponseInfo | None:
        if self._sse:
            self._dispatch()
            return self._acc.settle()
        if self._json is None:
            return None
        body = b"".join(self._json)
        if self._decoder is not None:
            try:
                body += self._decoder.flush()
            except zlib.error:
                return None
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return None
        if isinstance(payload, list) and self.kind is ApiKind.GEMINI:
            return self._json_stream(payload)  # ``streamGenerateContent`` without ``alt=sse``
        return response_info(self.kind, payload) if isinstance(payload, dict) else None

    def _json_stream(self, chunks: list[Any]) -> ResponseInfo:
        """A stream sent as one JSON array of its chunks, read as its events would be."""
        add = self._add
        for chunk in chunks:
            if isinstance(chunk, dict):
                add(chunk)
        self.marker_seen = self._acc.ended
        return self._acc.settle()


def observe_chunks(chunks: Iterable[bytes], observer: BodyObserver) -> Iterator[bytes]:
    """Pass ``chunks`` through unchanged, feeding each to ``observer``; end it however iteration ends.

    While the observer is ``hiding``, the chunks are handed on as ``BodyObserver.pass_on`` says.
    """
    if observer.hiding:
        return _hiding_chunks(chunks, observer)
    return _plain_chunks(chunks, observer)


def _plain_chunks(chunks: Iterable[bytes], observer: BodyObserver) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            observer.feed(chunk)
            yield chunk
    except GeneratorExit:
        observer.end(names.STREAM_END_CLOSED)
        raise
    except BaseException as exc:
        observer.end(names.STREAM_END_ERROR, exc)
        raise
    observer.end(names.STREAM_END_COMPLETED)


def _hiding_chunks(chunks: Iterable[bytes], observer: BodyObserver) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            out = observer.pass_on(chunk)
            if out:
                yield out
        rest = observer.held()
        if rest:
            yield rest
    except GeneratorExit:
        observer.end(names.STREAM_END_CLOSED)
        raise
    except BaseException as exc:
        observer.end(names.STREAM_END_ERROR, exc)
        raise
    observer.end(names.STREAM_END_COMPLETED)


_observed_classes: dict[type, type] = {}


def _base_stream_class(stream: Any, name: str) -> type | None:
    for klass in type(stream).__mro__:
        if klass.__name__ == name:
            return klass
    return None


def _observed_sync_class(base: type) -> type:
    found = _observed_classes.get(base)
    if found is not None:
        return found

    class ObservedSyncStream(base):  # type: ignore[misc]
        def __init__(self, inner: Any, observer: BodyObserver) -> None:
            self._inner = inner
            self._observer = observer

        def __iter__(self) -> Iterator[bytes]:
            return observe_chunks(self._inner, self._observer)

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._observer.end(names.STREAM_END_CLOSED)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def __del__(self) -> None:
            observer = self.__dict__.get("_observer")
            if observer is not None:
                observer.end(names.STREAM_END_ABANDONED)

    _observed_classes[base] = ObservedSyncStream
    return ObservedSyncStream


def _observed_async_class(base: type) -> type:
    found = _observed_classes.get(base)
    if found is not None:
        return found

    class ObservedAsyncStream(base):  # type: ignore[misc]
        def __init__(self, inner: Any, observer: BodyObserver) -> None:
            self._inner = inner
            self._observer = observer

        async def __aiter__(self) -> Any:
            observer = self._observer
            try:
                async for chunk in self._inner:
                    if not observer.hiding:
                        observer.feed(chunk)
                        yield chunk
                        continue
                    shown = observer.pass_on(chunk)
                    if shown:
                        yield shown
                rest = observer.held()
                if rest:
                    yield rest
            except GeneratorExit:
                observer.end(names.STREAM_END_CLOSED)
                raise
            except BaseException as exc:
                observer.end(names.STREAM_END_ERROR, exc)
                raise
            observer.end(names.STREAM_END_COMPLETED)

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._observer.end(names.STREAM_END_CLOSED)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def __del__(self) -> None:
            observer = self.__dict__.get("_observer")
            if observer is not None:
                observer.end(names.STREAM_END_ABANDONED)

    _observed_classes[base] = ObservedAsyncStream
    return ObservedAsyncStream


def observe_response(
    recorder: Recorder, call: LLMCall, kind: ApiKind, hide_usage_chunk: bool, response: Any
) -> None:
    """Replace ``response.stream`` (httpx or httpx2) with an observing pass-through.

    A body already in memory (a transport that read it, as ``MockTransport`` does) is read here.
    """
    headers = response.headers
    observer = BodyObserver(
        recorder,
        call,
        kind,
        headers.get("content-type", ""),
        headers.get("content-encoding", ""),
        hide_usage_chunk,
    )
    content = response.__dict__.get("_content")
    if isinstance(content, bytes):
        _observe_read(observer, response, content)
        return
    stream = response.stream
    sync_base = _base_stream_class(stream, "SyncByteStream")
    if sync_base is not None:
        response.stream = _observed_sync_class(sync_base)(stream, observer)
        return
    async_base = _base_stream_class(stream, "AsyncByteStream")
    if async_base is not None:
        response.stream = _observed_async_class(async_base)(stream, observer)
        return
    observer.end(names.STREAM_END_COMPLETED)


def _observe_read(observer: BodyObserver, response: Any, content: bytes) -> None:
    """A body the HTTP library already holds: read at once, less a hidden event when hiding."""
    if observer.hiding:
        shown = observer.pass_on(content) + observer.held()
        if shown != content:
            response._content = shown  # what ``content``, ``iter_bytes`` and ``parse`` read
    else:
        observer.feed(content)
    observer.end(names.STREAM_END_COMPLETED)
