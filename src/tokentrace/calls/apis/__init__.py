"""The API families tokentrace understands, and the one table of the paths that call them.

Every patch (the SDK's, the plain-HTTP ones), the settings (``http_endpoints`` shape names) and the
local server read this table, so an API shape is named in one place. Each family has a module of
its own: what its requests say (``request``), what its responses and streams say (``chat``,
``completions``, ``embeddings``, ``responses``, ``messages``), all gathered by ``read``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

from ... import names

__all__ = [
    "METHODS",
    "OPERATIONS",
    "SHAPES",
    "ApiKind",
    "PathRoute",
    "PathTable",
    "api_kind_for_path",
    "path_route",
]


class ApiKind(str, Enum):
    """An API family, by the shape of its requests and responses."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    MESSAGES = "messages"
    """Anthropic's Messages API shape (``/v1/messages``), served by Anthropic and many gateways."""
    GEMINI = "gemini"
    """The Gemini API's ``models/{model}:generateContent`` (and ``:streamGenerateContent``), of
    Google's Developer API and Vertex AI alike."""
    GEMINI_EMBEDDINGS = "gemini_embeddings"
    """The Gemini API's ``models/{model}:embedContent`` and ``:batchEmbedContents``."""

    @property
    def operation(self) -> str:
        """Its ``gen_ai.operation.name``."""
        return OPERATIONS[self]


SHAPES: tuple[str, ...] = tuple(kind.value for kind in ApiKind)
"""The shape names a user may map an endpoint to (setting ``http_endpoints``)."""

OPERATIONS: dict[ApiKind, str] = {
    ApiKind.CHAT: names.OP_CHAT,
    ApiKind.COMPLETIONS: names.OP_TEXT_COMPLETION,
    ApiKind.EMBEDDINGS: names.OP_EMBEDDINGS,
    ApiKind.RESPONSES: names.OP_CHAT,
    ApiKind.MESSAGES: names.OP_CHAT,
    ApiKind.GEMINI: names.OP_GENERATE_CONTENT,
    ApiKind.GEMINI_EMBEDDINGS: names.OP_EMBEDDINGS,
}
"""Each family's ``gen_ai.operation.name`` (the Responses and Messages APIs are chat; the Gemini
API's call is ``generate_content``, the name the conventions give it)."""

# The table: the last segments of a request path, and the API they call. Two-segment endings are
# tried before one-segment ones (``chat/completions`` before ``completions``).
PATHS: dict[tuple[str, ...], ApiKind] = {
    ("chat", "completions"): ApiKind.CHAT,
    ("completions",): ApiKind.COMPLETIONS,
    ("embeddings",): ApiKind.EMBEDDINGS,
    ("responses",): ApiKind.RESPONSES,
    ("v1", "messages"): ApiKind.MESSAGES,
}

# Google's APIs name the method after a colon, behind the model: ``.../models/{model}:{method}``.
# The method says the API and whether the call streams. ``countTokens`` is not here: it is not a
# billed call, so it is not recorded at all (nor Anthropic's ``/v1/messages/count_tokens``).
METHODS: dict[str, tuple[ApiKind, bool]] = {
    "generateContent": (ApiKind.GEMINI, False),
    "streamGenerateContent": (ApiKind.GEMINI, True),
    "embedContent": (ApiKind.GEMINI_EMBEDDINGS, False),
    "batchEmbedContents": (ApiKind.GEMINI_EMBEDDINGS, False),
    # Vertex AI's partner models: Anthropic's speak the Messages API; others (Mistral) chat.
    "rawPredict": (ApiKind.MESSAGES, False),
    "streamRawPredict": (ApiKind.MESSAGES, True),
}
_ANTHROPIC_PUBLISHER = "/publishers/anthropic/models/"

# What any matching path ends with: the first, cheapest test a plain HTTP request goes through.
_ENDINGS: tuple[str, ...] = tuple(
    dict.fromkeys(
        "/" + "/".join(key) if (key[-1],) not in PATHS and len(key) > 1 else key[-1] for key in PATHS
    )
) + tuple(":" + method for method in METHODS)

_kind_cache: dict[str, ApiKind | None] = {}
_route_cache: dict[str, PathRoute | None] = {}


