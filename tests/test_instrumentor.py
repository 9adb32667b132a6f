"""Switching tokentrace on and off: entry point, idempotence, full restore, settings errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from typing import Any

import pytest

import tokentrace
from tests.conftest import Telemetry
from tests.sdk import payloads
from tests.sdk.mock_transport import Recorder, json_reply, make_client
from tokentrace.activation import instrumentation
from tokentrace.config import Settings, SettingsError

MESSAGES = [{"role": "user", "content": "hi"}]


def test_entry_point_is_named_tokentrace() -> None:
    (entry,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "tokentrace"]
    assert entry.load() is tokentrace.TokenTraceInstrumentor


def test_instrument_twice_and_uninstrument_restores(instrument: Any, telemetry: Telemetry) -> None:
    from openai._base_client import AsyncAPIClient, SyncAPIClient

    original_sync, original_async = SyncAPIClient.request, AsyncAPIClient.request
    instrument()
    instrument()  # harmless
    sdk = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(telemetry.spans()) == 1
    tokentrace.uninstrument()
    assert SyncAPIClient.request is original_sync
    assert AsyncAPIClient.request is original_async
    sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(telemetry.spans()) == 1


def test_unknown_setting_is_a_clear_error() -> None:
    with pytest.raises(SettingsError, match="unknown tokentrace setting"):
        Settings.resolve({"stream_usgae": "never"})


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="TOKENTRACE_STREAM_USAGE"):
        Settings.resolve({}, {"TOKENTRACE_STREAM_USAGE": "sometimes"})


def test_argument_wins_over_environment() -> None:
    settings = Settings.resolve({"stream_usage": "never"}, {"TOKENTRACE_STREAM_USAGE": "always"})
    assert settings.stream_usage == "never"
    assert Settings.resolve(
        {}, {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    ).capture_content


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTEST_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


APP = """
    import json
    import openai
    from tests.sdk.mock_transport import Recorder, json_reply, make_client
    from tests.sdk import payloads
    sdk = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
    sdk.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
