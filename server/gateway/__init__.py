"""The gateway's HTTP side: the GraphQL app (HTTP and websocket), webhooks, OTLP ingest, git over
HTTP, health, bearer authentication and request limits."""
