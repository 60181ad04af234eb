"""The GraphQL API of home-idp (Strawberry): a package per domain (access, apps,
releases, traces, install), the machinery they share in `core`, joined in `schema.py`."""
