"""Migrations are checked in, complete, and applied at start-up."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.context import get_current_context
from tortoise.migrations.autodetector import MigrationAutodetector

from home_idp.server.db import APP_LABEL, tortoise_config
from home_idp.server.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "server" / "migrations"


async def test_models_have_no_changes_without_a_migration(settings: Settings, app: object) -> None:
    # Uses the app's own ORM context: a second context would rebind the
    # models to another database for every later test.
    context = get_current_context()
    assert context is not None
    assert context.apps is not None
    config = tortoise_config(settings.effective_database_url)
    writers = await MigrationAutodetector(context.apps, config["apps"]).changes()
    assert not writers, "models changed: run `tortoise makemigrations` and commit the result"


async def test_start_up_applied_every_migration(settings: Settings, app: object) -> None:
    rows = await get_connection("default").execute_query_dict(
        "SELECT name FROM tortoise_migrations WHERE app = $1"
        if not settings.uses_sqlite
        else "SELECT name FROM tortoise_migrations WHERE app = ?",
        [APP_LABEL],
    )
    applied = {row["name"] for row in rows}
    on_disk = {path.stem for path in MIGRATIONS.glob("0*.py")}
    assert on_disk and applied == on_disk
    assert Tortoise.apps is not None
