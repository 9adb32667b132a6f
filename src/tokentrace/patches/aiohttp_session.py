"""``aiohttp``: ``ClientSession._request``, the choke point of ``session.post``, ``session.request`` and
the openai 0.28 SDK's ``acreate``, as a target of the call skeleton.

aiohttp returns a response once its headers are in; the body, streamed or not, is read later by
the caller (``await response.json()``, ``async for line in response.content``, ``iter_chunked``,
...). So every response's ``content`` (aiohttp's ``StreamReader``) is wrapped in a proxy that feeds
each read to the body observer, never reading ahead; the record ends when the body has been read to
its end, fails, is released or closed before that, or is dropped. An error status ends the record
at once, unread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import wrapt

from .. import names
from ..calls.apis import PathTable
from ..tracking import in_recorded_call
from ._call import Call, CallSite, Wrapper, make_wrappers
from ._http import finish_read_body, http_call, observer_for, start_json
from ._secrets import header_and_query_secrets

if TYPE_CHECKING:
    from ..telemetry.recorder import Recorder
    from .http_bodies import BodyObserver

__all__ = ["TARGETS", "make_wrapper_for"]

TARGETS: tuple[tuple[str, str], ...] = (("aiohttp.client", "ClientSession._request"),)

_BaseProxy: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


class _Reads:
    """An async iterator over one read method of the proxy (``iter_chunked``, ``iter_any``, lines)."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], Awaitable[bytes]]) -> None:
        self._read = read

    def __aiter__(self) -> _Reads:
        return self

    async def __anext__(self) -> bytes:
        data = await self._read()
        if not data:
            raise StopAsyncIteration
        return data


class _ChunkReads(_Reads):
    """``iter_chunks``: (data, end of an HTTP chunk) pairs until ``(b"", False)``."""

    __slots__ = ()

    async def __anext__(self) -> Any:
        pair: Any = await self._read()
        if pair == (b"", False):
            raise StopAsyncIteration
        return pair


class _ObservedContent(_BaseProxy):  # type: ignore[misc]
    """aiohttp's ``StreamReader`` with what every read returns also fed to the observer."""

    def __init__(self, reader: Any, observer: BodyObserver) -> None:
        super().__init__(reader)
        self._self_observer = observer

    def _self_got(self, data: bytes) -> bytes:
        observer = self._self_observer
        if data:
            observer.feed(data)
        if not data or self.__wrapped__.at_eof():
            observer.end(names.STREAM_END_COMPLETED)
        return data

    def _self_failed(self, exc: BaseException) -> None:
        how = (
            names.STREAM_END_CANCELLED if isinstance(exc, asyncio.CancelledError) else names.STREAM_END_ERROR
        )
        self._self_observer.end(how, exc)

    async def read(self, *args: Any, **kwargs: Any) -> bytes:
        try:
            data = await self.__wrapped__.read(*args, **kwargs)
        except BaseException as exc:
            self._self_failed(exc)
            raise
        return self._self_got(data)

    async def readany(self) -> bytes:
        try:
            data = await self.__wrapped__.readany()
        except BaseException as exc:
            self._self_failed(exc)
            raise
        return self._self_got(data)

    async def readline(self, *args: Any, **kwargs: Any) -> bytes:
        try:
            data = await self.__wrapped__.readline(*args, **kwargs)
        except BaseException as exc:
            self._self_failed(exc)
            raise
        return self._self_got(data)

    async def readuntil(self, *args: Any, **kwargs: Any) -> bytes:
        try:
            data = await self.__wrapped__.readuntil(*args, **kwargs)
        except BaseException as exc:
            self._self_failed(exc)
            raise
        return self._self_got(data)

    async def readexactly(self, n: int) -> bytes:
        try:
            data = await self.__wrapped__.readexactly(n)
        except BaseException as exc:
            self._self_failed(exc)
            raise
        return self._self_got(data)

    async def readchunk(self) -> tuple[bytes, bool]:
        try:
            data, end_of_chunk = await self.__wrapped__.readchunk()
        except BaseException as exc:
            self._self_failed(exc)
            raise
        return self._self_got(data), end_of_chunk

    def read_nowait(self, n: int = -1) -> bytes:
        return self._self_got(self.__wrapped__.read_nowait(n))

    def __aiter__(self) -> _Reads:
        return _Reads(self.readline)

    def iter_chunked(self, n: int) -> _Reads:
        return _Reads(lambda: self.read(n))

    def iter_any(self) -> _Reads:
        return _Reads(self.readany)

    def iter_chunks(self) -> _ChunkReads:
        return _ChunkReads(self.readchunk)  # type: ignore[arg-type]

    def set_exception(self, *args: Any, **kwargs: Any) -> None:
        """How aiohttp tells the body it is over (``release``, ``close``, leaving ``async with``)."""
        self.__wrapped__.set_exception(*args, **kwargs)
        self._self_observer.end(names.STREAM_END_CLOSED)

    def __del__(self) -> None:
        observer = getattr(self, "_self_observer", None)
        if observer is not None:
            observer.end(names.STREAM_END_ABANDONED)


def _secrets(source: Any, error: BaseException | None) -> tuple[str, ...]:
    """The credentials of a failed request: the session's and the call's auth-like headers, the query."""
    session, headers, params, _ = source
    return header_and_query_secrets((getattr(session, "headers", None), headers), params, error)


def make_wrapper_for(recorder: Recorder, table: PathTable) -> Wrapper:
    def start(session: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        method = args[0] if args else kwargs.get("method")
        # Cheapest tests first: most traffic is not a POST (aiohttp upper-cases the method itself).
        if method != "POST" and not (isinstance(method, str) and method.upper() == "POST"):
            return None
        if in_recorded_call():
            return None
        target = args[1] if len(args) > 1 else kwargs.get("str_or_url")
        url = str(target)
        kind = table.match(url)
        if kind is None:
            return None
        if "://" not in url:  # relative to the session's base_url
            url = str(session._build_url(target))
        payload = kwargs.get("json")
        data = kwargs.get("data")
        if payload is None:
            call = http_call(site, table, "POST", url, data)  # bytes or text: JSON or not a call
            if call is None:
                return None
        elif isinstance(payload, Mapping):
            call = start_json(site, kind, url, payload)
        else:
            return None
        if call.body is not None:
            if payload is not None:
                kwargs["json"] = call.body  # the wrapper's own kwargs: the caller's dict is untouched
            else:
                text = json.dumps(call.body)
                kwargs["data"] = text if isinstance(data, str) else text.encode()
        if call.url is not None:  # the model, which the path names, changed
            if len(args) > 1:
                call.args = (args[0], call.url, *args[2:])
            else:
                kwargs["str_or_url"] = call.url
        decompress = kwargs.get("auto_decompress")
        decoded = getattr(session, "_auto_decompress", True) if decompress is None else bool(decompress)
        call.source = (session, kwargs.get("headers"), kwargs.get("params"), decoded)
        return call

    def finish(call: Call, response: Any) -> Any:
        if response.status >= 400:
            finish_read_body(call, response.status, response.headers, b"")
            return response
        observer = observer_for(call, response.headers, decoded=call.source[3])
        response.content = _ObservedContent(response.content, observer)
        return response

    site = CallSite(recorder, "an aiohttp call", finish, secrets=_secrets)
    _, async_wrapper = make_wrappers(start, "an aiohttp call")
    return async_wrapper
