"""Anthropic's Messages API (``POST /v1/messages``, ``/v1/messages/count_tokens``), also as Vertex
AI serves it (``...:rawPredict``, ``...:streamRawPredict``): a message object or its SSE events.

The answer is ``max_tokens``-limited (stop reason ``max_tokens``, else ``end_turn``); the input
is counted, and split into uncached, cache-read and cache-write tokens, by ``_anthropic_prompt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._anthropic_prompt import InputTokens, PromptCache, last_user_text
from ._scripted import Scripted, encode_json, json, sse, status
from ._shapes import Json
from ._synth import Completion, complete, make_id, reply_words

__all__ = ["MessagesCall", "anthropic_status", "count_tokens", "invalid", "messages"]

# What the API answers in ``model`` for an alias: the snapshot it points to (others are echoed).
_SNAPSHOTS = {
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ERROR_MESSAGES = {
    401: "invalid x-api-key",
    404: "Not found",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}


@dataclass(frozen=True)
class MessagesCall:
    """One Messages request: its body, and where it came from."""

    body: Mapping[str, Any]
    seq: int
    vertex: bool = False
    """Vertex AI: the model comes from the path, the body names ``anthropic_version`` instead."""
    path_model: str | None = None


def _request_id(seq: int) -> str:
    return "req_011C" + make_id(f"anthropic-req:{seq}", 20)


def _error(code: int, message: str, seq: int | None = None) -> Json:
    body: Json = {"type": "error", "error": {"type": _ERROR_TYPES.get(code, "api_error"), "message": message}}
    if seq is not None:
        body["request_id"] = _request_id(seq)
    return body


def anthropic_status(code: int, message: str | None = None, *, retry_after: float | None = None) -> Scripted:
    """An error answered the way Anthropic does (``{"type": "error", "error": {...}}``), for
    ``DevServer.script``; a 429 carries ``retry-after``."""
    default = _ERROR_MESSAGES.get(code, "Request failed")
    return status(code, _error(code, message or default), retry_after=retry_after)


def invalid(message: str, seq: int | None = None) -> Scripted:
    return json(_error(400, message, seq), 400)


# -- answers ---------------------------------------------------------------------------------------


def _checked(call: MessagesCall, *, needs_max_tokens: bool) -> tuple[str, list[Any]] | Scripted:
    """(model, messages), or the 400 the API answers for a missing or invalid field."""
    body = call.body
    if call.vertex and "anthropic_version" not in body:
        return invalid("anthropic_version: Field required", call.seq)
    # Vertex names the model in the path (but its count-tokens endpoint in the body).
    model = call.path_model if call.vertex and call.path_model is not None else body.get("model")
    if not isinstance(model, str) or not model:
        return invalid("model: Field required", call.seq)
    if needs_max_tokens:
        limit = body.get("max_tokens")
        if limit is None:
            return invalid("max_tokens: Field required", call.seq)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            return invalid("max_tokens: Input should be greater than or equal to 1", call.seq)
    messages = body.get("messages")
    if messages is None:
        return invalid("messages: Field required", call.seq)
    if not isinstance(messages, list) or not messages:
        return invalid("messages: at least one message is required", call.seq)
    return model, messages


def count_tokens(call: MessagesCall, cache: PromptCache) -> Scripted:
    """``/v1/messages/count_tokens``: the input tokens a Messages call would use, cache or not."""
    checked = _checked(call, needs_max_tokens=False)
    if isinstance(checked, Scripted):
        return checked
    model, _ = checked
    counted = cache.input(model, call.body, write=False)
    return json({"input_tokens": counted.total}, 200, {"request-id": _request_id(call.seq)})


def messages(call: MessagesCall, cache: PromptCache) -> Scripted:
    """``/v1/messages``: the answer, as one message object or (``"stream": true``) SSE events."""
    checked = _checked(call, needs_max_tokens=True)
    if isinstance(checked, Scripted):
        return checked
    requested, _ = checked
    model = _SNAPSHOTS.get(requested, requested.replace("@", "-"))
    counted = cache.input(model, call.body, write=True)
    completion = complete(reply_words(last_user_text(call.body), 0), call.body["max_tokens"], 0)
    prefix = "msg_vrtx_" if call.vertex else "msg_01"
    message_id = prefix + make_id(f"msg:{call.seq}", 22)
    headers = {"request-id": _request_id(call.seq)}
    if call.body.get("stream") is True:
        return sse(_events(message_id, model, counted, completion), headers=headers)
    message = _message(message_id, model, counted, completion.tokens)
    message["content"] = [{"type": "text", "text": completion.text}]
    message["stop_reason"] = _stop_reason(completion)
    return json(message, 200, headers)


def _stop_reason(completion: Completion) -> str:
    return "max_tokens" if completion.truncated else "end_turn"


def _usage(counted: InputTokens, output: int) -> Json:
    return {
        "input_tokens": counted.uncached,
        "cache_creation_input_tokens": counted.write_5m + counted.write_1h,
        "cache_read_input_tokens": counted.read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": counted.write_5m,
            "ephemeral_1h_input_tokens": counted.write_1h,
        },
        "output_tokens": output,
        "service_tier": "standard",
    }


def _message(message_id: str, model: str, counted: InputTokens, output: int) -> Json:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(counted, output),
    }


def _event(kind: str, data: Json) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + encode_json({"type": kind, **data}) + b"\n\n"


def _events(message_id: str, model: str, counted: InputTokens, completion: Completion) -> list[bytes]:
    """The stream: the message with its input usage, one text block in word deltas, the stop
    reason with the output usage (and the cumulative input counts, as the API sends them)."""
    events = [
        _event("message_start", {"message": _message(message_id, model, counted, 1)}),
        _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        _event("ping", {}),
    ]
    for piece in completion.pieces:
        events.append(
            _event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        )
    events.append(_event("content_block_stop", {"index": 0}))
    final_usage = {
        "input_tokens": counted.uncached,
        "cache_creation_input_tokens": counted.write_5m + counted.write_1h,
        "cache_read_input_tokens": counted.read,
        "output_tokens": completion.tokens,
    }
    delta = {"stop_reason": _stop_reason(completion), "stop_sequence": None}
    events.append(_event("message_delta", {"delta": delta, "usage": final_usage}))
    events.append(_event("message_stop", {}))
    return events
