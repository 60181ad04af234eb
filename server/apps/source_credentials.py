"""An app's source credential: how builds sign in to the app's source repository.

A token (with an optional user name) for an https or http URL, or a deploy
key (with optional pinned host keys) for an ssh URL; never a password in the
URL, and never the server's own keys. Stored encrypted, never returned by
the API (only its kind, user name and who set it when), masked out of every
build log.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from home_idp.server.apps.models import App, SourceCredential
from home_idp.server.apps.service import AppService
from home_idp.server.apps.source_hosts import source_origin
from home_idp.server.errors import ValidationFailed
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.secret_box import SecretBox

__all__ = [
    "SourceCredentialInput",
    "SourceCredentialService",
    "SourceSecret",
    "source_secret",
    "uses_ssh",
]

TOKEN = "token"  # noqa: S105 - the name of a kind, not a secret
SSH_KEY = "ssh-key"
_MAX_TOKEN = 4096
_MAX_KEY = 16 * 1024
_MAX_KNOWN_HOSTS = 64 * 1024
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
_PRIVATE_KEY = re.compile(
    r"\A-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----\n.+\n-----END \1PRIVATE KEY-----\n?\Z", re.DOTALL
)


@dataclass(frozen=True)
class SourceCredentialInput:
    """What a user gives: a token, or a deploy key (and optionally its host keys)."""

    username: str | None = None
    token: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)
    ssh_known_hosts: str | None = None


@dataclass(frozen=True)
class SourceSecret:
    """A decrypted source credential, for a build only."""

    kind: str
    origin: str
    username: str | None = None
    token: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)
    ssh_known_hosts: str | None = None

    @property
    def secret_values(self) -> list[str]:
        """What must be masked wherever a build's output goes."""
        return [value for value in (self.token, self.ssh_private_key) if value]


def uses_ssh(url: str) -> bool:
    """Whether git reaches this source over ssh (ssh:// or scp-like user@host:path)."""
    return "://" not in url or urlsplit(url).scheme == "ssh"


class SourceCredentialService:
    """Sets and removes apps' source credentials, checked like app secrets."""

    def __init__(
        self, authz: Authorizer, audit: AuditLog, box: SecretBox, apps: AppService
    ) -> None:
        self._authz = authz
        self._audit = audit
        self._box = box
        self._apps = apps

    async def info(self, app: App) -> SourceCredential | None:
        """Which credential is set (kind, user name, who, when); never its secret."""
        await self._authz.require("secret", "read", app.project.name)
        return await SourceCredential.get_or_none(app_id=app.id)

    async def set(self, app_id: int, given: SourceCredentialInput) -> App:
        app = await self._apps.get(app_id, "update", "secret")
        kind, payload = _checked(app.source_repo, given)
        author = self._authz.require_write().username
        async with in_transaction():
            await SourceCredential.update_or_create(
                defaults={
                    "kind": kind,
                    "origin": source_origin(app.source_repo),
                    "username": given.username or None,
                    "ciphertext": self._box.encrypt(json.dumps(payload)),
                    "updated_by": author,
                },
                app_id=app.id,
            )
            await self._record("app.set_source_credential", app, kind)
        return app

    async def delete(self, app_id: int) -> App:
        app = await self._apps.get(app_id, "update", "secret")
        async with in_transaction():
            await SourceCredential.filter(app_id=app.id).delete()
            await self._record("app.delete_source_credential", app, None)
        return app

    async def _record(self, action: str, app: App, kind: str | None) -> None:
        detail = {"kind": kind} if kind else None
        await self._audit.record_app(
            self._authz.principal, action, app.project.name, app.name, detail
        )


async def source_secret(app_id: int, box: SecretBox) -> SourceSecret | None:
    """The app's source credential, decrypted for a build; None when there is none."""
    row = await SourceCredential.get_or_none(app_id=app_id)
    if row is None:
        return None
    payload = json.loads(box.decrypt(row.ciphertext))
    return SourceSecret(
        kind=row.kind,
        origin=row.origin,
        username=row.username,
        token=payload.get("token"),
        ssh_private_key=payload.get("ssh_private_key"),
        ssh_known_hosts=payload.get("ssh_known_hosts"),
    )


def _checked(source_repo: str, given: SourceCredentialInput) -> tuple[str, dict[str, str]]:
    """The credential's kind and what to encrypt; ValidationFailed names a wrong field."""
    if given.username is not None and given.username and not _USERNAME.fullmatch(given.username):
        raise ValidationFailed.for_field(
            "username",
            "must be 1-100 letters, digits and . _ @ + - (starting with one of the first)",
        )
    if (given.token is None) == (given.ssh_private_key is None):
        raise ValidationFailed.for_field("token", "give either a token or an sshPrivateKey")
    if uses_ssh(source_repo):
        if given.ssh_private_key is None:
            raise ValidationFailed.for_field(
                "sshPrivateKey", "the source is fetched over ssh: give a deploy key"
            )
        return SSH_KEY, _checked_key(given.ssh_private_key, given.ssh_known_hosts)
    if urlsplit(source_repo).scheme == "git":
        raise ValidationFailed.for_field(
            "token", "a git:// source is read without credentials; use https or ssh"
        )
    if given.token is None:
        raise ValidationFailed.for_field(
            "token", "the source is fetched over http(s): give a token, not a deploy key"
        )
    token = given.token
    if not token or len(token) > _MAX_TOKEN or any(c.isspace() or ord(c) < 32 for c in token):
        raise ValidationFailed.for_field(
            "token", f"must be 1-{_MAX_TOKEN} characters without spaces or line breaks"
        )
    return TOKEN, {"token": token}


def _checked_key(key: str, known_hosts: str | None) -> dict[str, str]:
    key = key.replace("\r\n", "\n").strip() + "\n"
    if len(key) > _MAX_KEY or not _PRIVATE_KEY.match(key):
        raise ValidationFailed.for_field(
            "sshPrivateKey",
            "must be a private key in OpenSSH or PEM form (-----BEGIN … PRIVATE KEY-----)",
        )
    payload = {"ssh_private_key": key}
    if known_hosts:
        if len(known_hosts) > _MAX_KNOWN_HOSTS or "\0" in known_hosts:
            raise ValidationFailed.for_field(
                "sshKnownHosts", "must be known_hosts lines, at most 64 KiB"
            )
        payload["ssh_known_hosts"] = known_hosts.replace("\r\n", "\n").strip() + "\n"
    return payload
