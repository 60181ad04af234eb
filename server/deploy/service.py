"""deploy-manager: the git plugin, the release engine and webhooks, per caller."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from home_idp.plugins.contracts import GitError, GitPlugin
from home_idp.server.deploy.git_steps import AwaitPushStep, CommitDockerfileStep
from home_idp.server.deploy.platform_repo import make_git_plugin
from home_idp.server.deploy.releases import ReleaseService
from home_idp.server.deploy.webhooks import DeliveryInspector, GitWebhooks
from home_idp.server.events import EventBus
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.events import ReleaseEventLog
from home_idp.server.pipeline.steps import Step
from home_idp.server.rbac.service import RbacSession
from home_idp.server.settings import Settings

__all__ = ["DeployManager", "DeploySession"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeploySession:
    """The deploy services bound to one caller."""

    releases: ReleaseService
    deliveries: DeliveryInspector


class DeployManager:
    """Long-lived state of the deploy-manager."""

    def __init__(self, settings: Settings, bus: EventBus, git: GitPlugin | None = None) -> None:
        self.settings = settings
        self.git = git or make_git_plugin(settings)
        pipeline = settings.pipeline
        steps: list[Step] = [
            CommitDockerfileStep(self.git, pipeline.commit_timeout_seconds),
            AwaitPushStep(self.git, pipeline.await_push_timeout_seconds),
        ]
        events = ReleaseEventLog(
            bus, None if settings.uses_sqlite else settings.effective_database_url
        )
        self.engine = Engine(
            pipeline,
            {step.name: step for step in steps},
            events,
            single_worker=settings.uses_sqlite,
        )
        self.webhooks = GitWebhooks(self.git, settings.git.branch, self.engine)
        self._preparing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the workers, and make sure the platform repo and its webhook exist.

        A git server that is down must not keep home-idp from starting: the
        repo is then set up in the background, and commit steps retry meanwhile.
        """
        await self.engine.start()
        try:
            await self._prepare_repo()
        except GitError as error:
            log.warning("the platform repo is not ready (%s); retrying in the background", error)
            self._preparing = asyncio.create_task(self._prepare_repo_until_ready())

    async def _prepare_repo(self) -> None:
        await self.git.ensure_repo()
        await self.git.register_webhook()

    async def _prepare_repo_until_ready(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self._prepare_repo()
            except GitError as error:
                delay = min(delay * 2, 60.0)
                log.warning("the platform repo is still not ready: %s", error)
            else:
                log.info("the platform repo is ready")
                return

    async def stop(self) -> None:
        if self._preparing is not None:
            self._preparing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._preparing
        await self.engine.stop()
        await self.git.aclose()

    def session(self, rbac: RbacSession) -> DeploySession:
        return DeploySession(
            releases=ReleaseService(
                rbac.authz, rbac.audit, self.engine, rbac.apps, rbac.dockerfiles
            ),
            deliveries=DeliveryInspector(rbac.authz, self.webhooks),
        )
