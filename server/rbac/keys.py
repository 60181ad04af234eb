"""The JWT signing key: from settings, or generated once into the data dir."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from home_idp.server.settings import Settings

__all__ = ["KEY_FILE_NAME", "load_signing_key"]

log = logging.getLogger(__name__)

KEY_FILE_NAME = "jwt-signing.key"
_KEY_BYTES = 64


def load_signing_key(settings: Settings) -> bytes:
    """Return the HS256 key; never empty, never a built-in default."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    path = settings.data_dir / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(_KEY_BYTES).encode()
    try:
        # O_EXCL: two processes starting at once must not both write a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    log.info("generated a new JWT signing key in the data dir")


def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Readable by others means anyone on the machine could mint tokens.
        log.warning("JWT key file was mode %o; tightening to 0600", mode)
        path.chmod(0o600)
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise RuntimeError(f"JWT key file {path.name} is shorter than 32 bytes; remove it")
    return key
