"""The registry `home-idp serve` runs itself in the local profile.

A bare `serve` must build and push images, so in the local profile, when the
registry setting points at this machine and nothing answers there, the server
starts the local registry through the install-manager (the `local`
installer runs it with its data in the data dir, restarts it with backoff
when it exits, and stops it when the server stops). A registry that already
answers is used as it is. The demo relies on the same start.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from home_idp.plugins.installer.contract import ComponentStatus
from home_idp.plugins.installer.local import registry_answers
from home_idp.server.install.service import InstallRuntime
from home_idp.server.settings import Settings

__all__ = [
    "REGISTRY_COMPONENT",
    "LocalRegistryOutcome",
    "local_registry_port",
    "registry_port_problem",
    "start_local_registry",
]

log = logging.getLogger(__name__)

# The local profile's catalog entry of the registry.
REGISTRY_COMPONENT = "registry"
# A registry that was just started by someone else holds its port a moment
# before it answers.
_STARTING_SECONDS = 3.0


@dataclass(frozen=True)
class LocalRegistryOutcome:
    """What the server found at the registry URL when it started."""

    url: str
    # Started (and supervised) by this server; False when another one answered.
    started: bool
    # Why no registry answers, when none does.
    error: str | None = None

    @property
    def answers(self) -> bool:
        return self.error is None


def local_registry_port(settings: Settings) -> int | None:
    """The port on 127.0.0.1 where this server runs the registry itself, if it does.

    Only in the local profile, with the local installer, and for a registry URL
    on this machine: the local registry listens on 127.0.0.1 over plain HTTP.
    """
    if settings.profile != "local" or settings.install.plugin not in ("", "local"):
        return None
    parts = urlsplit(settings.registry.url)
    if parts.scheme != "http" or not _on_this_machine(parts.hostname or ""):
        return None
    # As the local catalog places it.
    return parts.port or 5000


def _on_this_machine(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # The local registry binds 127.0.0.1; another loopback address it cannot serve.
    return address == ipaddress.ip_address("127.0.0.1")


def _registry_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


async def registry_port_problem(settings: Settings) -> str | None:
    """Why the server could not run the local registry: its port is the server's
    own, or taken by a program that is not a registry. None when the port is
    free, a registry answers there, or the server runs no registry."""
    port = local_registry_port(settings)
    if port is None:
        return None
    if port == settings.port:
        return (
            f"HOME_IDP_REGISTRY__URL ({settings.registry.url}) and HOME_IDP_PORT name the "
            f"same port, {port}: give the registry or the server another one"
        )
    if await registry_answers(_registry_url(port)) or _can_bind(port):
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STARTING_SECONDS
    while loop.time() < deadline:
        await asyncio.sleep(0.1)
        if await registry_answers(_registry_url(port)):
            return None
    return (
        f"port {port} on 127.0.0.1, where HOME_IDP_REGISTRY__URL "
        f"({settings.registry.url}) puts the registry, is taken by another program "
        "that is not a registry; stop it, or set HOME_IDP_REGISTRY__URL to a free port"
    )


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the registry binds: a port in TIME_WAIT is free to it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


async def start_local_registry(
    settings: Settings, install: InstallRuntime
) -> LocalRegistryOutcome | None:
    """Make sure a registry answers where the settings say, starting one if needed.

    None when this server runs no registry (cluster profile, a registry
    elsewhere). A registry that cannot start is logged and reported, and the
    server serves on: everything but builds works without it.
    """
    port = local_registry_port(settings)
    if port is None:
        return None
    url = _registry_url(port)
    if settings.install.on_start:
        # `install.on_start` already installs every component in the background.
        await install.idle()
    elif await registry_answers(url):
        log.info("a registry already answers at %s; using it as it is", url)
        # The Components tab shows it so from the start, not as absent.
        await install.manager.observe(REGISTRY_COMPONENT)
        return LocalRegistryOutcome(url, started=False)
    else:
        state = await install.manager.install(REGISTRY_COMPONENT)
        if state.status is not ComponentStatus.READY:
            log.error(
                "the local registry did not start: %s; builds fail until a registry answers at %s",
                state.message,
                url,
            )
            return LocalRegistryOutcome(url, started=False, error=state.message)
        log.info("started the local registry on %s (data in %s)", url, settings.data_dir)
        return LocalRegistryOutcome(url, started=True)
    if await registry_answers(url):
        return LocalRegistryOutcome(url, started=True)
    return LocalRegistryOutcome(url, started=False, error=f"no registry answers at {url}")
