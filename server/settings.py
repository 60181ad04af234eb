"""All configuration of home-idp, read once from `HOME_IDP_*` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["GraphQLLimits", "Settings"]


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "home-idp"


class GraphQLLimits(BaseModel):
    """Bounds on what one GraphQL request may ask of the server."""

    max_depth: int = Field(default=10, ge=2, le=50)
    max_aliases: int = Field(default=15, ge=1, le=1000)
    max_tokens: int = Field(default=2000, ge=50, le=100_000)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    graphiql: bool = True


class Settings(BaseSettings):
    """home-idp settings. With none set, home-idp runs in local mode on SQLite."""

    model_config = SettingsConfigDict(
        env_prefix="HOME_IDP_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    profile: Literal["local", "cluster"] = "local"
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    jwt_secret: SecretStr | None = None
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=14 * 86_400, ge=300, le=180 * 86_400)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    graphql: GraphQLLimits = Field(default_factory=GraphQLLimits)

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # HS256 with a short key can be brute-forced offline from any token.
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("HOME_IDP_JWT_SECRET must be at least 32 bytes")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        if url.startswith("postgresql://"):
            # Tortoise names the asyncpg backend "postgres".
            return SecretStr("postgres://" + url.removeprefix("postgresql://"))
        if not url.startswith(("postgres://", "sqlite://")):
            raise ValueError("HOME_IDP_DATABASE_URL must start with postgres:// or sqlite://")
        return value

    @property
    def effective_database_url(self) -> str:
        """The database to use: the configured one, or SQLite in the data dir."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite://{self.data_dir / 'home-idp.sqlite3'}"

    @property
    def uses_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite://")