"""


def test_one_line_setup_without_providers_uses_otel_env(tmp_path: Any) -> None:
    """An app with no OpenTelemetry setup: instrument() builds providers from OTEL_* (console here)."""
    result = run_python(
        "import tokentrace; tokentrace.instrument()\n" + textwrap.dedent(APP),
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_SERVICE_NAME="shop",
    )
    assert result.returncode == 0, result.stderr
    assert '"name": "chat gpt-4.1"' in result.stdout
    assert '"service.name": "shop"' in result.stdout


def test_import_order_does_not_matter() -> None:
    """instrument() before ``import openai`` patches the SDK when it is imported."""
    result = run_python(
        textwrap.dedent(
            """
        import sys
        import tokentrace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider(); provider.add_span_processor(SimpleSpanProcessor(exporter))
        tokentrace.instrument(tracer_provider=provider)
        assert "openai" not in sys.modules
        """
        )
        + textwrap.dedent(APP)
        + "\nprint(len(exporter.get_finished_spans()))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_opentelemetry_instrument_finds_us(tmp_path: Any) -> None:
    """``opentelemetry-instrument python app.py`` loads the tokentrace entry point."""
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP))
    import os
    import shutil

    launcher = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))
    assert launcher is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTEST_"))}
    env.update(
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        PYTHONPATH=os.getcwd(),
    )
    result = subprocess.run(
        [launcher, sys.executable, str(app)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert '"gen_ai.provider.name": "openai"' in result.stdout


def test_sdk_import_is_not_forced() -> None:
    result = run_python(
        "import sys, tokentrace; tokentrace.instrument(); print('openai' in sys.modules, 'genai_prices' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_one_line_setup_leaves_opentelemetry_instrumentation_unimported() -> None:
    """``instrument()`` needs neither BaseInstrumentor nor the ``packaging`` library it brings."""
    result = run_python(
        "import sys, tokentrace; tokentrace.instrument(); "
        "print(sorted(m for m in ('opentelemetry.instrumentation', 'packaging') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_both_switches_are_one(telemetry: Telemetry) -> None:
    """instrument() and TokenTraceInstrumentor().instrument() share one state, either way round."""
    from openai._base_client import SyncAPIClient

    original = SyncAPIClient.request
    providers = {"tracer_provider": telemetry.tracer_provider, "meter_provider": telemetry.meter_provider}
    instrumentor = tokentrace.TokenTraceInstrumentor()
    try:
        handle = tokentrace.instrument(**providers)
        assert instrumentor.is_instrumented_by_opentelemetry
        assert instrumentor.recorder is handle.recorder is not None
        instrumentor.instrument(**providers)  # already on: nothing changes
        assert instrumentor.recorder is handle.recorder
        instrumentor.uninstrument()
        assert not handle.active and handle.recorder is None
        assert SyncAPIClient.request is original

        instrumentor.instrument(**providers)
        assert handle.active and SyncAPIClient.request is not original
        sdk = make_client(Recorder(lambda b, r: json_reply(payloads.openai_chat())))
        sdk.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        assert len(telemetry.spans()) == 1
        tokentrace.uninstrument()
        assert not instrumentor.is_instrumented_by_opentelemetry
        assert SyncAPIClient.request is original
    finally:
        tokentrace.uninstrument()


# A setting given the wrong thing fails at instrument(), with one line that names it: never
# Python's own "invalid literal for int()", never a truthy string taken as True.
BAD_ARGUMENTS = [
    ("capture_content", 1),
    ("capture_content", ["no"]),
    ("latest_semconv", 1),
    ("http", 0),
    ("cost_breakdown", 2),
    ("cost_histogram", "sometimes"),
    ("stream_usage", 5),
    ("stream_usage_hosts", 5),
    ("tracking_ids", [1, 2]),
    ("max_tracking_ids", True),
    ("max_tracking_ids", -1),
    ("max_tracking_ids", 2.5),
    ("max_tracking_ids", "abc"),
    ("prices", 5),
    ("http_endpoints", ["/v1/generate"]),
    ("http_endpoints", {"/v1/generate": "chatty"}),
    ("budgets", [1]),
    ("budgets", "month"),
    ("fallbacks", [("deepseek-v3.2", "gpt-4.1")]),
    ("fallbacks", "deepseek-v3.2"),
    ("ledger", 1),
]


@pytest.mark.parametrize(("name", "value"), BAD_ARGUMENTS)
def test_a_bad_argument_names_itself(instrument: Any, name: str, value: Any) -> None:
    with pytest.raises(SettingsError) as raised:
        instrument(**{name: value})
    message = str(raised.value)
    assert message.startswith(f"instrument({name}=...): ")
    assert "\n" not in message
    assert not instrumentation().active  # nothing was switched on


BAD_ENVIRONMENT = [
    ("TOKENTRACE_MAX_TRACKING_IDS", "abc"),
    ("TOKENTRACE_MAX_TRACKING_IDS", "-3"),
    ("TOKENTRACE_MAX_TRACKING_IDS", "1e3"),
    ("TOKENTRACE_HTTP", "perhaps"),
    ("TOKENTRACE_COST_BREAKDOWN", "2"),
    ("TOKENTRACE_COST_HISTOGRAM", "yes please"),
    ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "enabled"),
    ("TOKENTRACE_STREAM_USAGE", "sometimes"),
    ("TOKENTRACE_HTTP_ENDPOINTS", "/v1/generate"),
]


@pytest.mark.parametrize(("variable", "raw"), BAD_ENVIRONMENT)
def test_a_bad_environment_variable_names_itself(
    instrument: Any, monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    monkeypatch.setenv(variable, raw)
    with pytest.raises(SettingsError) as raised:
        instrument()
    message = str(raised.value)
    assert message.startswith(f"environment variable {variable}: expected ")
    assert repr(raw) in message and "\n" not in message
    assert "invalid literal" not in message


def test_every_setting_checks_its_argument() -> None:
    """A setting added to the table without an argument check fails here, not in a user's app."""
    from tokentrace import config

    assert set(config._ARGUMENTS) == {spec.name for spec in config._FIELDS}
