"""The image registry: which plugin reaches it, its webhook secret, project accounts."""

from __future__ import annotations

import json

from tortoise.transactions import in_transaction

from home_idp.plugins.discovery import load_plugin
from home_idp.plugins.registry.contract import (
    ProjectAccess,
    RegistryConfig,
    RegistryCredentials,
    RegistryPlugin,
)
from home_idp.server.deploy.models import RegistryAccount
from home_idp.server.keyfiles import setting_or_generated_secret
from home_idp.server.rbac.models import Project
from home_idp.server.secret_box import SecretBox
from home_idp.server.settings import Settings

__all__ = [
    "REGISTRY_WEBHOOK_SECRET_FILE",
    "RegistryAccounts",
    "image_tag",
    "make_registry_plugin",
    "registry_webhook_secret",
]

REGISTRY_WEBHOOK_SECRET_FILE = "registry-webhook.secret"  # noqa: S105 (a file name)


def registry_webhook_secret(settings: Settings) -> str:
    """The secret registry webhooks carry: from settings, or generated once."""
    return setting_or_generated_secret(
        settings.registry.webhook_secret, settings.data_dir / REGISTRY_WEBHOOK_SECRET_FILE
    )


def make_registry_plugin(settings: Settings) -> RegistryPlugin:
    """The registry plugin the settings name; PluginNotFound lists the installed ones."""
    config = RegistryConfig(
        url=settings.registry.url.rstrip("/"),
        webhook_url=f"{settings.base_url}/webhooks/registry",
        webhook_secret=registry_webhook_secret(settings),
        options=settings.registry.plain_options(),
    )
    plugin: RegistryPlugin = load_plugin("registry", settings.registry.plugin)(config)
    return plugin


def image_tag(release_number: int, commit_sha: str, source_sha: str | None = None) -> str:
    """The release's immutable tag: its number, the source commit it builds when known,
    and the platform commit of its Dockerfile.

    The platform commit keeps the tag unique to this build: an app deleted and
    made again numbers its releases from 1 and may build the same source commit,
    and the registry still holds the old app's tags.
    """
    source = f"{source_sha[:12]}-" if source_sha else ""
    return f"r{release_number}-{source}{commit_sha[:12]}"


def _encode(access: ProjectAccess) -> str:
    def account(credentials: RegistryCredentials | None) -> dict[str, str] | None:
        if credentials is None:
            return None
        return {"username": credentials.username, "password": credentials.password}

    return json.dumps({"push": account(access.push), "pull": account(access.pull)})


def _decode(text: str) -> ProjectAccess:
    data = json.loads(text)

    def account(value: dict[str, str] | None) -> RegistryCredentials | None:
        return None if value is None else RegistryCredentials(value["username"], value["password"])

    return ProjectAccess(push=account(data.get("push")), pull=account(data.get("pull")))


class RegistryAccounts:
    """Each project's registry accounts: made by the plugin, kept encrypted in the database."""

    def __init__(self, registry: RegistryPlugin, box: SecretBox) -> None:
        self._registry = registry
        self._box = box

    async def stored(self, project: Project) -> ProjectAccess | None:
        """The project's accounts as kept, without asking the registry."""
        stored = await RegistryAccount.get_or_none(project_id=project.id)
        return _decode(self._box.decrypt(stored.ciphertext)) if stored else None

    async def for_project(self, project: Project) -> ProjectAccess:
        """Make sure the registry has the project; its accounts (known or new).

        The project's row is locked meanwhile: two first builds of a project at
        once must not both make (and one lose) the secret of its robot account.
        """
        async with in_transaction():
            await Project.filter(id=project.id).select_for_update().first()
            stored = await RegistryAccount.get_or_none(project_id=project.id)
            known = _decode(self._box.decrypt(stored.ciphertext)) if stored else None
            access = await self._registry.ensure_project(project.name, known)
            if access != known:
                ciphertext = self._box.encrypt(_encode(access))
                if stored is None:
                    await RegistryAccount.create(project_id=project.id, ciphertext=ciphertext)
                else:
                    stored.ciphertext = ciphertext
                    await stored.save(update_fields=["ciphertext", "updated_at"])
        return access
