"""How each provider dresses a chat completion: ids, extra fields, usage and stream framing.

``OpenAIShape`` is the reference; the others override only where their real API differs (kept in
one module, over the house's ~300 lines, so each provider's differences read against the
reference they override):

* Azure OpenAI: content-filter results on the prompt and every choice, the deployment's underlying
  model, and a first stream chunk with empty ``choices``, ``id``, ``model`` and ``object``;
* OpenRouter: ``gen-`` ids, a ``provider`` field, the request's model slug, usage with ``cost``
  (USD) and ``is_byok``, always a usage chunk at the end of a stream, a ``: OPENROUTER PROCESSING``
  comment before the first chunk;
* vLLM: no ``system_fingerprint``, ``prompt_tokens_details`` null, ``stop_reason`` on choices;
* Gemini: no role-only chunk, several words per chunk, the finish reason on the last content chunk,
  with ``include_usage`` a running usage on *every* chunk, no token details, and thinking tokens
  counted only in ``total_tokens`` (so ``total > prompt + completion``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ._synth import Completion, dated_model, effort_tokens, fingerprint, make_id, reasoning_budget, words

__all__ = ["Choice", "OpenAIShape", "Tokens", "shape_for"]

Json = dict[str, Any]

# OpenRouter flavour prices, USD per token: $1/M input, $0.25/M cached input, $4/M output.
OPENROUTER_INPUT_PRICE = Decimal("0.000001")
OPENROUTER_CACHED_PRICE = Decimal("0.00000025")
OPENROUTER_OUTPUT_PRICE = Decimal("0.000004")
_OPENROUTER_PROVIDERS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google",
    "deepseek": "DeepSeek",
    "meta-llama": "DeepInfra",
    "mistralai": "Mistral",
    "x-ai": "xAI",
    "qwen": "Alibaba",
}
_SAFE = {"filtered": False, "severity": "safe"}
_UNDETECTED = {"filtered": False, "detected": False}
AZURE_PROMPT_FILTERS = {
    "hate": _SAFE,
    "jailbreak": _UNDETECTED,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}
AZURE_CHOICE_FILTERS = {
    "hate": _SAFE,
    "protected_material_code": _UNDETECTED,
    "protected_material_text": _UNDETECTED,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}
_GEMINI_THINKING = re.compile(r"^(models/)?gemini-(2\.5|[3-9])")


@dataclass(frozen=True)
class Tokens:
    """Usage of one call; ``completion`` includes ``reasoning``."""

    prompt: int
    cached: int
    completion: int
    reasoning: int


@dataclass(frozen=True)
class Choice:
    """One answer: text, or a tool call whose argument pieces are in ``completion``."""

    index: int
    completion: Completion
    finish_reason: str
    tool_call: tuple[str, str] | None = None  # (call id, function name)


def azure_prompt_filter_results(prompts: int = 1) -> list[Json]:
    return [{"prompt_index": i, "content_filter_results": AZURE_PROMPT_FILTERS} for i in range(prompts)]


class OpenAIShape:
    """api.openai.com."""

    name = "openai"
    role_chunk = True
    words_per_chunk = 1
    finish_on_last_delta = False
    usage_always = False  # a usage chunk even without stream_options.include_usage
    usage_every_chunk = False
    null_usage_on_chunks = True  # "usage": null on every other chunk when include_usage

    def response_id(self, seq: int) -> str:
        return "chatcmpl-" + make_id(f"chat:{seq}", 29)

    def response_model(self, requested: str, deployment_model: str | None) -> str:
        return deployment_model or dated_model(requested)

    def reasoning(self, model: str, effort: object) -> int:
        return reasoning_budget(model, effort)

    def envelope(self, response_id: str, created: int, model: str, obj: str) -> Json:
        return {
            "id": response_id,
            "object": obj,
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": fingerprint(model),
        }

    def message(self, choice: Choice) -> Json:
        message: Json = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
        if choice.tool_call is None:
            message["content"] = choice.completion.text
        else:
            message["tool_calls"] = [self.tool_call(choice, choice.completion.text)]
        return message

    def tool_call(self, choice: Choice, arguments: str) -> Json:
        call_id, name = choice.tool_call or ("", "")
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}

    def choice(self, choice: Choice) -> Json:
        return {
            "index": choice.index,
            "message": self.message(choice),
            "logprobs": None,
            "finish_reason": choice.finish_reason,
        }

    def usage(self, tokens: Tokens) -> Json:
        return {
            "prompt_tokens": tokens.prompt,
            "completion_tokens": tokens.completion,
            "total_tokens": tokens.prompt + tokens.completion,
            "prompt_tokens_details": {"cached_tokens": tokens.cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": tokens.reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def completion(self, envelope: Json, choices: list[Choice], tokens: Tokens) -> Json:
        return {**envelope, "choices": [self.choice(c) for c in choices], "usage": self.usage(tokens)}

    # -- streaming ---------------------------------------------------------------------------

    def prelude(self, envelope: Json) -> list[Json | str]:
        """Chunks (or SSE comment lines) sent before the first real chunk."""
        return []

    def deltas(self, choice: Choice) -> list[tuple[Json, str | None]]:
        """One choice's (delta, finish_reason) sequence, in order."""
        out: list[tuple[Json, str | None]] = []
        pieces = _group(choice.completion.pieces, self.words_per_chunk)
        if choice.tool_call is not None:
            header = self.tool_call(choice, "")
            out.append(({**self.role_delta(), "content": None, "tool_calls": [{"index": 0, **header}]}, None))
            out.extend(({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}, None) for p in pieces)
        else:
            if self.role_chunk:
                out.append((self.role_delta(), None))
            out.extend(({"content": p}, None) for p in pieces)
        if self.finish_on_last_delta and out:
            last, _ = out[-1]
            out[-1] = (last, choice.finish_reason)
        else:
            out.append((self.finish_delta(), choice.finish_reason))
        return out

    def role_delta(self) -> Json:
        return {"role": "assistant", "content": "", "refusal": None}

    def finish_delta(self) -> Json:
        return {}

    def chunk_choice(self, index: int, delta: Json, finish_reason: str | None) -> Json:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    def chunk_extras(self, sequence: int) -> Json:
        """Fields added to each chunk after the others."""
        return {"obfuscation": make_id(f"obf:{sequence}", 1 + sequence % 7)}


