"""The deployer contract: sync an app, report its rollout, logs and resources, and their data."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from home_idp.plugins.registry.contract import RegistryCredentials

__all__ = [
    "AppDeployment",
    "AppLogLine",
    "AppResource",
    "ConfigFile",
    "DeployError",
    "DeployUnavailable",
    "DeployerConfig",
    "DeployerPlugin",
    "InstanceNotFound",
    "RolloutState",
    "RolloutStatus",
    "RunningApp",
    "StabilityReport",
]


class DeployError(Exception):
    """The deployer refused or failed; the message is safe to show."""


class DeployUnavailable(DeployError):
    """The deployment target (a cluster, Argo CD, the container engine) is away: retry."""


@dataclass(frozen=True)
class DeployerConfig:
    """What the server tells a deployer plugin when it makes one.

    `repo_url` and `branch` are the platform repo's (Argo CD reads the
    manifests from there); `options` holds the plugin's own settings (API
    addresses, tokens, the container engine); secrets are never logged.
    """

    data_dir: Path
    repo_url: str
    branch: str
    options: Mapping[str, str] = field(default_factory=dict, repr=False)


class InstanceNotFound(DeployError):
    """The pod or container named is not one of the app's (or is gone)."""


@dataclass(frozen=True)
class ConfigFile:
    """A config file the app's containers see, read-only, at `mount_path`.

    `name` is a file name (letters, digits, '.', '_', '-'): the ConfigMap key
    in cluster mode. `mount_path` is the absolute path of the file inside the
    container, checked by the server (no '..', not over system paths).
    """

    name: str
    mount_path: str
    content: str = field(repr=False)


@dataclass(frozen=True)
class AppDeployment:
    """One app at one release, as every deployer needs it.

    `image` is pinned by digest (`host/project/app@sha256:…`). `manifests`
    are the rendered documents committed at `commit_sha` under
    `manifests_path` (file name → YAML); `secrets` and `pull_credentials`
    are for deployers that run the image themselves and are never logged.
    """

    project: str
    app: str
    release: int
    image: str
    port: int
    replicas: int
    health_path: str
    env: Mapping[str, str]
    manifests_path: str
    commit_sha: str
    manifests: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    pull_credentials: RegistryCredentials | None = None
    # Deployers that run the image themselves mount these; the cluster ones
    # find them as ConfigMaps in `manifests`.
    files: tuple[ConfigFile, ...] = ()


class RolloutState(StrEnum):
    PROGRESSING = "progressing"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class RolloutStatus:
    """Where a rollout stands; `reason` says why it failed (or what it waits for)."""

    state: RolloutState
    reason: str = ""
    # Where the app answers, when the deployer knows (the container deployer does).
    url: str | None = None


@dataclass(frozen=True)
class StabilityReport:
    """How a rolled-out release fares, as the watch after its rollout reads it.

    `restarts` counts every restart of the release's instances so far (the
    watch compares it with the count it saw first); `running` is False once an
    instance ended for good; `exit_code` and `oom_killed` describe the last
    termination, if any; `log_lines` are the app's last lines, secrets masked.
    """

    ready: bool
    running: bool = True
    restarts: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    log_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunningApp:
    """One app as the deployer sees it running."""

    project: str
    app: str
    release: int | None
    image: str
    state: RolloutState
    url: str | None = None


@dataclass(frozen=True)
class AppLogLine:
    """One line an app wrote; `source` names the pod or container that wrote it."""

    source: str
    text: str


@dataclass(frozen=True)
class AppResource:
    """One object that runs an app (Deployment, Pod, Service, Ingress, ConfigMap,
    Secret; a Container in local mode), as a resource view shows it.

    `keys` are the data keys of a ConfigMap or Secret: names only, never values.
    """

    kind: str
    name: str
    status: str
    ready: bool | None = None
    phase: str | None = None
    restarts: int | None = None
    release: int | None = None
    keys: tuple[str, ...] = ()
    created_at: str | None = None


@runtime_checkable
class DeployerPlugin(Protocol):
    """Runs apps: a GitOps engine, a cluster's API, or a container engine here."""

    async def sync(self, deployment: AppDeployment) -> None:
        """Start running `deployment` (idempotent); the release before keeps serving
        until the new one is ready. Raises DeployUnavailable when worth retrying."""
        ...

    async def rollout_status(self, deployment: AppDeployment) -> RolloutStatus:
        """Whether `deployment` is ready, still progressing, or failed (and why)."""
        ...

    async def stability(self, deployment: AppDeployment) -> StabilityReport:
        """How `deployment`, once ready, keeps running: restarts, readiness, the last
        exit (code, out of memory) and a few log lines with its secrets masked."""
        ...

    async def discard(self, deployment: AppDeployment) -> None:
        """Stop and remove what runs this release only, after it failed: the release
        before it keeps what it has. Idempotent; a no-op for deployers whose next
        release (or git) replaces it."""
        ...

    async def undeploy(self, project: str, app: str) -> None:
        """Stop and remove everything that runs the app; idempotent."""
        ...

    async def list_running(self, project: str | None = None) -> list[RunningApp]:
        """What runs, of one project or of all."""
        ...

    async def app_resources(self, project: str, app: str) -> list[AppResource]:
        """The objects that run the app now, with their status; never a Secret's data."""
        ...

    def app_logs(
        self, project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncGenerator[AppLogLine, None]:
        """The last `tail_lines` lines of every pod (container) of the app, then, with
        `follow`, new lines as they are written, interleaved as they come.

        Reading is paced by the caller (bounded buffers, never an unbounded
        queue); closing the iterator closes every stream it opened.
        """
        ...

    async def delete_instance(self, project: str, app: str, name: str) -> None:
        """Delete the app's pod `name` so its Deployment starts a fresh one (in local
        mode: restart the container `name`). Raises InstanceNotFound when `name` is
        not one of the app's."""
        ...

    async def aclose(self) -> None:
        """Release connections; the server calls it at shutdown (apps keep running)."""
        ...


# -- installers: the cluster's (or this machine's) dependencies --------------------
