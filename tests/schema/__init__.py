"""The GraphQL API: every field's permissions (the RBAC matrix), limits, loaders and the exported
SDL."""
