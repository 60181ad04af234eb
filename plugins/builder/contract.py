"""The builder contract: what an image builder does (build, follow, cancel), and its data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from home_idp.plugins.registry.contract import RegistryCredentials

__all__ = [
    "BuildError",
    "BuildHandle",
    "BuildRequest",
    "BuildResult",
    "BuilderConfig",
    "BuilderPlugin",
    "GitSource",
]


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
