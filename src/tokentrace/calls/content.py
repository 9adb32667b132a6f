"""Prompts and completions as the GenAI conventions shape them — only when the user opted in.

``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (or ``instrument(capture_content=True)``)
records ``gen_ai.input.messages``, ``gen_ai.output.messages`` and ``gen_ai.system_instructions`` as
JSON strings on the span. Without it, none of this code runs. Headers and keys are never recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import names
from .apis import ApiKind
from .fields import get as _get

__all__ = ["input_attributes", "output_attributes"]


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _items(value: Any) -> Any:
    return value if isinstance(value, (list, tuple)) else ()


def _text_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    if isinstance(content, (list, tuple)):
        for part in content:
            part_type = _get(part, "type")
            if part_type in ("text", "input_text", "output_text"):
                parts.append({"type": "text", "content": _get(part, "text")})
            elif part_type in ("image_url", "input_image"):
                image = _get(part, "image_url")
                url = image if isinstance(image, str) else _get(image, "url")
                parts.append({"type": "uri", "modality": "image", "uri": url})
            elif part_type is not None:
                parts.append({"type": str(part_type)})
    return parts


def _chat_message(message: Any) -> dict[str, Any]:
    role = _get(message, "role") or "user"
    parts = _text_parts(_get(message, "content"))
    for call in _items(_get(message, "tool_calls")):
        function = _get(call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": _get(call, "id"),
                "name": _get(function, "name"),
                "arguments": _get(function, "arguments"),
            }
        )
    if role == "tool":
        return {
            "role": "tool",
            "parts": [
                {
                    "type": "tool_call_response",
                    "id": _get(message, "tool_call_id"),
                    "response": _get(message, "content"),
                }
            ],
        }
    return {"role": role, "parts": parts}


def input_attributes(kind: ApiKind, body: Mapping[str, Any]) -> dict[str, str]:
    """Content attributes of a request body."""
    attrs: dict[str, str] = {}
    if kind in (ApiKind.CHAT, ApiKind.MESSAGES):
        messages = body.get("messages")
        if isinstance(messages, (list, tuple)):
            attrs[names.GEN_AI_INPUT_MESSAGES] = _dump([_chat_message(m) for m in messages])
        system = body.get("system")  # Anthropic passes instructions apart from the history
        if system is not None:
            attrs[names.GEN_AI_SYSTEM_INSTRUCTIONS] = _dump(_text_parts(system))
    elif kind is ApiKind.COMPLETIONS:
        prompt = body.get("prompt")
        if prompt is not None:
            attrs[names.GEN_AI_INPUT_MESSAGES] = _dump([{"role": "user", "parts": _text_parts(prompt)}])
    elif kind is ApiKind.RESPONSES:
        items = body.get("input")
        if isinstance(items, str):
            attrs[names.GEN_AI_INPUT_MESSAGES] = _dump([{"role": "user", "parts": _text_parts(items)}])
        elif isinstance(items, (list, tuple)):
            attrs[names.GEN_AI_INPUT_MESSAGES] = _dump([_chat_message(item) for item in items])
        instructions = body.get("instructions")
        if isinstance(instructions, str):
            attrs[names.GEN_AI_SYSTEM_INSTRUCTIONS] = _dump(_text_parts(instructions))
    elif kind is ApiKind.GEMINI:
        contents = body.get("contents")
        if isinstance(contents, (list, tuple)):
            attrs[names.GEN_AI_INPUT_MESSAGES] = _dump([_gemini_content(c) for c in contents])
        system = body.get("systemInstruction", body.get("system_instruction"))
        if system is not None:
            attrs[names.GEN_AI_SYSTEM_INSTRUCTIONS] = _dump(_gemini_parts(_get(system, "parts")))
    return attrs


_GEMINI_ROLES = {"model": "assistant", "user": "user", "function": "tool", "tool": "tool"}


def _gemini_content(content: Any) -> dict[str, Any]:
    """One Gemini ``Content`` (``role`` user or model, ``parts``) as a conventions message."""
    role = _get(content, "role")
    return {
        "role": _GEMINI_ROLES.get(role, "user") if isinstance(role, str) else "user",
        "parts": _gemini_parts(_get(content, "parts")),
    }


def _gemini_parts(parts: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for part in _items(parts):
        text = _get(part, "text")
        call = _get(part, "functionCall")
        result = _get(part, "functionResponse")
        if isinstance(text, str):
            found.append({"type": "text", "content": text})
        elif call is not None:
            found.append(
                {
                    "type": "tool_call",
                    "id": _get(call, "id"),
                    "name": _get(call, "name"),
                    "arguments": _get(call, "args"),
                }
            )
        elif result is not None:
            found.append(
                {"type": "tool_call_response", "id": _get(result, "id"), "response": _get(result, "response")}
            )
        elif _get(part, "inlineData") is not None or _get(part, "fileData") is not None:
            found.append({"type": "blob" if _get(part, "inlineData") is not None else "uri"})
    return found


def output_attributes(
    kind: ApiKind, response: Any, streamed_text: Mapping[int, str] | None = None
) -> dict[str, str]:
    """Content attributes of a response; ``streamed_text`` is the text a stream carried per choice."""
    messages: list[dict[str, Any]] = []
    if kind is ApiKind.MESSAGES and streamed_text is None:
        parts = _text_parts(_get(response, "content"))
        messages.append(
            {"role": "assistant", "parts": parts, "finish_reason": _get(response, "stop_reason") or ""}
        )
    elif kind is ApiKind.RESPONSES:
        for item in _items(_get(response, "output")):
            item_type = _get(item, "type")
            if item_type == "message":
                messages.append({"role": "assistant", "parts": _text_parts(_get(item, "content"))})
            elif item_type == "function_call":
                call = {"type": "tool_call", "id": _get(item, "call_id"), "name": _get(item, "name")}
                call["arguments"] = _get(item, "arguments")
                messages.append({"role": "assistant", "parts": [call]})
        if messages:
            messages[-1]["finish_reason"] = "stop"
    elif streamed_text is not None:
        messages = [
            {"role": "assistant", "parts": _text_parts(text), "finish_reason": ""}
            for _, text in sorted(streamed_text.items())
        ]
    else:
        for choice in _items(_get(response, "choices")):
            message = _get(choice, "message")
            if message is not None:
                entry = _chat_message(message)
            else:  # legacy completions
                entry = {"role": "assistant", "parts": _text_parts(_get(choice, "text"))}
            entry["finish_reason"] = _get(choice, "finish_reason") or ""
            messages.append(entry)
    return {names.GEN_AI_OUTPUT_MESSAGES: _dump(messages)} if messages else {}
