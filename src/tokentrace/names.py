"""Every attribute, metric, unit, value and environment variable name tokentrace emits or reads.

No other module spells one of these as a string literal. Semantic-convention names follow the
OpenTelemetry GenAI conventions of semantic-conventions v1.41.0; ``LATEST`` holds the names of the
newer GenAI conventions emitted under ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- the instrumentation scope of tokentrace's spans and metrics (named after the entry point's
# module since the first release; backends show it as otel_scope_name) ------------------------------
SCOPE: Final = "tokentrace.instrumentor"
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"

# --- next to another GenAI instrumentation (setting ``coexist``, DESIGN §7a) ---------------------
COEXIST_ENRICH: Final = "enrich"
"""Default: the other instrumentation's span of the call carries tokentrace's cost, tracking id and
price; tokentrace records its cost metrics and leaves the token and duration histograms to it."""
COEXIST_OWN: Final = "own"
"""tokentrace records everything itself; instrumentations under it that honour OpenTelemetry's
suppression key step aside while the call runs."""
COEXIST_BOTH: Final = "both"
"""Both record: two spans per call, and both sets of histograms."""
COEXIST_MODES: Final = (COEXIST_ENRICH, COEXIST_OWN, COEXIST_BOTH)
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""The provider attribute of the older GenAI conventions (v1.30 and before): marks another
instrumentation's GenAI span as well as ``gen_ai.operation.name`` does."""
SUPPRESS_INSTRUMENTATION_PLAIN: Final = "suppress_instrumentation"
"""OpenTelemetry's older, plain-string suppression key, which some instrumentations still read."""
OWN_ATTRIBUTE_PREFIXES: Final = ("tokentrace.", "gen_ai.usage.cost.")
"""tokentrace's own attributes, which it sets on another instrumentation's span whatever is there;
the rest of a finished call's attributes it adds only where that span has none."""
PEER_RECORDS_ALL: Final = "all"
"""A peer instrumentation records the token and duration histograms of its calls itself."""
PEER_RECORDS_TOKENS: Final = "tokens"
"""A peer records the token histogram (and time to first chunk), not the duration histogram."""
PEER_RECORDS_NONE: Final = "none"
"""A peer records spans only: tokentrace records every histogram of the call."""
PEER_SCOPES: Final = {
    # instrumentation scope -> which histograms of its calls it records itself
    "opentelemetry.instrumentation.openai_v2": PEER_RECORDS_ALL,  # the official openai-v2, v1.30
    # util-genai's handler: openai-v2 on gen_ai_latest_experimental, the official google-genai 1.1
    "opentelemetry.util.genai.handler": PEER_RECORDS_ALL,
    # the official google-genai and anthropic instrumentations from 1.3 (util-genai 1.3 names the
    # scope after the instrumentation); CLIENT spans, also found by the rule below
    "opentelemetry.instrumentation.google_genai": PEER_RECORDS_ALL,
    "opentelemetry.instrumentation.genai.anthropic": PEER_RECORDS_ALL,
    # pydantic-ai's (and logfire's) model request spans, INTERNAL: tokens and time to first chunk
    "pydantic-ai": PEER_RECORDS_TOKENS,
    # OpenInference: spans only, INTERNAL, with llm.* attributes (no gen_ai.operation.name)
    "openinference.instrumentation.openai": PEER_RECORDS_NONE,
    "openinference.instrumentation.anthropic": PEER_RECORDS_NONE,
    "openinference.instrumentation.google_genai": PEER_RECORDS_NONE,
    # the anthropic SDK's own call span (2.x: CLIENT, gen_ai.usage.*, no metrics), opened whenever
    # a global tracer provider exists (tokentrace.instrument() sets one where the app has none);
    # its platform clients add the platform to the scope
    "com.anthropic.sdk.python": PEER_RECORDS_NONE,
    "com.anthropic.sdk.python.bedrock": PEER_RECORDS_NONE,
    "com.anthropic.sdk.python.vertex": PEER_RECORDS_NONE,
    "com.anthropic.sdk.python.aws": PEER_RECORDS_NONE,
    "com.anthropic.sdk.python.foundry": PEER_RECORDS_NONE,
}
"""Scopes whose spans are a GenAI call's span whatever their kind. A span of any other scope
counts when it is a CLIENT span with a GenAI attribute (OpenLLMetry, OpenLIT, SDKs' own spans),
and is taken to record the histograms, as the GenAI conventions ask of such instrumentations."""
_OPENLLMETRY_METRICS_SWITCH = "TRACELOOP_METRICS_ENABLED"
_ANTHROPIC_WRAPPERS = (
    ("opentelemetry.instrumentation.anthropic", "AnthropicInstrumentor", _OPENLLMETRY_METRICS_SWITCH),
    ("opentelemetry.instrumentation.genai.anthropic", "AnthropicInstrumentor", ""),
)
_GOOGLE_GENAI_WRAPPERS = (
    (
        "opentelemetry.instrumentation.google_generativeai",
        "GoogleGenerativeAiInstrumentor",
        _OPENLLMETRY_METRICS_SWITCH,
    ),
)
PEERS_OUT_OF_SIGHT: Final = {
    # the scope of the current span (one recording no histograms) -> the instrumentations of the
    # same SDK whose span is out of sight: (module, BaseInstrumentor class, the environment switch
    # that turns its metrics off, or "")
    **{scope: _ANTHROPIC_WRAPPERS for scope in PEER_SCOPES if scope.startswith("com.anthropic.sdk.python")},
    "openinference.instrumentation.anthropic": _ANTHROPIC_WRAPPERS,
    "openinference.instrumentation.google_genai": _GOOGLE_GENAI_WRAPPERS,
}
"""Instrumentations that wrap a provider SDK's methods and record the token and duration
histograms, but whose span is not the current one when the SDK sends: OpenLLMetry's is never made
current; the official anthropic one's is the parent of the anthropic SDK's own span, which is
current then. While one is switched on, tokentrace (``coexist="enrich"``) leaves the histograms
of such a call to it and puts the cost on the span it can reach."""
PEERS_OUT_OF_SIGHT_BY_PROVIDER: Final = {
    # gen_ai.provider.name of a call under no GenAI span (an SDK without a span of its own, or
    # one whose spans are switched off) -> the same kind of instrumentations as above
    "anthropic": _ANTHROPIC_WRAPPERS,
    "aws.bedrock": _ANTHROPIC_WRAPPERS,
    "gcp.gemini": _GOOGLE_GENAI_WRAPPERS,
    "gcp.vertex_ai": _GOOGLE_GENAI_WRAPPERS + _ANTHROPIC_WRAPPERS,  # both SDKs reach Vertex AI
}
"""Looked up for every call under no GenAI span: one dictionary lookup, and more only for these
providers. A host that is none of theirs (a gateway, a proxy) is not recognised here."""

