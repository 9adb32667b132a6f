"""The floor: the least an instrumentation can do, written by hand around each call.

One CLIENT span with the GenAI attributes every peer sets (12 on a chat call), made current for
the duration of the call, plus the two semantic-conventions histograms (duration, and tokens by
type: three points). No wrapt, no patching, no response parsing beyond reading four fields: any
real instrumentation costs at least this much.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from opentelemetry.metrics import Meter
from opentelemetry.trace import SpanKind, Tracer

__all__ = ["Floor"]

_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKEN_BUCKETS = [4**i for i in range(14)]


class Floor:
    def __init__(self, tracer: Tracer, meter: Meter, address: str, port: int) -> None:
        self._tracer = tracer
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS
        )
        self._address = address
        self._port = port

    def _request(self, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": kwargs["model"],
            "server.address": self._address,
            "server.port": self._port,
        }
        if "max_tokens" in kwargs:
            attributes["gen_ai.request.max_tokens"] = kwargs["max_tokens"]
            attributes["gen_ai.request.temperature"] = kwargs["temperature"]
        return attributes

    def _finish(self, span: Any, attributes: dict[str, Any], start: float, response: Any, usage: Any) -> None:
        model = response.model
        span_attributes: dict[str, Any] = {"gen_ai.response.model": model}
        if getattr(response, "id", None):
            span_attributes["gen_ai.response.id"] = response.id
        choices = getattr(response, "choices", None)
        if choices:
            span_attributes["gen_ai.response.finish_reasons"] = [c.finish_reason or "" for c in choices]
        metric_attributes = {
            "gen_ai.operation.name": attributes["gen_ai.operation.name"],
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": attributes["gen_ai.request.model"],
            "gen_ai.response.model": model,
            "server.address": self._address,
            "server.port": self._port,
        }
        if usage is not None:
            span_attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
            completion = getattr(usage, "completion_tokens", None)
            if completion is not None:
                span_attributes["gen_ai.usage.output_tokens"] = completion
        span.set_attributes(span_attributes)
        self._duration.record(time.perf_counter() - start, metric_attributes)
        if usage is not None:
            self._tokens.record(usage.prompt_tokens, {**metric_attributes, "gen_ai.token.type": "input"})
            if completion is not None:
                self._tokens.record(completion, {**metric_attributes, "gen_ai.token.type": "output"})

    def call(self, operation: str, create: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        start = time.perf_counter()
        attributes = self._request(operation, kwargs)
        with self._tracer.start_as_current_span(
            f"{operation} {kwargs['model']}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            response = create(**kwargs)
            self._finish(span, attributes, start, response, response.usage)
        return response

    async def acall(
        self, operation: str, create: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]
    ) -> Any:
        start = time.perf_counter()
        attributes = self._request(operation, kwargs)
        with self._tracer.start_as_current_span(
            f"{operation} {kwargs['model']}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            response = await create(**kwargs)
            self._finish(span, attributes, start, response, response.usage)
        return response

    def stream(self, create: Callable[..., Iterable[Any]], kwargs: dict[str, Any]) -> int:
        """Consume a whole stream inside the span (usage comes from the last chunk); returns its length."""
        start = time.perf_counter()
        attributes = self._request("chat", kwargs)
        with self._tracer.start_as_current_span(
            f"chat {kwargs['model']}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            last = None
            count = 0
            for chunk in create(**kwargs):
                last = chunk
                count += 1
            if last is not None:
                self._finish(span, attributes, start, last, last.usage)
        return count
