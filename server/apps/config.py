"""What an app runs with: its own variables, secrets and files, and the project's it uses.

An app's own variable or secret wins over a project variable of the same
name; only the names the app lists in `shared_env` come from the project.
"""

from __future__ import annotations

from dataclasses import dataclass

from home_idp.server.apps.models import App, AppFile, AppSecret, ProjectVariable
from home_idp.server.secret_box import SecretBox

__all__ = ["AppConfig", "EnvEntry", "app_config", "app_secret_values", "environment"]


@dataclass(frozen=True)
class EnvEntry:
    """One variable as the app sees it, and where it comes from; secrets carry no value."""

    name: str
    source: str  # "app" or "project"
    secret: bool
    value: str | None
    # A project variable the app names but overrides with its own value.
    overridden: bool = False


@dataclass(frozen=True)
class AppConfig:
    """The app's effective plain variables, secret names and files (no secret values)."""

    env: dict[str, str]
    secret_names: list[str]
    files: list[AppFile]


async def _parts(app: App) -> tuple[list[AppSecret], list[ProjectVariable]]:
    """The app's own secrets and the project variables it names."""
    own_secrets = await AppSecret.filter(app_id=app.id)
    shared = await ProjectVariable.filter(
        project_id=app.project_id,  # type: ignore[attr-defined]
        name__in=list(app.shared_env),
    ).order_by("name")
    return own_secrets, list(shared)


async def _own_secret_names(app: App) -> tuple[set[str], list[ProjectVariable]]:
    own_secrets, shared = await _parts(app)
    return {secret.name for secret in own_secrets}, shared


def _taken(app: App, own_secrets: set[str], name: str) -> bool:
    return name in app.env or name in own_secrets


async def app_config(app: App) -> AppConfig:
    own_secrets, shared = await _own_secret_names(app)
    env = dict(app.env)
    secret_names = set(own_secrets)
    for variable in shared:
        if _taken(app, own_secrets, variable.name):
            continue
        if variable.is_secret:
            secret_names.add(variable.name)
        else:
            env[variable.name] = variable.value
    files = await AppFile.filter(app_id=app.id).order_by("name")
    return AppConfig(env, sorted(secret_names), files)


async def app_secret_values(app: App, box: SecretBox) -> dict[str, str]:
    """Every secret the app gets, in plain text: for the builder and the deployer only."""
    own_secrets, shared = await _parts(app)
    values = {secret.name: box.decrypt(secret.ciphertext) for secret in own_secrets}
    for variable in shared:
        if variable.is_secret and not _taken(app, set(values), variable.name):
            values[variable.name] = box.decrypt(variable.value)
    return values


async def environment(app: App) -> list[EnvEntry]:
    """Every variable the app names, with its source; what the app does not get is marked."""
    own_secrets, shared = await _own_secret_names(app)
    entries = [EnvEntry(name, "app", False, value) for name, value in app.env.items()]
    entries += [EnvEntry(name, "app", True, None) for name in own_secrets]
    entries += [
        EnvEntry(
            v.name,
            "project",
            v.is_secret,
            None if v.is_secret else v.value,
            overridden=_taken(app, own_secrets, v.name),
        )
        for v in shared
    ]
    return sorted(entries, key=lambda e: (e.name, e.source))
