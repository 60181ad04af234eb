"""Database start-up: Tortoise configuration and the checked-in migrations."""

from __future__ import annotations

import logging
from typing import Any

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate

from home_idp.server.settings import Settings

__all__ = ["MODEL_MODULES", "close", "is_reachable", "open_database", "tortoise_config"]

log = logging.getLogger(__name__)

APP_LABEL = "home_idp"
MODEL_MODULES = [
    "home_idp.server.rbac.models",
    "home_idp.server.rbac.app_models",
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
    if settings.uses_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = tortoise_config(settings.effective_database_url)
    await migrate(config=config)
    # Requests run in other tasks than the lifespan, so the ORM context must be
    # reachable from all of them.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    log.info("database ready (%s)", "sqlite" if settings.uses_sqlite else "postgres")


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
