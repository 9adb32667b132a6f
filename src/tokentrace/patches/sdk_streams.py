"""Transparent proxies over SDK streams that finish their call's record exactly once.

The proxy forwards everything to the SDK stream (attributes, ``isinstance``, ``with``) and watches
each chunk go by. The record is finished when the stream is exhausted, closed, exited, fails, is
cancelled, or is garbage-collected unfinished — whichever comes first, and only once.

A stream of a call in a fallback chain that fails before its first chunk reached the caller is
replaced: its record ends as failed, the call is sent again with the chain's next model, and the
proxy goes on with the new stream (``StreamState.fail``). After the first chunk a failure is the
caller's, as for any stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import wrapt

from .. import names
from .._guard import internal_error
from ..calls.apis.stream import StreamAccumulator
from ._usage_hint import note_stream_end

if TYPE_CHECKING:
    from ..calls.records import LLMCall
    from ..telemetry.recorder import Recorder

__all__ = ["AsyncStreamProxy", "StreamState", "SyncStreamProxy", "stream_content"]

_BaseProxy: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


def stream_content(acc: StreamAccumulator) -> dict[str, str]:
    """Output content of a finished stream (content capture only)."""
    from ..calls.content import output_attributes

    if acc.final_response is not None:
        return output_attributes(acc.kind, acc.final_response)
    texts = {index: "".join(pieces) for index, pieces in (acc.texts or {}).items()}
    return output_attributes(acc.kind, None, texts)


class StreamState:
    """What one stream has shown so far, and whether its record is finished."""

    __slots__ = ("acc", "add", "call", "done", "fallback", "first", "recorder")

    def __init__(
        self,
        recorder: Recorder,
        call: LLMCall,
        acc: StreamAccumulator,
        fallback: Callable[[BaseException], Callable[[], Any] | None] | None = None,
    ) -> None:
        self.recorder = recorder
        self.call = call
        self.acc = acc
        self.done = False
        self.first = True
        self.add = acc.reader()
        """Note one chunk; True means hide it from the caller. It may raise: the proxies guard it
        inline (one Python call less per chunk, which is most of what a chunk costs tokentrace)."""
        self.fallback = fallback
        """For a call in a fallback chain: given the error, how to resend it, or None."""

    def fail(self, error: BaseException) -> Callable[[], Any] | None:
        """The stream failed: finish its record; how to get the next model's stream instead when
        no chunk had come yet and the call's chain moves on for ``error``, else None."""
        fallback = self.fallback
        resend = None
        if fallback is not None and self.first:
            try:
                resend = fallback(error)
            except Exception as exc:
                internal_error("choosing the next model of a fallback chain", exc)
        self.finish(names.STREAM_END_ERROR, error)
        if resend is not None:  # the next stream's proxy keeps its own record from here
            self.first = False
            self.add = _passed
        return resend

    def first_chunk(self) -> None:
        self.first = False
        call = self.call
        call.time_to_first_chunk = time.perf_counter() - call.start

    def finish(self, end: str, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        try:
            call = self.call
            call.stream_end = end
            acc = self.acc
            info = acc.info
            info.finish_reasons = acc.finish_reasons()
            if acc.texts is not None:
                call.content_attributes = {**(call.content_attributes or {}), **stream_content(acc)}
            self.recorder.end(call, info, error)
            if end == names.STREAM_END_COMPLETED:
                note_stream_end(self.recorder.settings.stream_usage, call, info)
        except Exception as exc:
            internal_error("finishing a stream", exc)


def _passed(chunk: Any) -> bool:
    return False


class SyncStreamProxy(_BaseProxy):  # type: ignore[misc]
    """Wraps ``openai.Stream`` (or any iterator of chunks with ``close``)."""

    __wrapped__: Any

    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state
        self._self_next = wrapped.__next__

    def __iter__(self) -> Iterator[Any]:
        # A generator, as the SDK's own ``Stream.__iter__`` is: a ``for`` loop then resumes it per
        # chunk instead of calling ``__next__`` (a Python method, and the SDK's behind it) per chunk.
        return self._self_chunks()

    def _self_chunks(self) -> Iterator[Any]:
        state = self._self_state
        add = state.add
        try:
            for chunk in self.__wrapped__:
                if state.first:
                    state.first_chunk()
                try:
                    if add(chunk):
                        continue
                except Exception as exc:
                    internal_error("reading a stream chunk", exc)
                yield chunk
        except GeneratorExit:  # the loop stopped early: the stream itself may still be read on
            raise
        except BaseException as exc:
            resend = state.fail(exc)
            if resend is None:
                raise
        else:
            state.finish(names.STREAM_END_COMPLETED)
            return
        # Outside the except clause: the next attempt's own error must not chain to this one.
        yield from self._self_switch(resend)

    def _self_switch(self, resend: Callable[[], Any]) -> Any:
        """Close the failed stream and go on with the next attempt's (a proxy with its own record)."""
        with contextlib.suppress(Exception):  # a broken stream: closing it only frees its connection
            self.__wrapped__.close()
        replacement = resend()
        self.__wrapped__ = replacement
        self._self_next = replacement.__next__
        return replacement

    def __next__(self) -> Any:
        state = self._self_state
        while True:
            try:
                chunk = self._self_next()
            except StopIteration:
                state.finish(names.STREAM_END_COMPLETED)
                raise
            except BaseException as exc:
                resend = state.fail(exc)
                if resend is None:
                    raise
            else:
                if state.first:
                    state.first_chunk()
                try:
                    if not state.add(chunk):
                        return chunk
                except Exception as exc:
                    internal_error("reading a stream chunk", exc)
                    return chunk
                continue
            self._self_switch(resend)

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_state.finish(names.STREAM_END_CLOSED)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_state.finish(names.STREAM_END_CLOSED)

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None and not state.done:
            state.finish(names.STREAM_END_ABANDONED)


class AsyncStreamProxy(_BaseProxy):  # type: ignore[misc]
    """Wraps ``openai.AsyncStream``."""

    __wrapped__: Any

    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state
        self._self_anext = wrapped.__anext__

    def __aiter__(self) -> AsyncIterator[Any]:
        # An async generator, as the SDK's own ``AsyncStream.__aiter__`` is (see the sync proxy).
        return self._self_chunks()

    async def _self_chunks(self) -> AsyncIterator[Any]:
        state = self._self_state
        add = state.add
        try:
            async for chunk in self.__wrapped__:
                if state.first:
                    state.first_chunk()
                try:
                    if add(chunk):
                        continue
                except Exception as exc:
                    internal_error("reading a stream chunk", exc)
                yield chunk
        except GeneratorExit:  # the loop stopped early: the stream itself may still be read on
            raise
        except asyncio.CancelledError:
            state.finish(names.STREAM_END_CANCELLED)
            raise
        except BaseException as exc:
            resend = state.fail(exc)
            if resend is None:
                raise
        else:
            state.finish(names.STREAM_END_COMPLETED)
            return
        # Outside the except clause: the next attempt's own error must not chain to this one.
        async for chunk in await self._self_switch(resend):
            yield chunk

    async def _self_switch(self, resend: Callable[[], Any]) -> Any:
        """Close the failed stream and go on with the next attempt's (a proxy with its own record)."""
        with contextlib.suppress(Exception):  # a broken stream: closing it only frees its connection
            await self.__wrapped__.close()
        replacement = await resend()
        self.__wrapped__ = replacement
        self._self_anext = replacement.__anext__
        return replacement

    async def __anext__(self) -> Any:
        state = self._self_state
        while True:
            try:
                chunk = await self._self_anext()
            except StopAsyncIteration:
                state.finish(names.STREAM_END_COMPLETED)
                raise
            except asyncio.CancelledError:
                state.finish(names.STREAM_END_CANCELLED)
                raise
            except BaseException as exc:
                resend = state.fail(exc)
                if resend is None:
                    raise
            else:
                if state.first:
                    state.first_chunk()
                try:
                    if not state.add(chunk):
                        return chunk
                except Exception as exc:
                    internal_error("reading a stream chunk", exc)
                    return chunk
                continue
            await self._self_switch(resend)

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_state.finish(names.STREAM_END_CLOSED)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_state.finish(names.STREAM_END_CLOSED)

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None and not state.done:
            state.finish(names.STREAM_END_ABANDONED)
