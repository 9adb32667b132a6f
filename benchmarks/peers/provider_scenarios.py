"""The provider-SDK scenarios, built inside a row's venv: each SDK's own client on an httpx2
``MockTransport`` answering canned bodies in the provider's shape (``provider_payloads``).

google-genai takes the client as ``HttpOptions(httpx_client=...)`` (its default base URL and API
version stay, so the request goes where a real one goes); anthropic and openai take
``http_client=``. Only the scenarios asked for are built, so a venv needs only its own SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import provider_payloads as canned
from . import scenarios
from .scenarios import Scenario

__all__ = ["build"]

_JSON = "application/json"
_SSE = "text/event-stream"


def _mock_client(body: bytes | list[bytes], content_type: str) -> Any:
    """An httpx2 client answering ``body``; a list of events is sent as a streamed body, one
    event at a time, as a network would (a ``bytes`` body is in memory from the start, which
    tokentrace reads at once rather than through its pass-through)."""
    import httpx2

    headers = {"content-type": content_type}

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers=headers, content=iter(body) if isinstance(body, list) else body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def _gemini_client(body: bytes | list[bytes], content_type: str) -> Any:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(httpx_client=_mock_client(body, content_type))
    return genai.Client(api_key="bench-not-a-real-key", http_options=options)


def _check_gemini(result: Any) -> None:
    usage = result.usage_metadata
    if not result.text or usage is None or not usage.candidates_token_count:
        raise AssertionError(f"unexpected Gemini result: {result!r}")


def _check_stream(chunks: int) -> Callable[[Any], None]:
    def check(seen: Any) -> None:
        if seen != chunks:
            raise AssertionError(f"the Gemini stream yielded {seen} chunks, expected {chunks}")

    return check


def _gemini(stream_chunks: int) -> tuple[Scenario, Scenario]:
    from google.genai import types

    config = types.GenerateContentConfig(**canned.GEMINI_CONFIG)  # type: ignore[arg-type]
    model, question = canned.GEMINI_MODEL, canned.QUESTION
    generate = _gemini_client(canned.gemini_response(), _JSON).models.generate_content
    stream = _gemini_client(canned.gemini_stream(stream_chunks), _SSE).models.generate_content_stream

    def once() -> Any:
        return generate(model=model, contents=question, config=config)

    def stream_once() -> int:
        seen, last = 0, None
        for chunk in stream(model=model, contents=question, config=config):
            seen, last = seen + 1, chunk
        if last is None or last.usage_metadata is None or not last.usage_metadata.candidates_token_count:
            raise AssertionError(f"the Gemini stream's last chunk has no usage: {last!r}")
        return seen

    return (
        Scenario("gemini", once, check=_check_gemini),
        Scenario("gemini-stream", stream_once, check=_check_stream(stream_chunks)),
    )


def _anthropic() -> Scenario:
    import anthropic

    client = anthropic.Anthropic(
        api_key="sk-ant-bench-not-a-real-key",
        max_retries=0,
        http_client=_mock_client(canned.anthropic_message(), _JSON),
    )
    create, args = client.messages.create, canned.ANTHROPIC_ARGS

    def once() -> Any:
        return create(**args)

    def check(result: Any) -> None:
        if not result.content[0].text or result.usage.output_tokens <= 0:
            raise AssertionError(f"unexpected Anthropic result: {result!r}")

    return Scenario("anthropic", once, check=check)


def _openai() -> Scenario:
    """The existing harness's sync chat (openai 3.x on httpx2, mock transport), for comparison."""
    (chat,) = [s for s in scenarios.build("mock", 3, None, None, False) if s.key == "chat"]
    return Scenario("openai", chat.once, check=chat.check)


def build(keys: Iterable[str], stream_chunks: int = canned.GEMINI_STREAM_CHUNKS) -> list[Scenario]:
    """The scenarios named by ``keys``, in that order."""
    wanted = list(keys)
    built: dict[str, Scenario] = {}
    if "openai" in wanted:
        built["openai"] = _openai()
    if "gemini" in wanted or "gemini-stream" in wanted:
        for scenario in _gemini(stream_chunks):
            built[scenario.key] = scenario
    if "anthropic" in wanted:
        built["anthropic"] = _anthropic()
    return [built[key] for key in wanted]
