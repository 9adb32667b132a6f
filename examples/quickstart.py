"""tokentrace in one minute: no API key, no network.

Starts a local OpenAI-compatible server on 127.0.0.1, instruments the real openai SDK with one
line, makes a few calls under two tracking ids (one of them streamed) and prints what each span
says: model, tokens, cost and tracking id. Then the cost totals from the metrics.

    python examples/quickstart.py
"""

from __future__ import annotations

from collections.abc import Sequence

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import tokentrace
from tokentrace.demo.server import DevServer


class PrintingExporter(SpanExporter):
    """Prints one line per finished GenAI span."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            a = dict(span.attributes or {})
            cost = a.get("gen_ai.usage.cost.amount")
            cost_text = f"${cost:.8f}" if isinstance(cost, float) else "unknown"
            print(
                f"{a.get('tokentrace.tracking_id', '-')!s:<16} {span.name:<36}"
                f" {a.get('gen_ai.response.model', '?')!s:<24}"
                f" in={a.get('gen_ai.usage.input_tokens', '-'):<4} out={a.get('gen_ai.usage.output_tokens', '-'):<4}"
                f" cost={cost_text}"
            )
        return SpanExportResult.SUCCESS


def main() -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(PrintingExporter()))
    reader = InMemoryMetricReader()

    with DevServer() as server:
        # The one line. The local server is not on the built-in list of hosts known to accept
        # stream_options, so name it to get usage (and cost) for streamed calls too.
        tokentrace.instrument(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[reader]),
            stream_usage_hosts=["127.0.0.1"],
        )
        client = openai.OpenAI(base_url=server.base_url, api_key="no-key-needed")
        print(f"local OpenAI-compatible server at {server.base_url}\n")
        print(f"{'tracking id':<16} {'span':<36} {'response model':<24} tokens and cost")

        with tokentrace.track("support-bot"):
            client.chat.completions.create(
                model="gpt-4.1",
                messages=[{"role": "user", "content": "My order has not arrived. What can I do?"}],
            )
            stream = client.chat.completions.create(
                model="gpt-4.1-mini",
                messages=[{"role": "user", "content": "Write a short apology to the customer."}],
                stream=True,
            )
            for _chunk in stream:
                pass

        with tokentrace.track("nightly-report"):
            client.chat.completions.create(
                model="deepseek-chat",
                messages=[{"role": "user", "content": "Summarise yesterday's tickets in three lines."}],
            )
            client.embeddings.create(model="text-embedding-3-small", input=["ticket one", "ticket two"])

        tokentrace.uninstrument()

    print("\ncost by tracking id (from the gen_ai.client.cost counter):")
    data = reader.get_metrics_data()
    totals: dict[str, float] = {}
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == "gen_ai.client.cost":
                    for point in metric.data.data_points:
                        key = str(point.attributes.get("tokentrace.tracking_id", "-"))
                        totals[key] = totals.get(key, 0.0) + point.value
    for tracking_id, usd in sorted(totals.items()):
        print(f"  {tracking_id:<16} ${usd:.8f}")


if __name__ == "__main__":
    main()
