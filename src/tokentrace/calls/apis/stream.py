"""What a stream says, chunk by chunk, gathered into one ``ResponseInfo``.

Each family reads its own chunks (``chat.read_chunk``, ``responses.read_event``,
``messages.read_event``, ``gemini.read_chunk``); the accumulator holds what they found.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Any

from ..records import ResponseInfo
from . import ApiKind, chat, completions, gemini, messages, responses

__all__ = ["StreamAccumulator"]

_READERS: dict[ApiKind, Callable[[StreamAccumulator, Any], bool]] = {
    ApiKind.CHAT: chat.read_chunk,
    ApiKind.COMPLETIONS: completions.read_chunk,
    ApiKind.EMBEDDINGS: chat.read_chunk,  # embeddings do not stream; a stray stream reads as chat
    ApiKind.RESPONSES: responses.read_event,
    ApiKind.MESSAGES: messages.read_event,
    ApiKind.GEMINI: gemini.read_chunk,
    ApiKind.GEMINI_EMBEDDINGS: gemini.read_chunk,  # embeddings do not stream; a stray stream reads so
}


class StreamAccumulator:
    """Collects what a stream says into one ``ResponseInfo``.

    ``add`` returns True for a chunk that exists only because tokentrace asked for usage
    (``include_usage``) and must be hidden from the caller.
    """

    __slots__ = (
        "ended",
        "final_response",
        "hide_usage_chunk",
        "info",
        "kind",
        "last_usage",
        "reasons",
        "texts",
    )

    def __init__(self, kind: ApiKind, hide_usage_chunk: bool, capture_text: bool = False) -> None:
        self.kind = kind
        self.info = ResponseInfo()
        self.reasons: dict[int, str | None] = {}
        self.hide_usage_chunk = hide_usage_chunk
        # Only with content capture on: the text of each choice, and the Responses API's final object.
        self.texts: dict[int, list[str]] | None = {} if capture_text else None
        self.final_response: Any = None
        self.ended = False
        """Set by a family whose streams have no end marker of their own (the Gemini API: a
        candidate's finish reason): the stream has said all it will say."""
        self.last_usage: Any = None
        """The Gemini API's usage as the last chunk said it (every chunk repeats the running
        total): read once, by ``settle``, not on every chunk."""

    def reader(self) -> Callable[[Any], bool]:
        """The function that notes one chunk of this stream's API; True means hide the chunk.

        Chosen once per stream, so no chunk pays for the choice: the family's reader bound to this
        accumulator as a method (a method call per chunk, the cheapest Python call there is).
        Handed out, not kept on the accumulator: holding it would make every accumulator a
        reference cycle.
        """
        return MethodType(_READERS[self.kind], self)

    def add(self, chunk: Any) -> bool:
        """Note one chunk; True means hide it from the caller (see ``reader``)."""
        return _READERS[self.kind](self, chunk)

    def settle(self) -> ResponseInfo:
        """What the whole stream said, once it has ended."""
        info = self.info
        if self.last_usage is not None:
            info.usage = gemini.gemini_usage(self.last_usage)
        info.finish_reasons = self.finish_reasons()
        return info

    def finish_reasons(self) -> list[str | None]:
        if self.kind is ApiKind.RESPONSES:
            return self.info.finish_reasons
        return [self.reasons[i] for i in sorted(self.reasons)]
