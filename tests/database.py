"""The test database: SQLite in a temp dir, or a throwaway Postgres database.

`HOME_IDP_TEST_DATABASE=postgres` selects Postgres; the server named by
`HOME_IDP_TEST_POSTGRES_URL` (default: the local one on 127.0.0.1:5432) gets
a database of its own for the run, dropped at the end. When CI=true, an
unreachable Postgres fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

__all__ = ["BACKEND", "scratch_database", "scratch_postgres_database"]

BACKEND = os.environ.get("HOME_IDP_TEST_DATABASE", "sqlite")
POSTGRES_SERVER = os.environ.get(
    "HOME_IDP_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@asynccontextmanager
async def scratch_database(tmp_dir: Path) -> AsyncIterator[str]:
    """Yield a database URL that is empty at first and gone afterwards."""
    if BACKEND == "sqlite":
        yield f"sqlite://{tmp_dir / 'test.sqlite3'}"
        return
    if BACKEND != "postgres":
        raise RuntimeError(f"HOME_IDP_TEST_DATABASE must be sqlite or postgres, not {BACKEND!r}")
    name = f"home_idp_test_{secrets.token_hex(4)}"
    admin_url = POSTGRES_SERVER.replace("postgres://", "postgresql://", 1)
    try:
        admin = await asyncpg.connect(admin_url)
    except (OSError, asyncpg.PostgresError) as error:
        raise RuntimeError(f"Postgres is not reachable at {POSTGRES_SERVER}: {error}") from error
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(POSTGRES_SERVER, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def scratch_postgres_database() -> AsyncIterator[str]:
    """A throwaway Postgres database whatever the test backend (for replica tests)."""
    name = f"home_idp_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_SERVER.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(POSTGRES_SERVER, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