# --- span attributes: GenAI semantic conventions -------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"

OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"

SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"

# --- cost on the span (semantic-conventions-genai proposal, PR #443) -----------------------------
GEN_AI_USAGE_COST_AMOUNT: Final = "gen_ai.usage.cost.amount"
GEN_AI_USAGE_COST_CURRENCY: Final = "gen_ai.usage.cost.currency"
GEN_AI_USAGE_COST_SOURCE: Final = "gen_ai.usage.cost.source"

# --- our own prefix -------------------------------------------------------------------------------
TRACKING_ID: Final = "tokentrace.tracking_id"
TRACKING_PATH: Final = "tokentrace.tracking_path"
STREAM_END: Final = "tokentrace.stream.end"
STREAM_USAGE_INJECTED: Final = "tokentrace.stream.usage_injected"
COST_UNPRICED: Final = "tokentrace.cost.unpriced"
COST_UNKNOWN_REASON: Final = "tokentrace.cost.unknown_reason"
COST_INPUT: Final = "tokentrace.cost.input"
COST_OUTPUT: Final = "tokentrace.cost.output"
COST_CACHE_READ: Final = "tokentrace.cost.cache_read"
COST_CACHE_WRITE: Final = "tokentrace.cost.cache_write"
COST_REASONING: Final = "tokentrace.cost.reasoning"
PRICE_ENTRY: Final = "tokentrace.price.entry"
PRICE_DATE: Final = "tokentrace.price.date"

