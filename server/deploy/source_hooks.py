"""An app's source push webhook, registered on its git host when the git plugin can.

`newSourceWebhookSecret` makes the app's secret (the apps room); this hands
it to the git plugin, which registers the hook on the app's repository when
that repository is on the plugin's host and the plugin's credential may
manage its hooks. Anything else leaves the hook to be added by hand and says
why: the secret was made and must be shown whatever the git host answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from home_idp.plugins.git.contract import (
    GitPlugin,
    SourceHookOutcome,
    SourceHookRegistrar,
    SourceHookResult,
)
from home_idp.plugins.support.masking import mask_secrets
from home_idp.server.apps.models import App
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer

__all__ = ["SourceHookReport", "SourceHooks", "source_hook_url"]

log = logging.getLogger(__name__)

AUDIT_ACTION = "app.source_webhook_register"


@dataclass(frozen=True)
class SourceHookReport:
    """Whether the git host now sends the app's pushes here, and a note that says
    where, or why not and what to do instead."""

    registered: bool
    note: str


def source_hook_url(base_url: str, project: str, app: str) -> str:
    """The URL registered for one app: `/webhooks/source` with the app in its query.

    GitHub keeps one hook per URL on a repository and each app has its own
    secret, so two apps that follow one repository (a monorepo with watch
    paths) need two URLs. The gateway routes on the path alone.
    """
    query = urlencode({"app": f"{project}/{app}"})
    return f"{base_url}/webhooks/source?{query}"


@dataclass(frozen=True)
class SourceHooks:
    """Registers apps' source push webhooks through the git plugin, for one caller."""

    authz: Authorizer
    audit: AuditLog
    git: GitPlugin
    plugin_name: str
    base_url: str

    async def register(self, app: App, secret: str) -> SourceHookReport:
        """Register (or update) the push webhook of `app` (its project loaded) with
        `secret`, the one `new_webhook_secret` just made. Never raises for what
        the git host answers; an attempt that reached the host is audited."""
        project = app.project.name
        self.authz.require_write()
        await self.authz.require("app", "update", project)
        result = await self._attempt(app, secret)
        if result.outcome is not SourceHookOutcome.NOT_SUPPORTED:
            detail = {"outcome": result.outcome.value, "repository": result.repository}
            await self.audit.record_app(
                self.authz.principal, AUDIT_ACTION, project, app.name, detail
            )
        # The plugin promises messages without the secret; this holds a plugin to it.
        message = mask_secrets(result.message, [secret])
        if result.registered:
            return SourceHookReport(True, message)
        return SourceHookReport(False, f"{message}: add the webhook by hand")

    async def _attempt(self, app: App, secret: str) -> SourceHookResult:
        if not isinstance(self.git, SourceHookRegistrar):
            message = f"the {self.plugin_name!r} git plugin does not register webhooks"
            return SourceHookResult(SourceHookOutcome.NOT_SUPPORTED, message)
        hook_url = source_hook_url(self.base_url, app.project.name, app.name)
        try:
            return await self.git.register_source_hook(app.source_repo, hook_url, secret)
        except Exception as error:
            # The contract says a plugin never raises here; one that does must
            # still not cost the caller the secret that was just made.
            log.warning(
                "the git plugin failed to register the source webhook of %s/%s: %s",
                app.project.name,
                app.name,
                mask_secrets(repr(error), [secret]),
            )
            message = "the git plugin failed to register the webhook (see the server log)"
            return SourceHookResult(SourceHookOutcome.FAILED, message)
