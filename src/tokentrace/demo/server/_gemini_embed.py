"""Gemini embeddings: ``embedContent`` and ``batchEmbedContents`` (Developer API and Vertex AI),
and Vertex AI's ``predict`` for its text-embedding models.

An input costs its words (no per-message overhead, as for OpenAI embeddings); vectors have
``outputDimensionality`` values (8 unless asked), derived from the text alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._endpoints import DEFAULT_EMBEDDING_DIMENSIONS
from ._gemini import GeminiCall, contents_text
from ._google import field, google_error, invalid_argument, reply
from ._scripted import Scripted
from ._shapes import Json
from ._synth import embedding, words

__all__ = ["EMBEDDING_METHODS"]


def _dimensions(*sources: object) -> int | Scripted:
    """``outputDimensionality`` from the first place that names it (request, its config...)."""
    for source in sources:
        value = field(source, "outputDimensionality")
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                return invalid_argument("outputDimensionality must be a positive integer.")
            return value
    return DEFAULT_EMBEDDING_DIMENSIONS


def _one(request: Mapping[str, Any]) -> tuple[str, int] | Scripted:
    """(text, dimensions) of one embedContent request."""
    if not isinstance(request.get("content"), (Mapping, str)):
        return invalid_argument("* EmbedContentRequest.content: content is not specified\n")
    dimensions = _dimensions(request, field(request, "embedContentConfig"))
    if isinstance(dimensions, Scripted):
        return dimensions
    return contents_text(request["content"]), dimensions


def embed_content(call: GeminiCall) -> Scripted:
    found = _one(call.body)
    if isinstance(found, Scripted):
        return found
    text, dimensions = found
    answer: Json = {"embedding": {"values": embedding(text, dimensions)}}
    if call.vertex:
        tokens = words(text)
        answer["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        answer["truncated"] = False
    return reply(answer)


def batch_embed_contents(call: GeminiCall) -> Scripted:
    requests = call.body.get("requests")
    if not isinstance(requests, list) or not requests:
        return invalid_argument("* BatchEmbedContentsRequest.requests: requests is not specified\n")
    values = []
    for request in requests:
        found = _one(request) if isinstance(request, Mapping) else invalid_argument("Invalid request.")
        if isinstance(found, Scripted):
            return found
        values.append({"values": embedding(*found)})
    return reply({"embeddings": values})


def predict(call: GeminiCall) -> Scripted:
    """Vertex AI ``predict`` for text embeddings: ``instances[].content``, ``parameters``."""
    if not call.vertex:
        return reply(google_error(404, "Method not found: predict."), 404)
    instances = call.body.get("instances")
    if not isinstance(instances, list) or not instances:
        return invalid_argument("instances must be a non-empty list.")
    dimensions = _dimensions(call.body.get("parameters"))
    if isinstance(dimensions, Scripted):
        return dimensions
    predictions = []
    characters = 0
    for instance in instances:
        content = instance.get("content") if isinstance(instance, Mapping) else None
        if not isinstance(content, str):
            return invalid_argument("This server's predict answers text embeddings: instances[].content.")
        characters += len("".join(content.split()))
        statistics = {"truncated": False, "token_count": words(content)}
        predictions.append(
            {"embeddings": {"statistics": statistics, "values": embedding(content, dimensions)}}
        )
    return reply({"predictions": predictions, "metadata": {"billableCharacterCount": characters}})


EMBEDDING_METHODS: dict[str, Callable[[GeminiCall], Scripted]] = {
    "embedContent": embed_content,
    "batchEmbedContents": batch_embed_contents,
    "predict": predict,
}
