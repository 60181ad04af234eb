"""`POST /webhooks/source`: pushes to apps' own source repositories start releases.

A push names its repository; the apps that follow it (same repository, a
webhook secret made) are the ones whose secret may have signed it, and only
those whose secret did are acted on. Each acts if the push is on its branch,
auto deploy is on, the commit is new to it and it touches a watched path.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from home_idp.server.apps.models import App
from home_idp.server.apps.source_reader import SourceCommit, SourceProblem, SourceReader
from home_idp.server.apps.watch_paths import touches
from home_idp.server.deploy.models import DeliveryOutcome, WebhookDelivery
from home_idp.server.deploy.source_push import (
    EventKind,
    PushRejected,
    SourcePush,
    SourceSender,
    delivery_of,
    parse_push,
    same_repository,
    verify,
)
from home_idp.server.deploy.source_releases import start_source_release
from home_idp.server.deploy.webhooks import (
    WebhookResult,
    finish_delivery,
    record_accepted,
    record_rejected,
    storable,
)
from home_idp.server.errors import Conflict
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.models import Release
from home_idp.server.secret_box import SecretBox
from home_idp.server.settings import WebhookSettings

__all__ = ["SOURCE_PUSH", "SourceWebhooks"]

log = logging.getLogger(__name__)

SOURCE_PUSH = "source"
# The header the inspector shows which apps' secrets signed a delivery; a
# redelivery acts on those apps only.
_SIGNED_FOR = "signed-for"
_KEPT_HEADERS = (
    "x-github-event",
    "x-github-delivery",
    "x-gitea-event",
    "x-gitea-delivery",
    "x-forgejo-event",
    "x-forgejo-delivery",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "user-agent",
)


def _app_key(app: App) -> str:
    return f"{app.project.name}/{app.name}"


@dataclass(frozen=True)
class SourceWebhooks:
    """Receives source pushes: verified per app, recorded, then releases started."""

    engine: Engine
    box: SecretBox
    source: SourceReader
    limits: WebhookSettings

    async def receive(self, headers: dict[str, str], body: bytes) -> WebhookResult:
        kept = {name: storable(headers[name][:200]) for name in _KEPT_HEADERS if name in headers}
        record: dict[str, Any] = {"source": SOURCE_PUSH, "headers": kept}
        try:
            delivery = delivery_of(headers)
        except PushRejected as error:
            record |= {"event": "", "delivery_id": ""}
            await record_rejected(record, str(error), signed=False, limits=self.limits)
            return WebhookResult(400, DeliveryOutcome.REJECTED, str(error))
        record |= {
            "event": storable(f"{delivery.sender}:{delivery.event}"[:64]),
            # A sender that gives no id (GitLab before 14) gets no replay check.
            "delivery_id": storable((delivery.delivery_id or f"none-{uuid.uuid4().hex}")[:128]),
        }
        if delivery.kind is not EventKind.PUSH:
            # A ping or another event: nothing to do, and no app to check a signature for.
            detail = f"{delivery.sender} event {delivery.event[:60]!r} is not a push; not used"
            await record_rejected(
                record, detail, signed=False, limits=self.limits, outcome=DeliveryOutcome.IGNORED
            )
            return WebhookResult(202, DeliveryOutcome.IGNORED, detail)
        try:
            push = parse_push(delivery.sender, body)
        except PushRejected as error:
            await record_rejected(record, str(error), signed=False, limits=self.limits)
            return WebhookResult(400, DeliveryOutcome.REJECTED, str(error))
        following = await _following(push)
        if not following:
            detail = "no app follows this repository with a webhook secret"
            await record_rejected(
                record, detail, signed=False, limits=self.limits, outcome=DeliveryOutcome.IGNORED
            )
            return WebhookResult(202, DeliveryOutcome.IGNORED, detail)
        signed_for = [
            app
            for app in following
            if app.source_webhook_ciphertext is not None
            and verify(
                delivery.sender, headers, body, self.box.decrypt(app.source_webhook_ciphertext)
            )
        ]
        if not signed_for:
            detail = "the signature matches the secret of no app following this repository"
            await record_rejected(record, detail, signed=False, limits=self.limits)
            return WebhookResult(401, DeliveryOutcome.REJECTED, "bad signature")
        record["headers"] = {**kept, _SIGNED_FOR: ",".join(map(_app_key, signed_for))[:1000]}
        stored = await record_accepted(record, body)
        if stored is None:
            return WebhookResult(200, DeliveryOutcome.DUPLICATE, "duplicate delivery ignored")
        return await finish_delivery(stored, self._act(push, signed_for))

    async def process(self, delivery: WebhookDelivery, event: str, body: bytes) -> WebhookResult:
        """Act on a stored, verified delivery again, for the apps it was signed for."""
        signed = set(str(delivery.headers.get(_SIGNED_FOR, "")).split(","))
        try:
            push = parse_push(SourceSender(event.partition(":")[0]), body)
        except (PushRejected, ValueError) as error:
            result = WebhookResult(400, DeliveryOutcome.REJECTED, str(error))
            return await finish_delivery(delivery, _done(result))
        apps = [app for app in await _following(push) if _app_key(app) in signed]
        return await finish_delivery(delivery, self._act(push, apps))

    async def _act(self, push: SourcePush, apps: list[App]) -> WebhookResult:
        outcomes = []
        started = False
        for app in apps:
            release = await self._release_for(push, app)
            if isinstance(release, Release):
                started = True
                outcomes.append(f"{_app_key(app)}: release #{release.number} started")
            else:
                outcomes.append(f"{_app_key(app)}: {release}")
        return WebhookResult(
            200,
            DeliveryOutcome.ACCEPTED if started else DeliveryOutcome.IGNORED,
            "; ".join(outcomes)[:2000],
        )

    async def _release_for(self, push: SourcePush, app: App) -> Release | str:
        """The release the push starts for one app, or why it starts none."""
        if push.deleted or push.after is None:
            return f"{push.ref[:80]} was deleted; nothing to build"
        if push.branch != app.source_ref:
            return f"not the app's branch ({push.ref[:80]})"
        if not app.auto_deploy:
            return "auto deploy is off"
        if push.after == app.source_seen_sha:
            return f"{push.after[:12]} was already acted on"
        if await _overtaken_by_head(self.source, app, push.after):
            # A late delivery (hosts retry, and deliver out of order) must not
            # build older code over newer: only the branch's head is built.
            return f"{push.after[:12]} is no longer the head of {app.source_ref}; not built"
        # The push's own paths are the change since the app's last commit only
        # when the push starts there; else they are unknown (counted as changed).
        changed = push.changed_paths if push.before == app.source_seen_sha else None
        if not touches(changed, app.watch_paths):
            await App.filter(id=app.id, source_seen_sha=app.source_seen_sha).update(
                source_seen_sha=push.after
            )
            return f"{push.after[:12]} touches none of the watch paths; nothing started"
        head = push.head
        commit = SourceCommit(
            push.after,
            author=head.author if head else None,
            message=head.message if head else None,
            url=head.url if head else None,
        )
        try:
            release = await start_source_release(
                self.engine, app, commit, trigger="push", by="webhook", once=True
            )
        except Conflict as error:
            return str(error)
        return release or f"{push.after[:12]} was already acted on"


async def _overtaken_by_head(source: SourceReader, app: App, sha: str) -> bool:
    """Whether the app's branch points elsewhere now; a source that cannot be asked
    leaves the push to be trusted."""
    try:
        return await source.head(app) != sha
    except SourceProblem:
        return False


async def _following(push: SourcePush) -> list[App]:
    """The apps whose source is the pushed repository."""
    apps = await App.filter(source_webhook_ciphertext__not_isnull=True).prefetch_related("project")
    return [
        app
        for app in apps
        if any(same_repository(app.source_repo, url) for url in push.repository_urls)
    ]


async def _done(result: WebhookResult) -> WebhookResult:
    return result
