"""An in-memory image registry: projects, robot accounts, tags, and distribution-format webhooks."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from home_idp.plugins.registry.contract import (
    ProjectAccess,
    RegistryConfig,
    RegistryCredentials,
    RegistryError,
    RegistryWebhook,
)
from home_idp.plugins.registry.distribution import check_repository
from home_idp.plugins.registry.webhooks import (
    authorization_value,
    parse_registry_webhook,
    verify_shared_secret,
)
from tests.fakes.webhooks import WebhookOutbox

__all__ = ["FakeRegistry"]

_PROJECT = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class FakeRegistry:
    """A registry held in memory; `push` is what a builder's push does to it."""

    def __init__(self, config: RegistryConfig, outbox: WebhookOutbox | None = None) -> None:
        self._config = config
        self.outbox = outbox or WebhookOutbox()
        self._url = urlsplit(config.url)
        if self._url.scheme not in {"http", "https"} or not self._url.netloc:
            raise RegistryError(f"the registry URL must be http(s)://host[:port]: {config.url!r}")
        self._projects: dict[str, ProjectAccess] = {}
        self._tags: dict[str, dict[str, str]] = {}

    @property
    def host(self) -> str:
        return self._url.netloc

    @property
    def insecure(self) -> bool:
        return self._url.scheme == "http"

    async def ensure_project(self, project: str, known: ProjectAccess | None) -> ProjectAccess:
        if not _PROJECT.fullmatch(project):
            raise RegistryError(f"a project name must be a DNS label: {project!r}")
        access = self._projects.get(project)
        if access is None:
            access = ProjectAccess(
                push=RegistryCredentials(f"robot${project}+push", secrets.token_hex(16)),
                pull=RegistryCredentials(f"robot${project}+pull", secrets.token_hex(16)),
            )
            self._projects[project] = access
        return access

    def push(self, repository: str, tag: str, digest: str) -> None:
        """Record an image as a finished push, and notify as the registry would."""
        check_repository(repository, tag)
        self._tags.setdefault(repository, {})[tag] = digest
        event = {
            "id": str(uuid.uuid4()),
            "action": "push",
            "target": {
                "mediaType": _MANIFEST,
                "repository": repository,
                "tag": tag,
                "digest": digest,
            },
            "request": {"host": self.host},
        }
        headers = {
            "Content-Type": "application/vnd.docker.distribution.events.v2+json",
            "Authorization": authorization_value(self._config.webhook_secret),
        }
        body = json.dumps({"events": [event]}).encode()
        self.outbox.post(self._config.webhook_url, headers, body)

    # The registry webhook formats, as every registry plugin reads them.
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_shared_secret(self._config.webhook_secret, headers)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> RegistryWebhook:
        return parse_registry_webhook(body)

    async def tag_digest(self, repository: str, tag: str) -> str | None:
        check_repository(repository, tag)
        return self._tags.get(repository, {}).get(tag)

    async def list_tags(self, repository: str) -> list[str]:
        check_repository(repository)
        return sorted(self._tags.get(repository, {}))

    async def aclose(self) -> None:
        await self.outbox.aclose()
