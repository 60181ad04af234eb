"""The platform git repo: which plugin holds it, its webhook secret, and its layout."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import secrets
import socket
import time
from pathlib import Path

from home_idp.plugins.discovery import load_plugin
from home_idp.plugins.git.contract import GitConfig, GitError, GitPlugin
from home_idp.server.deploy.models import PlatformRepoRecord
from home_idp.server.keyfiles import load_or_create_key_file, setting_or_generated_secret
from home_idp.server.settings import Settings

__all__ = [
    "READ_TOKEN_KEY_FILE",
    "REPO_ID_FILE",
    "WEBHOOK_SECRET_FILE",
    "PlatformReadTokens",
    "PlatformRepoNotShared",
    "app_path",
    "check_platform_repo_is_shared",
    "make_git_plugin",
    "webhook_secret",
]

log = logging.getLogger(__name__)

WEBHOOK_SECRET_FILE = "git-webhook.secret"  # noqa: S105 (a file name, not a secret)
READ_TOKEN_KEY_FILE = "platform-read.key"  # noqa: S105 (a file name, not a secret)
# In the local platform repo's directory: the repo's random id, written once.
REPO_ID_FILE = "home-idp-repo-id"
_REPO_ID = re.compile(r"^[0-9a-f]{32}$")


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


class PlatformRepoNotShared(Exception):
    """This server's local platform repo is not the one the database's releases use."""


async def check_platform_repo_is_shared(settings: Settings, git: GitPlugin) -> None:
    """Refuse to start a replica whose local platform repo is not the others'.

    Replicas on one Postgres share one platform repo. With the local git
    plugin that repo is a directory of the data dir, so replicas must share
    the data dir: one with its own would commit to a repo the others cannot
    read (their builds then fail with "not our ref"). The first server to
    start records the repo's id (written into the repo) in the database;
    every later start compares. A remote git host is shared by design, and a
    SQLite database belongs to one server: neither is checked.
    """
    repo = git.local_path
    if settings.uses_sqlite or settings.git.plugin != "local" or repo is None:
        return
    try:
        await git.ensure_repo()
    except GitError as error:  # set up later in the background; nothing to compare yet
        log.warning("could not check that the platform repo is shared: %s", error)
        return
    repo_id = await asyncio.to_thread(_repo_id, repo)
    record, _ = await PlatformRepoRecord.get_or_create(
        name=settings.git.repo_name,
        defaults={
            "repo_id": repo_id,
            "data_dir": str(settings.data_dir),
            "host": socket.gethostname(),
        },
    )
    if record.repo_id != repo_id:
        message = (
            f"home-idp cannot start: the platform repo in its data dir {settings.data_dir} "
            "is not the one the other servers on this database share (set up in "
            f"{record.data_dir} on {record.host}); give every replica that same data dir "
            "(HOME_IDP_DATA_DIR, a shared directory), or use a git plugin with a shared git host"
        )
        log.error("%s", message)
        raise PlatformRepoNotShared(message)


def _repo_id(repo: Path) -> str:
    """The repo's id from its REPO_ID_FILE, written now if it has none.

    Written whole under a temporary name and then linked into place, so
    servers starting at once on one data dir all read the same id.
    """
    path = repo / REPO_ID_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        pass
    else:
        if not _REPO_ID.fullmatch(existing):
            raise PlatformRepoNotShared(
                f"home-idp cannot start: {path} holds no repo id; restore it from a backup "
                "of the data dir"
            )
        return existing
    temporary = repo / f".{REPO_ID_FILE}.{secrets.token_hex(8)}"
    temporary.write_text(f"{secrets.token_hex(16)}\n")
    try:
        os.link(temporary, path)
    except FileExistsError:  # another server wrote it first: its id counts
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()
