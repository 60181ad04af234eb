"""Liveness and readiness."""

from __future__ import annotations

import httpx
import pytest

from home_idp.server import db


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/readyz")).json() == {"status": "ready"}


async def test_readyz_fails_when_the_database_does_not_answer(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Down:
        async def execute_query(self, *_: object) -> None:
            raise ConnectionRefusedError("database down")

    monkeypatch.setattr(db, "get_connection", lambda _: Down())
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert (await http.get("/healthz")).status_code == 200


async def test_graphiql_is_served_on_get(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
