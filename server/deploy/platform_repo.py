"""The platform git repo: which plugin holds it, its webhook secret, and its layout."""

from __future__ import annotations

import secrets

from home_idp.plugins.contracts import GitConfig, GitPlugin
from home_idp.plugins.registry import load_plugin
from home_idp.server.keyfiles import load_or_create_key_file
from home_idp.server.settings import Settings

__all__ = ["WEBHOOK_SECRET_FILE", "app_path", "make_git_plugin", "webhook_secret"]

WEBHOOK_SECRET_FILE = "git-webhook.secret"  # noqa: S105 (a file name, not a secret)


def webhook_secret(settings: Settings) -> str:
    """The secret that signs push webhooks: from settings, or generated once."""
    if settings.git.webhook_secret is not None:
        return settings.git.webhook_secret.get_secret_value()
    key = load_or_create_key_file(
        settings.data_dir / WEBHOOK_SECRET_FILE,
        lambda: secrets.token_hex(32).encode(),
        min_length=16,
    )
    return key.decode()


def make_git_plugin(settings: Settings) -> GitPlugin:
    """The git plugin the settings name, configured; PluginNotFound lists the installed ones."""
    options = {name: value.get_secret_value() for name, value in settings.git.options.items()}
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
