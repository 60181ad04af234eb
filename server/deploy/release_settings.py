"""What an app's settings were for one release, kept so a rollback renders it again.

A release's manifests step records the snapshot (`Release.settings`) from
the app's settings at that moment; a rollback copies its target's. Secret
values are never part of it, only secret names: the values come from the
secrets as stored when the release is deployed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from home_idp.server.apps.config import app_config, app_secret_values
from home_idp.server.apps.models import App
from home_idp.server.pipeline.models import Release
from home_idp.server.secret_box import SecretBox

__all__ = [
    "MissingSecrets",
    "ReleaseSettings",
    "SettingsFile",
    "missing_secrets",
    "secret_values",
    "settings_for",
    "snapshot_of",
]


@dataclass(frozen=True)
class SettingsFile:
    """A config file as the release mounts it."""

    name: str
    mount_path: str
    content: str


@dataclass(frozen=True)
class ReleaseSettings:
    """An app's settings as one release runs with them; secrets by name only."""

    port: int
    replicas: int
    health_path: str
    ingress_host: str | None
    # The plain variables the app sees (its own, and the project's it names).
    env: dict[str, str]
    secret_names: tuple[str, ...]
    files: tuple[SettingsFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "replicas": self.replicas,
            "health_path": self.health_path,
            "ingress_host": self.ingress_host,
            "env": dict(self.env),
            "secret_names": list(self.secret_names),
            "files": [
                {"name": f.name, "mount_path": f.mount_path, "content": f.content}
                for f in self.files
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReleaseSettings:
        return cls(
            port=int(data["port"]),
            replicas=int(data["replicas"]),
            health_path=str(data["health_path"]),
            ingress_host=data.get("ingress_host") or None,
            env={str(name): str(value) for name, value in data.get("env", {}).items()},
            secret_names=tuple(str(name) for name in data.get("secret_names", [])),
            files=tuple(
                SettingsFile(str(f["name"]), str(f["mount_path"]), str(f["content"]))
                for f in data.get("files", [])
            ),
        )


async def snapshot_of(app: App) -> ReleaseSettings:
    """The app's settings as they are now."""
    config = await app_config(app)
    return ReleaseSettings(
        port=app.port,
        replicas=app.replicas,
        health_path=app.health_path,
        ingress_host=app.ingress_host or None,
        env=dict(config.env),
        secret_names=tuple(config.secret_names),
        files=tuple(SettingsFile(f.name, f.mount_path, f.content) for f in config.files),
    )


async def settings_for(release: Release) -> ReleaseSettings:
    """The settings `release` (its app loaded) renders and deploys with.

    Its snapshot when it has one; a release made before snapshots were kept
    (or one yet to render its manifests) takes the app's settings as they are now.
    """
    if release.settings is not None:
        return ReleaseSettings.from_json(release.settings)
    return await snapshot_of(release.app)


class MissingSecrets(Exception):
    """Secrets the settings name that the app no longer has."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)
        # For the remedy a caller adds: "set it again", "set them again".
        self.them = "it" if len(self.names) == 1 else "them"
        listed = ", ".join(self.names)
        if len(self.names) == 1:
            super().__init__(f"the secret {listed} no longer exists for this app")
        else:
            super().__init__(f"the secrets {listed} no longer exist for this app")


async def missing_secrets(settings: ReleaseSettings, app: App) -> list[str]:
    """The secrets `settings` name that the app no longer gets (its own, or the project's
    it uses), deleted since they were recorded."""
    stored = (await app_config(app)).secret_names
    return sorted(set(settings.secret_names) - set(stored))


async def secrets_gone_for(target: Release, app: App) -> MissingSecrets | None:
    """Why `target` cannot be run again with its own settings: secrets it names that
    the app no longer has. None when all are there (or it kept no settings)."""
    if target.settings is None:
        return None
    missing = await missing_secrets(ReleaseSettings.from_json(target.settings), app)
    return MissingSecrets(missing) if missing else None


async def secret_values(settings: ReleaseSettings, app: App, box: SecretBox) -> dict[str, str]:
    """The plain value of every secret `settings` name, as the app's secrets hold it now.

    Now, not when the settings were recorded: a secret rotated since (say a
    leaked password) must not come back with a rollback. Only the secrets the
    app gets now, which are the ones its logs are masked with. Raises
    MissingSecrets when one was deleted since.
    """
    stored = await app_secret_values(app, box)
    missing = set(settings.secret_names) - set(stored)
    if missing:
        raise MissingSecrets(missing)
    return {name: stored[name] for name in settings.secret_names}
