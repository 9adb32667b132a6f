"""The default answers: chat completions, legacy completions, embeddings and the model list.

Each endpoint turns one parsed request (a ``Call``) into a ``Scripted`` reply, a JSON body or a
ready-to-send SSE stream, dressed by the provider shape the request is for. (Over ~300 lines: the
four endpoints share their request checks, errors and usage rules here, the way the real API
shares them; the Responses API, which shares none of them, has a module of its own.)
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._scripted import Scripted, error_body, json, sse, status
from ._shapes import (
    AZURE_CHOICE_FILTERS,
    Choice,
    Json,
    OpenAIShape,
    Tokens,
    azure_prompt_filter_results,
    delta_tokens,
    shape_for,
)
from ._synth import (
    Completion,
    argument_pieces,
    chat_prompt,
    complete,
    embedding,
    make_id,
    reply_words,
    tool_call_for,
    words,
)

__all__ = [
    "DEFAULT_EMBEDDING_DIMENSIONS",
    "LEGACY_DEFAULT_MAX_TOKENS",
    "Call",
    "bad_request",
    "chat_completions",
    "completions",
    "embeddings",
    "include_usage",
    "missing",
    "reply",
    "requested_model",
    "models",
    "response_headers",
]

DEFAULT_EMBEDDING_DIMENSIONS = 8
LEGACY_DEFAULT_MAX_TOKENS = 16  # /v1/completions stops at 16 tokens unless told otherwise
MAX_CHOICES = 128
_MODEL_IDS = ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini", "text-embedding-3-small")


@dataclass(frozen=True)
class Call:
    """One request as the endpoints see it."""

    endpoint: str
    """``chat/completions``, ``completions``, ``embeddings``, ``responses`` or ``models``."""
    flavor: str
    """The provider shape to answer in: ``openai``, ``azure``, ``openrouter``, ``vllm``, ``gemini``."""
    body: Mapping[str, Any]
    seq: int
    """The request's number on this server (from 1); ids derive from it."""
    created: int
    deployment_model: str | None = None
    """Azure: the deployment's underlying model, which Azure reports instead of the request's."""
    resource: str | None = None
    """The id in ``/models/{id}``."""


def response_headers(call: Call) -> dict[str, str]:
    """The bookkeeping headers a provider sends with every answer."""
    request_id = make_id(f"req:{call.seq}", 32, "0123456789abcdef")
    if call.flavor == "openai":
        return {
            "x-request-id": f"req_{request_id}",
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-reset-requests": "6ms",
        }
    if call.flavor == "azure":
        apim = (
            f"{request_id[:8]}-{request_id[8:12]}-{request_id[12:16]}-{request_id[16:20]}-{request_id[20:]}"
        )
        return {
            "apim-request-id": apim,
            "x-request-id": apim,
            "x-ms-region": "East US",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-remaining-tokens": "999000",
        }
    return {}


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> Scripted:
    return status(400, error_body(400, message, param=param, code=code))


def missing(param: str) -> Scripted:
    if param == "model":
        return bad_request("you must provide a model parameter")
    return bad_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


def _count(body: Mapping[str, Any], name: str, default: int) -> int | Scripted:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CHOICES:
        return bad_request(
            f"Invalid value for '{name}': expected an integer from 1 to {MAX_CHOICES}.", param=name
        )
    return value


def requested_model(call: Call) -> str | None:
    model = call.body.get("model")
    if isinstance(model, str) and model:
        return model
    return call.deployment_model


def reply(call: Call, body: Json) -> Scripted:
    return json(body, 200, response_headers(call))


def _stream(call: Call, events: list[Json | str | bytes]) -> Scripted:
    return sse([*events, b"data: [DONE]\n\n"], headers=response_headers(call))


def _tool_completion(arguments: str, reasoning: int) -> Completion:
    return Completion(pieces=argument_pieces(arguments), reasoning=reasoning, truncated=False)


