"""Routing for the providers' own APIs: Anthropic's Messages API and the Gemini API, directly or
through Vertex AI. They are matched here, by their own path patterns, before the OpenAI-compatible
table of ``_server`` (whose ``/v1/models/...`` would otherwise claim Gemini's paths).
"""

from __future__ import annotations

import re
import time
from urllib.parse import unquote

from ._anthropic_prompt import PromptCache
from ._gemini import GeminiCall, gemini
from ._gemini_embed import EMBEDDING_METHODS
from ._google import google_error, reply
from ._http import RecordedRequest
from ._messages import MessagesCall, count_tokens, invalid, messages
from ._scripted import Scripted
from ._synth import RequestCounter

__all__ = ["NativeApis", "path_model"]

_ANTHROPIC = re.compile(r"^(?:/.*)?/v1/messages(/count_tokens)?/?$")
_GEMINI = re.compile(r"^/(?:v1|v1beta|v1alpha)/models/([^/:]+):([A-Za-z]+)$")
_VERTEX = re.compile(
    r"^/(?:v1|v1beta1)/projects/[^/]+/locations/[^/]+/publishers/(google|anthropic)/models/([^/:]+):([A-Za-z]+)$"
)
_VERTEX_COUNT_TOKENS = "count-tokens"  # AnthropicVertex's count_tokens model, with the real one in the body
_UNPARSABLE_ANTHROPIC = "There was an error parsing the body of your request. Please check the request body."
_UNPARSABLE_GOOGLE = "Invalid JSON payload received. Unexpected token.\n"


def path_model(path: str) -> str | None:
    """The model a Gemini or Vertex AI path names (for ``DevServer.script_model``), else None."""
    if match := _GEMINI.match(path):
        return unquote(match[1])
    if (match := _VERTEX.match(path)) and match[2] != _VERTEX_COUNT_TOKENS:
        return unquote(match[2])
    return None


class NativeApis:
    """Answers the native paths; holds the Anthropic prompt cache (state that outlives a call)."""

    def __init__(self, counter: RequestCounter) -> None:
        self._counter = counter
        self.cache = PromptCache()

    def answer(self, request: RecordedRequest, parsed: bool) -> Scripted | None:
        """The default answer to a POST on a native path; None when the path is not one."""
        path = request.path
        if match := _ANTHROPIC.match(path):
            return self._anthropic(request, parsed, vertex=False, path_model=None, counting=bool(match[1]))
        if match := _GEMINI.match(path):
            return self._gemini(request, parsed, unquote(match[1]), match[2], vertex=False)
        if match := _VERTEX.match(path):
            publisher, model, method = match[1], unquote(match[2]), match[3]
            if publisher == "google":
                return self._gemini(request, parsed, model, method, vertex=True)
            if method not in ("rawPredict", "streamRawPredict"):
                return reply(google_error(404, f"Method not found: {method}."), 404)
            counting = model == _VERTEX_COUNT_TOKENS
            return self._anthropic(
                request, parsed, vertex=True, path_model=None if counting else model, counting=counting
            )
        return None

    def _anthropic(
        self, request: RecordedRequest, parsed: bool, *, vertex: bool, path_model: str | None, counting: bool
    ) -> Scripted:
        seq = self._counter.next()
        body = request.json
        if not parsed or not isinstance(body, dict):
            return invalid(_UNPARSABLE_ANTHROPIC, seq)
        call = MessagesCall(body, seq, vertex=vertex, path_model=path_model)
        return count_tokens(call, self.cache) if counting else messages(call, self.cache)

    def _gemini(
        self, request: RecordedRequest, parsed: bool, model: str, method: str, *, vertex: bool
    ) -> Scripted:
        body = request.json
        if not parsed or not isinstance(body, dict):
            return reply(google_error(400, _UNPARSABLE_GOOGLE), 400)
        call = GeminiCall(
            method=method,
            model=model,
            body=body,
            seq=self._counter.next(),
            created=int(time.time()),
            vertex=vertex,
            sse=request.query.get("alt") == "sse",
        )
        return gemini(call, EMBEDDING_METHODS)
