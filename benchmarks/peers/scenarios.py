"""The calls each peer is timed on, over a mock transport or a real loopback HTTP server.

A scenario is a ``Scenario`` with ``once`` (a sync callable or a coroutine function making one
call) and ``prepare(n)``, run untimed before ``n`` calls (it queues the loopback server's
50-chunk streams). ``check`` runs once, untimed, to prove the call still returns what the
uninstrumented SDK returns.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import payloads

__all__ = ["Scenario", "build"]

_API_KEY = "sk-bench-not-a-real-key"
_MOCK_BASE_URL = "https://api.openai.com/v1"
_JSON = "application/json"
_SSE = "text/event-stream; charset=utf-8"


@dataclass
class Scenario:
    key: str
    once: Callable[[], Any]
    is_async: bool = False
    prepare: Callable[[int], None] = field(default=lambda n: None)
    check: Callable[[Any], None] = field(default=lambda result: None)


def _http_lib(openai_major: int) -> Any:
    if openai_major >= 3:
        import httpx2

        return httpx2
    import httpx

    return httpx


def _mock_clients(
    openai_major: int, body: bytes | Callable[[Any], bytes], content_type: str
) -> tuple[Any, Any]:
    """Sync and async openai clients whose transport answers every request with ``body``."""
    import openai

    lib = _http_lib(openai_major)
    headers = {"content-type": content_type}

    def handler(request: Any) -> Any:
        content = body(request) if callable(body) else body
        return lib.Response(200, headers=headers, content=content)

    transport = lib.MockTransport(handler)
    sync = openai.OpenAI(
        api_key=_API_KEY, base_url=_MOCK_BASE_URL, max_retries=0, http_client=lib.Client(transport=transport)
    )
    async_ = openai.AsyncOpenAI(
        api_key=_API_KEY,
        base_url=_MOCK_BASE_URL,
        max_retries=0,
        http_client=lib.AsyncClient(transport=transport),
    )
    return sync, async_


def _loopback_clients(base_url: str) -> tuple[Any, Any]:
    import openai

    return (
        openai.OpenAI(api_key=_API_KEY, base_url=base_url, max_retries=0),
        openai.AsyncOpenAI(api_key=_API_KEY, base_url=base_url, max_retries=0),
    )


class _Control:
    """The loopback server's side door: queue 50-chunk streams, forget recorded requests."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80

    def post(self, path: str) -> None:
        # http.client, which no peer instruments, so this traffic is invisible to all of them.
        connection = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            connection.request("POST", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"loopback control {path}: HTTP {response.status}")
        finally:
            connection.close()


def _check_chat(result: Any) -> None:
    if not result.choices[0].message.content or result.usage.completion_tokens <= 0:
        raise AssertionError(f"unexpected chat result: {result!r}")


def _check_embedding(result: Any) -> None:
    if len(result.data[0].embedding) != payloads.EMBEDDING_DIMENSIONS:
        raise AssertionError(f"unexpected embedding length {len(result.data[0].embedding)}")


def _stream_check(chunks: int) -> Callable[[Any], None]:
    def check(count: Any) -> None:
        if count != chunks:
            raise AssertionError(f"stream yielded {count} chunks, expected {chunks}")

    return check


def _embedding_body() -> Callable[[Any], bytes]:
    as_base64 = payloads.embedding_response(as_base64=True)
    as_floats = payloads.embedding_response(as_base64=False)

    def body(request: Any) -> bytes:
        return as_base64 if b'"base64"' in request.content else as_floats

    return body


def _requests_mock_session() -> Any:
    import requests
    from requests.adapters import BaseAdapter

    body = payloads.chat_response()

    class CannedAdapter(BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            response = requests.Response()
            response.status_code = 200
            response.headers["content-type"] = _JSON
            response._content = body
            response.url = request.url
            response.request = request
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", CannedAdapter())
    return session


def build(
    transport: str,
    openai_major: int,
    floor: Any,
    servers: dict[str, str] | None,
    plain_http: bool,
    stream_chunks: int = payloads.STREAM_CHUNKS,
) -> list[Scenario]:
    """The scenarios of one transport, wrapped by the hand-written floor when ``floor`` is given.

    ``stream_chunks`` sizes the mock transport's stream (the loopback server's is fixed).
    """
    if transport == "mock":
        chat, achat = _mock_clients(openai_major, payloads.chat_response(), _JSON)
        stream, _ = _mock_clients(openai_major, payloads.stream_response(stream_chunks), _SSE)
        embed, _ = _mock_clients(openai_major, _embedding_body(), _JSON)
        prime: Callable[[int], None] = lambda n: None  # noqa: E731
        chat_url = _MOCK_BASE_URL + "/chat/completions"
    else:
        assert servers is not None
        chat, achat = _loopback_clients(servers["general"])
        embed = chat
        stream, _ = _loopback_clients(servers["streams"])
        control = _Control(servers["control"])
        prime = lambda n: control.post(f"/prime?n={n}")  # noqa: E731
        stream_chunks = payloads.STREAM_CHUNKS
        chat_url = servers["general"] + "/chat/completions"

    chat_create, achat_create = chat.chat.completions.create, achat.chat.completions.create
    stream_create, embed_create = stream.chat.completions.create, embed.embeddings.create
    chat_args, stream_args, embed_args = payloads.CHAT_ARGS, payloads.STREAM_ARGS, payloads.EMBEDDING_ARGS

    if floor is None:

        def chat_once() -> Any:
            return chat_create(**chat_args)

        async def achat_once() -> Any:
            return await achat_create(**chat_args)

        def stream_once() -> int:
            count = 0
            for _ in stream_create(**stream_args):
                count += 1
            return count

        def embed_once() -> Any:
            return embed_create(**embed_args)

    else:

        def chat_once() -> Any:
            return floor.call("chat", chat_create, chat_args)

        async def achat_once() -> Any:
            return await floor.acall("chat", achat_create, chat_args)

        def stream_once() -> int:
            count: int = floor.stream(stream_create, stream_args)
            return count

        def embed_once() -> Any:
            return floor.call("embeddings", embed_create, embed_args)

    scenarios = [
        Scenario("chat", chat_once, check=_check_chat),
        Scenario("achat", achat_once, is_async=True, check=_check_chat),
        Scenario("stream", stream_once, prepare=prime, check=_stream_check(stream_chunks)),
        Scenario("embed", embed_once, check=_check_embedding),
    ]
    if plain_http:
        import requests

        session = _requests_mock_session() if transport == "mock" else requests.Session()
        headers = {"Authorization": f"Bearer {_API_KEY}", "Content-Type": _JSON}
        body = json.dumps(payloads.CHAT_BODY)

        def requests_once() -> Any:
            response = session.post(chat_url, data=body, headers=headers)
            return response.json()

        def check_requests(result: Any) -> None:
            if result["usage"]["completion_tokens"] <= 0:
                raise AssertionError(f"unexpected requests result: {result!r}")

        scenarios.append(Scenario("requests", requests_once, check=check_requests))
    return scenarios
