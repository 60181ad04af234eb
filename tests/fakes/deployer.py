"""An in-memory deployer: what is synced runs at once, with instances, logs and resources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from home_idp.plugins.deployer.contract import (
    AppDeployment,
    AppLogLine,
    AppResource,
    DeployerConfig,
    DeployUnavailable,
    InstanceNotFound,
    RolloutState,
    RolloutStatus,
    RunningApp,
    StabilityReport,
)
from home_idp.plugins.deployer.labels import check_names
from home_idp.plugins.support.masking import mask_secrets

__all__ = ["FakeDeployer"]


@dataclass
class _Running:
    deployment: AppDeployment
    instances: list[str]
    restarts: int = 0
    logs: dict[str, list[str]] = field(default_factory=dict)
    # What the stability watch reads: the tests make the app crash, run out of
    # memory or stop answering.
    ready: bool = True
    stopped: bool = False
    exit_code: int | None = None
    oom_killed: bool = False


class FakeDeployer:
    """Runs each synced release at once; `fail_rollout` makes the next rollout of an app fail."""

    def __init__(self, config: DeployerConfig) -> None:
        self._config = config
        self._apps: dict[tuple[str, str], _Running] = {}
        self._failing: dict[tuple[str, str], list[str]] = {}
        self._failed: dict[tuple[str, str, int], str] = {}
        self._unreachable: dict[tuple[str, str], str] = {}
        self._written = asyncio.Condition()
        self.synced: list[AppDeployment] = []
        self.discarded: list[tuple[str, str, int]] = []

    def fail_rollout(self, project: str, app: str, reason: str, *, times: int = 1) -> None:
        """The next `times` releases of the app synced fail their rollout with `reason`."""
        self._failing[(project, app)] = [reason] * times

    def fail_undeploy(self, project: str, app: str, reason: str) -> None:
        """The next undeploy of the app raises DeployUnavailable(`reason`) and leaves it running."""
        self._unreachable[(project, app)] = reason

    async def crash(
        self, project: str, app: str, exit_code: int = 1, *, restart: bool = True
    ) -> None:
        """The app's process exits with `exit_code`; it is restarted unless `restart` is False."""
        running = self._apps[(project, app)]
        await self.write_log(project, app, f"fatal: exiting with code {exit_code}")
        running.exit_code = exit_code
        running.restarts += restart
        running.stopped = not restart

    async def run_out_of_memory(self, project: str, app: str) -> None:
        """The app is killed for using too much memory, then restarted (exit code 137)."""
        await self.crash(project, app, 137)
        self._apps[(project, app)].oom_killed = True

    def set_ready(self, project: str, app: str, ready: bool) -> None:
        """The app answers its health check (or stops answering it)."""
        self._apps[(project, app)].ready = ready

    async def write_log(self, project: str, app: str, text: str) -> None:
        """Every instance of the app writes `text` (what a running app would print)."""
        running = self._apps[(project, app)]
        async with self._written:
            for name in running.instances:
                running.logs[name].append(text)
            self._written.notify_all()

    async def sync(self, deployment: AppDeployment) -> None:
        check_names(deployment.project, deployment.app)
        self.synced.append(deployment)
        key = (deployment.project, deployment.app)
        now = self._apps.get(key)
        if now is not None and now.deployment.release == deployment.release:
            now.deployment = deployment  # the same release again: nothing restarts
            return
        if self._failing.get(key):
            # The release before keeps running, as a failed rollout leaves it.
            self._failed[(*key, deployment.release)] = self._failing[key].pop()
            return
        names = [f"{deployment.app}-{deployment.release}-{n}" for n in range(deployment.replicas)]
        logs = {name: [f"starting {deployment.image}"] for name in names}
        self._apps[key] = _Running(deployment, names, logs=logs)

    async def rollout_status(self, deployment: AppDeployment) -> RolloutStatus:
        check_names(deployment.project, deployment.app)
        key = (deployment.project, deployment.app)
        failed = self._failed.get((*key, deployment.release))
        if failed is not None:
            return RolloutStatus(RolloutState.FAILED, failed)
        running = self._apps.get(key)
        if (
            running is not None
            and running.deployment.release == deployment.release
            and running.deployment.commit_sha != deployment.commit_sha
        ):
            return RolloutStatus(RolloutState.PROGRESSING, "another commit is synced")
        # Each release runs on its own once synced, as the container deployer runs a
        # container per release: one that a newer release overtook still comes up.
        wanted = (deployment.release, deployment.commit_sha)
        if not any(
            (synced.project, synced.app) == key and (synced.release, synced.commit_sha) == wanted
            for synced in self.synced
        ):
            return RolloutStatus(RolloutState.PROGRESSING, "not synced yet")
        return RolloutStatus(RolloutState.READY, url=self._url(deployment.project, deployment.app))

    async def stability(self, deployment: AppDeployment) -> StabilityReport:
        check_names(deployment.project, deployment.app)
        running = self._apps.get((deployment.project, deployment.app))
        if running is None or running.deployment.release != deployment.release:
            return StabilityReport(ready=False, running=False)
        lines = [line for name in running.instances for line in running.logs.get(name, [])]
        masked = [mask_secrets(line, deployment.secrets.values()) for line in lines[-5:]]
        return StabilityReport(
            ready=running.ready and not running.stopped,
            running=not running.stopped,
            restarts=running.restarts,
            exit_code=running.exit_code,
            oom_killed=running.oom_killed,
            log_lines=tuple(masked),
        )

    async def discard(self, deployment: AppDeployment) -> None:
        check_names(deployment.project, deployment.app)
        key = (deployment.project, deployment.app)
        self.discarded.append((*key, deployment.release))
        running = self._apps.get(key)
        if running is not None and running.deployment.release == deployment.release:
            del self._apps[key]

    async def undeploy(self, project: str, app: str) -> None:
        check_names(project, app)
        reason = self._unreachable.pop((project, app), None)
        if reason is not None:
            raise DeployUnavailable(reason)
        self._apps.pop((project, app), None)
        self._failing.pop((project, app), None)

    async def list_running(self, project: str | None = None) -> list[RunningApp]:
        return [
            RunningApp(
                project=key[0],
                app=key[1],
                release=running.deployment.release,
                image=running.deployment.image,
                state=RolloutState.READY,
                url=self._url(*key),
            )
            for key, running in sorted(self._apps.items())
            if project is None or key[0] == project
        ]

    async def app_resources(self, project: str, app: str) -> list[AppResource]:
        check_names(project, app)
        running = self._apps.get((project, app))
        if running is None:
            return []
        deployment = running.deployment
        ready = f"{len(running.instances)}/{deployment.replicas} ready"
        resources = [AppResource("Deployment", app, ready, ready=True, release=deployment.release)]
        resources += [
            AppResource(
                "Pod",
                name,
                "Running",
                ready=True,
                phase="Running",
                restarts=running.restarts,
                release=deployment.release,
            )
            for name in running.instances
        ]
        if deployment.secrets:
            keys = tuple(sorted(deployment.secrets))
            resources.append(AppResource("Secret", f"{app}-env", "Opaque", keys=keys))
        return resources

    async def app_logs(
        self, project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncGenerator[AppLogLine, None]:
        check_names(project, app)
        running = self._apps.get((project, app))
        if running is None:
            return
        seen = {name: max(len(lines) - tail_lines, 0) for name, lines in running.logs.items()}
        while True:
            for name, lines in running.logs.items():
                for text in lines[seen[name] :]:
                    yield AppLogLine(name, text)
                seen[name] = len(lines)
            if not follow:
                return
            async with self._written:
                await self._written.wait_for(
                    lambda: any(len(running.logs[n]) > seen[n] for n in running.logs)
                )

    async def delete_instance(self, project: str, app: str, name: str) -> None:
        check_names(project, app)
        running = self._apps.get((project, app))
        if running is None or name not in running.instances:
            raise InstanceNotFound(f"{name!r} is not an instance of {project}/{app}")
        # Its Deployment starts a fresh one, with a new name.
        running.restarts += 1
        fresh = f"{name.rsplit('-', 1)[0]}-r{running.restarts}"
        running.instances[running.instances.index(name)] = fresh
        running.logs[fresh] = [f"starting {running.deployment.image}"]
        del running.logs[name]

    async def aclose(self) -> None:
        return None

    @staticmethod
    def _url(project: str, app: str) -> str:
        return f"http://{app}.{project}.apps.fake.test/"
