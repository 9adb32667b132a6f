"""Which provider a base URL belongs to, as a ``gen_ai.provider.name`` value.

Resolved once per base URL and cached, so the per-call cost is one dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["OPENAI_PROVIDERS", "Endpoint", "endpoint_for", "host_matches", "provider_for_host"]

OPENAI_PROVIDERS = frozenset({"openai", "azure.ai.openai"})
"""Providers of OpenAI's own API, the only ones the ``openai.*`` attributes belong to."""

# Exact hosts first, then suffixes; values are the semantic conventions' well-known provider names
# where one exists, else a short stable id.
_EXACT_HOSTS: dict[str, str] = {
    "api.openai.com": "openai",
    "api.deepseek.com": "deepseek",
    "openrouter.ai": "openrouter",
    "api.groq.com": "groq",
    "generativelanguage.googleapis.com": "gcp.gemini",
    "api.anthropic.com": "anthropic",
    "api.x.ai": "x_ai",
    "api.mistral.ai": "mistral_ai",
    "api.perplexity.ai": "perplexity",
    "api.together.xyz": "together",
    "api.fireworks.ai": "fireworks",
    "api.cohere.com": "cohere",
    "api.cohere.ai": "cohere",
    "api.moonshot.ai": "moonshot",
    "api.cerebras.ai": "cerebras",
}
_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".openai.azure.com", "azure.ai.openai"),
    (".cognitiveservices.azure.com", "azure.ai.openai"),
    (".services.ai.azure.com", "azure.ai.inference"),
    (".models.ai.azure.com", "azure.ai.inference"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    (".amazonaws.com", "aws.bedrock"),
    (".openai.com", "openai"),
)


def provider_for_host(host: str) -> str:
    """The provider name for a host; an unknown host is its own name (a gateway, a local server)."""
    host = host.lower()
    known = _EXACT_HOSTS.get(host)
    if known is not None:
        return known
    for suffix, provider in _SUFFIXES:
        if host.endswith(suffix):
            return provider
    return host


def host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    """True when ``host`` equals a pattern, or ends with one that starts with a dot."""
    host = host.lower()
    for pattern in patterns:
        if pattern.startswith(".") and (host.endswith(pattern) or host == pattern[1:]):
            return True
        if host == pattern:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Endpoint:
    provider: str
    address: str
    port: int


_DEFAULT_PORTS = {"https": 443, "http": 80}
_cache: dict[str, Endpoint] = {}


def endpoint_for(base_url: str) -> Endpoint:
    """Provider, ``server.address`` and ``server.port`` of a base URL (cached)."""
    found = _cache.get(base_url)
    if found is not None:
        return found
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)
    except ValueError:
        port = _DEFAULT_PORTS.get(parts.scheme, 443)
    found = Endpoint(provider_for_host(host), host, port)
    if len(_cache) < 1024:  # base URLs are few; bound the cache anyway
        _cache[base_url] = found
    return found
