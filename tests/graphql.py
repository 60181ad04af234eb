"""A tiny GraphQL helper for tests over the ASGI app."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["GraphQLClient", "GraphQLResult"]


class GraphQLResult:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        body = response.json()
        self.data: dict[str, Any] | None = body.get("data")
        self.errors: list[dict[str, Any]] = body.get("errors") or []

    def __getitem__(self, field: str) -> Any:
        assert not self.errors, self.errors
        assert self.data is not None
        return self.data[field]

    @property
    def error_messages(self) -> list[str]:
        return [error["message"] for error in self.errors]


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> GraphQLResult:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return GraphQLResult(response)
