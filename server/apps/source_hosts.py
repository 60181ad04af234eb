"""Which hosts an app's source repository may be fetched from.

A source URL is the server's own request to wherever a developer points it:
without a check it could read the cloud's metadata service (link-local) or,
in a cluster, the cluster's own services. A host is checked by every
address it resolves to, when the app is saved and again right before each
fetch; the fetch is then pinned to the address that was checked, so a DNS
answer that changes in between (rebinding) is not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from home_idp.server.errors import ValidationFailed
from home_idp.server.settings import Settings

__all__ = [
    "ResolvedSource",
    "SourceHostPolicy",
    "UnresolvableSource",
    "source_host",
    "source_origin",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
# Cloud metadata services and other link-local peers: never a source.
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# The well-known NAT64 prefix (RFC 6052): its last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_RESOLVE_SECONDS = 5.0


class UnresolvableSource(Exception):
    """The source host has no address right now (DNS down, or no such host)."""


@dataclass(frozen=True)
class ResolvedSource:
    """A source URL's host and port, and the address it was checked at."""

    host: str
    port: int
    address: str


def source_host(url: str) -> tuple[str, int]:
    """The host and port a source URL (or scp-like user@host:path) connects to."""
    if "://" not in url:
        host = url.partition("@")[2].partition(":")[0]
        return host, 22
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)


def source_origin(url: str) -> str:
    """`scheme://host:port` of a source URL: where a credential for it may be sent."""
    host, port = source_host(url)
    scheme = urlsplit(url).scheme if "://" in url else "ssh"
    return f"{scheme}://{host.lower()}:{port}"


@dataclass(frozen=True)
class SourceHostPolicy:
    """Loopback and private addresses allowed or not (with exceptions); link-local never."""

    allow_internal: bool
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceHostPolicy:
        """On one machine the platform's own git server is on loopback; in a
        cluster, internal addresses must be listed to be reached."""
        return cls(
            allow_internal=settings.profile == "local",
            allowed_networks=tuple(settings.sources.allowed_networks),
        )

    def problem(self, address: IPAddress) -> str | None:
        """Why a source may not be fetched from this address, or None."""
        address = _embedded_ipv4(address)
        if any(address in network for network in _LINK_LOCAL):
            return "is link-local"
        if any(address in network for network in self.allowed_networks):
            return None
        if address.is_multicast:
            return "is a multicast address"
        # 0.0.0.0 and :: reach this machine's own services, as loopback does.
        internal = address.is_loopback or address.is_unspecified or not address.is_global
        if internal and not self.allow_internal:
            return (
                "is a loopback or private address, refused in the cluster profile unless "
                "HOME_IDP_SOURCES__ALLOWED_NETWORKS lists it"
            )
        return None

    async def resolve(self, url: str) -> ResolvedSource:
        """The address to fetch `url` from, checked; ValidationFailed when refused,
        UnresolvableSource when the host has no address now."""
        host, port = source_host(url)
        addresses = await _addresses(host, port)
        for address in addresses:
            # Any refused answer refuses the host: which one git would use is
            # not ours to guess.
            reason = self.problem(address)
            if reason is not None:
                raise ValidationFailed.for_field(
                    "sourceRepo", f"the host {host[:100]} resolves to {address}, which {reason}"
                )
        return ResolvedSource(host, port, str(addresses[0]))

    async def check_when_saved(self, url: str) -> None:
        """Refuse a source whose host resolves to a refused address; a host that does
        not resolve now is left to the check before each fetch."""
        try:
            await self.resolve(url)
        except UnresolvableSource:
            return


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), else itself:
    169.254.169.254 must not pass as 64:ff9b::a9fe:a9fe."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        async with asyncio.timeout(_RESOLVE_SECONDS):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError) as error:
        raise UnresolvableSource(f"the host {host[:100]} does not resolve") from error
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableSource(f"the host {host[:100]} does not resolve")
    return addresses
