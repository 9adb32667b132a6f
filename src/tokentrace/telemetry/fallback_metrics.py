"""The ``tokentrace.fallbacks`` counter: how often calls move on to the next model of their chain.

One point per fallback, by the model left (``tokentrace.fallback.from``), the model tried next
(``tokentrace.fallback.to``), why (``tokentrace.fallback.reason``) and the provider. Model names go
through the recorder's ``ModelCap``, as on every other metric; reasons are the four kinds or the
exception classes a ``Fallback`` names, so they are bounded by the configuration.
"""

from __future__ import annotations

from opentelemetry.metrics import Meter

from .. import names
from .model_cap import ModelCap

__all__ = ["FallbackCounter"]


class FallbackCounter:
    __slots__ = ("_counter", "_models")

    def __init__(self, meter: Meter, models: ModelCap) -> None:
        self._models = models
        self._counter = meter.create_counter(
            names.FALLBACK_COUNTER,
            unit=names.UNIT_CALL,
            description="Calls sent again to the next model of their fallback chain.",
        )

    def add(self, provider: str, from_model: str, to_model: str | None, reason: str | None) -> None:
        models = self._models
        seen = models.seen
        attributes = {
            names.GEN_AI_PROVIDER_NAME: provider,
            names.FALLBACK_FROM: from_model if from_model in seen else models.admit(provider, from_model),
            names.FALLBACK_REASON: reason or "",
        }
        if to_model:
            attributes[names.FALLBACK_TO] = to_model if to_model in seen else models.admit(provider, to_model)
        self._counter.add(1, attributes)
