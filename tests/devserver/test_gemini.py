"""The local server's Gemini API, driven by the real google-genai SDK (Developer API and Vertex AI)
and by plain HTTP where the wire itself is the point."""

from __future__ import annotations

import json
from collections.abc import Iterator

import google.oauth2.credentials
import httpx
import pytest
from google import genai
from google.genai import errors, types

from tokentrace.demo import server as devserver
from tokentrace.demo.server import DevServer

QUESTION = "Say hello to the team"  # one user turn: 3 + 5 tokens
REPLY = "Reply 1: Say hello to the team"  # 7 tokens
KEY = "AIza-test-key"
THINKING = 16  # what a thinking model (gemini-2.5-flash) thinks by default
VERTEX_BASE = "/v1beta1/projects/demo-project/locations/us-central1/publishers/google/models/"


@pytest.fixture
def client(server: DevServer) -> Iterator[genai.Client]:
    server.reset()
    with genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.origin)) as sdk:
        yield sdk


@pytest.fixture
def vertex(server: DevServer) -> Iterator[genai.Client]:
    server.reset()
    # A token that never expires: the SDK asks Google for nothing.
    credentials = google.oauth2.credentials.Credentials(token="ya29.test")  # type: ignore[no-untyped-call]
    with genai.Client(
        vertexai=True,
        project="demo-project",
        location="us-central1",
        credentials=credentials,
        http_options=types.HttpOptions(base_url=server.origin),
    ) as sdk:
        yield sdk


def _usage(response: types.GenerateContentResponse) -> types.GenerateContentResponseUsageMetadata:
    assert response.usage_metadata is not None
    return response.usage_metadata


def _counts(usage: types.GenerateContentResponseUsageMetadata) -> tuple[int | None, ...]:
    """(prompt, answer, thought) tokens."""
    return usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count


def _finish(response: types.GenerateContentResponse) -> types.FinishReason | None:
    assert response.candidates
    return response.candidates[0].finish_reason


# -- generateContent ----------------------------------------------------------------------------


def test_generate_content_with_thinking_usage(client: genai.Client, server: DevServer) -> None:
    response = client.models.generate_content(model="gemini-2.5-flash", contents=QUESTION)

    assert response.text == REPLY
    assert _finish(response) == types.FinishReason.STOP
    usage = _usage(response)
    assert _counts(usage) == (8, 7, THINKING)
    assert usage.total_token_count == 8 + 7 + THINKING
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details[0].modality == types.MediaModality.TEXT
    assert usage.prompt_tokens_details[0].token_count == 8
    assert response.model_version == "gemini-2.5-flash"
    assert response.response_id
    (request,) = server.requests
    assert request.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"] == KEY


def test_v1beta_paths_and_models_without_thinking(server: DevServer) -> None:
    server.reset()
    options = types.HttpOptions(base_url=server.origin, api_version="v1beta")
    with genai.Client(api_key=KEY, http_options=options) as client:
        response = client.models.generate_content(model="gemini-2.0-flash", contents=QUESTION)

    assert response.text == REPLY
    assert _usage(response).thoughts_token_count is None
    assert _usage(response).total_token_count == 15
    assert server.requests[0].path == "/v1beta/models/gemini-2.0-flash:generateContent"


def test_max_output_tokens_spends_thoughts_first(client: genai.Client) -> None:
    plain = client.models.generate_content(
        model="gemini-2.0-flash", contents=QUESTION, config=types.GenerateContentConfig(max_output_tokens=3)
    )
    thinking = client.models.generate_content(
        model="gemini-2.5-flash", contents=QUESTION, config=types.GenerateContentConfig(max_output_tokens=10)
    )

    assert plain.text == "Reply 1: Say"
    assert _finish(plain) == types.FinishReason.MAX_TOKENS
    assert thinking.text is None  # all ten tokens went to thinking
    assert _finish(thinking) == types.FinishReason.MAX_TOKENS
    assert _usage(thinking).thoughts_token_count == 10
    assert _usage(thinking).candidates_token_count is None


