"""App secrets encrypted at rest with Fernet; masked out of text by `plugins.support.masking`."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.fernet import Fernet, InvalidToken

# Masking lives with the plugins so that they and the server share one masker;
# its names are handed on here for the server's code.
from home_idp.plugins.support.masking import MASK, MIN_MASKED_LENGTH, mask_secrets, secret_masker
from home_idp.server.keyfiles import load_or_create_key_file
from home_idp.server.settings import Settings

__all__ = [
    "KEY_FILE_NAME",
    "MASK",
    "MIN_MASKED_LENGTH",
    "SecretBox",
    "SecretDecryptionError",
    "load_secrets_key",
    "mask_secrets",
    "secret_masker",
]

KEY_FILE_NAME = "secrets.key"
# A Fernet key is 32 bytes in url-safe base64 with its padding: 44 characters,
# the last one "=".
_FERNET_KEY_BYTES = 32
_FERNET_KEY_LENGTH = 44
_FERNET_KEY_FORM = re.compile(rb"[A-Za-z0-9_-]{43}=")


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted: the secrets key changed or the value is corrupt."""


def _is_fernet_key(key: bytes) -> bool:
    """Whether `key` has exactly the form Fernet's specification gives a key.

    Checked here rather than by trying `Fernet(key)`: how lenient its parser is
    changes between releases of cryptography (51 takes a key without padding),
    and a key this release takes must still be taken by the next one.
    """
    if _FERNET_KEY_FORM.fullmatch(key) is None:
        return False
    try:
        raw = base64.urlsafe_b64decode(key)
    except binascii.Error:
        return False
    # The canonical encoding only: the last character may not carry stray bits.
    return len(raw) == _FERNET_KEY_BYTES and base64.urlsafe_b64encode(raw) == key


def load_secrets_key(settings: Settings) -> bytes:
    """The Fernet key from `HOME_IDP_SECRETS_KEY`, or one generated once into the data dir."""
    if settings.secrets_key is not None:
        key = settings.secrets_key.get_secret_value().strip().encode()
        if not _is_fernet_key(key):
            # Never echo the value: a near-miss key is still most of a secret.
            raise RuntimeError(
                "HOME_IDP_SECRETS_KEY is not a valid Fernet key (32 url-safe base64-encoded "
                "bytes); make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            )
        return key
    key = load_or_create_key_file(
        settings.data_dir / KEY_FILE_NAME, Fernet.generate_key, min_length=_FERNET_KEY_LENGTH
    )
    if not _is_fernet_key(key):
        raise RuntimeError(f"key file {KEY_FILE_NAME} does not hold a valid Fernet key")
    return key


class SecretBox:
    """Encrypts and decrypts app secret values with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """A box with the key `load_secrets_key` finds for `settings`."""
        return cls(load_secrets_key(settings))

    def encrypt(self, value: str) -> str:
        """A token for `value`; a fresh random IV makes every token different."""
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The value behind `token`; `SecretDecryptionError` if this key did not make it."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, UnicodeDecodeError):
            # `from None`: the message is the whole story; the token is not for logs.
            raise SecretDecryptionError(
                "a stored secret could not be decrypted: the secrets key has changed "
                "or the stored value is corrupt"
            ) from None
