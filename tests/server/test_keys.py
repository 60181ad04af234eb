"""The JWT key: generated once, private, stable, never empty."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from home_idp.server.rbac.keys import KEY_FILE_NAME, load_signing_key
from home_idp.server.settings import Settings


def test_a_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_signing_key(settings)
    path = settings.data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 64
    assert load_signing_key(settings) == first  # survives a restart
    other = load_signing_key(Settings(data_dir=tmp_path / "other"))
    assert other != first


def test_a_key_from_settings_wins_and_writes_nothing(tmp_path: Path) -> None:
    secret = "k" * 40
    settings = Settings(data_dir=tmp_path, jwt_secret=SecretStr(secret))
    assert load_signing_key(settings) == secret.encode()
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    load_signing_key(settings)
    path = tmp_path / KEY_FILE_NAME
    path.chmod(0o644)
    load_signing_key(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_empty_key_file_is_an_error_not_an_empty_key(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_bytes(b"")
    (tmp_path / KEY_FILE_NAME).chmod(0o600)
    with pytest.raises(RuntimeError, match="shorter than 32 bytes"):
        load_signing_key(Settings(data_dir=tmp_path))
