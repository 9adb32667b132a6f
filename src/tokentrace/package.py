"""What tokentrace instruments, for ``BaseInstrumentor.instrumentation_dependencies``."""

from __future__ import annotations

# Each library is patched only if it is installed, so none of them is a hard requirement: an app
# with plain ``requests`` calls and no openai SDK is still instrumented.
_instruments: tuple[str, ...] = ()

# Versions the openai SDK patch supports (tested in CI: the oldest and the latest).
OPENAI_SUPPORTED = "openai >= 1.40"
