"""Usage as OpenAI-compatible APIs report it: chat, legacy completions, embeddings, Responses.

Also the variants providers and gateways send in the same place: DeepSeek's cache hits at the top
level, cache writes of gateways fronting Anthropic models, OpenRouter's ``usage.cost``.
"""

from __future__ import annotations

from typing import Any

from ..fields import count, money, view
from ..records import Usage

__all__ = ["usage_from"]


def usage_from(raw: Any) -> Usage | None:
    """Usage of any OpenAI-compatible shape (chat/completions, responses, embeddings)."""
    if raw is None:
        return None
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
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
        provider_cost=provider_cost,
    )
