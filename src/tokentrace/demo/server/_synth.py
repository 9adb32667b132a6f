"""Deterministic stand-ins for what a model produces: token counts, reply text, ids, model names.

The counting rules are listed in the package docstring (``tokentrace.demo.server``); the constants
below are their numbers. (Over ~300 lines: every rule that makes the server's numbers repeatable
is here, so a test's expected figures can be checked against one place.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import struct
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "argument_pieces",
    "CACHE_MIN_WORDS",
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "TOOL_DEFINITION_TOKENS",
    "Completion",
    "Prompt",
    "RequestCounter",
    "azure_model",
    "chat_prompt",
    "complete",
    "content_tokens",
    "dated_model",
    "effort_tokens",
    "embedding",
    "fingerprint",
    "is_reasoning_model",
    "item_tokens",
    "make_id",
    "reasoning_budget",
    "reply_words",
    "tool_call_for",
    "words",
]

MESSAGE_OVERHEAD = 3
IMAGE_TOKENS = 85
TOOL_DEFINITION_TOKENS = 10
CACHE_MIN_WORDS = 32
ECHO_WORDS = 16
_EFFORT_TOKENS = {"none": 0, "minimal": 0, "low": 8, "medium": 16, "high": 32, "xhigh": 64}
_IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})

# What OpenAI answers in ``model`` for an alias: the snapshot the alias pointed to.
_SNAPSHOTS = {
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-instruct": "gpt-3.5-turbo-instruct:20230824-v2",
    "gpt-4": "gpt-4-0613",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "o1": "o1-2024-12-17",
    "o1-mini": "o1-mini-2024-09-12",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
}
# Azure deploys its own default versions of some models.
_AZURE_SNAPSHOTS = {
    **_SNAPSHOTS,
    "gpt-4o": "gpt-4o-2024-11-20",
    "gpt-35-turbo": "gpt-35-turbo-0125",
    "gpt-35-turbo-instruct": "gpt-35-turbo-instruct-0914",
    "gpt-3.5-turbo-instruct": "gpt-35-turbo-instruct-0914",
}
_AZURE_DEFAULTS = {
    "chat/completions": "gpt-4o-2024-11-20",
    "completions": "gpt-35-turbo-instruct-0914",
    "embeddings": "text-embedding-3-small",
    "responses": "gpt-4o-2024-11-20",
}
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5(?!-chat))")
_JSON_TOKEN = re.compile(r'\s*(?:[{}\[\],:]|"(?:[^"\\]|\\.)*"|[^\s{}\[\],:"]+)')
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def words(text: object) -> int:
    """Tokens in a piece of text: its whitespace-separated words; anything not a string is 0."""
    return len(text.split()) if isinstance(text, str) else 0


def content_tokens(content: object) -> int:
    """Tokens of a message ``content``: a string, or a list of parts (text, image, ...)."""
    if isinstance(content, str):
        return words(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if isinstance(part, str):
            total += words(part)
        elif isinstance(part, Mapping):
            if part.get("type") in _IMAGE_PART_TYPES:
                total += IMAGE_TOKENS
            else:
                total += words(part.get("text"))
    return total


def item_tokens(item: object) -> int:
    """Tokens of one chat message or Responses input item."""
    if isinstance(item, str):
        return MESSAGE_OVERHEAD + words(item)
    if not isinstance(item, Mapping):
        return 0
    kind = item.get("type")
    if kind == "function_call":
        return MESSAGE_OVERHEAD + words(item.get("name")) + words(item.get("arguments"))
    if kind == "function_call_output":
        return MESSAGE_OVERHEAD + content_tokens(item.get("output"))
    if kind not in (None, "message"):
        return MESSAGE_OVERHEAD
    total = MESSAGE_OVERHEAD + content_tokens(item.get("content"))
    for call in item.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            total += words(function.get("name")) + words(function.get("arguments"))
    return total


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) if isinstance(part, Mapping) else str(part)
            for part in content
            if isinstance(part, (str, Mapping))
        )
    return ""


@dataclass(frozen=True)
class Prompt:
    """What the server "read": input tokens, the cached part, and the text it will echo."""

    tokens: int
    cached: int
    echo: str


def chat_prompt(messages: Iterable[object], tools: object = None) -> Prompt:
    """Count a chat ``messages`` list (or Responses input items) under the rules above."""
    items = list(messages)
    tokens = sum(item_tokens(item) for item in items)
    if isinstance(tools, list):
        tokens += TOOL_DEFINITION_TOKENS * len(tools)
    cached = 0
    if items:
        first = items[0]
        first_content = first if isinstance(first, str) else _content_of(first)
        if words(_text_of(first_content)) >= CACHE_MIN_WORDS:
            cached = item_tokens(first)
    echo = ""
    for item in reversed(items):
        if isinstance(item, str):
            echo = item
            break
        if isinstance(item, Mapping) and item.get("role") == "user":
            echo = _text_of(item.get("content"))
            break
    return Prompt(tokens=tokens, cached=cached, echo=echo)


def _content_of(item: object) -> object:
    return item.get("content") if isinstance(item, Mapping) else None


def reply_words(echo: str, choice: int) -> list[str]:
    """The words of choice ``choice``'s answer to a prompt whose last user text is ``echo``."""
    return ["Reply", f"{choice + 1}:", *(echo.split()[:ECHO_WORDS] or ["Hello!"])]