class AzureShape(OpenAIShape):
    """Azure OpenAI, deployments API."""

    name = "azure"

    def envelope(self, response_id: str, created: int, model: str, obj: str) -> Json:
        envelope = super().envelope(response_id, created, model, obj)
        del envelope["service_tier"]
        return envelope

    def choice(self, choice: Choice) -> Json:
        return {"content_filter_results": AZURE_CHOICE_FILTERS, **super().choice(choice)}

    def completion(self, envelope: Json, choices: list[Choice], tokens: Tokens) -> Json:
        body = super().completion(envelope, choices, tokens)
        body["prompt_filter_results"] = azure_prompt_filter_results()
        return body

    def prelude(self, envelope: Json) -> list[Json | str]:
        return [
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": azure_prompt_filter_results(),
            }
        ]

    def chunk_choice(self, index: int, delta: Json, finish_reason: str | None) -> Json:
        filters = AZURE_CHOICE_FILTERS if delta.get("content") or delta.get("tool_calls") else {}
        return {"content_filter_results": filters, **super().chunk_choice(index, delta, finish_reason)}

    def chunk_extras(self, sequence: int) -> Json:
        return {}


class OpenRouterShape(OpenAIShape):
    """openrouter.ai/api/v1."""

    name = "openrouter"
    usage_always = True
    null_usage_on_chunks = False

    def response_id(self, seq: int) -> str:
        return f"gen-{1750000000 + seq}-" + make_id(f"gen:{seq}", 20)

    def response_model(self, requested: str, deployment_model: str | None) -> str:
        return requested

    def envelope(self, response_id: str, created: int, model: str, obj: str) -> Json:
        vendor = model.split("/", 1)[0] if "/" in model else "openai"
        return {
            "id": response_id,
            "provider": _OPENROUTER_PROVIDERS.get(vendor, vendor.title()),
            "model": model,
            "object": obj,
            "created": created,
        }

    def message(self, choice: Choice) -> Json:
        message = super().message(choice)
        del message["annotations"]
        message["reasoning"] = None
        return message

    def choice(self, choice: Choice) -> Json:
        body = super().choice(choice)
        body["native_finish_reason"] = choice.finish_reason
        return body

    def completion(self, envelope: Json, choices: list[Choice], tokens: Tokens) -> Json:
        return {**super().completion(envelope, choices, tokens), "system_fingerprint": None}

    def usage(self, tokens: Tokens) -> Json:
        prompt_cost = (tokens.prompt - tokens.cached) * OPENROUTER_INPUT_PRICE
        prompt_cost += tokens.cached * OPENROUTER_CACHED_PRICE
        completion_cost = tokens.completion * OPENROUTER_OUTPUT_PRICE
        return {
            "prompt_tokens": tokens.prompt,
            "completion_tokens": tokens.completion,
            "total_tokens": tokens.prompt + tokens.completion,
            "cost": float(prompt_cost + completion_cost),
            "is_byok": False,
            "prompt_tokens_details": {"cached_tokens": tokens.cached, "audio_tokens": 0},
            "cost_details": {
                "upstream_inference_cost": None,
                "upstream_inference_prompt_cost": float(prompt_cost),
                "upstream_inference_completions_cost": float(completion_cost),
            },
            "completion_tokens_details": {"reasoning_tokens": tokens.reasoning, "image_tokens": 0},
        }

    def prelude(self, envelope: Json) -> list[Json | str]:
        return [": OPENROUTER PROCESSING"]

    def role_delta(self) -> Json:
        return {"role": "assistant", "content": ""}

    def chunk_choice(self, index: int, delta: Json, finish_reason: str | None) -> Json:
        return {
            "index": index,
            "delta": {"role": "assistant", **delta} if "tool_calls" not in delta else delta,
            "finish_reason": finish_reason,
            "native_finish_reason": finish_reason,
            "logprobs": None,
        }

    def chunk_extras(self, sequence: int) -> Json:
        return {}