def api_kind_for_path(path: str) -> ApiKind | None:
    """Which API a request path calls, matched on its last segments (cached)."""
    try:
        return _kind_cache[path]
    except KeyError:
        pass
    route = path_route(path)
    if route is not None:
        kind: ApiKind | None = route.kind
    else:
        segments = path.split("?", 1)[0].rstrip("/").rsplit("/", 2)
        kind = PATHS.get(tuple(segments[-2:])) if len(segments) > 1 else None
        if kind is None:
            kind = PATHS.get((segments[-1],))
    if len(_kind_cache) < 4096:
        _kind_cache[path] = kind
    return kind


class PathRoute(NamedTuple):
    """A request whose model is in its URL path (``models/{model}:{method}``), not in its body.

    The call skeleton reads a request's model (and whether it streams) from its body; for these
    it reads a *view* of the body that holds them (``view``) under the keys ``keys`` names, and a
    body to send back (a budget's cheaper model, a fallback attempt) is turned into the request's
    again by ``wire``: those keys left out, the model put back into the path.
    """

    kind: ApiKind
    model: str
    method: str
    stream: bool
    keys: tuple[str, ...]
    """The view's keys the body does not hold: ``model``, and ``stream`` for the Gemini API
    (Vertex AI's Anthropic models keep ``stream`` in the body)."""

    def view(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body as the call skeleton reads it (a new dict; the caller's is never changed)."""
        seen = dict(body)
        if "model" in self.keys or "model" not in seen:
            seen["model"] = self.model
        if "stream" in self.keys:
            seen["stream"] = self.stream
        return seen

    def wire(self, seen: Mapping[str, Any], url: str) -> tuple[dict[str, Any], str | None]:
        """The body to send for a view, and the URL to send it to when its model changed (else None)."""
        body = {key: value for key, value in seen.items() if key not in self.keys}
        model = seen.get("model")
        if "model" not in self.keys or not isinstance(model, str) or model == self.model:
            return body, None
        old = f"/{quote(self.model, safe=_MODEL_SAFE)}:{self.method}"
        at = url.rfind(old)
        if at < 0:
            old = f"/{self.model}:{self.method}"
            at = url.rfind(old)
            if at < 0:
                raise ValueError(f"cannot put model {model!r} into the request path")
        new = f"/{quote(model, safe=_MODEL_SAFE)}:{self.method}"
        return body, url[:at] + new + url[at + len(old) :]


_MODEL_SAFE = "@.-_~"


def path_route(path: str) -> PathRoute | None:
    """The route of a path that names its model (``.../models/{model}:{method}``), else None (cached)."""
    try:
        return _route_cache[path]
    except KeyError:
        pass
    route = None
    head, colon, method = path.split("?", 1)[0].rstrip("/").rpartition(":")
    found = METHODS.get(method) if colon and "/" not in method else None
    if found is not None:
        kind, stream = found
        model = unquote(head.rsplit("/", 1)[-1])
        keys: tuple[str, ...] = ("model", "stream")
        if kind is ApiKind.MESSAGES:
            if _ANTHROPIC_PUBLISHER in head:
                keys = ("model",)
            else:  # another partner model: chat, its model in its body
                kind, keys = ApiKind.CHAT, ()
        if model:
            route = PathRoute(kind, model, method, stream, keys)
    if len(_route_cache) < 4096:
        _route_cache[path] = route
    return route


class PathTable:
    """Which request URLs are LLM calls: the built-in table plus the user's own endpoints.

    ``extra`` maps a path suffix (``/generate``, ``/v2/chat``) to a shape name of ``SHAPES``.
    """

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._extra = {suffix.rstrip("/"): ApiKind(kind) for suffix, kind in (extra or {}).items()}
        suffixes = [*_ENDINGS, *self._extra]
        self._suffixes = tuple(suffixes) + tuple(s + "/" for s in suffixes)

    def match(self, url: str) -> ApiKind | None:
        query = url.find("?")
        if query >= 0:
            url = url[:query]
        if not url.endswith(self._suffixes):
            return None
        path = url.rstrip("/")
        for suffix, kind in self._extra.items():
            if path.endswith(suffix):
                return kind
        return api_kind_for_path(path)
