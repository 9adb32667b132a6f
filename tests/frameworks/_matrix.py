"""What every framework test checks: the call made once without tokentrace and once inside
``tokentrace.track()``; the framework hands back the same thing both times, the server received one
request, and exactly one GenAI client span describes it with the tokens the server handed out, a
cost and the tracking id.

"What the server handed out" is read back from the server itself: the recorded request is sent
again, as a plain (not streamed) call, through ``urllib`` (which tokentrace does not patch), and the
usage of that answer is what the span must carry.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import tokentrace
from tests.conftest import Telemetry
from tokentrace.demo.server import DevServer, RecordedRequest

T = TypeVar("T")

PROMPT = "Say hello to the team"
MODEL = "gpt-4o-mini"
TRACKING_ID = "framework-matrix"
# The client-side inference operations of the GenAI conventions: an agent's own run span
# (``invoke_agent``) or a tool's (``execute_tool``) is not a second record of the call.
INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
# Every framework here is pointed at 127.0.0.1, a host tokentrace does not ask for stream usage on
# by default; a user of a self-hosted endpoint lists it, as the README says.
SETTINGS: dict[str, Any] = {"stream_usage_hosts": ["127.0.0.1"]}


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """An async framework call as a sync function: its own event loop, closed after."""

    async def main() -> T:
        return await make()

    return asyncio.run(main())


def close_on_thread_loop(close: Callable[[], Awaitable[None]]) -> None:
    """Close an async client used by a framework's ``run_sync``, then the loop it ran on.

    The Agents SDK's and pydantic-ai's ``run_sync`` run on the thread's default event loop and
    leave it open for the next call; the client's connections belong to that loop, so they are
    closed on it, and the loop after them (a test leaves no loop or socket behind).
    """
    policy = asyncio.get_event_loop_policy()
    loop = policy.get_event_loop()
    try:
        loop.run_until_complete(close())
    finally:
        loop.close()
        policy.set_event_loop(None)


def in_thread_pool(call: Callable[[], T]) -> T:
    """The call submitted to a ``ThreadPoolExecutor`` from the caller's thread, as apps fan work out."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return pool.submit(call).result()


def inference_spans(telemetry: Telemetry) -> list[Any]:
    return [
        span
        for span in telemetry.spans()
        if (span.attributes or {}).get("gen_ai.operation.name") in INFERENCE_OPERATIONS
    ]


def handed_out(server: DevServer, request: RecordedRequest) -> tuple[int, int]:
    """(input, output) tokens of the server's answer to ``request``, asked again without streaming."""
    body = dict(request.json)
    body.pop("stream", None)
    body.pop("stream_options", None)
    replay = urllib.request.Request(
        server.origin + request.path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-replay"},
        method="POST",
    )
    with urllib.request.urlopen(replay, timeout=30) as answer:
        usage = json.loads(answer.read())["usage"]
    if "prompt_tokens" in usage:  # chat completions
        return usage["prompt_tokens"], usage["completion_tokens"]
    return usage["input_tokens"], usage["output_tokens"]  # responses


def metric_sum(telemetry: Telemetry, name: str, **attributes: Any) -> float:
    """The sum of a histogram's points whose attributes include ``attributes``."""
    return sum(
        float(point.sum)
        for point in telemetry.metrics().get(name, [])
        if all((point.attributes or {}).get(key) == value for key, value in attributes.items())
    )


def metric_count(telemetry: Telemetry, name: str) -> int:
    return sum(point.count for point in telemetry.metrics().get(name, []))


class Matrix:
    """One framework call, checked without and with tokentrace."""

    def __init__(self, server: DevServer, instrument: Callable[..., Any], telemetry: Telemetry) -> None:
        self.server = server
        self._instrument = instrument
        self.telemetry = telemetry

    def check(
        self,
        call: Callable[[], T],
        *,
        api_path: str = "/v1/chat/completions",
        alongside: Callable[[], None] | None = None,
    ) -> Any:
        """Run ``call`` bare, then instrumented inside ``track()``; assert the record; return the span.

        ``alongside`` switches on another GenAI instrumentation next to tokentrace (after the bare
        call, which runs with none).
        """
        bare = call()
        if alongside is not None:
            alongside()
        self._instrument(**SETTINGS)
        before = len(self.server.requests)
        with tokentrace.track(TRACKING_ID):
            seen = call()
        assert seen == bare, "the framework's output changed under tokentrace"
        sent = self.server.requests[before:]
        assert [request.path for request in sent] == [api_path]
        spans = inference_spans(self.telemetry)
        assert len(spans) == 1, [(span.name, (span.instrumentation_scope or span).name) for span in spans]
        attrs = dict(spans[0].attributes or {})
        input_tokens, output_tokens = handed_out(self.server, sent[0])
        assert (attrs.get("gen_ai.usage.input_tokens"), attrs.get("gen_ai.usage.output_tokens")) == (
            input_tokens,
            output_tokens,
        ), "the span's tokens are not the server's"
        assert attrs.get("gen_ai.usage.cost.amount", 0) > 0, "no cost"
        assert attrs.get("tokentrace.tracking_id") == TRACKING_ID, "the tracking id did not reach the call"
        return spans[0]

    def check_tokens_counted_once(self, span: Any) -> None:
        """The token and duration histograms hold this one call once, whoever recorded it."""
        attrs = dict(span.attributes or {})
        tokens = "gen_ai.client.token.usage"
        assert (
            metric_sum(self.telemetry, tokens, **{"gen_ai.token.type": "input"})
            == attrs["gen_ai.usage.input_tokens"]
        )
        assert (
            metric_sum(self.telemetry, tokens, **{"gen_ai.token.type": "output"})
            == attrs["gen_ai.usage.output_tokens"]
        )
        assert metric_count(self.telemetry, "gen_ai.client.operation.duration") == 1
