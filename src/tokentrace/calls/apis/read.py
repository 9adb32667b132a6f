"""What a complete (non-streamed) response says, for any API family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..records import ResponseInfo
from . import ApiKind, chat, completions, embeddings, gemini, messages, responses

__all__ = ["RESPONSE_READERS", "response_info"]

RESPONSE_READERS: dict[ApiKind, Callable[[Any], ResponseInfo]] = {
    ApiKind.CHAT: chat.response_info,
    ApiKind.COMPLETIONS: completions.response_info,
    ApiKind.EMBEDDINGS: embeddings.response_info,
    ApiKind.RESPONSES: responses.response_info,
    ApiKind.MESSAGES: messages.response_info,
    ApiKind.GEMINI: gemini.response_info,
    ApiKind.GEMINI_EMBEDDINGS: gemini.embedding_info,
}


def response_info(kind: ApiKind, response: Any) -> ResponseInfo:
    """Model, id, finish reasons and usage of a complete response of ``kind``."""
    return RESPONSE_READERS[kind](response)
