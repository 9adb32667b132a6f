"""Clients of the real openai SDK whose HTTP goes to an in-process handler.

openai 3.x runs on ``httpx2``; 1.x and 2.x on ``httpx``. The helpers pick whichever the installed
SDK uses, so the same tests run on the oldest and the newest supported SDK.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import openai

OPENAI_MAJOR = int(openai.__version__.split(".")[0])

if OPENAI_MAJOR >= 3:
    import httpx2 as http
else:
    import httpx as http  # type: ignore[no-redef]

__all__ = [
    "OPENAI_MAJOR",
    "Handler",
    "Recorder",
    "http",
    "json_reply",
    "make_azure_client",
    "make_client",
    "sse",
    "sse_reply",
]

Handler = Callable[[Any], Any]


def sse(events: Iterable[dict[str, Any] | str], done: bool = True, named: bool = False) -> bytes:
    """An SSE body; ``named`` adds ``event:`` lines (the Responses API's framing)."""
    out = []
    for event in events:
        if isinstance(event, str):
            out.append(f"data: {event}\n\n")
        elif named:
            out.append(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
        else:
            out.append(f"data: {json.dumps(event)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


class Recorder:
    """A handler that replies from a script and remembers every request body."""

    def __init__(self, reply: Callable[[dict[str, Any], Any], Any]) -> None:
        self._reply = reply
        self.bodies: list[dict[str, Any]] = []
        self.urls: list[str] = []

    def __call__(self, request: Any) -> Any:
        body = json.loads(request.content) if request.content else {}
        self.bodies.append(body)
        self.urls.append(str(request.url))
        return self._reply(body, request)


def json_reply(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Any:
    return http.Response(status, json=payload, headers=headers or {})


def sse_reply(body: bytes) -> Any:
    return http.Response(200, content=body, headers={"content-type": "text/event-stream"})


def make_client(handler: Handler, *, base_url: str | None = None, async_: bool = False, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", "sk-test-not-a-real-key")
    kwargs.setdefault("max_retries", 0)
    if async_:
        async_transport = http.MockTransport(handler)
        return openai.AsyncOpenAI(
            base_url=base_url, http_client=http.AsyncClient(transport=async_transport), **kwargs
        )
    transport = http.MockTransport(handler)
    return openai.OpenAI(base_url=base_url, http_client=http.Client(transport=transport), **kwargs)


def make_azure_client(handler: Handler, *, async_: bool = False, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", "azure-test-key")
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("api_version", "2024-10-21")
    kwargs.setdefault("azure_endpoint", "https://contoso-eastus.openai.azure.com")
    if async_:
        return openai.AsyncAzureOpenAI(
            http_client=http.AsyncClient(transport=http.MockTransport(handler)), **kwargs
        )
    return openai.AzureOpenAI(http_client=http.Client(transport=http.MockTransport(handler)), **kwargs)
