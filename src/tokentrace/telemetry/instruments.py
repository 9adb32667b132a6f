"""The metric instruments of each semantic-convention generation, created once per recorder.

``StableInstruments`` emits semantic-conventions v1.41.0; ``LatestInstruments`` the newer GenAI
conventions (``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``). The recorder picks one at
``instrument()`` time, so no call pays for the choice.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import Histogram, Meter

from .. import names
from ..calls.records import Usage

__all__ = ["LatestInstruments", "StableInstruments", "make_instruments"]


def _duration_histogram(meter: Meter, name: str, description: str) -> Histogram:
    return meter.create_histogram(
        name,
        unit=names.UNIT_SECONDS,
        description=description,
        explicit_bucket_boundaries_advisory=list(names.DURATION_BUCKETS),
    )


def _token_histogram(meter: Meter, name: str, description: str) -> Histogram:
    return meter.create_histogram(
        name,
        unit=names.UNIT_TOKEN,
        description=description,
        explicit_bucket_boundaries_advisory=list(names.TOKEN_BUCKETS),
    )


class StableInstruments:
    """v1.41.0: duration, time to first chunk, one token histogram split by token type."""

    def __init__(self, meter: Meter) -> None:
        metric_names = names.STABLE
        self.duration = _duration_histogram(
            meter, metric_names.operation_duration, "Duration of a GenAI client operation."
        )
        self.time_to_first_chunk = _duration_histogram(
            meter, metric_names.time_to_first_chunk, "Time to the first chunk of a streamed response."
        )
        assert metric_names.token_usage is not None
        self._tokens = _token_histogram(meter, metric_names.token_usage, "Input and output tokens per call.")

    def record(
        self,
        operation: str,
        duration: float,
        ttfc: float | None,
        usage: Usage | None,
        attributes: dict[str, Any],
    ) -> None:
        self.duration.record(duration, attributes)
        if ttfc is not None:
            self.time_to_first_chunk.record(ttfc, attributes)
        if usage is None:  # the provider said nothing: report nothing, never a made-up zero
            return
        if usage.input_tokens is not None:
            self._tokens.record(
                usage.input_tokens, {**attributes, names.GEN_AI_TOKEN_TYPE: names.TOKEN_INPUT}
            )
        if usage.output_tokens is not None:
            self._tokens.record(
                usage.output_tokens, {**attributes, names.GEN_AI_TOKEN_TYPE: names.TOKEN_OUTPUT}
            )

    def record_usage(self, operation: str, usage: Usage | None, attributes: dict[str, Any]) -> None:
        """The token histogram alone: the tokens of a call whose other instrumentation never saw them."""
        if usage is None:
            return
        if usage.input_tokens is not None:
            self._tokens.record(
                usage.input_tokens, {**attributes, names.GEN_AI_TOKEN_TYPE: names.TOKEN_INPUT}
            )
        if usage.output_tokens is not None:
            self._tokens.record(
                usage.output_tokens, {**attributes, names.GEN_AI_TOKEN_TYPE: names.TOKEN_OUTPUT}
            )


class LatestInstruments:
    """semantic-conventions-genai: per-kind usage counters, per-call token histograms, embeddings apart."""

    def __init__(self, meter: Meter) -> None:
        metric_names = names.LATEST
        self.duration = _duration_histogram(
            meter, metric_names.operation_duration, "Duration of a GenAI inference call."
        )
        self.embeddings_duration = _duration_histogram(
            meter, metric_names.embeddings_duration, "Duration of a GenAI embeddings call."
        )
        self.time_to_first_chunk = _duration_histogram(
            meter, metric_names.time_to_first_chunk, "Time to the first chunk of a streamed response."
        )
        assert metric_names.input_tokens_histogram and metric_names.output_tokens_histogram
        assert metric_names.embeddings_input_tokens_histogram
        self._input = _token_histogram(meter, metric_names.input_tokens_histogram, "Input tokens per call.")
        self._output = _token_histogram(
            meter, metric_names.output_tokens_histogram, "Output tokens per call."
        )
        self._embeddings_input = _token_histogram(
            meter, metric_names.embeddings_input_tokens_histogram, "Input tokens per embeddings call."
        )
        self._counters = tuple(
            (field, meter.create_counter(name, unit=names.UNIT_TOKEN, description="Tokens used."))
            for field, name in metric_names.usage_counters
        )

    def record(
        self,
        operation: str,
        duration: float,
        ttfc: float | None,
        usage: Usage | None,
        attributes: dict[str, Any],
    ) -> None:
        # The newer conventions record usage for every call, failed ones included, as 0 when unknown.
        input_tokens = (usage.input_tokens if usage is not None else None) or 0
        if operation == names.OP_EMBEDDINGS:
            self.embeddings_duration.record(duration, attributes)
            self._embeddings_input.record(input_tokens, attributes)
            return
        self.duration.record(duration, attributes)
        if ttfc is not None:
            self.time_to_first_chunk.record(ttfc, attributes)
        self._input.record(input_tokens, attributes)
        self._output.record((usage.output_tokens if usage is not None else None) or 0, attributes)
        counter_attributes = {**attributes, names.GEN_AI_TOKEN_MODALITY: names.MODALITY_UNKNOWN}
        counter_attributes.pop(names.ERROR_TYPE, None)
        for field, counter in self._counters:
            value = getattr(usage, field) if usage is not None else None
            counter.add(value or 0, counter_attributes)

    def record_usage(self, operation: str, usage: Usage | None, attributes: dict[str, Any]) -> None:
        """The token instruments alone: the tokens of a call whose other instrumentation never saw them."""
        if usage is None:
            return
        if operation == names.OP_EMBEDDINGS:
            self._embeddings_input.record(usage.input_tokens or 0, attributes)
            return
        self._input.record(usage.input_tokens or 0, attributes)
        self._output.record(usage.output_tokens or 0, attributes)
        counter_attributes = {**attributes, names.GEN_AI_TOKEN_MODALITY: names.MODALITY_UNKNOWN}
        counter_attributes.pop(names.ERROR_TYPE, None)
        for field, counter in self._counters:
            counter.add(getattr(usage, field) or 0, counter_attributes)


def make_instruments(meter: Meter, latest: bool) -> StableInstruments | LatestInstruments:
    return LatestInstruments(meter) if latest else StableInstruments(meter)
