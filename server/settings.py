"""All configuration of home-idp, read once from `HOME_IDP_*` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "BuilderSettings",
    "ComponentOverride",
    "DeployerSettings",
    "GitSettings",
    "GraphQLLimits",
    "InstallSettings",
    "PipelineSettings",
    "RegistrySettings",
    "Settings",
    "TraceSettings",
]


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "home-idp"


class GraphQLLimits(BaseModel):
    """Bounds on what one GraphQL request may ask of the server."""

    max_depth: int = Field(default=10, ge=2, le=50)
    max_aliases: int = Field(default=15, ge=1, le=1000)
    max_tokens: int = Field(default=2000, ge=50, le=100_000)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    # Room for a 1 MiB config file, which JSON escaping can make twice as long.
    max_body_bytes: int = Field(default=3 * 1_048_576, ge=1024, le=64 * 1_048_576)
    graphiql: bool = True


class GitSettings(BaseModel):
    """The platform git repo: which plugin holds it, and its webhook secret."""

    plugin: str = "local"
    repo_name: str = Field(default="platform", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
    # Signs push webhooks; generated into the data dir when not set.
    webhook_secret: SecretStr | None = None
    # The plugin's own settings, e.g. {"token": ..., "owner": ...} for GitHub.
    options: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the git webhook secret must be at least 16 characters")
        return value


class BuilderSettings(BaseModel):
    """Which plugin builds images, and its own settings."""

    plugin: str = "buildah"
    # buildah: {"storage_driver": "vfs", "isolation": "chroot", "root": ...};
    # kaniko: {"api_url": ..., "token": ..., "executor_image": ...}.
    options: dict[str, SecretStr] = Field(default_factory=dict)


class RegistrySettings(BaseModel):
    """The image registry: which plugin talks to it, where it is, its webhook secret."""

    plugin: str = "distribution"
    url: str = Field(default="http://127.0.0.1:5000", pattern=r"^https?://[^\s/]+/?$")
    # Sent by the registry in the Authorization header of its webhooks;
    # generated into the data dir when not set.
    webhook_secret: SecretStr | None = None
    # Harbor: {"username": ..., "password": ...}; distribution: optional push credentials.
    options: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the registry webhook secret must be at least 16 characters")
        return value


class DeployerSettings(BaseModel):
    """Which plugin runs the apps, and its own settings."""

    plugin: str = "container"
    # container: {"engine": "podman", "root": ...}; kubernetes: {"api_url", "token"};
    # argocd: {"url", "token", "mode"}.
    options: dict[str, SecretStr] = Field(default_factory=dict)
    # Live app log streams open at once on one server (each holds a cluster
    # connection or a process).
    max_log_streams: int = Field(default=64, ge=1, le=10_000)


class PipelineSettings(BaseModel):
    """The release engine: workers, leases, the reconciler and step deadlines."""

    # Postgres only; SQLite always runs a single worker.
    workers: int = Field(default=2, ge=1, le=32)
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    reconcile_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    # A worker that dies holding a job loses it to another after this long.
    lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_backoff_seconds: float = Field(default=1.0, gt=0, le=600)
    retry_backoff_max_seconds: float = Field(default=30.0, gt=0, le=3600)
    commit_timeout_seconds: float = Field(default=120.0, gt=0, le=86_400)
    await_push_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)
    build_timeout_seconds: float = Field(default=1800.0, gt=0, le=86_400)
    await_image_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)
    manifests_timeout_seconds: float = Field(default=120.0, gt=0, le=86_400)
    await_manifest_push_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)
    sync_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)
    rollout_timeout_seconds: float = Field(default=600.0, gt=0, le=86_400)
    # How often a rollout in progress is looked at.
    rollout_poll_seconds: float = Field(default=1.0, gt=0, le=60)


class TraceSettings(BaseModel):
    """The trace-manager: span retention, OTLP ingest bounds and optional export."""

    # Spans that started longer ago than this are deleted in the background.
    retention_hours: float = Field(default=168.0, gt=0, le=24 * 3650)
    retention_interval_seconds: float = Field(default=600.0, gt=0, le=86_400)
    # `POST /v1/traces`: larger bodies (after gzip) get 413, and so do more spans.
    max_ingest_bytes: int = Field(default=4 * 1_048_576, ge=1024, le=64 * 1_048_576)
    max_ingest_spans: int = Field(default=10_000, ge=1, le=1_000_000)
    # Also send home-idp's own spans to an OTLP/HTTP collector, e.g.
    # "http://collector:4318/v1/traces", with these headers (API keys).
    export_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    export_headers: dict[str, SecretStr] = Field(default_factory=dict)


class ComponentOverride(BaseModel):
    """Changes to one component of the install-manager's catalog."""

    model_config = ConfigDict(extra="forbid")

    # Another chart source: a mirror, or a chart on disk where there is no internet.
    # A new `chart` without `repo_url` is not looked up in the old repo.
    chart: str | None = Field(default=None, min_length=1, max_length=300)
    repo_url: str | None = Field(default=None, pattern=r"^(https?|oci)://[^\s]+$")
    version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,59}$")
    namespace: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    # Merged into the pinned values (maps key by key).
    values: dict[str, Any] = Field(default_factory=dict)


class InstallSettings(BaseModel):
    """The install-manager: which installer, its options, and the components' overrides."""

    # Empty: "local" in the local profile, "helm" in the cluster profile.
    plugin: str = ""
    # helm: {"helm": path, "kubeconfig": ..., "kube_context": ..., "timeout": "10m",
    # "dry_run": "client"}; local: {"check_seconds": "2"}. The Kubernetes API for
    # the components' Secrets: {"kubeconfig": ...} or {"api_url": ..., "token": ...}.
    options: dict[str, SecretStr] = Field(default_factory=dict)
    # Per component: {"chart": ..., "repo_url": ..., "version": ..., "namespace": ...,
    # "values": {...}} on top of the pinned defaults, e.g.
    # {"harbor": {"values": {"expose": {"type": "ingress"}}}}.
    components: dict[str, ComponentOverride] = Field(default_factory=dict)
    # Install the local registry when `home-idp serve` starts (local profile).
    on_start: bool = False


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
    # Where webhooks and git clients reach this server; defaults to http://host:port.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Encrypts app secrets at rest (a Fernet key); generated into the data dir when not set.
    secrets_key: SecretStr | None = None
    graphql: GraphQLLimits = Field(default_factory=GraphQLLimits)
    git: GitSettings = Field(default_factory=GitSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    builder: BuilderSettings = Field(default_factory=BuilderSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    deployer: DeployerSettings = Field(default_factory=DeployerSettings)
    trace: TraceSettings = Field(default_factory=TraceSettings)
    install: InstallSettings = Field(default_factory=InstallSettings)

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
    def base_url(self) -> str:
        """This server's own URL, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def uses_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite://")
