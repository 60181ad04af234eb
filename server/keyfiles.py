"""Secrets generated once into the data dir (mode 0600) when settings give none."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

__all__ = ["load_or_create_key_file", "setting_or_generated_secret"]

log = logging.getLogger(__name__)


def load_or_create_key_file(path: Path, generate: Callable[[], bytes], min_length: int) -> bytes:
    """The key stored at `path`, made with `generate()` on first use; never empty."""
    if not path.exists():
        _create(path, generate())
    return _read(path, min_length)


def setting_or_generated_secret(setting: SecretStr | None, path: Path) -> str:
    """A shared secret (of webhooks): the setting's, or one generated once into `path`."""
    if setting is not None:
        return setting.get_secret_value()
    key = load_or_create_key_file(path, lambda: secrets.token_hex(32).encode(), min_length=16)
    return key.decode()


def _create(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: two processes starting at once must not both write a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    log.info("generated a new key file %s in the data dir", path.name)


def _read(path: Path, min_length: int) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Readable by others means anyone on the machine could use the key.
        log.warning("key file %s was mode %o; tightening to 0600", path.name, mode)
        path.chmod(0o600)
    key = path.read_bytes().strip()
    if len(key) < min_length:
        raise RuntimeError(f"key file {path.name} is shorter than {min_length} bytes; remove it")
    return key
