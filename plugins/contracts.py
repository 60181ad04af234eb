"""The contracts every plugin implements, and the plain data they exchange.

Plugins import only this module and their own SDKs; the managers hold them
through these Protocols, so a plugin can be swapped by a setting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "AppDeployment",
    "AppLogLine",
    "AppResource",
    "BuildError",
    "BuildHandle",
    "BuildRequest",
    "BuildResult",
    "BuilderConfig",
    "BuilderPlugin",
    "CommitAuthor",
    "CommitResult",
    "ComponentSpec",
    "ComponentState",
    "ComponentStatus",
    "ConfigFile",
    "DeployError",
    "DeployUnavailable",
    "DeployerConfig",
    "DeployerPlugin",
    "GitConfig",
    "GitError",
    "GitPlugin",
    "GitSource",
    "GitUnavailable",
    "ImagePush",
    "InstallError",
    "InstallerConfig",
    "InstallerPlugin",
    "InstanceNotFound",
    "ProjectAccess",
    "PushEvent",
    "RegistryConfig",
    "RegistryCredentials",
    "RegistryError",
    "RegistryPlugin",
    "RegistryUnavailable",
    "RegistryWebhook",
    "RolloutState",
    "RolloutStatus",
    "RunningApp",
    "WebhookRejected",
    "values_digest",
]


class GitError(Exception):
    """The git plugin could not do what was asked; the message is safe to show."""


class GitUnavailable(GitError):
    """The repository could not be reached (network, server down): worth retrying."""


class WebhookRejected(Exception):
    """A webhook body is not a push event this plugin understands."""


@dataclass(frozen=True)
class GitConfig:
    """What the server tells a git plugin when it makes one.

    `options` holds the plugin's own settings (for GitHub: token, owner,
    api_url, private); secrets in it are never logged.
    """

    repo_name: str
    branch: str
    data_dir: Path
    webhook_url: str
    webhook_secret: str
    # repr=False: options hold tokens, and a config may end up in a log line.
    options: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CommitAuthor:
    name: str
    email: str


@dataclass(frozen=True)
class CommitResult:
    """`changed` is false when the files already held this content (no new commit)."""

    sha: str
    changed: bool


@dataclass(frozen=True)
class PushEvent:
    """The parts of a GitHub-format push event the engine acts on."""

    repository: str
    ref: str
    before: str
    after: str
    commits: tuple[str, ...]

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref.removeprefix(prefix) if self.ref.startswith(prefix) else None


@runtime_checkable
class GitPlugin(Protocol):
    """The platform git repo: where Dockerfiles and manifests are committed."""

    @property
    def repository(self) -> str:
        """The repository's full name as push events carry it (`repository.full_name`)."""
        ...

    @property
    def clone_url(self) -> str:
        """The URL builders clone the platform repo from."""
        ...

    @property
    def local_path(self) -> Path | None:
        """The repository on this machine's disk, if it is there (builders here read it)."""
        ...

    async def ensure_repo(self) -> None:
        """Create the repository (with its branch) if it does not exist; idempotent."""
        ...

    async def commit_files(
        self, files: Mapping[str, bytes | None], author: CommitAuthor, message: str
    ) -> CommitResult:
        """Commit `files` (path → content, None deletes) on the branch and push.

        Paths are relative, '/'-separated, without '..'. When another writer
        moved the branch meanwhile (non-fast-forward), the plugin rebuilds the
        commit on the new head and tries again, so concurrent commits all land.
        When nothing would change, no commit is made and the head is returned.
        """
        ...

    async def read_file(self, path: str, sha: str) -> bytes | None:
        """The file's content at commit `sha`, or None if it is not there."""
        ...

    async def head(self) -> str | None:
        """The branch's current commit, or None while the branch has no commits."""
        ...

    async def contains(self, sha: str) -> bool:
        """Whether commit `sha` is on the branch (the reconciler's check)."""
        ...

    async def register_webhook(self) -> None:
        """Make pushes to the branch send signed push events to `config.webhook_url`."""
        ...

    def verify_webhook(self, body: bytes, signature: str | None) -> bool:
        """Whether `signature` (X-Hub-Signature-256) is right for `body`; constant time."""
        ...

    def parse_push(self, body: bytes) -> PushEvent:
        """The push event in `body`; raises WebhookRejected for anything else."""
        ...

    async def aclose(self) -> None:
        """Release connections and other resources; the server calls it at shutdown."""
        ...