def is_reasoning_model(model: str) -> bool:
    """True for models that think before answering (o-series, gpt-5), with or without vendor/."""
    return bool(_REASONING_MODEL.match(model.rsplit("/", 1)[-1]))


def effort_tokens(effort: object) -> int:
    """Reasoning tokens one choice of a thinking model spends at a reasoning ``effort``."""
    return _EFFORT_TOKENS.get(effort if isinstance(effort, str) else "medium", 16)


def reasoning_budget(model: str, effort: object) -> int:
    """Reasoning tokens one choice spends: 0 for non-reasoning models."""
    return effort_tokens(effort) if is_reasoning_model(model) else 0


@dataclass(frozen=True)
class Completion:
    """One generated choice: visible text (as deltas), its tokens, thinking and finish reason."""

    pieces: tuple[str, ...]
    reasoning: int
    truncated: bool

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tokens(self) -> int:
        """Output tokens, reasoning included."""
        return len(self.pieces) + self.reasoning


def complete(reply: list[str], limit: object, reasoning: int) -> Completion:
    """Cut a reply to an output-token ``limit`` (None for none); reasoning is spent first."""
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        reasoning = min(reasoning, limit)
        visible = limit - reasoning
        truncated = visible < len(reply)
        reply = reply[:visible]
    else:
        truncated = False
    pieces = tuple(word if i == 0 else f" {word}" for i, word in enumerate(reply))
    return Completion(pieces=pieces, reasoning=reasoning, truncated=truncated)


def _function_tools(tools: object) -> list[Mapping[str, Any]]:
    """Function tools in either shape: chat's ``{"function": {...}}`` or Responses' flat one."""
    found: list[Mapping[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
            continue
        inner = tool.get("function")
        spec = inner if isinstance(inner, Mapping) else tool
        if isinstance(spec.get("name"), str):
            found.append(spec)
    return found


def _example_value(schema: object) -> object:
    if not isinstance(schema, Mapping):
        return "demo"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}, "null": None}.get(
        str(kind), "demo"
    )


def tool_call_for(tools: object, tool_choice: object) -> tuple[str, str] | None:
    """The (name, JSON arguments) the model calls, or None when it answers in text.

    ``tool_choice`` ``"none"`` answers in text; a named function is called by name; otherwise the
    first function tool is. Arguments fill the schema's required properties (all of them when none
    is required) with a placeholder of the right type: ``"demo"``, 1, true, [] or {}.
    """
    candidates = _function_tools(tools)
    if not candidates or tool_choice == "none":
        return None
    spec = candidates[0]
    if isinstance(tool_choice, Mapping):
        inner = tool_choice.get("function")
        wanted = inner.get("name") if isinstance(inner, Mapping) else tool_choice.get("name")
        spec = next((c for c in candidates if c.get("name") == wanted), spec)
    parameters = spec.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    properties = properties if isinstance(properties, Mapping) else {}
    required = parameters.get("required") if isinstance(parameters, Mapping) else None
    names = required if isinstance(required, list) and required else list(properties)
    arguments = {str(name): _example_value(properties.get(name)) for name in names}
    return str(spec["name"]), json.dumps(arguments)


def argument_pieces(arguments: str) -> tuple[str, ...]:
    """Tool-call arguments cut into JSON tokens (a brace, a colon, a string...), each one output
    token; joined back they give the arguments unchanged."""
    return tuple(_JSON_TOKEN.findall(arguments))


def dated_model(model: str) -> str:
    """The model name OpenAI reports for a requested alias (unknown names are echoed)."""
    return _SNAPSHOTS.get(model, model)


def azure_model(deployment: str | None, endpoint: str, deployments: Mapping[str, str]) -> str:
    """The underlying model Azure reports for a deployment (a mapped, known, or default model)."""
    if deployment is not None:
        mapped = deployments.get(deployment, deployment)
        if mapped in _AZURE_SNAPSHOTS:
            return _AZURE_SNAPSHOTS[mapped]
        if mapped != deployment or "-20" in mapped:
            return mapped
    return _AZURE_DEFAULTS.get(endpoint, _AZURE_DEFAULTS["chat/completions"])


@functools.lru_cache(maxsize=8)
def _byte_table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


def make_id(seed: str, length: int, alphabet: str = _ALNUM) -> str:
    """A fixed-length id (up to 64 characters) derived from ``seed``: realistic-looking, and the
    same on every run."""
    digest = hashlib.blake2b(seed.encode(), digest_size=length).digest()
    return digest.translate(_byte_table(alphabet)).decode("ascii")


@functools.lru_cache(maxsize=64)
def fingerprint(model: str) -> str:
    """A stable ``system_fingerprint`` per model."""
    return "fp_" + make_id(model, 10, "0123456789abcdef")


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit-length float32 vector derived from ``text`` alone (same text, same vector)."""
    raw: list[float] = []
    block = 0
    while len(raw) < dimensions:
        digest = hashlib.blake2b(f"{block}:{text}".encode(), digest_size=64).digest()
        raw.extend(value / 2147483648.0 for value in struct.unpack("<16i", digest))
        block += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    # Round-trip through float32 so the float and base64 encodings carry the same numbers.
    packed = struct.pack(f"<{dimensions}f", *(value / norm for value in raw))
    return list(struct.unpack(f"<{dimensions}f", packed))


class RequestCounter:
    """A thread-safe request counter; ids derive from it, so they repeat across runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def next(self) -> int:
        with self._lock:
            self._value += 1
            return self._value
