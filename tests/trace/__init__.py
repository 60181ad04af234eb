"""The trace-manager: OTLP ingest, trace queries and the trace of each release."""