# -- builders ------------------------------------------------------------------


class BuildError(Exception):
    """A build could not be started or watched; the message is safe to show."""


@dataclass(frozen=True)
class BuilderConfig:
    """What the server tells a builder plugin when it makes one.

    `options` holds the plugin's own settings (for buildah: storage driver,
    isolation; for kaniko: images, kubeconfig); secrets in it are never logged.
    """

    data_dir: Path
    options: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class GitSource:
    """A git repository at one ref, and where in it to look.

    `password` (a token) is for cloning only: it is never logged, never put
    in a URL that a log line could show, and masked out of build logs.
    `ssh_key` is the deploy key of an ssh source (with `ssh_known_hosts`, its
    host keys, if known): a builder never uses keys of its own for a source.
    `address`, when set, is the IP address the server checked the URL's host
    at: the fetch connects there and nowhere else the name might resolve to.
    """

    url: str
    ref: str
    path: str = "."
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_key: str | None = field(default=None, repr=False)
    ssh_known_hosts: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class RegistryCredentials:
    """A registry account (a robot account on Harbor) as username and secret."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class BuildRequest:
    """One image build: the source at its ref, the Dockerfile at a platform commit.

    `build_id` is a DNS-1123 label unique to the release (builders name jobs,
    work dirs and pods after it); a second start with the same id replaces
    what an earlier, interrupted start left behind. `image` is the full
    reference with its tag; `env` is passed to the build (trace context).
    """

    build_id: str
    namespace: str
    source: GitSource
    platform: GitSource
    dockerfile_path: str
    image: str
    push_credentials: RegistryCredentials | None = None
    insecure_registry: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildResult:
    """How a build ended.

    `digest` is the pushed manifest's digest, set only when the whole image
    was pushed. `retryable` says a failure came from the infrastructure
    (a registry or git server away), not from the Dockerfile or the source.
    """

    digest: str | None
    reason: str = ""
    retryable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.digest is not None


class BuildHandle(Protocol):
    """A build in progress, as returned by `BuilderPlugin.start`."""

    def log_lines(self) -> AsyncIterator[str]:
        """The build's output, line by line, as it comes; ends when the build ends."""
        ...

    async def result(self) -> BuildResult:
        """Wait for the build to end; never pushes an image that did not build."""
        ...

    async def cancel(self) -> None:
        """Stop the build and clean up what it left; idempotent."""
        ...


@runtime_checkable
class BuilderPlugin(Protocol):
    """Builds an image from a source repo and a Dockerfile, and pushes it."""

    @property
    def on_this_machine(self) -> bool:
        """Whether builds run on this machine, where they can read local paths."""
        ...

    async def start(self, request: BuildRequest) -> BuildHandle:
        """Start the build; raises BuildError when it cannot even start."""
        ...

    async def aclose(self) -> None:
        """Stop every build still running and release resources; called at shutdown."""
        ...


# -- registries ----------------------------------------------------------------


class RegistryError(Exception):
    """The registry refused a request; the message is safe to show."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached: worth retrying."""


@dataclass(frozen=True)
class RegistryConfig:
    """What the server tells a registry plugin when it makes one.

    `url` is the registry's API address (`http://127.0.0.1:5000`);
    `webhook_secret` is the shared secret its webhooks carry in the
    `Authorization` header; `options` holds the plugin's own settings
    (Harbor: admin username and password); secrets are never logged.
    """

    url: str
    webhook_url: str
    webhook_secret: str = field(repr=False)
    options: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ProjectAccess:
    """Accounts for one home-idp project: the builder pushes, the cluster pulls."""

    push: RegistryCredentials | None
    pull: RegistryCredentials | None


