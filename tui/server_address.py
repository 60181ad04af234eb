"""The server's address as people type it, made into the URL the dashboard calls."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from home_idp.tui.errors import BadServerAddress

__all__ = ["server_address"]

_EXAMPLE = "for example http://127.0.0.1:8080"


def server_address(typed: str) -> str:
    """`typed` as a base URL: `http://` added when no scheme is given, and the
    API's own path (`…/graphql`, as the playground shows it) taken off."""
    text = typed.strip()
    if not text:
        raise BadServerAddress(f"enter the server's address, {_EXAMPLE}")
    if "://" not in text:
        # `home-idp serve` answers plain HTTP; TLS is a proxy's, whose address
        # people copy with its scheme.
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise BadServerAddress(
            f"the server's address starts with http:// or https://, not {parts.scheme}://"
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or parts.query or parts.fragment:
        raise BadServerAddress(f"{typed.strip()!r} is not a server's address, {_EXAMPLE}")
    path = parts.path.rstrip("/").removesuffix("/graphql")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