def test_thinking_budget_and_system_instruction_and_tools(client: genai.Client) -> None:
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather")])
    config = types.GenerateContentConfig(
        system_instruction="You are terse.",
        tools=[tool],
        thinking_config=types.ThinkingConfig(thinking_budget=4),
    )
    response = client.models.generate_content(model="gemini-2.5-flash", contents=QUESTION, config=config)
    counted = client.models.count_tokens(model="gemini-2.5-flash", contents=QUESTION)

    assert _usage(response).prompt_token_count == 8 + (3 + 3) + 10
    assert _usage(response).thoughts_token_count == 4
    assert counted.total_tokens == 8


def test_candidate_count_and_implicit_cache(client: genai.Client) -> None:
    long_turn = " ".join(["word"] * 40)  # 3 + 40 tokens, first in the prompt: served from the cache
    contents: list[types.ContentUnionDict] = [
        {"role": "user", "parts": [{"text": long_turn}]},
        {"role": "model", "parts": [{"text": "Noted."}]},
        {"role": "user", "parts": [{"text": QUESTION}]},
    ]
    config = types.GenerateContentConfig(candidate_count=2)
    response = client.models.generate_content(model="gemini-2.0-flash", contents=contents, config=config)

    assert response.candidates is not None
    texts = [c.content.parts[0].text for c in response.candidates if c.content and c.content.parts]
    assert texts == [REPLY, "Reply 2: Say hello to the team"]
    usage = _usage(response)
    assert usage.prompt_token_count == 43 + 4 + 8
    assert usage.cached_content_token_count == 43
    assert usage.candidates_token_count == 14


# -- streamGenerateContent ----------------------------------------------------------------------


def test_stream_chunks_carry_running_usage_and_end_with_totals(
    client: genai.Client, server: DevServer
) -> None:
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=QUESTION))

    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    assert [chunk.text for chunk in chunks] == ["Reply 1: Say hello", " to the team"]
    assert [_finish(chunk) for chunk in chunks] == [None, types.FinishReason.STOP]
    assert [_usage(chunk).candidates_token_count for chunk in chunks] == [4, 7]
    assert all(_usage(chunk).thoughts_token_count == THINKING for chunk in chunks)
    assert _usage(chunks[-1]).total_token_count == 8 + 7 + THINKING
    assert server.requests[0].path.endswith("/models/gemini-2.5-flash:streamGenerateContent")
    assert server.requests[0].query == {"alt": "sse"}


def test_stream_wire_sse_with_query_key_and_json_array_without_alt(server: DevServer) -> None:
    server.reset()
    url = server.origin + "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": QUESTION}]}]}
    as_sse = httpx.post(url, params={"alt": "sse", "key": KEY}, json=body)
    as_array = httpx.post(url, json=body, headers={"x-goog-api-key": KEY})

    assert as_sse.headers["content-type"].startswith("text/event-stream")
    events = as_sse.text.split("\r\n\r\n")
    assert events[-1] == ""
    sse_chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    array_chunks = as_array.json()
    assert as_array.headers["content-type"].startswith("application/json")
    for chunks in (sse_chunks, array_chunks):
        assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == REPLY
        assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
        assert chunks[-1]["usageMetadata"]["totalTokenCount"] == 15
    assert server.requests[0].query == {"alt": "sse", "key": KEY}


async def test_async_generate_and_stream(client: genai.Client) -> None:
    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=QUESTION)
    stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents=QUESTION)
    chunks = [chunk async for chunk in stream]
    await client.aio.aclose()

    assert response.text == REPLY
    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    assert _usage(chunks[-1]).candidates_token_count == 7


# -- embeddings, errors, scripting --------------------------------------------------------------