@dataclass(frozen=True)
class ImagePush:
    """A manifest pushed to the registry: `<repository>:<tag>` is `digest`."""

    repository: str
    tag: str | None
    digest: str


@dataclass(frozen=True)
class RegistryWebhook:
    """A verified registry webhook body: its id (for de-duplication) and its pushes.

    Events that are not pushes (pulls, deletes, scans) are left out of `pushes`.
    """

    delivery_id: str
    event: str
    pushes: tuple[ImagePush, ...]


@runtime_checkable
class RegistryPlugin(Protocol):
    """The image registry: projects, credentials, push webhooks and tags."""

    @property
    def host(self) -> str:
        """The registry's host (and port) as image references start: `127.0.0.1:5000`."""
        ...

    @property
    def insecure(self) -> bool:
        """Whether the registry speaks plain HTTP (builders must be told)."""
        ...

    async def ensure_project(self, project: str, known: ProjectAccess | None) -> ProjectAccess:
        """Create the project, its accounts and its push webhook if missing; idempotent.

        `known` is what an earlier call returned (the server keeps it,
        encrypted): registries that show an account's secret only once
        (Harbor) return it unchanged while the account still exists, and
        issue a new secret only when they must.
        """
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request carries the shared secret; constant time."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> RegistryWebhook:
        """The pushes in a webhook body; raises WebhookRejected for another format."""
        ...

    async def tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest `<repository>:<tag>` points at, or None if there is no such tag."""
        ...

    async def list_tags(self, repository: str) -> list[str]:
        """The repository's tags, sorted; empty when the repository does not exist."""
        ...

    async def aclose(self) -> None:
        """Release connections; the server calls it at shutdown."""
        ...


# -- deployers -------------------------------------------------------------------


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


class InstallError(Exception):
    """An installer cannot do what it was asked; the message says what to check."""


@dataclass(frozen=True)
class InstallerConfig:
    """Where an installer keeps its files, and its own settings."""

    data_dir: Path
    options: Mapping[str, str] = field(default_factory=dict)


class ComponentStatus(StrEnum):
    ABSENT = "absent"
    INSTALLING = "installing"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ComponentSpec:
    """One dependency as it should be: a chart at a pinned version with its values.

    `values` may hold secrets; installers never log them or put them on a
    command line. `chart` is a chart reference (`name` with `repo_url`, an
    `oci://` reference or a local path) or, for the local registry, a
    program's name.
    """

    name: str
    chart: str
    version: str
    namespace: str
    values: Mapping[str, object] = field(default_factory=dict, repr=False)
    repo_url: str | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComponentState:
    """What an installer found or did: status, why, and the revision that runs."""

    status: ComponentStatus
    message: str = ""
    version: str | None = None
    revision: int | None = None
    # `values_digest` of the values it runs with, when the installer can tell.
    values_digest: str | None = None


def values_digest(values: Mapping[str, object]) -> str:
    """A digest of component values: equal values, equal digest (key order aside).

    Numbers are taken as helm gives them back (`1.0` as `1`), so the values
    helm reports for a release digest the same as the values it was given.
    """
    canonical = json.dumps(
        _as_helm_reads(values), sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _as_helm_reads(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): _as_helm_reads(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_helm_reads(item) for item in value]
    return value


@runtime_checkable
class InstallerPlugin(Protocol):
    """Installs, inspects and removes components (Helm releases, local programs)."""

    async def check(self) -> str:
        """The tool's version, e.g. "helm v4.3.1"; InstallError when missing or too old."""
        ...

    def plan(self, spec: ComponentSpec) -> list[list[str]]:
        """The commands `install` would run, values shown by file name only (for --dry-run)."""
        ...

    async def install(self, spec: ComponentSpec) -> ComponentState:
        """Install or upgrade `spec` and wait until it is ready (or failed, rolled back)."""
        ...

    async def status(self, spec: ComponentSpec) -> ComponentState:
        """The component as it is now."""
        ...

    async def uninstall(self, spec: ComponentSpec) -> ComponentState:
        """Remove the component; ABSENT when it is gone."""
        ...

    async def aclose(self) -> None:
        """Stop what the installer runs or holds."""
        ...
