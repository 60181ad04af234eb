"""The JWT signing key: from settings, or generated once into the data dir."""

from __future__ import annotations

import secrets

from home_idp.server.keyfiles import load_or_create_key_file
from home_idp.server.settings import Settings

__all__ = ["KEY_FILE_NAME", "load_signing_key"]

KEY_FILE_NAME = "jwt-signing.key"
_KEY_BYTES = 64


def load_signing_key(settings: Settings) -> bytes:
    """Return the HS256 key; never empty, never a built-in default."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    return load_or_create_key_file(
        settings.data_dir / KEY_FILE_NAME,
        lambda: secrets.token_hex(_KEY_BYTES).encode(),
        min_length=32,
    )
