"""Request parameters as span attributes: the ones the GenAI conventions list, for every family.

A body holds a handful of keys; only the ones it has are read (one set intersection), so a call
pays for its own parameters, not for the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import names
from ..fields import get
from . import ApiKind

__all__ = ["MAX_TOKEN_PARAMS", "request_attributes"]

_NUMERIC_PARAMS: dict[str, str] = {
    "temperature": names.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": names.GEN_AI_REQUEST_TOP_P,
    "top_k": names.GEN_AI_REQUEST_TOP_K,
    "frequency_penalty": names.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": names.GEN_AI_REQUEST_PRESENCE_PENALTY,
}
MAX_TOKEN_PARAMS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
"""The request keys that bound a call's output, in the order the first one set wins."""
_MAX_TOKEN_KEYS = frozenset(MAX_TOKEN_PARAMS)
# Every body key any request attribute comes from. A body holds a handful of keys; reading only
# the ones it has (one C-level intersection) spares every call a score of lookups of absent keys.
_PARAM_KEYS = frozenset(
    {
        *_NUMERIC_PARAMS,
        *MAX_TOKEN_PARAMS,
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
    if kind is ApiKind.GEMINI:
        config = body.get("generationConfig", body.get("generation_config"))
        if isinstance(config, Mapping):
            _read_gemini_config(config, attrs)
    return attrs


# The Gemini API's ``generationConfig`` (protobuf JSON: camelCase, snake_case accepted too).
_GEMINI_NUMBERS: dict[str, str] = {
    "temperature": names.GEN_AI_REQUEST_TEMPERATURE,
    "topP": names.GEN_AI_REQUEST_TOP_P,
    "top_p": names.GEN_AI_REQUEST_TOP_P,
    "topK": names.GEN_AI_REQUEST_TOP_K,
    "top_k": names.GEN_AI_REQUEST_TOP_K,
    "presencePenalty": names.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "presence_penalty": names.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "frequencyPenalty": names.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "frequency_penalty": names.GEN_AI_REQUEST_FREQUENCY_PENALTY,
}
_GEMINI_COUNTS: dict[str, str] = {
    "maxOutputTokens": names.GEN_AI_REQUEST_MAX_TOKENS,
    "max_output_tokens": names.GEN_AI_REQUEST_MAX_TOKENS,
    "seed": names.GEN_AI_REQUEST_SEED,
    "candidateCount": names.GEN_AI_REQUEST_CHOICE_COUNT,
    "candidate_count": names.GEN_AI_REQUEST_CHOICE_COUNT,
}
_GEMINI_OUTPUT_TYPES = {"application/json": "json", "text/plain": "text"}


def _read_gemini_config(config: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    for key, value in config.items():
        attribute = _GEMINI_NUMBERS.get(key)
        if attribute is not None:
            if type(value) in (int, float):
                attrs[attribute] = value
            continue
        attribute = _GEMINI_COUNTS.get(key)
        if attribute is not None:
            if type(value) is int and not (attribute == names.GEN_AI_REQUEST_CHOICE_COUNT and value == 1):
                attrs[attribute] = value
        elif key in ("stopSequences", "stop_sequences"):
            if isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value):
                attrs[names.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(value)
        elif key in ("responseMimeType", "response_mime_type"):
            output_type = _GEMINI_OUTPUT_TYPES.get(value) if isinstance(value, str) else None
            if output_type is not None:
                attrs[names.GEN_AI_OUTPUT_TYPE] = output_type


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
        for key in MAX_TOKEN_PARAMS:  # the first one set wins, in this order
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
        conversation_id = conversation if isinstance(conversation, str) else get(conversation, "id")
        if isinstance(conversation_id, str):
            attrs[names.GEN_AI_CONVERSATION_ID] = conversation_id


def _output_type(kind: ApiKind, body: Mapping[str, Any]) -> str | None:
    fmt = get(get(body, "text"), "format") if kind is ApiKind.RESPONSES else body.get("response_format")
    fmt_type = get(fmt, "type")
    if fmt_type in ("json_object", "json_schema"):
        return "json"
    if fmt_type == "text":
        return "text"
    return None
