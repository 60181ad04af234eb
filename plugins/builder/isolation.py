"""How a local build's `RUN` steps are kept away from the machine that builds.

A Dockerfile is other people's code. Every `RUN` step runs under buildah's
OCI isolation with runc: its own user, PID, mount, IPC, UTS and cgroup
namespaces, root inside mapped to an unprivileged range of ids outside, and
by default no network at all, so none of this machine's loopback services
(the server, its database, the registry) either. There is no weaker mode:
where isolation cannot be had, the build fails and says which setting to
look at.

Options of the buildah builder (`HOME_IDP_BUILDER__OPTIONS`):
- `runtime`: the OCI runtime (default `runc`; crun cannot run on hosts with
  hybrid cgroups);
- `userns`: `container:host:size` for both uids and gids (default
  `0:100000:65536`); the host range may not include root;
- `network`: `none` (default), `private` (a network namespace of buildah's
  own with NAT to the outside, through a bridge buildah sets up: reaches
  the internet, not the host's loopback, though services listening on all
  of the host's addresses answer through the bridge) or `host` (the host's
  network, loopback services included: only for Dockerfiles you trust).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from home_idp.plugins.builder.contract import BuildError
from home_idp.plugins.support.options import PluginOptions

__all__ = ["NETWORKS", "BuildIsolation"]

_OPTIONS = "HOME_IDP_BUILDER__OPTIONS"
NETWORKS = ("none", "private", "host")
_ID_MAP = re.compile(r"^(\d{1,10}):(\d{1,10}):(\d{1,10})$")
_MAX_ID = 2**32 - 2
# What buildah and the runtime print when a RUN step's namespaces could not be
# made, as opposed to a RUN step that ran and failed.
_NOT_ISOLATED = re.compile(
    r"error running container|runc create failed|unable to start container process|"
    r"cannot set up namespace|newuidmap|setting up user namespace|uid_map|gid_map",
    re.IGNORECASE,
)
_MAX_USER_NAMESPACES = Path("/proc/sys/user/max_user_namespaces")


def _only_oci(isolation: str) -> str:
    if isolation != "oci":
        # chroot isolation leaves a RUN step root on this machine, with its
        # processes and files in reach: no setting turns that on.
        raise ValueError("must be oci: RUN steps are always isolated")
    return isolation


def _id_map(userns: str) -> str:
    match = _ID_MAP.fullmatch(userns.strip())
    if match is None:
        raise ValueError(f"({_OPTIONS}) must be container:host:size, e.g. 0:100000:65536")
    inside, outside, size = (int(part) for part in match.groups())
    if size < 1 or outside < 1 or outside + size > _MAX_ID or inside + size > _MAX_ID:
        raise ValueError(
            f"({_OPTIONS}) must map a RUN step's ids onto an unprivileged range: "
            "the host ids may not include 0 (root)"
        )
    return userns.strip()


def _network(network: str) -> str:
    if network.strip() not in NETWORKS:
        raise ValueError(f"({_OPTIONS}) must be one of {', '.join(NETWORKS)}")
    return network.strip()


class BuildIsolation(PluginOptions):
    """The isolation every `RUN` step of a local build gets: the builder's options for it."""

    isolation: Annotated[str, AfterValidator(_only_oci)] = "oci"
    runtime: Annotated[str, AfterValidator(str.strip)] = "runc"
    userns: Annotated[str, AfterValidator(_id_map)] = "0:100000:65536"
    network: Annotated[str, AfterValidator(_network)] = "none"

    def storage_args(self) -> list[str]:
        """buildah's global flags for every command on the builder's storage.

        The id map belongs to the storage, not to one build: the images in it
        (pulled bases included) are kept owned by the mapped ids, so that root
        in a RUN step owns the image's files. A store must always be used with
        the same map; buildah refuses a second one.
        """
        return [f"--userns-uid-map={self.userns}", f"--userns-gid-map={self.userns}"]

    def bud_args(self) -> list[str]:
        """The `buildah bud` flags that isolate every RUN step; all explicit, so that
        no containers.conf on this machine can loosen them."""
        return [
            "--isolation=oci",
            f"--runtime={self.runtime}",
            "--pid=private",
            "--ipc=private",
            "--uts=private",
            "--cgroupns=private",
            f"--network={self.network}",
        ]

    def check_available(self) -> None:
        """A BuildError that says what is missing when this machine cannot isolate builds."""
        if shutil.which(self.runtime) is None:
            raise BuildError(
                f"the OCI runtime {self.runtime!r} that isolates RUN steps is not installed "
                f"(the buildah builder's `runtime` option, {_OPTIONS})"
            )
        try:
            allowed = int(_MAX_USER_NAMESPACES.read_text())
        except (OSError, ValueError):
            allowed = 1  # not Linux's knob: let the runtime say
        if allowed < 1:
            raise BuildError(
                "this machine allows no user namespaces (user.max_user_namespaces is 0), "
                "and RUN steps are only run isolated in one; allow them, or build in a "
                "cluster (HOME_IDP_BUILDER__PLUGIN=kaniko)"
            )

    def failure_reason(self, output: Sequence[str]) -> str | None:
        """Why a build failed, when its output says a RUN step could not be isolated."""
        for line in output:
            if _NOT_ISOLATED.search(line):
                return (
                    f"a RUN step could not be started isolated ({line.strip()[:200]}); "
                    "home-idp never runs one without isolation: check the buildah "
                    f"builder's `runtime` and `userns` options ({_OPTIONS})"
                )
        return None
