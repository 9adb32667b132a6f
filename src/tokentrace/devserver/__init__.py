"""A local OpenAI-compatible HTTP server (standard library only) with deterministic answers.

For tests, the quickstart, demos and benchmarks::

    with DevServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        server.script(status(429), delay(5))  # the next two calls: rate limited, then slow
        ...

It answers chat completions, legacy completions, embeddings and the Responses API, streamed or
not, as OpenAI, Azure OpenAI, OpenRouter, vLLM or Gemini would shape them. Token counts follow
simple documented rules (see ``tokentrace.devserver._synth``) so tests can predict usage exactly.
``python -m tokentrace.devserver --port 8000`` serves until Ctrl-C.
"""

from __future__ import annotations

from ._cli import main
from ._endpoints import DEFAULT_EMBEDDING_DIMENSIONS, LEGACY_DEFAULT_MAX_TOKENS
from ._scripted import Scripted, default, delay, disconnect, error_body, json, raw, sse, status
from ._server import DevServer, RecordedRequest
from ._synth import CACHE_MIN_WORDS, IMAGE_TOKENS, MESSAGE_OVERHEAD, TOOL_DEFINITION_TOKENS

__all__ = [
    "CACHE_MIN_WORDS",
    "DEFAULT_EMBEDDING_DIMENSIONS",
    "IMAGE_TOKENS",
    "LEGACY_DEFAULT_MAX_TOKENS",
    "MESSAGE_OVERHEAD",
    "TOOL_DEFINITION_TOKENS",
    "DevServer",
    "RecordedRequest",
    "Scripted",
    "default",
    "delay",
    "disconnect",
    "error_body",
    "json",
    "main",
    "raw",
    "sse",
    "status",
]