# -- chat completions --------------------------------------------------------------------------


def chat_completions(call: Call) -> Scripted:
    body = call.body
    requested = requested_model(call)
    if requested is None:
        return missing("model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return missing("messages")
    n = _count(body, "n", 1)
    if isinstance(n, Scripted):
        return n
    shape = shape_for(call.flavor)
    model = shape.response_model(requested, call.deployment_model)
    prompt = chat_prompt(messages, body.get("tools"))
    reasoning = shape.reasoning(model, body.get("reasoning_effort"))
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    tool = tool_call_for(body.get("tools"), body.get("tool_choice"))
    choices: list[Choice] = []
    for index in range(n):
        if index == 0 and tool is not None:
            name, arguments = tool
            call_id = "call_" + make_id(f"call:{call.seq}", 24)
            completion = _tool_completion(arguments, reasoning)
            choices.append(Choice(index, completion, "tool_calls", (call_id, name)))
        else:
            completion = complete(reply_words(prompt.echo, index), limit, reasoning)
            choices.append(Choice(index, completion, "length" if completion.truncated else "stop"))
    tokens = Tokens(
        prompt=prompt.tokens,
        cached=prompt.cached,
        completion=sum(c.completion.tokens for c in choices),
        reasoning=sum(c.completion.reasoning for c in choices),
    )
    obj = "chat.completion.chunk" if body.get("stream") else "chat.completion"
    envelope = shape.envelope(shape.response_id(call.seq), call.created, model, obj)
    if body.get("stream"):
        return _stream(call, _chat_chunks(shape, envelope, choices, tokens, include_usage(body)))
    return reply(call, shape.completion(envelope, choices, tokens))


def _chat_chunks(
    shape: OpenAIShape, envelope: Json, choices: list[Choice], tokens: Tokens, usage_requested: bool
) -> list[Json | str | bytes]:
    events: list[Json | str | bytes] = list(shape.prelude(envelope))
    per_choice = [shape.deltas(choice) for choice in choices]
    # Choices advance together, one delta each in index order, as n > 1 streams interleave.
    steps = [
        (choice.index, *deltas[step])
        for step in range(max(len(d) for d in per_choice))
        for choice, deltas in zip(choices, per_choice, strict=True)
        if step < len(deltas)
    ]
    running = 0
    for position, (index, delta, finish) in enumerate(steps):
        chunk = {**envelope, "choices": [shape.chunk_choice(index, delta, finish)]}
        if usage_requested and shape.usage_every_chunk:
            running += delta_tokens(delta)
            last = position == len(steps) - 1
            partial = tokens if last else Tokens(tokens.prompt, tokens.cached, running, 0)
            chunk["usage"] = shape.usage(partial)
        elif usage_requested and shape.null_usage_on_chunks:
            chunk["usage"] = None
        chunk.update(shape.chunk_extras(len(events)))
        events.append(chunk)
    if (usage_requested or shape.usage_always) and not shape.usage_every_chunk:
        events.append(
            {**envelope, "choices": [], "usage": shape.usage(tokens), **shape.chunk_extras(len(events))}
        )
    return events


# -- legacy completions ------------------------------------------------------------------------


def _prompts(value: object) -> list[tuple[str, int]] | None:
    """(text, tokens) per prompt: a string, a list of strings, or token arrays."""
    if isinstance(value, str):
        return [(value, words(value))]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, int) for v in value):
        return [("", len(value))]
    found: list[tuple[str, int]] = []
    for item in value:
        if isinstance(item, str):
            found.append((item, words(item)))
        elif isinstance(item, list):
            found.append(("", len(item)))
        else:
            return None
    return found


