"""The only rooms that import OpenTelemetry: the recorder, its instruments and metric callbacks."""
