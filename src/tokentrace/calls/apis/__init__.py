"""The API families tokentrace understands, and the one table of the paths that call them.

Every patch (the SDK's, the plain-HTTP ones), the settings (``http_endpoints`` shape names) and the
local server read this table, so an API shape is named in one place. Each family has a module of
its own: what its requests say (``request``), what its responses and streams say (``chat``,
``completions``, ``embeddings``, ``responses``, ``messages``), all gathered by ``read``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from ... import names

__all__ = ["OPERATIONS", "SHAPES", "ApiKind", "PathTable", "api_kind_for_path"]


class ApiKind(str, Enum):
    """An API family, by the shape of its requests and responses."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    MESSAGES = "messages"
    """Anthropic's Messages API shape (``/v1/messages``), served by Anthropic and many gateways."""

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
}
"""Each family's ``gen_ai.operation.name`` (the Responses and Messages APIs are chat)."""

# The table: the last segments of a request path, and the API they call. Two-segment endings are
# tried before one-segment ones (``chat/completions`` before ``completions``).
PATHS: dict[tuple[str, ...], ApiKind] = {
    ("chat", "completions"): ApiKind.CHAT,
    ("completions",): ApiKind.COMPLETIONS,
    ("embeddings",): ApiKind.EMBEDDINGS,
    ("responses",): ApiKind.RESPONSES,
    ("v1", "messages"): ApiKind.MESSAGES,
}

# What any matching path ends with: the first, cheapest test a plain HTTP request goes through.
_ENDINGS: tuple[str, ...] = tuple(
    dict.fromkeys(
        "/" + "/".join(key) if (key[-1],) not in PATHS and len(key) > 1 else key[-1] for key in PATHS
    )
)

_kind_cache: dict[str, ApiKind | None] = {}


def api_kind_for_path(path: str) -> ApiKind | None:
    """Which API a request path calls, matched on its last segments (cached)."""
    try:
        return _kind_cache[path]
    except KeyError:
        pass
    segments = path.split("?", 1)[0].rstrip("/").rsplit("/", 2)
    kind = PATHS.get(tuple(segments[-2:])) if len(segments) > 1 else None
    if kind is None:
        kind = PATHS.get((segments[-1],))
    if len(_kind_cache) < 4096:
        _kind_cache[path] = kind
    return kind


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
