"""Counting an Anthropic Messages prompt, and the prompt cache its ``cache_control`` breakpoints use.

A message costs ``3 + words`` of its text blocks (an image or document block 85; a ``tool_use``
its name and JSON input; a ``tool_result`` its content), ``system`` one message more, each tool a
tool definition. A breakpoint caches the prompt up to it, in Anthropic's order: tools, system,
messages. The first request with that prefix writes it; later ones with the same model and prefix
read it, the longest cached prefix first.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._scripted import encode_json
from ._synth import IMAGE_TOKENS, MESSAGE_OVERHEAD, TOOL_DEFINITION_TOKENS, words

__all__ = ["InputTokens", "PromptCache", "last_user_text"]


def _block_tokens(block: object) -> int:
    """Tokens of one content block (or a bare string)."""
    if isinstance(block, str):
        return words(block)
    if not isinstance(block, Mapping):
        return 0
    kind = block.get("type")
    if kind in ("image", "document"):
        return IMAGE_TOKENS
    if kind == "tool_use":
        return words(block.get("name")) + words(json.dumps(block.get("input")))
    if kind == "tool_result":
        content = block.get("content")
        blocks = content if isinstance(content, list) else [content]
        return sum(_block_tokens(inner) for inner in blocks)
    if kind in ("thinking", "redacted_thinking"):
        return words(block.get("thinking"))
    return words(block.get("text"))


def _units(body: Mapping[str, Any]) -> Iterator[tuple[int, object, object]]:
    """The prompt in Anthropic's cache order, piece by piece: (tokens, piece, its cache_control)."""
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        yield TOOL_DEFINITION_TOKENS, tool, tool.get("cache_control") if isinstance(tool, Mapping) else None
    turns: list[tuple[str, object]] = []
    if body.get("system"):
        turns.append(("system", body["system"]))
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, Mapping):
            turns.append((str(message.get("role")), message.get("content")))
    for role, content in turns:
        if isinstance(content, list):
            yield MESSAGE_OVERHEAD, role, None
            for block in content:
                control = block.get("cache_control") if isinstance(block, Mapping) else None
                yield _block_tokens(block), block, control
        else:
            yield MESSAGE_OVERHEAD + _block_tokens(content), (role, content), None


@dataclass(frozen=True)
class InputTokens:
    """Input tokens of one request, split the way Anthropic reports them."""

    uncached: int
    read: int
    write_5m: int
    write_1h: int

    @property
    def total(self) -> int:
        return self.uncached + self.read + self.write_5m + self.write_1h


class PromptCache:
    """The prompt prefixes this server has cached, per model (cleared by ``DevServer.reset()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[str] = set()

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def input(self, model: str, body: Mapping[str, Any], *, write: bool) -> InputTokens:
        """Count a prompt, reading the longest cached prefix and (with ``write``) caching the rest."""
        digest = hashlib.sha256(model.encode())
        total = 0
        breakpoints: list[tuple[int, str, bool]] = []  # (tokens so far, prefix key, one hour)
        for tokens, piece, control in _units(body):
            total += tokens
            digest.update(encode_json(piece) + b"\0")
            if isinstance(control, Mapping):
                breakpoints.append((total, digest.hexdigest(), control.get("ttl") == "1h"))
        read = 0
        writes = [0, 0]
        with self._lock:
            hit = next(
                (i for i in range(len(breakpoints) - 1, -1, -1) if breakpoints[i][1] in self._keys), -1
            )
            if hit >= 0:
                read = breakpoints[hit][0]
            previous = read
            for tokens, key, one_hour in breakpoints[hit + 1 :]:
                writes[one_hour] += tokens - previous
                previous = tokens
                if write:
                    self._keys.add(key)
        cached = read + writes[0] + writes[1]
        return InputTokens(uncached=total - cached, read=read, write_5m=writes[0], write_1h=writes[1])


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message (what the answer repeats)."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    str(b.get("text")) for b in content if isinstance(b, Mapping) and b.get("type") == "text"
                )
            return ""
    return ""
