"""Turn request bodies and responses of OpenAI-compatible APIs into plain records.

Every function here accepts either the SDK's typed objects or the decoded JSON (dicts), so the
openai SDK patch and the plain-HTTP patches share one body of logic. Nothing here raises on odd
provider data: a field of the wrong type is treated as absent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from .. import names
from .records import ResponseInfo, Usage

__all__ = [
    "ApiKind",
    "StreamAccumulator",
    "api_kind_for_path",
    "model_name",
    "request_attributes",
    "response_info",
    "usage_from",
]

_MAX_TOKENS = 1 << 40  # anything above this is not a token count, it is a broken response


class ApiKind(str, Enum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    MESSAGES = "messages"
    """Anthropic's Messages API shape (``/v1/messages``), served by Anthropic and many gateways."""

    @property
    def operation(self) -> str:
        return _OPERATIONS[self]


_OPERATIONS = {
    ApiKind.CHAT: names.OP_CHAT,
    ApiKind.COMPLETIONS: names.OP_TEXT_COMPLETION,
    ApiKind.EMBEDDINGS: names.OP_EMBEDDINGS,
    ApiKind.RESPONSES: names.OP_CHAT,
    ApiKind.MESSAGES: names.OP_CHAT,
}

_kind_cache: dict[str, ApiKind | None] = {}


def api_kind_for_path(path: str) -> ApiKind | None:
    """Which token-consuming API a request path calls, matched on its last segments (cached)."""
    try:
        return _kind_cache[path]
    except KeyError:
        pass
    segments = path.split("?", 1)[0].rstrip("/").rsplit("/", 2)
    last = segments[-1]
    kind: ApiKind | None = None
    if last == "completions":
        kind = ApiKind.CHAT if len(segments) > 1 and segments[-2] == "chat" else ApiKind.COMPLETIONS
    elif last == "embeddings":
        kind = ApiKind.EMBEDDINGS
    elif last == "responses":
        kind = ApiKind.RESPONSES
    elif last == "messages" and len(segments) > 1 and segments[-2] == "v1":
        kind = ApiKind.MESSAGES
    if len(_kind_cache) < 4096:
        _kind_cache[path] = kind
    return kind


class _Attributes:
    """``.get`` over an object that is neither a dict nor a pydantic model: its attributes."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, key: str) -> Any:
        return getattr(self._obj, key, None)


_NOTHING: Mapping[str, Any] = {}


_MAPPING, _MODEL, _OBJECT = 0, 1, 2
_kinds_by_type: dict[type, int] = {}


_MODEL_TYPES: set[type] = set()
"""The types of ``_kinds_by_type`` that are ``_MODEL``: one membership test per stream chunk."""


def _kind_of(cls: type, obj: Any) -> int:
    kind = _MAPPING if issubclass(cls, Mapping) else _MODEL if hasattr(obj, "__dict__") else _OBJECT
    if len(_kinds_by_type) < 4096:
        _kinds_by_type[cls] = kind
        if kind == _MODEL:
            _MODEL_TYPES.add(cls)
    return kind


def _view(obj: Any) -> Any:
    """Something with ``.get(key)`` (None when absent) over decoded JSON or an SDK model.

    SDK models are pydantic models whose declared fields live in ``__dict__`` and whose extra
    fields (a provider's additions, like OpenRouter's ``usage.cost``) live in
    ``__pydantic_extra__``. Reading those dicts directly avoids pydantic's slow ``__getattr__``;
    for the common model without extras the view is its ``__dict__`` itself. What kind of object
    a type is gets decided once per type.
    """
    cls = type(obj)
    if cls is dict:
        return obj
    if obj is None:
        return _NOTHING
    kind = _kinds_by_type.get(cls)
    if kind is None:
        kind = _kind_of(cls, obj)
    if kind == _MODEL:
        fields = obj.__dict__
        extra = getattr(obj, "__pydantic_extra__", None)
        if not extra:
            return fields
        merged = dict(fields)
        for key, value in extra.items():
            if merged.get(key) is None:
                merged[key] = value
        return merged
    return obj if kind == _MAPPING else _Attributes(obj)


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for decoded JSON, ``obj.key`` for SDK models; None when absent."""
    if type(obj) is dict:
        return obj.get(key)
    return _view(obj).get(key)


MAX_MODEL_LENGTH = 256
"""Model names longer than this (a caller's or a server's) are cut: they go on every sink."""


def model_name(value: Any) -> str | None:
    """A model name as a request or a response states it, bounded; None when not a string."""
    return value[:MAX_MODEL_LENGTH] if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    """A token count, or None when the value is missing, not a count, negative or absurd."""
    if type(value) is int:
        return value if 0 <= value < _MAX_TOKENS else None
    if type(value) is float and value.is_integer() and 0 <= value < _MAX_TOKENS:
        return int(value)
    return None


