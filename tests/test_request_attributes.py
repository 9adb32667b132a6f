"""The request parameters a span records: only the ones the body holds, valid, and for the right API."""

from __future__ import annotations

from typing import Any

import pytest

from tokentrace.calls.apis import ApiKind
from tokentrace.calls.apis.request import request_attributes


def test_chat_parameters() -> None:
    body = {
        "model": "gpt-4.1",
        "messages": [],
        "temperature": 0.2,
        "top_p": 1,
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
        "seed": 7,
        "n": 3,
        "stop": ["\n", "END"],
        "stream": True,
        "service_tier": "flex",
        "response_format": {"type": "json_schema", "json_schema": {}},
    }
    assert request_attributes(ApiKind.CHAT, body, openai_api=True) == {
        "openai.api.type": "chat_completions",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 1,
        "gen_ai.request.frequency_penalty": 0.5,
        "gen_ai.request.presence_penalty": -0.5,
        "gen_ai.request.seed": 7,
        "gen_ai.request.choice.count": 3,
        "gen_ai.request.stop_sequences": ("\n", "END"),
        "gen_ai.request.stream": True,
        "openai.request.service_tier": "flex",
        "gen_ai.output.type": "json",
    }


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"max_tokens": 64}, 64),
        ({"max_completion_tokens": 32, "max_tokens": 64}, 32),
        ({"max_completion_tokens": None, "max_tokens": 64}, 64),
        ({"max_completion_tokens": "32", "max_tokens": 64}, 64),
        ({"max_output_tokens": 16}, 16),
        ({"max_tokens": True}, None),
    ],
)
def test_max_tokens_first_valid_one_wins(limits: dict[str, Any], expected: int | None) -> None:
    attrs = request_attributes(ApiKind.CHAT, {"model": "m", **limits})
    assert attrs.get("gen_ai.request.max_tokens") == expected


def test_invalid_and_default_values_are_left_out() -> None:
    body = {
        "model": "m",
        "temperature": "hot",
        "top_p": None,
        "top_k": True,
        "seed": 1.5,
        "n": 1,
        "stop": ["ok", 3],
        "stream": "yes",
        "service_tier": "auto",
        "response_format": {"type": "regex"},
    }
    assert request_attributes(ApiKind.CHAT, body, openai_api=True) == {"openai.api.type": "chat_completions"}


def test_openai_attributes_only_for_openai() -> None:
    body = {"model": "m", "service_tier": "flex", "stop": "\n"}
    assert request_attributes(ApiKind.CHAT, body, openai_api=False) == {
        "gen_ai.request.stop_sequences": ("\n",)
    }


def test_embeddings_parameters() -> None:
    body = {"model": "e", "input": "hi", "encoding_format": "base64", "dimensions": 256, "temperature": 1}
    assert request_attributes(ApiKind.EMBEDDINGS, body, openai_api=True) == {
        "gen_ai.request.encoding_formats": ("base64",),
        "gen_ai.embeddings.dimension.count": 256,
        "gen_ai.request.temperature": 1,
    }
    # the embeddings-only keys mean nothing on another API
    assert (
        request_attributes(ApiKind.CHAT, {"model": "m", "dimensions": 256, "encoding_format": "float"}) == {}
    )


def test_responses_parameters() -> None:
    body = {
        "model": "m",
        "input": "hi",
        "max_output_tokens": 100,
        "text": {"format": {"type": "text"}},
        "conversation": {"id": "conv_1"},
    }
    assert request_attributes(ApiKind.RESPONSES, body, openai_api=True) == {
        "openai.api.type": "responses",
        "gen_ai.request.max_tokens": 100,
        "gen_ai.output.type": "text",
        "gen_ai.conversation.id": "conv_1",
    }
    # a conversation is a Responses API notion only
    assert "gen_ai.conversation.id" not in request_attributes(ApiKind.CHAT, {"conversation": "c"})


def test_any_mapping_body() -> None:
    from types import MappingProxyType

    assert request_attributes(ApiKind.CHAT, MappingProxyType({"temperature": 0.0})) == {
        "gen_ai.request.temperature": 0.0
    }
