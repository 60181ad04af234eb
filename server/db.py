"""Database start-up: Tortoise configuration and the checked-in migrations."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate

from home_idp.server.data_dir import create_private_file, secure_data_dir
from home_idp.server.settings import Settings

__all__ = ["MODEL_MODULES", "close", "is_reachable", "open_database", "tortoise_config"]

log = logging.getLogger(__name__)

APP_LABEL = "home_idp"
MODEL_MODULES = [
    "home_idp.server.rbac.models",
    "home_idp.server.apps.models",
    "home_idp.server.pipeline.models",
    "home_idp.server.deploy.models",
    "home_idp.server.trace.models",
    "home_idp.server.install.models",
]
MIGRATIONS_MODULE = "home_idp.server.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config for one database URL (shared by the server and the tests)."""
    return {
        "connections": {"default": database_url},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_database(settings: Settings) -> None:
    """Apply pending migrations, then connect for the life of the process."""
    secure_data_dir(settings.data_dir)
    database_file = _sqlite_file(settings.effective_database_url)
    if database_file is not None:
        create_private_file(database_file)
    config = tortoise_config(settings.effective_database_url)
    await migrate(config=config)
    # Requests run in other tasks than the lifespan, so the ORM context must be
    # reachable from all of them.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    log.info("database ready (%s)", "sqlite" if settings.uses_sqlite else "postgres")


def _sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL; None for Postgres or an in-memory database."""
    if not database_url.startswith("sqlite://"):
        return None
    location = database_url.removeprefix("sqlite://").partition("?")[0]
    return None if location in ("", ":memory:") else Path(location)


async def is_reachable() -> bool:
    """True when a trivial query succeeds."""
    try:
        await get_connection("default").execute_query("SELECT 1")
    except Exception:  # any driver error means "not ready"
        log.warning("database not reachable", exc_info=True)
        return False
    return True


async def close() -> None:
    await Tortoise.close_connections()