def _money(value: Any) -> Decimal | None:
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return Decimal(repr(value)) if value >= 0 else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() and parsed >= 0 else None
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def usage_from(raw: Any) -> Usage | None:
    """Usage of any OpenAI-compatible shape (chat/completions, responses, embeddings)."""
    if raw is None:
        return None
    fields = _view(raw)
    get = fields.get
    input_tokens = _count(get("prompt_tokens"))
    output_tokens = _count(get("completion_tokens"))
    if input_tokens is None and output_tokens is None:  # Responses API names
        input_tokens = _count(get("input_tokens"))
        output_tokens = _count(get("output_tokens"))
        in_details = get("input_tokens_details")
        out_details = get("output_tokens_details")
    else:
        in_details = get("prompt_tokens_details")
        out_details = get("completion_tokens_details")
    cache_read = cache_write = reasoning = None
    if in_details is not None:
        details = _view(in_details)
        cache_read = _count(details.get("cached_tokens"))
        cache_write = _count(details.get("cache_write_tokens"))
    if out_details is not None:
        reasoning = _count(_view(out_details).get("reasoning_tokens"))
    if cache_read is None:  # DeepSeek reports cache hits at the top level
        cache_read = _count(get("prompt_cache_hit_tokens"))
    if cache_write is None:  # gateways fronting Anthropic models
        cache_write = _count(get("cache_creation_input_tokens"))
    provider_cost = get("cost")
    if provider_cost is not None:
        provider_cost = _money(provider_cost)
    if input_tokens is None and output_tokens is None and provider_cost is None:
        return None
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
        provider_cost=provider_cost,
    )


