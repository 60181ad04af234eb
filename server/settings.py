"""All configuration of home-idp, read once from `HOME_IDP_*` variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from home_idp.server.names import DNS1123_LABEL_PATTERN

__all__ = [
    "MAX_STABILITY_SECONDS",
    "AnonymousLimits",
    "AuthSettings",
    "BuilderSettings",
    "ComponentOverride",
    "DeployerSettings",
    "GitSettings",
    "GraphQLLimits",
    "InstallSettings",
    "PasswordHashingSettings",
    "PipelineSettings",
    "PluginSettings",
    "RegistrySettings",
    "Settings",
    "SourceSettings",
    "TraceSettings",
    "WebhookSettings",
]

# The longest watch after a rollout, for the server's setting and an app's own.
MAX_STABILITY_SECONDS = 3600


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "home-idp"


class AnonymousLimits(BaseModel):
    """Tighter bounds for GraphQL requests without a login.

    Such a request can only sign up, log in, refresh a token or read the
    schema, and it costs an attacker nothing, so it gets less room. A bound
    set higher here than for logged-in requests still gets the logged-in one.
    """

    max_depth: int = Field(default=5, ge=2, le=50)
    max_aliases: int = Field(default=5, ge=1, le=1000)
    max_tokens: int = Field(default=1000, ge=50, le=100_000)
    max_query_chars: int = Field(default=8192, ge=256, le=1_048_576)
    max_body_bytes: int = Field(default=65_536, ge=1024, le=64 * 1_048_576)


class GraphQLLimits(BaseModel):
    """Bounds on what one GraphQL request may ask of the server."""

    max_depth: int = Field(default=10, ge=2, le=50)
    max_aliases: int = Field(default=15, ge=1, le=1000)
    max_tokens: int = Field(default=2000, ge=50, le=100_000)
    # The query text itself (variables not included): parsing a long string
    # literal or comment costs time in proportion to its length.
    max_query_chars: int = Field(default=65_536, ge=1024, le=1_048_576)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    # Room for a 1 MiB config file, which JSON escaping can make twice as long.
    max_body_bytes: int = Field(default=3 * 1_048_576, ge=1024, le=64 * 1_048_576)
    graphiql: bool = True
    anonymous: AnonymousLimits = Field(default_factory=AnonymousLimits)


def _long_enough(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value()) < 16:
        raise ValueError("a webhook secret must be at least 16 characters")
    return value


# A shared secret of webhooks (its error names the setting it was given for).
WebhookSecret = Annotated[SecretStr | None, AfterValidator(_long_enough)]


class PluginSettings(BaseModel):
    """Which plugin of one kind to use, and the plugin's own settings."""

    plugin: str
    # Passed to the plugin as they are; any of them may be a token or a password.
    options: dict[str, SecretStr] = Field(default_factory=dict)

    def plain_options(self) -> dict[str, str]:
        """The options as the plugin takes them: plain text."""
        return {name: value.get_secret_value() for name, value in self.options.items()}


class GitSettings(PluginSettings):
    """The platform git repo: which plugin holds it, and its webhook secret.

    The plugin's options are e.g. {"token": ..., "owner": ...} for GitHub.
    """

    plugin: str = "local"
    repo_name: str = Field(default="platform", pattern=rf"^{DNS1123_LABEL_PATTERN}$")
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
    # Signs push webhooks; generated into the data dir when not set.
    webhook_secret: WebhookSecret = None


class BuilderSettings(PluginSettings):
    """Which plugin builds images, and its own settings.

    buildah's options: {"storage_driver": "vfs", "network": "none", "root": ...};
    kaniko's: {"api_url": ..., "token": ..., "executor_image": ...}.
    """

    plugin: str = "buildah"


class RegistrySettings(PluginSettings):
    """The image registry: which plugin talks to it, where it is, its webhook secret.

    Harbor's options: {"username": ..., "password": ...}; distribution's: optional
    push credentials.
    """

    plugin: str = "distribution"
    url: str = Field(default="http://127.0.0.1:5000", pattern=r"^https?://[^\s/]+/?$")
    # Sent by the registry in the Authorization header of its webhooks;
    # generated into the data dir when not set.
    webhook_secret: WebhookSecret = None