BUDGET_DOWNGRADED_FROM: Final = "tokentrace.budget.downgraded_from"
BUDGET_EVENT: Final = "tokentrace.budget"
BUDGET_NAME: Final = "tokentrace.budget.name"
BUDGET_OUTCOME: Final = "tokentrace.budget.outcome"
BUDGET_UNIT: Final = "tokentrace.budget.unit"
BUDGET_SPENT: Final = "tokentrace.budget.spent"
BUDGET_LIMIT: Final = "tokentrace.budget.limit"
BUDGET_REMAINING: Final = "tokentrace.budget.remaining"

# An attempt of a fallback chain after the first: the model it replaces, its number (2, 3, ...) and
# why the attempt before it failed. ``FALLBACK_FROM`` / ``FALLBACK_TO`` / ``FALLBACK_REASON`` are
# also the attributes of the ``tokentrace.fallbacks`` counter.
FALLBACK_FROM: Final = "tokentrace.fallback.from"
FALLBACK_TO: Final = "tokentrace.fallback.to"
FALLBACK_ATTEMPT: Final = "tokentrace.fallback.attempt"
FALLBACK_REASON: Final = "tokentrace.fallback.reason"

# --- values ---------------------------------------------------------------------------------------
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_EMBEDDINGS: Final = "embeddings"
OP_GENERATE_CONTENT: Final = "generate_content"
TOKEN_INPUT: Final = "input"
TOKEN_OUTPUT: Final = "output"
CURRENCY_USD: Final = "USD"
COST_SOURCE_PROVIDER: Final = "provider"
COST_SOURCE_LOCAL: Final = "local"
OVERFLOW_TRACKING_ID: Final = "_OTHER"
OVERFLOW_MODEL: Final = "_OTHER"
ERROR_TYPE_OTHER: Final = "_OTHER"
BUDGET_REFUSED: Final = "refused"
BUDGET_UNAVAILABLE: Final = "unavailable"
"""The outcome of a call refused because its budgets could not be checked (fail closed)."""
BUDGET_FAILURE_OPEN: Final = "open"
BUDGET_FAILURE_CLOSED: Final = "closed"
BUDGET_FAILURE_MODES: Final = (BUDGET_FAILURE_OPEN, BUDGET_FAILURE_CLOSED)
CONTEXT_TRACKING_PATH: Final = "tokentrace-tracking-path"
"""The OpenTelemetry context key (made unique by ``context.create_key``) the tracking path travels
under, so whatever carries the OpenTelemetry context across threads carries it too."""
BAGGAGE_TRACKING_ID: Final = "tokentrace.tracking_id"
"""The W3C baggage entry the innermost tracking id travels in, to downstream services, with the
``tracking_baggage`` setting."""
CALL_STATUS_REFUSED: Final = "refused"
"""``CallRecord.status`` and the ledger's ``status`` of a call a budget refused before sending."""
REFUSAL_ERROR_TYPES: Final = ("BudgetExceededError", "BudgetUnavailableError", "BudgetStoreError")
"""The ``error.type`` of a call refused before sending: a budget said no, or its budgets could not be
checked and ``budget_failure_mode`` is ``closed`` (the store's own error included). How a refusal
is told apart from a failure."""
_SQL_REFUSALS = ", ".join(f"'{t}'" for t in REFUSAL_ERROR_TYPES)
SQL_REFUSAL_ERROR_TYPES: Final = f"({_SQL_REFUSALS})"
"""The same as an SQL list, for the ledger's queries."""
BUDGET_STORE_SCHEMES: Final = ("redis", "rediss")
"""URL schemes of a shared budget store (``budget_store``): Redis, plain or over TLS."""
BUDGET_STORE_DEFAULT_PREFIX: Final = "tokentrace"
BUDGET_STORE_DEFAULT_TIMEOUT: Final = 0.05
"""Seconds a call may wait on the shared budget store, per round trip, before it is unreachable."""
BUDGET_STORE_DEFAULT_LEASE: Final = 300.0
"""Seconds a reservation in the shared store lives unless settled: a crashed process's expire."""
BUDGET_DOWNGRADED: Final = "downgraded"
BUDGET_WARNED: Final = "warned"
BUDGET_UNIT_TOKENS: Final = "tokens"
STREAM_END_COMPLETED: Final = "completed"
STREAM_END_CLOSED: Final = "closed"
STREAM_END_ABANDONED: Final = "abandoned"
STREAM_END_ERROR: Final = "error"
STREAM_END_CANCELLED: Final = "cancelled"
UNKNOWN_UNPRICED: Final = "unpriced_model"
UNKNOWN_NO_USAGE: Final = "no_usage"
UNKNOWN_ERROR: Final = "error"
# What moves a call on to the next model of its fallback chain (``Fallback(on=...)``).
FALLBACK_RATE_LIMIT: Final = "rate_limit"
FALLBACK_TIMEOUT: Final = "timeout"
FALLBACK_SERVER_ERROR: Final = "server_error"
FALLBACK_BUDGET: Final = "budget"

