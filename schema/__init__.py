"""The GraphQL API of home-idp (Strawberry): one module per domain."""