def anthropic_usage(raw: Any) -> Usage | None:
    """Anthropic counts cached input apart from ``input_tokens``; the conventions count it inside."""
    if raw is None:
        return None
    uncached = _count(_get(raw, "input_tokens"))
    cache_read = _count(_get(raw, "cache_read_input_tokens"))
    cache_write = _count(_get(raw, "cache_creation_input_tokens"))
    output = _count(_get(raw, "output_tokens"))
    if uncached is None and output is None:
        return None
    total_input = None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0)
    return Usage(
        input_tokens=total_input,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _anthropic_reason(reason: Any) -> str | None:
    return _STOP_REASONS.get(reason, reason) if isinstance(reason, str) else None


# --- requests ------------------------------------------------------------------------------------

_NUMERIC_PARAMS: dict[str, str] = {
    "temperature": names.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": names.GEN_AI_REQUEST_TOP_P,
    "top_k": names.GEN_AI_REQUEST_TOP_K,
    "frequency_penalty": names.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": names.GEN_AI_REQUEST_PRESENCE_PENALTY,
}
_MAX_TOKEN_PARAMS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_MAX_TOKEN_KEYS = frozenset(_MAX_TOKEN_PARAMS)
# Every body key any request attribute comes from. A body holds a handful of keys; reading only
# the ones it has (one C-level intersection) spares every call a score of lookups of absent keys.
_PARAM_KEYS = frozenset(
    {
        *_NUMERIC_PARAMS,
        *_MAX_TOKEN_PARAMS,
        "seed",
        "n",
        "stop",
        "stream",
        "service_tier",
        "encoding_format",
        "dimensions",
        "response_format",
        "text",
        "conversation",
    }
)


_API_TYPES = {ApiKind.CHAT: names.API_TYPE_CHAT_COMPLETIONS, ApiKind.RESPONSES: names.API_TYPE_RESPONSES}


def request_attributes(kind: ApiKind, body: Mapping[str, Any], openai_api: bool = False) -> dict[str, Any]:
    """Span attributes of the request parameters the semantic conventions list.

    ``openai_api`` adds the ``openai.*`` attributes, which belong to OpenAI's own API only.
    """
    attrs: dict[str, Any] = {}
    if openai_api:
        api_type = _API_TYPES.get(kind)
        if api_type is not None:
            attrs[names.OPENAI_API_TYPE] = api_type
    present = _PARAM_KEYS.intersection(body)
    if present:
        _read_params(kind, body, present, openai_api, attrs)
    return attrs


def _read_params(
    kind: ApiKind, body: Mapping[str, Any], present: frozenset[str], openai_api: bool, attrs: dict[str, Any]
) -> None:
    embeddings = kind is ApiKind.EMBEDDINGS
    for key in present:
        value = body[key]
        attribute = _NUMERIC_PARAMS.get(key)
        if attribute is not None:
            if type(value) in (int, float):
                attrs[attribute] = value
        elif key == "stream":
            if value is True:
                attrs[names.GEN_AI_REQUEST_STREAM] = True
        elif key in _MAX_TOKEN_KEYS:
            continue  # below: which of them wins depends on the others
        elif key == "seed":
            if type(value) is int:
                attrs[names.GEN_AI_REQUEST_SEED] = value
        elif key == "n":
            if type(value) is int and value != 1:
                attrs[names.GEN_AI_REQUEST_CHOICE_COUNT] = value
        elif key == "stop":
            if isinstance(value, str):
                attrs[names.GEN_AI_REQUEST_STOP_SEQUENCES] = (value,)
            elif isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value):
                attrs[names.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(value)
        elif key == "service_tier":
            if openai_api and isinstance(value, str) and value != "auto":
                attrs[names.OPENAI_REQUEST_SERVICE_TIER] = value
        elif embeddings:
            if key == "encoding_format":
                if isinstance(value, str):
                    attrs[names.GEN_AI_REQUEST_ENCODING_FORMATS] = (value,)
            elif key == "dimensions" and type(value) is int:
                attrs[names.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = value
    if not present.isdisjoint(_MAX_TOKEN_KEYS):
        for key in _MAX_TOKEN_PARAMS:  # the first one set wins, in this order
            value = body.get(key)
            if type(value) is int:
                attrs[names.GEN_AI_REQUEST_MAX_TOKENS] = value
                break
    if not embeddings and ("response_format" in present or "text" in present):
        output_type = _output_type(kind, body)
        if output_type is not None:
            attrs[names.GEN_AI_OUTPUT_TYPE] = output_type
    if kind is ApiKind.RESPONSES and "conversation" in present:
        conversation = body["conversation"]
        conversation_id = conversation if isinstance(conversation, str) else _get(conversation, "id")
        if isinstance(conversation_id, str):
            attrs[names.GEN_AI_CONVERSATION_ID] = conversation_id


def _output_type(kind: ApiKind, body: Mapping[str, Any]) -> str | None:
    fmt = _get(_get(body, "text"), "format") if kind is ApiKind.RESPONSES else body.get("response_format")
    fmt_type = _get(fmt, "type")
    if fmt_type in ("json_object", "json_schema"):
        return "json"
    if fmt_type == "text":
        return "text"
    return None


# --- responses -----------------------------------------------------------------------------------


def response_info(kind: ApiKind, response: Any) -> ResponseInfo:
    """Model, id, finish reasons and usage of a complete (non-streamed) response."""
    fields = _view(response)
    get = fields.get
    info = ResponseInfo(model=model_name(get("model")))
    if kind is ApiKind.MESSAGES:
        info.id = _text(get("id"))
        info.usage = anthropic_usage(get("usage"))
        reason = _anthropic_reason(get("stop_reason"))
        if reason is not None:
            info.finish_reasons.append(reason)
        return info
    info.usage = usage_from(get("usage"))
    if kind is ApiKind.EMBEDDINGS:
        return info
    info.id = _text(get("id"))
    info.service_tier = _text(get("service_tier"))
    if kind is ApiKind.RESPONSES:
        reason = responses_finish_reason(response)
        if reason is not None:
            info.finish_reasons.append(reason)
        return info
    choices = get("choices")
    if isinstance(choices, (list, tuple)):
        reasons = info.finish_reasons
        ordered = True
        indexes: list[int] = []
        for position, choice in enumerate(choices):
            choice_fields = _view(choice)
            index = choice_fields.get("index")
            index = index if type(index) is int else position
            ordered = ordered and (not indexes or indexes[-1] < index)
            indexes.append(index)
            reasons.append(_text(choice_fields.get("finish_reason")))
        if not ordered:  # n > 1 choices may come in any order: report them by index
            info.finish_reasons = [
                reason for _, reason in sorted(zip(indexes, reasons, strict=True), key=lambda p: p[0])
            ]
    info.system_fingerprint = _text(get("system_fingerprint"))
    return info


_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def responses_finish_reason(response: Any) -> str | None:
    """A chat-style finish reason for a Responses API object (it has a status instead)."""
    status = _get(response, "status")
    if status == "completed":
        output = _get(response, "output")
        if isinstance(output, (list, tuple)) and any(
            _get(item, "type") == "function_call" for item in output
        ):
            return "tool_calls"
        return "stop"
    if status == "incomplete":
        reason = _get(_get(response, "incomplete_details"), "reason")
        return _INCOMPLETE_REASONS.get(reason, reason) if isinstance(reason, str) else "incomplete"
    if status == "failed":
        return "error"
    return status if isinstance(status, str) else None


class StreamAccumulator:
    """Collects what a stream says, chunk by chunk, into one ``ResponseInfo``.

    ``add`` returns True for a chunk that exists only because tokentrace asked for usage
    (``include_usage``) and must be hidden from the caller.
    """

    __slots__ = ("_hide_usage_chunk", "_reasons", "final_response", "info", "kind", "texts")

    def __init__(self, kind: ApiKind, hide_usage_chunk: bool, capture_text: bool = False) -> None:
        self.kind = kind
        self.info = ResponseInfo()
        self._reasons: dict[int, str | None] = {}
        self._hide_usage_chunk = hide_usage_chunk
        # Only with content capture on: the text of each choice, and the Responses API's final object.
        self.texts: dict[int, list[str]] | None = {} if capture_text else None
        self.final_response: Any = None

    def reader(self) -> Callable[[Any], bool]:
        """The function that notes one chunk of this stream's API; True means hide the chunk.

        Chosen once per stream, so no chunk pays for the choice. (Handed out, not kept on the
        accumulator: a bound method of its own would make every accumulator a reference cycle.)
        """
        kind = self.kind
        if kind is ApiKind.RESPONSES:
            return self._add_event
        if kind is ApiKind.MESSAGES:
            return self._add_anthropic_event
        return self._add_chunk

    def add(self, chunk: Any) -> bool:
        """Note one chunk; True means hide it from the caller (see ``reader``)."""
        return self.reader()(chunk)

    def _add_chunk(self, chunk: Any) -> bool:
        """A chat or legacy completions chunk. This runs for every chunk of every stream."""
        info = self.info
        # For an SDK model, its declared fields are its ``__dict__``; a provider's extra fields
        # (``__pydantic_extra__``) are never any of the ones read here but ``x_groq``, which is
        # looked up on its own below. So no per-chunk merge of the extras (``_view``).
        fields = chunk.__dict__ if type(chunk) in _MODEL_TYPES else _view(chunk)
        get = fields.get
        if not info.model:  # Azure's first chunk (prompt filter results) has an empty model and id
            info.model = model_name(get("model")) or None
            info.id = _text(get("id")) or None
            info.system_fingerprint = _text(get("system_fingerprint"))
            info.service_tier = _text(get("service_tier"))
        choices = get("choices")
        if choices:
            if not isinstance(choices, (list, tuple)):
                choices = ()
            elif self.texts is not None:
                self._collect_text(choices)
            for choice in choices:
                view = choice.__dict__ if type(choice) in _MODEL_TYPES else _view(choice)
                reason = view.get("finish_reason")
                if reason is not None:
                    self._note_reason(chunk, choice, reason)
        raw_usage = get("usage")
        if raw_usage is not None:
            info.usage = usage_from(raw_usage)
            return self._hide_usage_chunk and not choices
        return False

    def _note_reason(self, chunk: Any, choice: Any, reason: Any) -> None:
        index = _get(choice, "index")
        self._reasons[index if type(index) is int else len(self._reasons)] = _text(reason)
        groq = _get(chunk, "x_groq")  # Groq puts usage here on the last chunk
        if groq is not None:
            self.info.usage = usage_from(_get(groq, "usage")) or self.info.usage

    def _collect_text(self, choices: Any) -> None:
        assert self.texts is not None
        for position, choice in enumerate(choices):
            index = _get(choice, "index")
            delta = _get(choice, "delta")
            piece = _get(delta, "content") if delta is not None else _get(choice, "text")
            if isinstance(piece, str):
                self.texts.setdefault(index if type(index) is int else position, []).append(piece)

    def _add_event(self, event: Any) -> bool:
        event_type = _get(event, "type")
        if event_type in ("response.completed", "response.incomplete", "response.failed", "response.created"):
            response = _get(event, "response")
            final = response_info(ApiKind.RESPONSES, response)
            if event_type == "response.created":
                final.finish_reasons.clear()
            if final.usage is None:
                final.usage = self.info.usage
            self.info = final
            if self.texts is not None:
                self.final_response = response
        return False

    def _add_anthropic_event(self, event: Any) -> bool:
        event_type = _get(event, "type")
        info = self.info
        if event_type == "message_start":
            message = _get(event, "message")
            info.model = model_name(_get(message, "model"))
            info.id = _text(_get(message, "id"))
            info.usage = anthropic_usage(_get(message, "usage"))
        elif event_type == "message_delta":
            reason = _anthropic_reason(_get(_get(event, "delta"), "stop_reason"))
            if reason is not None:
                self._reasons[0] = reason
            delta_usage = _get(event, "usage")
            output = _count(_get(delta_usage, "output_tokens"))
            if output is not None:
                if info.usage is None:
                    info.usage = Usage()
                info.usage.output_tokens = output
        elif event_type == "content_block_delta" and self.texts is not None:
            text = _get(_get(event, "delta"), "text")
            if isinstance(text, str):
                self.texts.setdefault(0, []).append(text)
        return False

    def finish_reasons(self) -> list[str | None]:
        if self.kind is ApiKind.RESPONSES:
            return self.info.finish_reasons
        return [self._reasons[i] for i in sorted(self._reasons)]