# --- units ---------------------------------------------------------------------------------------
UNIT_TOKEN: Final = "{token}"
UNIT_SECONDS: Final = "s"
UNIT_USD: Final = "USD"
UNIT_CALL: Final = "{call}"

# --- bucket advisories ---------------------------------------------------------------------------
TOKEN_BUCKETS: Final = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ... 67108864
DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
# One call costs from a millionth of a dollar (a short embedding) to a few dollars (a long
# reasoning call); SDK default buckets (0 … 10000) would put every call in the first bucket.
COST_BUCKETS: Final = (
    1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0,
)  # fmt: skip


@dataclass(frozen=True)
class MetricNames:
    """Names of one semantic-convention generation.

    ``STABLE`` is semantic-conventions v1.41.0: one ``token.usage`` histogram split by
    ``gen_ai.token.type``. ``LATEST`` is the semantic-conventions-genai repository: per-kind token
    counters and per-call token histograms, and embeddings apart from inference.
    """

    operation_duration: str
    embeddings_duration: str
    time_to_first_chunk: str
    cache_write_attribute: str
    token_usage: str | None = None
    input_tokens_histogram: str | None = None
    output_tokens_histogram: str | None = None
    embeddings_input_tokens_histogram: str | None = None
    usage_counters: tuple[tuple[str, str], ...] = ()
    """(usage field, counter name) pairs."""


STABLE: Final = MetricNames(
    operation_duration="gen_ai.client.operation.duration",
    embeddings_duration="gen_ai.client.operation.duration",
    time_to_first_chunk="gen_ai.client.operation.time_to_first_chunk",
    cache_write_attribute=GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    token_usage="gen_ai.client.token.usage",
)
LATEST: Final = MetricNames(
    operation_duration="gen_ai.client.inference.duration",
    embeddings_duration="gen_ai.client.embeddings.duration",
    time_to_first_chunk="gen_ai.client.inference.time_to_first_chunk",
    cache_write_attribute=GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    input_tokens_histogram="gen_ai.client.inference.operation.input_tokens",
    output_tokens_histogram="gen_ai.client.inference.operation.output_tokens",
    embeddings_input_tokens_histogram="gen_ai.client.embeddings.operation.input_tokens",
    usage_counters=(
        ("input_tokens", "gen_ai.client.inference.usage.input_tokens"),
        ("output_tokens", "gen_ai.client.inference.usage.output_tokens"),
        ("cache_read_tokens", "gen_ai.client.inference.usage.cache_read.input_tokens"),
        ("cache_write_tokens", "gen_ai.client.inference.usage.cache_write.input_tokens"),
        ("reasoning_tokens", "gen_ai.client.inference.usage.reasoning.output_tokens"),
    ),
)
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"
MODALITY_UNKNOWN: Final = "unknown"
OPENAI_API_TYPE: Final = "openai.api.type"
API_TYPE_CHAT_COMPLETIONS: Final = "chat_completions"
API_TYPE_RESPONSES: Final = "responses"

