"""What the `container` deployer reads of a running release: its health path and last words.

Both the rollout (is the new release ready?) and the watch after it (does it
keep running?) ask the same questions, so they live here once.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from home_idp.plugins.deployer.container_engine import Container, ContainerEngine
from home_idp.plugins.support.masking import mask_secrets

__all__ = ["LAST_LINES", "last_lines", "probe"]

# How many of an app's last log lines a failure shows.
LAST_LINES = 5
_MAX_LINE = 500


async def probe(container: Container, path: str, answer_within: float) -> str | None:
    """None when the app answers `path` with 2xx/3xx; otherwise what it did."""
    if container.url is None:
        return "the container has no port label"
    try:
        async with httpx.AsyncClient(
            timeout=answer_within, follow_redirects=False, trust_env=False
        ) as client:
            response = await client.get(container.url + path)
    except httpx.HTTPError:
        return "no answer yet"
    if 200 <= response.status_code < 400:
        return None
    return f"it answered {response.status_code}"


async def last_lines(engine: ContainerEngine, name: str, secrets: Iterable[str]) -> list[str]:
    """The container's last non-blank log lines (stdout and stderr), secrets masked."""
    code, out, _ = await engine.exec(["logs", f"--tail={LAST_LINES}", name], merge=True)
    if code != 0:
        return []
    # Masked before it is cut or joined: a cut secret no longer matches.
    out = mask_secrets(out, secrets)
    return [line[:_MAX_LINE] for line in out.splitlines() if line.strip()][-LAST_LINES:]
