"""The registry contract: projects, robot accounts, pushes and their webhooks, and their data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = [
    "ImagePush",
    "ProjectAccess",
    "RegistryConfig",
    "RegistryCredentials",
    "RegistryError",
    "RegistryPlugin",
    "RegistryUnavailable",
    "RegistryWebhook",
]


class RegistryError(Exception):
    """The registry refused a request; the message is safe to show."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached: worth retrying."""


@dataclass(frozen=True)
class RegistryCredentials:
    """A registry account (a robot account on Harbor) as username and secret."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RegistryConfig:
    """What the server tells a registry plugin when it makes one.

    `url` is the registry's API address (`http://127.0.0.1:5000`);
    `webhook_secret` is the shared secret its webhooks carry in the
    `Authorization` header; `options` holds the plugin's own settings
    (Harbor: admin username and password); secrets are never logged.
    """

    url: str
    webhook_url: str
    webhook_secret: str = field(repr=False)
    options: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ProjectAccess:
    """Accounts for one home-idp project: the builder pushes, the cluster pulls."""

    push: RegistryCredentials | None
    pull: RegistryCredentials | None


@dataclass(frozen=True)
class ImagePush:
    """A manifest pushed to the registry: `<repository>:<tag>` is `digest`."""

    repository: str
    tag: str | None
    digest: str


@dataclass(frozen=True)
class RegistryWebhook:
    """A verified registry webhook body: its id (for de-duplication) and its pushes.

    Events that are not pushes (pulls, deletes, scans) are left out of `pushes`.
    """

    delivery_id: str
    event: str
    pushes: tuple[ImagePush, ...]


@runtime_checkable
class RegistryPlugin(Protocol):
    """The image registry: projects, credentials, push webhooks and tags."""

    @property
    def host(self) -> str:
        """The registry's host (and port) as image references start: `127.0.0.1:5000`."""
        ...

    @property
    def insecure(self) -> bool:
        """Whether the registry speaks plain HTTP (builders must be told)."""
        ...

    async def ensure_project(self, project: str, known: ProjectAccess | None) -> ProjectAccess:
        """Create the project, its accounts and its push webhook if missing; idempotent.

        `known` is what an earlier call returned (the server keeps it,
        encrypted): registries that show an account's secret only once
        (Harbor) return it unchanged while the account still exists, and
        issue a new secret only when they must.
        """
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request carries the shared secret; constant time."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> RegistryWebhook:
        """The pushes in a webhook body; raises WebhookRejected for another format."""
        ...

    async def tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest `<repository>:<tag>` points at, or None if there is no such tag."""
        ...

    async def list_tags(self, repository: str) -> list[str]:
        """The repository's tags, sorted; empty when the repository does not exist."""
        ...

    async def aclose(self) -> None:
        """Release connections; the server calls it at shutdown."""
        ...


# -- deployers -------------------------------------------------------------------
