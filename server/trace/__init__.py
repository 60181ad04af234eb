"""trace-manager: the spans of every release, OTLP ingest, and trace queries."""
