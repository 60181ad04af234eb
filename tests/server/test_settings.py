"""Settings: local mode on no settings at all, Postgres by URL, unsafe values refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from home_idp.server.settings import Settings


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("HOME_IDP_DATA_DIR", "HOME_IDP_DATABASE_URL", "HOME_IDP_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_no_settings_means_local_mode_on_sqlite(bare_environment: Path) -> None:
    settings = Settings()
    assert settings.profile == "local"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.data_dir == bare_environment / ".local" / "share" / "home-idp"
    assert settings.effective_database_url == f"sqlite://{settings.data_dir}/home-idp.sqlite3"


def test_environment_variables_choose_the_data_dir_and_postgres(
    bare_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME_IDP_DATA_DIR", str(bare_environment / "elsewhere"))
    monkeypatch.setenv("HOME_IDP_DATABASE_URL", "postgresql://idp:pw@db:5432/idp")
    monkeypatch.setenv("HOME_IDP_GRAPHQL__MAX_DEPTH", "7")
    settings = Settings()
    assert settings.data_dir == bare_environment / "elsewhere"
    assert settings.effective_database_url == "postgres://idp:pw@db:5432/idp"
    assert not settings.uses_sqlite
    assert settings.graphql.max_depth == 7
    # The URL holds a password: it must not show in reprs or logs.
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOME_IDP_JWT_SECRET", "too short"),
        ("HOME_IDP_DATABASE_URL", "mysql://x"),
        ("HOME_IDP_PORT", "70000"),
        ("HOME_IDP_PROFILE", "cloud"),
    ],
)
def test_bad_values_are_refused(
    bare_environment: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("HOME_IDP_").lower()):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOME_IDP_JWT_SECRET", "jwt-SHORT-1"),
        ("HOME_IDP_GIT__WEBHOOK_SECRET", "git-SHORT-2"),
        ("HOME_IDP_REGISTRY__WEBHOOK_SECRET", "reg-SHORT-3"),
        ("HOME_IDP_DATABASE_URL", "mysql://idp:pw-SHORT-4@db/idp"),
    ],
)
def test_a_refused_secret_is_named_but_never_quoted(
    bare_environment: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    setting = name.removeprefix("HOME_IDP_").lower().replace("__", ".")
    assert setting in str(refused.value)
    assert "SHORT" not in str(refused.value)


@pytest.mark.parametrize("issuer", ["Lets_Encrypt", "-prod", "a" * 64, "issuer/../x"])
def test_a_tls_issuer_that_is_no_kubernetes_name_is_refused(
    bare_environment: Path, monkeypatch: pytest.MonkeyPatch, issuer: str
) -> None:
    monkeypatch.setenv("HOME_IDP_DEPLOYER__TLS_CLUSTER_ISSUER", issuer)
    with pytest.raises(ValidationError, match=r"deployer\.tls_cluster_issuer"):
        Settings()


def test_a_tls_issuer_is_taken_by_name(
    bare_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME_IDP_DEPLOYER__TLS_CLUSTER_ISSUER", "letsencrypt.prod")
    assert Settings().deployer.tls_cluster_issuer == "letsencrypt.prod"
