"""Requests and canned responses of the Gemini API and Anthropic's Messages API, in their real shapes.

Standard library only, like ``payloads`` (the OpenAI side). The same question as the OpenAI chat
(a system instruction, one user message, 64 output tokens at temperature 0.2), answered in each
provider's own JSON: an instrumentation that reads more fields pays for them here too.
"""

from __future__ import annotations

import json

from .payloads import CHAT_ARGS

__all__ = [
    "ANTHROPIC_ARGS",
    "ANTHROPIC_MODEL",
    "GEMINI_CONFIG",
    "GEMINI_MODEL",
    "GEMINI_STREAM_CHUNKS",
    "anthropic_message",
    "gemini_response",
    "gemini_stream",
]

GEMINI_MODEL = "gemini-2.5-flash"
GEMINI_STREAM_CHUNKS = 20
ANTHROPIC_MODEL = "claude-sonnet-4-5"
_ANTHROPIC_ANSWERING = "claude-sonnet-4-5-20250929"

_MESSAGES: list[dict[str, str]] = CHAT_ARGS["messages"]  # type: ignore[assignment]
SYSTEM, QUESTION = _MESSAGES[0]["content"], _MESSAGES[1]["content"]
_ANSWER = "A prince avenges his father and nearly everyone dies."

GEMINI_CONFIG: dict[str, object] = {"system_instruction": SYSTEM, "max_output_tokens": 64, "temperature": 0.2}
"""Keyword arguments of ``types.GenerateContentConfig``."""

ANTHROPIC_ARGS: dict[str, object] = {
    "model": ANTHROPIC_MODEL,
    "system": SYSTEM,
    "messages": [{"role": "user", "content": QUESTION}],
    "max_tokens": 64,  # anthropic 2.x's messages.create takes no temperature
}


def _dumps(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _gemini_body(text: str, usage: dict[str, object], finish: bool) -> dict[str, object]:
    candidate: dict[str, object] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": GEMINI_MODEL,
        "responseId": "bench-gemini-0000000001",
    }


def gemini_response() -> bytes:
    """A ``generateContent`` answer, with the usage the Developer API sends (thoughts included)."""
    usage = {
        "promptTokenCount": 31,
        "candidatesTokenCount": 11,
        "thoughtsTokenCount": 24,
        "totalTokenCount": 66,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}],
    }
    return _dumps(_gemini_body(_ANSWER, usage, finish=True))


def gemini_stream(chunks: int = GEMINI_STREAM_CHUNKS) -> list[bytes]:
    """The events of a ``streamGenerateContent?alt=sse`` body: each chunk a response with the
    usage so far (the prompt's count and the running total), the last one finished and with the
    whole usage."""
    events = []
    for i in range(chunks):
        last = i == chunks - 1
        usage: dict[str, object] = {"promptTokenCount": 31, "totalTokenCount": 31 + i + 1}
        if last:
            usage = {
                **usage,
                "candidatesTokenCount": chunks,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}],
            }
        events.append(b"data: " + _dumps(_gemini_body(f" word{i}", usage, finish=last)) + b"\r\n\r\n")
    return events


def anthropic_message() -> bytes:
    """A Messages API answer, with the usage fields the API sends."""
    return _dumps(
        {
            "id": "msg_bench0000000000000000001",
            "type": "message",
            "role": "assistant",
            "model": _ANTHROPIC_ANSWERING,
            "content": [{"type": "text", "text": _ANSWER}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 31,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 11,
                "service_tier": "standard",
            },
        }
    )
