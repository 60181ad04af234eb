"""deploy-manager: the plugins, the release engine and webhooks, per caller."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from home_idp.plugins.builder.contract import BuilderConfig, BuilderPlugin, GitSource
from home_idp.plugins.deployer.contract import DeployerConfig, DeployerPlugin
from home_idp.plugins.discovery import load_plugin
from home_idp.plugins.git.contract import GitError, GitPlugin
from home_idp.plugins.registry.contract import RegistryPlugin
from home_idp.server.apps import AppsSession
from home_idp.server.apps.source_hosts import SourceHostPolicy
from home_idp.server.apps.source_reader import SourceReader
from home_idp.server.deploy.app_addresses import AppAddresses
from home_idp.server.deploy.app_runtime import AppRuntime, LogStreamSlots
from home_idp.server.deploy.auto_rollback import AutoRollback
from home_idp.server.deploy.build_logs import BuildLog
from home_idp.server.deploy.build_steps import AwaitImageStep, BuildStep
from home_idp.server.deploy.config_changes import ConfigChanges
from home_idp.server.deploy.deploy_steps import (
    DeploymentSource,
    ManifestsStep,
    RolloutStep,
    SyncStep,
)
from home_idp.server.deploy.git_steps import AwaitPushStep, CommitDockerfileStep
from home_idp.server.deploy.platform_repo import (
    PlatformReadTokens,
    check_platform_repo_is_shared,
    make_git_plugin,
)
from home_idp.server.deploy.registry_access import RegistryAccounts, make_registry_plugin
from home_idp.server.deploy.registry_webhooks import SOURCE_REGISTRY, RegistryWebhooks
from home_idp.server.deploy.releases import ReleaseService
from home_idp.server.deploy.source_hooks import SourceHooks
from home_idp.server.deploy.source_poller import SourcePoller
from home_idp.server.deploy.source_webhooks import SOURCE_PUSH, SourceWebhooks
from home_idp.server.deploy.stability import VerifyStep
from home_idp.server.deploy.teardown import Teardown
from home_idp.server.deploy.webhooks import SOURCE_GIT, DeliveryInspector, GitWebhooks
from home_idp.server.events import EventBus
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.events import ReleaseEventLog
from home_idp.server.pipeline.instance import InstanceSlots
from home_idp.server.pipeline.release_trace import ReleaseTracer
from home_idp.server.pipeline.steps import Step
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.service import RbacSession
from home_idp.server.secret_box import SecretBox
from home_idp.server.settings import Settings
from home_idp.server.trace.manager import TraceManager

__all__ = ["DeployManager", "DeploySession"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeploySession:
    """The deploy services bound to one caller."""

    releases: ReleaseService
    config: ConfigChanges
    runtime: AppRuntime
    deliveries: DeliveryInspector
    build_log: BuildLog
    source_hooks: SourceHooks
    teardown: Teardown


class DeployManager:
    """Long-lived state of the deploy-manager."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        secret_box: SecretBox,
        trace: TraceManager,
        *,
        source: SourceReader,
        git: GitPlugin | None = None,
        builder: BuilderPlugin | None = None,
        registry: RegistryPlugin | None = None,
        deployer: DeployerPlugin | None = None,
    ) -> None:
        self.settings = settings
        self.secret_box = secret_box
        self.log_slots = LogStreamSlots(settings.deployer.max_log_streams)
        self.git = git or make_git_plugin(settings)
        self.builder = builder or make_builder_plugin(settings)
        self.registry = registry or make_registry_plugin(settings)
        self.deployer = deployer or make_deployer_plugin(settings, self.git.clone_url)
        self.read_tokens = PlatformReadTokens.from_settings(settings)
        # Where the server itself passes requests on to each app's live release.
        self.app_addresses = AppAddresses.of(settings)
        self._tls_cluster_issuer = settings.deployer.tls_cluster_issuer
        pipeline = settings.pipeline
        events = ReleaseEventLog(
            bus, None if settings.uses_sqlite else settings.effective_database_url
        )
        self.build_log = BuildLog(bus, events)
        # Live span readers on every replica are woken through the same listener.
        trace.share_through(events)
        self.accounts = accounts = RegistryAccounts(self.registry, secret_box)
        deployments = DeploymentSource(accounts, secret_box)
        source_hosts = SourceHostPolicy.from_settings(settings)
        self.probe = source
        steps: list[Step] = [
            CommitDockerfileStep(self.git, pipeline.commit_timeout_seconds),
            AwaitPushStep(self.git, pipeline.await_push_timeout_seconds),
            BuildStep(
                builder=self.builder,
                registry=self.registry,
                accounts=accounts,
                logs=self.build_log,
                secret_box=secret_box,
                platform_source=self._platform_source,
                source_hosts=source_hosts,
                probe=self.probe,
                timeout_seconds=pipeline.build_timeout_seconds,
            ),
            AwaitImageStep(self.registry, pipeline.await_image_timeout_seconds),
            ManifestsStep(
                self.git,
                pipeline.manifests_timeout_seconds,
                tls_cluster_issuer=settings.deployer.tls_cluster_issuer,
            ),
            AwaitPushStep(
                self.git,
                pipeline.await_manifest_push_timeout_seconds,
                name="await-manifest-push",
                sha_field="manifests_sha",
                commit_step="manifests",
            ),
            SyncStep(self.deployer, deployments, pipeline.sync_timeout_seconds),
            RolloutStep(
                self.deployer,
                deployments,
                pipeline.rollout_timeout_seconds,
                pipeline.rollout_poll_seconds,
            ),
            VerifyStep(self.deployer, deployments, pipeline.stability_seconds),
        ]
        self.engine = Engine(
            pipeline,
            {step.name: step for step in steps},
            events,
            ReleaseTracer(trace.tracing),
            single_worker=settings.uses_sqlite,
            instance_slots=InstanceSlots(settings.data_dir / "instances"),
        )
        self.engine.on_failure(
            AutoRollback(self.engine, AuditLog(bus), self.deployer, deployments, self.git)
        )
        self.webhooks = GitWebhooks(self.git, settings.git.branch, self.engine, settings.webhooks)
        self.registry_webhooks = RegistryWebhooks(self.registry, self.engine, settings.webhooks)
        self.source_webhooks = SourceWebhooks(self.engine, secret_box, source, settings.webhooks)
        self.poller = SourcePoller(self.probe, self.engine, settings.sources)
        self._background: list[asyncio.Task[None]] = []

    def _platform_source(self, sha: str) -> GitSource:
        """The platform repo at `sha`, with a credential that can clone it for one build."""
        settings = self.settings
        if self.builder.on_this_machine and self.git.local_path is not None:
            # Same machine: the bare repo is read from disk, no credential needed.
            return GitSource(str(self.git.local_path), sha)
        if settings.git.plugin == "local":
            token = self.read_tokens.issue(settings.pipeline.build_timeout_seconds + 60)
            return GitSource(self.git.clone_url, sha, username="builder", password=token)
        # Never the server's own token (it can push): builders get a read-only
        # one only when the settings give it, else they clone without.
        read_token = settings.git.options.get("read_token")
        return GitSource(
            self.git.clone_url,
            sha,
            username="x-access-token" if read_token else None,
            password=read_token.get_secret_value() if read_token else None,
        )

    async def start(self) -> None:
        """Start the workers, and make sure the platform repo and its webhook exist.

        A git server that is down must not keep home-idp from starting: the
        repo is then set up in the background, and commit steps retry meanwhile.
        A replica whose local platform repo is not the others' does not start
        (PlatformRepoNotShared), before any of its workers could use that repo.
        """
        await check_platform_repo_is_shared(self.settings, self.git)
        await self.engine.start()
        if self.settings.sources.poll_seconds > 0:
            self._background.append(asyncio.create_task(self.poller.run_forever()))
        try:
            await self._prepare_repo()
        except GitError as error:
            log.warning("the platform repo is not ready (%s); retrying in the background", error)
            self._background.append(asyncio.create_task(self._prepare_repo_until_ready()))

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
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.engine.stop()
        await self.builder.aclose()
        await self.deployer.aclose()
        await self.registry.aclose()
        await self.git.aclose()

    def session(self, rbac: RbacSession, apps: AppsSession) -> DeploySession:
        releases = ReleaseService(
            rbac.authz,
            rbac.audit,
            self.engine,
            apps.apps,
            apps.dockerfiles,
            self.git,
            self.probe,
            self._tls_cluster_issuer,
        )
        return DeploySession(
            releases=releases,
            config=ConfigChanges(apps.app_files, apps.project_variables, releases),
            runtime=AppRuntime(
                rbac.authz, rbac.audit, apps.apps, self.deployer, self.secret_box, self.log_slots
            ),
            deliveries=DeliveryInspector(
                rbac.authz,
                {
                    SOURCE_GIT: self.webhooks,
                    SOURCE_REGISTRY: self.registry_webhooks,
                    SOURCE_PUSH: self.source_webhooks,
                },
            ),
            build_log=self.build_log,
            source_hooks=SourceHooks(
                rbac.authz, rbac.audit, self.git, self.settings.git.plugin, self.settings.base_url
            ),
            teardown=Teardown(rbac.authz, apps.apps, rbac.projects, self.deployer, self.git),
        )


def make_deployer_plugin(settings: Settings, repo_url: str) -> DeployerPlugin:
    """The deployer plugin the settings name; PluginNotFound lists the installed ones."""
    config = DeployerConfig(
        data_dir=settings.data_dir,
        repo_url=repo_url,
        branch=settings.git.branch,
        options=settings.deployer.plain_options(),
    )
    plugin: DeployerPlugin = load_plugin("deployer", settings.deployer.plugin)(config)
    return plugin


def make_builder_plugin(settings: Settings) -> BuilderPlugin:
    """The builder plugin the settings name; PluginNotFound lists the installed ones."""
    config = BuilderConfig(
        data_dir=settings.data_dir,
        options=settings.builder.plain_options(),
    )
    plugin: BuilderPlugin = load_plugin("builder", settings.builder.plugin)(config)
    return plugin
