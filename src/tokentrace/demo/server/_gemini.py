"""The Gemini API, as the Developer API (``/v1beta/models/{model}:generateContent``) and Vertex AI
(``/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:...``) serve it.

``generateContent`` answers a ``GenerateContentResponse``; ``streamGenerateContent`` the same in
chunks, as SSE events with ``?alt=sse`` (CRLF-framed, as Google sends them) and otherwise as one
JSON array written chunk by chunk. Every chunk carries the usage so far; the last one the totals
and the finish reason. Thinking models (``gemini-2.5-*`` but ``-lite``, ``gemini-3*``) think
before answering; their thoughts count in ``thoughtsTokenCount`` and ``totalTokenCount`` only, and
are spent first from ``maxOutputTokens``. Zero counts are left out, as proto3 JSON does.
"""

from __future__ import annotations

import json as _json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._google import GOOGLE_JSON_TYPE, field, google_error, invalid_argument, reply
from ._scripted import Scripted, encode_json, sse
from ._shapes import Json
from ._synth import (
    IMAGE_TOKENS,
    Completion,
    Prompt,
    chat_prompt,
    complete,
    effort_tokens,
    make_id,
    reply_words,
)

__all__ = ["GeminiCall", "contents_text", "gemini", "text_parts"]

MAX_CANDIDATES = 8
WORDS_PER_CHUNK = 4
_THINKING = re.compile(r"^gemini-(2\.5|[3-9])")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"


@dataclass(frozen=True)
class GeminiCall:
    """One Gemini request: the method and model named by its path, its body, and where it came from."""

    method: str
    model: str
    body: Mapping[str, Any]
    seq: int
    created: int
    vertex: bool = False
    sse: bool = False
    """``?alt=sse``: stream as server-sent events rather than a JSON array."""


# -- reading a request -----------------------------------------------------------------------------


