"""What every peer sends and receives: request arguments and canned OpenAI-shaped response bodies.

Standard library only, so the orchestrator, the loopback server and every worker share it. The
bodies copy the shape of the real API (and of ``tokentrace.demo.server``'s answers): an
instrumentation that reads more fields pays for them here too.
"""

from __future__ import annotations

import base64
import json
import struct

__all__ = [
    "CHAT_ARGS",
    "CHAT_BODY",
    "CHAT_MODEL",
    "EMBEDDING_ARGS",
    "EMBEDDING_DIMENSIONS",
    "STREAM_ARGS",
    "STREAM_CHUNKS",
    "chat_response",
    "embedding_response",
    "stream_events",
    "stream_response",
]

CHAT_MODEL = "gpt-4.1"
EMBEDDING_MODEL = "text-embedding-3-small"
EMBEDDING_DIMENSIONS = 256
STREAM_CHUNKS = 50
"""Chunks the caller sees: a role chunk, 47 content deltas, a finish chunk and the usage chunk."""

_MESSAGES = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "Summarise the plot of Hamlet for a busy reader."},
]
CHAT_ARGS: dict[str, object] = {
    "model": CHAT_MODEL,
    "messages": _MESSAGES,
    "max_tokens": 64,
    "temperature": 0.2,
}
STREAM_ARGS: dict[str, object] = {
    **CHAT_ARGS,
    "stream": True,
    # Asked by the caller, identically for every peer, so each one can see the stream's usage.
    "stream_options": {"include_usage": True},
}
EMBEDDING_ARGS: dict[str, object] = {
    "model": EMBEDDING_MODEL,
    "input": "The quick brown fox jumps over the lazy dog.",
    "dimensions": EMBEDDING_DIMENSIONS,
}
CHAT_BODY: dict[str, object] = dict(CHAT_ARGS)
"""The JSON body of the plain ``requests`` scenario."""

_RESPONSE_MODEL = "gpt-4.1-2025-04-14"
_FINGERPRINT = "fp_bench000001"
_CREATED = 1_767_225_600


def _dumps(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def chat_response() -> bytes:
    """A non-streamed chat completion, with the usage details OpenAI sends."""
    return _dumps(
        {
            "id": "chatcmpl-bench0000000000000000000001",
            "object": "chat.completion",
            "created": _CREATED,
            "model": _RESPONSE_MODEL,
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "A prince avenges his father and nearly everyone dies.",
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 31,
                "completion_tokens": 11,
                "total_tokens": 42,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
        }
    )


def _chunk(delta: dict[str, object] | None, finish: str | None, usage: object = None) -> dict[str, object]:
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    return {
        "id": "chatcmpl-bench0000000000000000000002",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": _RESPONSE_MODEL,
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
        "choices": choices,
        "usage": usage,
    }


def stream_events(chunks: int = STREAM_CHUNKS) -> list[bytes]:
    """The SSE events of a ``chunks``-chunk stream, ``data: [DONE]`` last."""
    contents = chunks - 3
    sent = [_chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    sent += [_chunk({"content": f" word{i}"}, None) for i in range(contents)]
    sent.append(_chunk({}, "stop"))
    usage = {
        "prompt_tokens": 31,
        "completion_tokens": contents,
        "total_tokens": 31 + contents,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    sent.append(_chunk(None, None, usage))
    return [b"data: " + _dumps(c) + b"\n\n" for c in sent] + [b"data: [DONE]\n\n"]


def stream_response(chunks: int = STREAM_CHUNKS) -> bytes:
    return b"".join(stream_events(chunks))


def _vector() -> list[float]:
    # Deterministic and cheap; the values do not matter, their count does.
    return [round(((i * 7919) % 1000) / 1000 - 0.5, 6) for i in range(EMBEDDING_DIMENSIONS)]


def embedding_response(as_base64: bool) -> bytes:
    vector = _vector()
    encoded: object = (
        base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
    )
    return _dumps(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": encoded}],
            "model": EMBEDDING_MODEL,
            "usage": {"prompt_tokens": 10, "total_tokens": 10},
        }
    )