class DeployerSettings(PluginSettings):
    """Which plugin runs the apps, and its own settings.

    container's options: {"engine": "podman", "root": ...}; kubernetes's:
    {"api_url", "token"}; argocd's: {"url", "token", "mode"}.
    """

    plugin: str = "container"
    # Live app log streams open at once on one server (each holds a cluster
    # connection or a process).
    max_log_streams: int = Field(default=64, ge=1, le=10_000)
    # The container deployer's apps answer at http://<app>.<project>.<apps_domain>:<port>
    # (the server's port); "" turns those addresses off.
    apps_domain: str = Field(
        default="localhost",
        pattern=rf"^$|^{DNS1123_LABEL_PATTERN}(\.{DNS1123_LABEL_PATTERN})*$",
    )
    # In a cluster, apps with an ingress host get TLS from this cert-manager
    # ClusterIssuer (the name of one, a DNS-1123 subdomain); "" leaves them on HTTP.
    tls_cluster_issuer: str = Field(
        default="",
        max_length=253,
        pattern=rf"^$|^{DNS1123_LABEL_PATTERN}(\.{DNS1123_LABEL_PATTERN})*$",
    )


class PipelineSettings(BaseModel):
    """The release engine: workers, leases, the reconciler and step deadlines."""

    # Postgres only; SQLite always runs a single worker.
    workers: int = Field(default=2, ge=1, le=32)
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    reconcile_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    # A worker that dies holding a job loses it to another replica after this
    # long (its own server, restarted, takes it back at once). Renewed every
    # third of it while the step runs, so only a stall this long lets go.
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
    # How long a rolled-out release is watched before it succeeds (an app's own
    # `stability_seconds` wins); 0 ends the watch at once.
    stability_seconds: int = Field(default=60, ge=0, le=MAX_STABILITY_SECONDS)


class TraceSettings(BaseModel):
    """The trace-manager: span retention, OTLP ingest bounds and optional export."""

    # Spans that started longer ago than this are deleted in the background.
    retention_hours: float = Field(default=168.0, gt=0, le=24 * 3650)
    retention_interval_seconds: float = Field(default=600.0, gt=0, le=86_400)
    # `POST /v1/traces`: larger bodies (after gzip) get 413, and so do more spans.
    max_ingest_bytes: int = Field(default=4 * 1_048_576, ge=1024, le=64 * 1_048_576)
    max_ingest_spans: int = Field(default=10_000, ge=1, le=1_000_000)
    # Each span sent there, bounded as the OpenTelemetry SDK bounds its own
    # (the same names and defaults): more attributes or events than these
    # refuse the request (400); longer string and bytes values are cut.
    span_attribute_count_limit: int = Field(default=128, ge=1, le=100_000)
    span_event_count_limit: int = Field(default=128, ge=1, le=100_000)
    event_attribute_count_limit: int = Field(default=128, ge=1, le=100_000)
    attribute_value_length_limit: int | None = Field(default=None, ge=1, le=64 * 1_048_576)
    # A span is stored in at most this many times its own bytes on the wire,
    # plus its copy of its resource's service name, project and app: attributes,
    # then events beyond that are dropped, and the answer says how many. The
    # least, 4, leaves room for the ids, times and project of the smallest span.
    max_span_inflation: float = Field(default=5.0, ge=4.0, le=100.0)
    # Also send home-idp's own spans to an OTLP/HTTP collector, e.g.
    # "http://collector:4318/v1/traces", with these headers (API keys).
    export_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    export_headers: dict[str, SecretStr] = Field(default_factory=dict)


class WebhookSettings(BaseModel):
    """How many refused webhook deliveries the inspector keeps.

    Anyone can post to the webhook endpoints, so refused deliveries (bad or
    missing signature, malformed) are kept only up to a count and an age:
    the oldest go first. Accepted deliveries are not affected.
    """

    rejected_max_count: int = Field(default=1000, ge=1, le=1_000_000)
    rejected_max_age_hours: float = Field(default=168.0, gt=0, le=24 * 3650)


class ComponentOverride(BaseModel):
    """Changes to one component of the install-manager's catalog."""

    model_config = ConfigDict(extra="forbid")

    # Another chart source: a mirror, or a chart on disk where there is no internet.
    # A new `chart` without `repo_url` is not looked up in the old repo.
    chart: str | None = Field(default=None, min_length=1, max_length=300)
    repo_url: str | None = Field(default=None, pattern=r"^(https?|oci)://[^\s]+$")
    version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,59}$")
    namespace: str | None = Field(default=None, pattern=rf"^{DNS1123_LABEL_PATTERN}$")
    # Merged into the pinned values (maps key by key).
    values: dict[str, Any] = Field(default_factory=dict)