def text_parts(content: object) -> list[Json]:
    """A ``Content``'s parts as chat parts (text, or an image for inline and file data), so the
    chat counting rules apply; function calls and responses count as their JSON text."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts = content.get("parts") if isinstance(content, Mapping) else None
    found: list[Json] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Mapping):
            continue
        call, response = field(part, "functionCall"), field(part, "functionResponse")
        if "text" in part:
            found.append({"type": "text", "text": part["text"]})
        elif field(part, "inlineData") is not None or field(part, "fileData") is not None:
            found.append({"type": "image"})
        elif isinstance(call, Mapping):
            found.append({"type": "text", "text": f"{call.get('name')} {_json.dumps(call.get('args'))}"})
        elif response is not None:
            found.append({"type": "text", "text": _json.dumps(response)})
    return found


def contents_text(content: object) -> str:
    """The text of a ``Content`` (or a bare string), its text parts joined by spaces."""
    return " ".join(str(part["text"]) for part in text_parts(content) if part.get("type") == "text")


@dataclass(frozen=True)
class _Read:
    prompt: Prompt
    images: int


def _read_prompt(body: Mapping[str, Any]) -> _Read:
    """Count a request: the system instruction is one more turn; each function declaration (or
    other tool) is a tool definition."""
    items: list[Json] = []
    system = field(body, "systemInstruction")
    if system:
        items.append({"role": "system", "content": text_parts(system)})
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else ():
        role = content.get("role", "user") if isinstance(content, Mapping) else "user"
        items.append({"role": role, "content": text_parts(content)})
    tools: list[object] = []
    listed = body.get("tools")
    for tool in listed if isinstance(listed, list) else ():
        declarations = field(tool, "functionDeclarations")
        tools.extend(declarations if isinstance(declarations, list) else [tool])
    images = sum(1 for item in items for part in item["content"] if part.get("type") == "image")
    return _Read(chat_prompt(items, tools), images)


def _thinking(model: str, config: object) -> int:
    """Thought tokens per candidate of a thinking model: 16 (``thinkingLevel`` low 8, high 32),
    capped by ``thinkingBudget`` (0 turns thinking off; a positive budget turns it on for -lite)."""
    options = field(config, "thinkingConfig")
    level = field(options, "thinkingLevel")
    tokens = effort_tokens(level.lower() if isinstance(level, str) else None)
    budget = field(options, "thinkingBudget")
    if not _THINKING.match(model):
        return 0
    if isinstance(budget, int) and not isinstance(budget, bool) and budget >= 0:
        return min(budget, tokens)
    return 0 if "lite" in model else tokens


# -- answers -----------------------------------------------------------------------------------------


class _Answer:
    """Everything one generateContent call answers, computed once."""

    def __init__(self, call: GeminiCall, read: _Read, completions: list[Completion]) -> None:
        self.call = call
        self.read = read
        self.completions = completions
        self.response_id = make_id(f"gemini-native:{call.seq}", 23, _ID_ALPHABET)

    def usage(self, visible: int) -> Json:
        """usageMetadata after ``visible`` answer tokens (thoughts come first, all of them)."""
        prompt = self.read.prompt
        thoughts = sum(c.reasoning for c in self.completions)
        usage: Json = {"promptTokenCount": prompt.tokens}
        if visible:
            usage["candidatesTokenCount"] = visible
        usage["totalTokenCount"] = prompt.tokens + visible + thoughts
        if prompt.cached:
            usage["cachedContentTokenCount"] = prompt.cached
        usage["promptTokensDetails"] = _modalities(prompt.tokens, self.read.images)
        if prompt.cached:
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt.cached}]
        if self.call.vertex and visible:
            usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": visible}]
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        if self.call.vertex:
            usage["trafficType"] = "ON_DEMAND"
        return usage

    def candidate(self, index: int, text: str, finished: bool) -> Json:
        content: Json = {"role": "model"}
        if text:
            content = {"parts": [{"text": text}], "role": "model"}
        candidate: Json = {"content": content}
        if finished:
            candidate["finishReason"] = "MAX_TOKENS" if self.completions[index].truncated else "STOP"
        candidate["index"] = index
        return candidate

    def response(self, candidates: list[Json], visible: int) -> Json:
        body: Json = {"candidates": candidates, "usageMetadata": self.usage(visible)}
        body["modelVersion"] = self.call.model
        if self.call.vertex:
            moment = time.gmtime(self.call.created)
            body["createTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", moment)
        body["responseId"] = self.response_id
        return body

    def whole(self) -> Json:
        candidates = [self.candidate(i, c.text, True) for i, c in enumerate(self.completions)]
        return self.response(candidates, sum(len(c.pieces) for c in self.completions))

    def chunks(self) -> list[Json]:
        """Stream chunks: a few words of each candidate per chunk, candidates advancing together."""
        groups = [
            ["".join(c.pieces[i : i + WORDS_PER_CHUNK]) for i in range(0, len(c.pieces), WORDS_PER_CHUNK)]
            for c in self.completions
        ]
        steps = max(1, *(len(g) for g in groups))
        chunks: list[Json] = []
        visible = 0
        for step in range(steps):
            candidates = []
            for index, pieces in enumerate(groups):
                last = step == max(len(pieces), 1) - 1
                if step < len(pieces) or last:
                    piece = pieces[step] if step < len(pieces) else ""
                    visible += len(piece.split())
                    candidates.append(self.candidate(index, piece, last))
            chunks.append(self.response(candidates, visible))
        return chunks


def generate(call: GeminiCall) -> Scripted:
    """``generateContent`` and ``streamGenerateContent``."""
    body = call.body
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return invalid_argument("* GenerateContentRequest.contents: contents is not specified\n")
    config = field(body, "generationConfig")
    count = field(config, "candidateCount")
    count = 1 if count is None else count
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_CANDIDATES:
        return invalid_argument(f"candidateCount must be between 1 and {MAX_CANDIDATES}.")
    read = _read_prompt(body)
    limit = field(config, "maxOutputTokens")
    thinking = _thinking(call.model, config)
    completions = [complete(reply_words(read.prompt.echo, i), limit, thinking) for i in range(count)]
    answer = _Answer(call, read, completions)
    if call.method == "generateContent":
        return reply(answer.whole())
    chunks = answer.chunks()
    if call.sse:
        return sse(b"data: " + encode_json(chunk) + b"\r\n\r\n" for chunk in chunks)
    # Without alt=sse the stream is one JSON array, its elements written as they come.
    pieces = [(b"[" if i == 0 else b",\r\n") + encode_json(chunk) for i, chunk in enumerate(chunks)]
    return sse([*pieces, b"]"], headers={"content-type": GOOGLE_JSON_TYPE})


def _modalities(tokens: int, images: int) -> list[Json]:
    details = [{"modality": "TEXT", "tokenCount": tokens - images * IMAGE_TOKENS}]
    if images:
        details.append({"modality": "IMAGE", "tokenCount": images * IMAGE_TOKENS})
    return details


def count_tokens(call: GeminiCall) -> Scripted:
    """``countTokens``: the prompt tokens generateContent would report for the same request."""
    body = call.body
    request = field(body, "generateContentRequest")
    source = request if isinstance(request, Mapping) else body
    if not isinstance(source.get("contents"), list):
        return invalid_argument("* CountTokensRequest.contents: contents is not specified\n")
    read = _read_prompt(source)
    answer: Json = {"totalTokens": read.prompt.tokens}
    if call.vertex:
        contents = source["contents"]
        answer["totalBillableCharacters"] = sum(len("".join(contents_text(c).split())) for c in contents)
    answer["promptTokensDetails"] = _modalities(read.prompt.tokens, read.images)
    return reply(answer)


_METHODS: dict[str, Callable[[GeminiCall], Scripted]] = {
    "generateContent": generate,
    "streamGenerateContent": generate,
    "countTokens": count_tokens,
}


def gemini(call: GeminiCall, extra: Mapping[str, Callable[[GeminiCall], Scripted]]) -> Scripted:
    """Answer a Gemini method (``extra`` adds the embedding ones); 404 for any other."""
    handler = _METHODS.get(call.method) or extra.get(call.method)
    if handler is None:
        return reply(google_error(404, f"Method not found: {call.method}."), 404)
    return handler(call)
