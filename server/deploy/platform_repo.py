"""The platform git repo: which plugin holds it, its webhook secret, and its layout."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from home_idp.plugins.discovery import load_plugin
from home_idp.plugins.git.contract import GitConfig, GitPlugin
from home_idp.server.keyfiles import load_or_create_key_file, setting_or_generated_secret
from home_idp.server.settings import Settings

__all__ = [
    "READ_TOKEN_KEY_FILE",
    "WEBHOOK_SECRET_FILE",
    "PlatformReadTokens",
    "app_path",
    "make_git_plugin",
    "webhook_secret",
]

WEBHOOK_SECRET_FILE = "git-webhook.secret"  # noqa: S105 (a file name, not a secret)
READ_TOKEN_KEY_FILE = "platform-read.key"  # noqa: S105 (a file name, not a secret)


def webhook_secret(settings: Settings) -> str:
    """The secret that signs push webhooks: from settings, or generated once."""
    return setting_or_generated_secret(
        settings.git.webhook_secret, settings.data_dir / WEBHOOK_SECRET_FILE
    )


def make_git_plugin(settings: Settings) -> GitPlugin:
    """The git plugin the settings name, configured; PluginNotFound lists the installed ones."""
    options = settings.git.plain_options()
    if settings.git.plugin == "local":
        options.setdefault("clone_url", f"{settings.base_url}/git/{settings.git.repo_name}.git")
    config = GitConfig(
        repo_name=settings.git.repo_name,
        branch=settings.git.branch,
        data_dir=settings.data_dir,
        webhook_url=f"{settings.base_url}/webhooks/git",
        webhook_secret=webhook_secret(settings),
        options=options,
    )
    plugin: GitPlugin = load_plugin("git", settings.git.plugin)(config)
    return plugin


def app_path(project: str, app: str, *parts: str) -> str:
    """`projects/<project>/apps/<app>/...`; both names are DNS-1123 labels by now."""
    return "/".join(("projects", project, "apps", app, *parts))


class PlatformReadTokens:
    """Short-lived, read-only credentials for the local platform repo, for builders.

    A token is `hidp-read.<expiry>.<hmac>`: the git route checks it without a
    database, and it opens nothing but a clone of the platform repo.
    """

    PREFIX = "hidp-read."

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformReadTokens:
        key = load_or_create_key_file(
            settings.data_dir / READ_TOKEN_KEY_FILE,
            lambda: secrets.token_hex(32).encode(),
            min_length=64,
        )
        return cls(key)

    def issue(self, ttl_seconds: float) -> str:
        expiry = int(time.time() + ttl_seconds)
        return f"{self.PREFIX}{expiry}.{self._mac(expiry)}"

    def verify(self, token: str) -> bool:
        if not token.startswith(self.PREFIX) or len(token) > 200:
            return False
        expiry, _, mac = token.removeprefix(self.PREFIX).partition(".")
        if not (expiry.isascii() and expiry.isdigit()) or int(expiry) < time.time():
            return False
        return hmac.compare_digest(mac.encode(), self._mac(int(expiry)).encode())

    def _mac(self, expiry: int) -> str:
        return hmac.new(self._key, f"platform-read:{expiry}".encode(), hashlib.sha256).hexdigest()