class InstallSettings(PluginSettings):
    """The install-manager: which installer, its options, and the components' overrides.

    helm's options: {"helm": path, "kubeconfig": ..., "kube_context": ..., "timeout":
    "10m", "dry_run": "client"}; local's: {"check_seconds": "2"}. The Kubernetes API
    for the components' Secrets: {"kubeconfig": ...} or {"api_url": ..., "token": ...}.
    """

    # Empty: "local" in the local profile, "helm" in the cluster profile.
    plugin: str = ""
    # Per component: {"chart": ..., "repo_url": ..., "version": ..., "namespace": ...,
    # "values": {...}} on top of the pinned defaults, e.g.
    # {"harbor": {"values": {"expose": {"type": "ingress"}}}}.
    components: dict[str, ComponentOverride] = Field(default_factory=dict)
    # Install the local registry when `home-idp serve` starts (local profile).
    on_start: bool = False


class PasswordHashingSettings(BaseModel):
    """argon2id's cost per password hashed or checked.

    The defaults are argon2's RFC 9106 low-memory profile (3 passes over
    64 MiB, 4 lanes). A small machine may lower them; a stored hash keeps the
    cost it was made with, and is made again at the new cost on its owner's
    next login.
    """

    time_cost: int = Field(default=3, ge=1, le=100)
    memory_kib: int = Field(default=65_536, ge=8, le=4 * 1024 * 1024)
    parallelism: int = Field(default=4, ge=1, le=64)

    @model_validator(mode="after")
    def _enough_memory_for_the_lanes(self) -> PasswordHashingSettings:
        if self.memory_kib < 8 * self.parallelism:
            raise ValueError(
                f"memory_kib must be at least 8 per lane ({8 * self.parallelism} "
                f"for parallelism {self.parallelism})"
            )
        return self


class AuthSettings(BaseModel):
    """How failed logins and sign-ups slow down, and what a password costs to check.

    Attempts are counted in the database, so every replica sees the same
    counts. After the allowed number, each further attempt of that key waits
    twice as long as the one before (from `base_delay_seconds` up to
    `max_delay_seconds`); a key left alone for `forget_after_seconds` starts over.
    """

    login_failures_per_username: int = Field(default=5, ge=1, le=1000)
    login_failures_per_address: int = Field(default=20, ge=1, le=100_000)
    sign_ups_per_address: int = Field(default=5, ge=1, le=100_000)
    base_delay_seconds: float = Field(default=2.0, gt=0, le=3600)
    max_delay_seconds: float = Field(default=900.0, gt=0, le=86_400)
    forget_after_seconds: float = Field(default=3600.0, gt=0, le=30 * 86_400)
    # Reverse proxies in front of home-idp whose X-Forwarded-For is believed;
    # any other peer's header is ignored, so a client cannot pick its address.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=100)
    # Logged-in sessions one user may have at once; the oldest end first.
    max_sessions_per_user: int = Field(default=50, ge=1, le=10_000)
    password_hashing: PasswordHashingSettings = Field(default_factory=PasswordHashingSettings)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value


class SourceSettings(BaseModel):
    """Where apps' source repositories may be fetched from."""

    # Loopback and private networks are refused as source hosts in the cluster
    # profile (a source URL must not reach the cluster's own services) unless
    # listed here, e.g. ["192.168.1.0/24"] for a git server on the home network.
    # Link-local addresses (cloud metadata services) are refused whatever is listed.
    allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list, max_length=100)
    # How often each auto-deploy app's branch is asked for its newest commit
    # (git ls-remote), for git servers that send no webhooks; 0 turns it off.
    poll_seconds: float = Field(default=60.0, ge=0)
    # How many apps are asked at once.
    poll_concurrency: int = Field(default=4, ge=1, le=64)


class Settings(BaseSettings):
    """home-idp settings. With none set, home-idp runs in local mode on SQLite."""

    model_config = SettingsConfigDict(
        env_prefix="HOME_IDP_",
        env_nested_delimiter="__",
        extra="ignore",
        # A refused value may be a secret: errors name the setting, never quote it.
        hide_input_in_errors=True,
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
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    install: InstallSettings = Field(default_factory=InstallSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    sources: SourceSettings = Field(default_factory=SourceSettings)

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
