"""App secrets: encrypted at rest with a private, stable key, and masked out of logs."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from home_idp.server.secret_box import (
    KEY_FILE_NAME,
    SecretBox,
    SecretDecryptionError,
    load_secrets_key,
    mask_secrets,
)
from home_idp.server.settings import Settings


def test_round_trip(tmp_path: Path) -> None:
    box = SecretBox.from_settings(Settings(data_dir=tmp_path))
    for value in ["hunter22", "", "ünïcödé ✓", "x" * 10_000]:
        assert box.decrypt(box.encrypt(value)) == value


def test_ciphertext_hides_the_value_and_differs_each_time() -> None:
    box = SecretBox(Fernet.generate_key())
    first, second = box.encrypt("postgres-password"), box.encrypt("postgres-password")
    assert "postgres-password" not in first
    assert first != second
    assert box.decrypt(first) == box.decrypt(second) == "postgres-password"


def test_a_key_is_generated_once_with_mode_0600_and_stays(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_secrets_key(settings)
    path = settings.data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secrets_key(settings) == first  # survives a restart
    assert load_secrets_key(Settings(data_dir=tmp_path / "other")) != first
    token = SecretBox(first).encrypt("kept")
    assert SecretBox.from_settings(settings).decrypt(token) == "kept"


def test_a_key_from_settings_wins_and_writes_nothing(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    settings = Settings(data_dir=tmp_path, secrets_key=SecretStr(key.decode() + "\n"))
    assert load_secrets_key(settings) == key
    assert not (tmp_path / KEY_FILE_NAME).exists()


_A_KEY = Fernet.generate_key().decode()
# The same 32 bytes spelled the ways a key gets mangled by copy and paste or by
# another tool's base64; some releases of cryptography take some of them, and
# home-idp refuses all of them whatever release is installed.
_MANGLED_KEYS = [
    pytest.param(_A_KEY.rstrip("="), id="padding dropped"),
    pytest.param(_A_KEY + "=", id="padding doubled"),
    pytest.param(_A_KEY[:20] + " " + _A_KEY[20:], id="space inside"),
    pytest.param(base64.b64encode(b"\xfb\xff" * 16).decode(), id="standard base64 alphabet"),
    # "B" ends on bits that the 32nd byte does not use: not a canonical encoding.
    pytest.param("A" * 42 + "B=", id="stray bits in the last character"),
    pytest.param(base64.urlsafe_b64encode(b"k" * 31).decode(), id="31 bytes"),
]


@pytest.mark.parametrize(
    "value", ["not-a-key-but-a-long-one", "", "ä" * 44, "A" * 43, *_MANGLED_KEYS]
)
def test_an_invalid_key_in_settings_is_a_clear_error_that_hides_it(
    tmp_path: Path, value: str
) -> None:
    settings = Settings(data_dir=tmp_path, secrets_key=SecretStr(value))
    with pytest.raises(
        RuntimeError, match="HOME_IDP_SECRETS_KEY is not a valid Fernet key"
    ) as caught:
        load_secrets_key(settings)
    if value:
        assert value not in str(caught.value)
    assert caught.value.__cause__ is None
    assert not (tmp_path / KEY_FILE_NAME).exists()


@pytest.mark.parametrize(
    "content",
    [b"z" * 50, _A_KEY.rstrip("=").encode() + b"AAAA"],
    ids=["not base64", "a key with more after it"],
)
def test_a_corrupt_key_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / KEY_FILE_NAME
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(RuntimeError, match=f"key file {KEY_FILE_NAME} does not hold a valid"):
        load_secrets_key(Settings(data_dir=tmp_path))


def test_a_wrong_key_cannot_decrypt_and_says_so_without_the_secret() -> None:
    token = SecretBox(Fernet.generate_key()).encrypt("the-real-secret")
    with pytest.raises(SecretDecryptionError, match="secrets key has changed") as caught:
        SecretBox(Fernet.generate_key()).decrypt(token)
    assert "the-real-secret" not in str(caught.value)
    assert token not in str(caught.value)


@pytest.mark.parametrize("token", ["", "garbage", "gAAAAA" + "A" * 80, "ünïcödé"])
def test_a_corrupt_token_is_the_same_clear_error(token: str) -> None:
    with pytest.raises(SecretDecryptionError):
        SecretBox(Fernet.generate_key()).decrypt(token)


def test_mask_replaces_every_occurrence() -> None:
    log = "login s3cret ok\nretry with s3cret\nTOKEN=abcd1234;"
    assert (
        mask_secrets(log, ["s3cret", "abcd1234"]) == "login **** ok\nretry with ****\nTOKEN=****;"
    )


def test_mask_prefers_the_longest_secret() -> None:
    # "pass" inside "password" must not leave "****word" behind.
    assert mask_secrets("password and pass", ["pass", "password"]) == "**** and ****"
    assert mask_secrets("password and pass", ["password", "pass"]) == "**** and ****"


def test_mask_ignores_short_and_blank_values() -> None:
    text = "a b ab abc    tabs"
    assert mask_secrets(text, ["a", "ab", "abc", "", "    "]) == text


def test_mask_treats_secrets_literally_and_accepts_any_iterable() -> None:
    text = "key=a.b*c+d( and a1b2c3d4"
    assert mask_secrets(text, (s for s in ["a.b*c+d("])) == "key=**** and a1b2c3d4"
    assert mask_secrets("nothing here", []) == "nothing here"
