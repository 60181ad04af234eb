"""Where a request comes from: the client's address and user agent."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

from home_idp.server.rbac.sessions import ClientInfo

__all__ = ["client_info"]


def client_info(connection: HTTPConnection | None, trusted_proxies: Sequence[str]) -> ClientInfo:
    """The caller's address and user agent.

    `X-Forwarded-For` is believed only when the peer is a trusted proxy, and
    then only up to the first hop that is not one: a client cannot choose
    the address it is throttled by.
    """
    if connection is None:
        return ClientInfo()
    peer = connection.client.host if connection.client else ""
    address = peer
    if _is_trusted(peer, trusted_proxies):
        hops = [hop.strip() for hop in connection.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([hop for hop in hops if hop]):
            address = hop
            if not _is_trusted(hop, trusted_proxies):
                break
    return ClientInfo(address, connection.headers.get("user-agent", "")).clipped()


def _is_trusted(address: str, trusted_proxies: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted_proxies:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