class VllmShape(OpenAIShape):
    """vLLM's OpenAI-compatible server."""

    name = "vllm"
    null_usage_on_chunks = False

    def response_id(self, seq: int) -> str:
        return "chatcmpl-" + make_id(f"vllm:{seq}", 32, "0123456789abcdef")

    def response_model(self, requested: str, deployment_model: str | None) -> str:
        return requested

    def envelope(self, response_id: str, created: int, model: str, obj: str) -> Json:
        return {"id": response_id, "object": obj, "created": created, "model": model}

    def message(self, choice: Choice) -> Json:
        message: Json = {"role": "assistant", "content": None, "reasoning_content": None, "tool_calls": []}
        if choice.tool_call is None:
            message["content"] = choice.completion.text
        else:
            message["tool_calls"] = [self.tool_call(choice, choice.completion.text)]
        return message

    def choice(self, choice: Choice) -> Json:
        return {**super().choice(choice), "stop_reason": None}

    def completion(self, envelope: Json, choices: list[Choice], tokens: Tokens) -> Json:
        return {**super().completion(envelope, choices, tokens), "prompt_logprobs": None}

    def usage(self, tokens: Tokens) -> Json:
        return {
            "prompt_tokens": tokens.prompt,
            "total_tokens": tokens.prompt + tokens.completion,
            "completion_tokens": tokens.completion,
            "prompt_tokens_details": None,
        }

    def role_delta(self) -> Json:
        return {"role": "assistant", "content": ""}

    def finish_delta(self) -> Json:
        return {"content": ""}

    def chunk_choice(self, index: int, delta: Json, finish_reason: str | None) -> Json:
        body = super().chunk_choice(index, delta, finish_reason)
        if finish_reason is not None:
            body["stop_reason"] = None
        return body

    def chunk_extras(self, sequence: int) -> Json:
        return {}


class GeminiShape(OpenAIShape):
    """Gemini's OpenAI-compatible endpoint (generativelanguage.googleapis.com/v1beta/openai)."""

    name = "gemini"
    role_chunk = False
    words_per_chunk = 4
    finish_on_last_delta = True
    usage_every_chunk = True
    null_usage_on_chunks = False

    def response_id(self, seq: int) -> str:
        return make_id(
            f"gemini:{seq}", 23, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
        )

    def response_model(self, requested: str, deployment_model: str | None) -> str:
        return requested.removeprefix("models/")

    def reasoning(self, model: str, effort: object) -> int:
        if not _GEMINI_THINKING.match(model) or "lite" in model:
            return 0
        return effort_tokens(effort)

    def envelope(self, response_id: str, created: int, model: str, obj: str) -> Json:
        return {"created": created, "id": response_id, "model": model, "object": obj}

    def message(self, choice: Choice) -> Json:
        if choice.tool_call is None:
            return {"content": choice.completion.text, "role": "assistant"}
        return {"role": "assistant", "tool_calls": [self.tool_call(choice, choice.completion.text)]}

    def tool_call(self, choice: Choice, arguments: str) -> Json:
        call_id, name = choice.tool_call or ("", "")
        return {"function": {"arguments": arguments, "name": name}, "id": call_id, "type": "function"}

    def choice(self, choice: Choice) -> Json:
        return {"finish_reason": choice.finish_reason, "index": choice.index, "message": self.message(choice)}

    def usage(self, tokens: Tokens) -> Json:
        visible = tokens.completion - tokens.reasoning
        return {
            "completion_tokens": visible,
            "prompt_tokens": tokens.prompt,
            "total_tokens": tokens.prompt + tokens.completion,
        }

    def deltas(self, choice: Choice) -> list[tuple[Json, str | None]]:
        if choice.tool_call is None:
            return super().deltas(choice)
        call = self.tool_call(choice, choice.completion.text)
        return [({"role": "assistant", "tool_calls": [{"index": 0, **call}]}, choice.finish_reason)]

    def chunk_choice(self, index: int, delta: Json, finish_reason: str | None) -> Json:
        body: Json = {"delta": {**delta, "role": "assistant"}, "index": index}
        if finish_reason is not None:
            body["finish_reason"] = finish_reason
        return body

    def chunk_extras(self, sequence: int) -> Json:
        return {}


_SHAPES: dict[str, OpenAIShape] = {
    shape.name: shape
    for shape in (OpenAIShape(), AzureShape(), OpenRouterShape(), VllmShape(), GeminiShape())
}
FLAVORS = ("openai", "openrouter", "vllm", "gemini")


def shape_for(flavor: str) -> OpenAIShape:
    return _SHAPES[flavor]


def _group(pieces: tuple[str, ...], size: int) -> list[str]:
    if size <= 1:
        return list(pieces)
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


def delta_tokens(delta: Mapping[str, Any]) -> int:
    """Output tokens a stream delta carries (for running usage)."""
    tokens = words(delta.get("content"))
    for call in delta.get("tool_calls") or ():
        function = call.get("function") or {}
        tokens += words(function.get("arguments"))
    return tokens
