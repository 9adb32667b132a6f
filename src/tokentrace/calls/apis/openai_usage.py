"""Usage as OpenAI-compatible APIs report it: chat, legacy completions, embeddings, Responses.

Also the variants providers and gateways send in the same place: DeepSeek's cache hits at the top
level, cache writes of gateways fronting Anthropic models, OpenRouter's ``usage.cost``.

A usage is valid or unknown: one field read for the price that holds no count (``fields.count``)
makes the whole usage unknown. A detail larger than its total (cached input above the prompt,
reasoning above the completion) is cut to that total, so a call is never priced above what its
own totals allow.
"""

from __future__ import annotations

from typing import Any

from ..fields import InvalidUsage, count, money, view
from ..records import Usage

__all__ = ["usage_from"]


def usage_from(raw: Any) -> Usage | None:
    """Usage of any OpenAI-compatible shape (chat/completions, responses, embeddings); None when
    absent or invalid."""
    if raw is None:
        return None
    try:
        return _usage(raw)
    except InvalidUsage:
        return None


def _usage(raw: Any) -> Usage | None:
    fields = view(raw)
    get = fields.get
    input_tokens = count(get("prompt_tokens"))
    output_tokens = count(get("completion_tokens"))
    if input_tokens is None and output_tokens is None:  # Responses API names
        input_tokens = count(get("input_tokens"))
        output_tokens = count(get("output_tokens"))
        in_details = get("input_tokens_details")
        out_details = get("output_tokens_details")
    else:
        in_details = get("prompt_tokens_details")
        out_details = get("completion_tokens_details")
    cache_read = cache_write = reasoning = None
    if in_details is not None:
        details = view(in_details)
        cache_read = count(details.get("cached_tokens"))
        cache_write = count(details.get("cache_write_tokens"))
    if out_details is not None:
        reasoning = count(view(out_details).get("reasoning_tokens"))
    if cache_read is None:  # DeepSeek reports cache hits at the top level
        cache_read = count(get("prompt_cache_hit_tokens"))
    if cache_write is None:  # gateways fronting Anthropic models
        cache_write = count(get("cache_creation_input_tokens"))
    provider_cost = get("cost")
    if provider_cost is not None:
        provider_cost = money(provider_cost)
    if input_tokens is None and output_tokens is None and provider_cost is None:
        return None
    if cache_read or cache_write:
        # Cache reads first, then writes, within the prompt: no detail prices above its total.
        prompt = input_tokens or 0
        if cache_read is not None and cache_read > prompt:
            cache_read = prompt
        if cache_write is not None and cache_write > prompt - (cache_read or 0):
            cache_write = prompt - (cache_read or 0)
    if reasoning and reasoning > (output_tokens or 0):
        reasoning = output_tokens or 0
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
        provider_cost=provider_cost,
    )