def completions(call: Call) -> Scripted:
    body = call.body
    requested = requested_model(call)
    if requested is None:
        return missing("model")
    prompts = _prompts(body.get("prompt"))
    if prompts is None:
        return missing("prompt")
    n = _count(body, "n", 1)
    if isinstance(n, Scripted):
        return n
    shape = shape_for(call.flavor)
    model = shape.response_model(requested, call.deployment_model)
    limit = body.get("max_tokens")
    limit = LEGACY_DEFAULT_MAX_TOKENS if limit is None else limit
    echo = body.get("echo") is True
    outcomes: list[tuple[int, str, Completion]] = []
    for prompt_index, (text, _) in enumerate(prompts):
        for j in range(n):
            outcomes.append(
                (prompt_index * n + j, text if echo else "", complete(reply_words(text, j), limit, 0))
            )
    completion_tokens = sum(c.tokens for _, _, c in outcomes)
    prompt_tokens = sum(tokens for _, tokens in prompts)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    azure = call.flavor == "azure"
    envelope: Json = {
        "id": "cmpl-" + make_id(f"cmpl:{call.seq}", 29),
        "object": "text_completion",
        "created": call.created,
        "model": model,
    }

    def choice(index: int, text: str, finish: str | None) -> Json:
        fields = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
        return {"content_filter_results": AZURE_CHOICE_FILTERS if text else {}, **fields} if azure else fields

    if not body.get("stream"):
        answer = {
            **envelope,
            "choices": [
                choice(i, prefix + c.text, "length" if c.truncated else "stop") for i, prefix, c in outcomes
            ],
            "usage": usage,
        }
        if azure:
            answer["prompt_filter_results"] = azure_prompt_filter_results(len(prompts))
        return reply(call, answer)
    with_usage = include_usage(body)
    events: list[Json | str | bytes] = []
    if azure:
        events.append(
            {**envelope, "choices": [], "prompt_filter_results": azure_prompt_filter_results(len(prompts))}
        )
    extra: Json = {"usage": None} if with_usage else {}
    for index, prefix, completion in outcomes:
        pieces = list(completion.pieces)
        if prefix:
            pieces = [prefix + (pieces[0] if pieces else ""), *pieces[1:]]
        events.extend({**envelope, "choices": [choice(index, piece, None)], **extra} for piece in pieces)
        finish = "length" if completion.truncated else "stop"
        events.append({**envelope, "choices": [choice(index, "", finish)], **extra})
    if with_usage:
        events.append({**envelope, "choices": [], "usage": usage})
    return _stream(call, events)


# -- embeddings --------------------------------------------------------------------------------


def embeddings(call: Call) -> Scripted:
    body = call.body
    requested = requested_model(call)
    if requested is None:
        return missing("model")
    inputs = _prompts(body.get("input"))
    if inputs is None:
        return bad_request("'$.input' is invalid. Please check the API reference.", param="input")
    dimensions = body.get("dimensions")
    if dimensions is None:
        dimensions = DEFAULT_EMBEDDING_DIMENSIONS
    if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
        return bad_request("Invalid value for 'dimensions': expected a positive integer.", param="dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        return bad_request(
            f"Invalid value for 'encoding_format': '{encoding}'. Expected 'float' or 'base64'.",
            param="encoding_format",
        )
    data = []
    for index, (text, tokens) in enumerate(inputs):
        vector = embedding(text or f"tokens:{tokens}:{index}", dimensions)
        encoded: object = vector
        if encoding == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    prompt_tokens = sum(tokens for _, tokens in inputs)
    return reply(
        call,
        {
            "object": "list",
            "data": data,
            "model": call.deployment_model or requested,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        },
    )


# -- models ------------------------------------------------------------------------------------


def _model_object(model_id: str) -> Json:
    owner = "system" if model_id.startswith(("text-", "o")) else "openai"
    return {"id": model_id, "object": "model", "created": 1686935002, "owned_by": owner}


def models(call: Call) -> Scripted:
    if call.resource is not None:
        return reply(call, _model_object(call.resource))
    return reply(call, {"object": "list", "data": [_model_object(m) for m in _MODEL_IDS]})