def test_embed_content_batches_and_is_deterministic(client: genai.Client, server: DevServer) -> None:
    config = types.EmbedContentConfig(output_dimensionality=4)
    first = client.models.embed_content(model="gemini-embedding-001", contents=["a b", "c"], config=config)
    again = client.models.embed_content(model="gemini-embedding-001", contents=["a b"], config=config)
    single = httpx.post(
        server.origin + "/v1beta/models/gemini-embedding-001:embedContent",
        json={"content": {"parts": [{"text": "a b"}]}, "outputDimensionality": 4},
    ).json()

    assert first.embeddings is not None
    assert again.embeddings is not None
    assert [len(e.values or []) for e in first.embeddings] == [4, 4]
    assert first.embeddings[0].values == again.embeddings[0].values == single["embedding"]["values"]
    assert first.embeddings[0].values != first.embeddings[1].values
    assert server.requests[0].path.endswith("/models/gemini-embedding-001:batchEmbedContents")


def test_errors_in_google_shape(client: genai.Client, server: DevServer) -> None:
    base = server.origin + "/v1beta/models/gemini-2.0-flash"
    empty = httpx.post(base + ":generateContent", json={"contents": []})
    unknown = httpx.post(base + ":summonDragons", json={})
    garbled = httpx.post(base + ":generateContent", content=b"{not json")

    assert empty.status_code == 400
    assert empty.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert empty.json()["error"]["code"] == 400
    assert unknown.status_code == 404
    assert unknown.json()["error"]["status"] == "NOT_FOUND"
    assert garbled.status_code == 400
    assert garbled.json()["error"]["message"].startswith("Invalid JSON payload")


def test_scripted_errors_reach_the_sdk(client: genai.Client, server: DevServer) -> None:
    server.script(devserver.google_status(429))
    with pytest.raises(errors.ClientError) as limited:
        client.models.generate_content(model="gemini-2.0-flash", contents=QUESTION)
    server.script_model("gemini-2.5-pro", devserver.google_status(503))
    with pytest.raises(errors.ServerError) as unavailable:
        client.models.generate_content(model="gemini-2.5-pro", contents=QUESTION)
    other = client.models.generate_content(model="gemini-2.5-flash", contents=QUESTION)

    assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert unavailable.value.code == 503
    assert other.text == REPLY


# -- Vertex AI ----------------------------------------------------------------------------------


def test_vertex_generate_stream_and_count(vertex: genai.Client, server: DevServer) -> None:
    response = vertex.models.generate_content(model="gemini-2.5-flash", contents=QUESTION)
    chunks = list(vertex.models.generate_content_stream(model="gemini-2.5-flash", contents=QUESTION))
    counted = vertex.models.count_tokens(model="gemini-2.5-flash", contents=QUESTION)

    assert response.text == REPLY
    usage = _usage(response)
    assert _counts(usage) == (8, 7, THINKING)
    assert usage.traffic_type == types.TrafficType.ON_DEMAND
    assert response.create_time is not None
    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    assert counted.total_tokens == 8
    methods = ["generateContent", "streamGenerateContent", "countTokens"]
    assert [r.path for r in server.requests] == [f"{VERTEX_BASE}gemini-2.5-flash:{m}" for m in methods]
    assert server.requests[0].headers["authorization"] == "Bearer ya29.test"


def test_vertex_embeddings_predict_and_embed_content(vertex: genai.Client, server: DevServer) -> None:
    predicted = vertex.models.embed_content(model="text-embedding-005", contents=["a b", "c"])
    embedded = vertex.models.embed_content(model="gemini-embedding-001", contents=["a b c"])

    assert predicted.embeddings is not None
    assert [e.statistics.token_count if e.statistics else None for e in predicted.embeddings] == [2, 1]
    assert predicted.metadata is not None
    assert predicted.metadata.billable_character_count == 3
    assert embedded.usage_metadata is not None
    assert embedded.usage_metadata.prompt_token_count == 3
    assert [r.path.rsplit(":", 1)[1] for r in server.requests] == ["predict", "embedContent"]


async def test_vertex_async_stream(vertex: genai.Client, server: DevServer) -> None:
    stream = await vertex.aio.models.generate_content_stream(model="gemini-2.0-flash", contents=QUESTION)
    chunks = [chunk async for chunk in stream]
    await vertex.aio.aclose()

    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    assert _finish(chunks[-1]) == types.FinishReason.STOP
    assert server.requests[0].path == f"{VERTEX_BASE}gemini-2.0-flash:streamGenerateContent"