COST_COUNTER: Final = "gen_ai.client.cost"
COST_HISTOGRAM: Final = "gen_ai.client.operation.cost"
UNKNOWN_COST_COUNTER: Final = "tokentrace.calls.cost_unknown"
BUDGET_REMAINING_METRIC: Final = "tokentrace.budget.remaining"
BUDGET_SPENT_METRIC: Final = "tokentrace.budget.spent"
FALLBACK_COUNTER: Final = "tokentrace.fallbacks"

# --- environment variables -----------------------------------------------------------------------
# The metrics above as Prometheus names them (opentelemetry-exporter-prometheus, scraped):
# what ``tokentrace report --prometheus`` queries. Attribute names there have "_" for ".".
PROM_COST_TOTAL: Final = "gen_ai_client_cost_USD_total"
PROM_TOKEN_USAGE_SUM: Final = "gen_ai_client_token_usage_sum"
PROM_DURATION_COUNT: Final = "gen_ai_client_operation_duration_seconds_count"
PROM_DURATION_SUM: Final = "gen_ai_client_operation_duration_seconds_sum"

ENV_CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_SEMCONV_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
SEMCONV_OPT_IN_LATEST: Final = "gen_ai_latest_experimental"
ENV_STREAM_USAGE: Final = "TOKENTRACE_STREAM_USAGE"
ENV_STREAM_USAGE_HOSTS: Final = "TOKENTRACE_STREAM_USAGE_HOSTS"
ENV_TRACKING_IDS: Final = "TOKENTRACE_TRACKING_IDS"
ENV_MAX_TRACKING_IDS: Final = "TOKENTRACE_MAX_TRACKING_IDS"
ENV_MAX_MODELS: Final = "TOKENTRACE_MAX_MODELS"
ENV_PRICES: Final = "TOKENTRACE_PRICES"
ENV_RAISE_INTERNAL_ERRORS: Final = "TOKENTRACE_RAISE_INTERNAL_ERRORS"
ENV_HTTP: Final = "TOKENTRACE_HTTP"
ENV_HTTP_ENDPOINTS: Final = "TOKENTRACE_HTTP_ENDPOINTS"
ENV_LEDGER: Final = "TOKENTRACE_LEDGER"
ENV_BUDGET_FAILURE_MODE: Final = "TOKENTRACE_BUDGET_FAILURE_MODE"
ENV_BUDGET_STORE: Final = "TOKENTRACE_BUDGET_STORE"
ENV_BUDGET_STORE_PASSWORD: Final = "TOKENTRACE_BUDGET_STORE_PASSWORD"
ENV_BUDGET_STORE_PREFIX: Final = "TOKENTRACE_BUDGET_STORE_PREFIX"
ENV_BUDGET_STORE_TIMEOUT: Final = "TOKENTRACE_BUDGET_STORE_TIMEOUT"
ENV_BUDGET_STORE_LEASE: Final = "TOKENTRACE_BUDGET_STORE_LEASE"
ENV_COST_BREAKDOWN: Final = "TOKENTRACE_COST_BREAKDOWN"
ENV_COST_HISTOGRAM: Final = "TOKENTRACE_COST_HISTOGRAM"
ENV_POOL_CONTEXT: Final = "TOKENTRACE_POOL_CONTEXT"
ENV_TRACKING_BAGGAGE: Final = "TOKENTRACE_TRACKING_BAGGAGE"
ENV_COEXIST: Final = "TOKENTRACE_COEXIST"
ENV_OTLP_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_OTLP_ENDPOINTS: Final = (
    ENV_OTLP_ENDPOINT,
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)
ENV_PYTEST_CURRENT_TEST: Final = "PYTEST_CURRENT_TEST"
ENV_LOCALAPPDATA: Final = "LOCALAPPDATA"
ENV_XDG_DATA_HOME: Final = "XDG_DATA_HOME"
ENV_XDG_CACHE_HOME: Final = "XDG_CACHE_HOME"
ENV_PRICE_CACHE: Final = "TOKENTRACE_PRICE_CACHE"
ENV_EXPORTERS: Final = {"traces": "OTEL_TRACES_EXPORTER", "metrics": "OTEL_METRICS_EXPORTER"}
ENV_OTLP_SIGNAL_ENDPOINTS: Final = {
    "traces": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "metrics": "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
}
