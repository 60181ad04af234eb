"""Process-wide state shared by the gateway and the managers."""

from __future__ import annotations

from dataclasses import dataclass

from home_idp.plugins.builder.contract import BuilderPlugin
from home_idp.plugins.deployer.contract import DeployerPlugin
from home_idp.plugins.git.contract import GitPlugin
from home_idp.plugins.installer.contract import InstallerPlugin
from home_idp.plugins.registry.contract import RegistryPlugin
from home_idp.server.apps import AppsManager
from home_idp.server.apps.source_hosts import SourceHostPolicy
from home_idp.server.apps.source_reader import SourceReader
from home_idp.server.deploy.service import DeployManager
from home_idp.server.deploy.source_probe import SourceProbe
from home_idp.server.events import EventBus
from home_idp.server.install.service import InstallRuntime
from home_idp.server.rbac import RbacManager
from home_idp.server.rbac.keys import load_signing_key
from home_idp.server.rbac.tokens import JwtCodec
from home_idp.server.secret_box import SecretBox
from home_idp.server.settings import Settings
from home_idp.server.trace.manager import TraceManager

__all__ = ["PluginOverrides", "Runtime"]


@dataclass(frozen=True)
class PluginOverrides:
    """Plugin instances to use instead of those the settings name (tests run on fakes).

    Each one left None is made from the settings, as always.
    """

    git: GitPlugin | None = None
    builder: BuilderPlugin | None = None
    registry: RegistryPlugin | None = None
    deployer: DeployerPlugin | None = None
    installer: InstallerPlugin | None = None
    # How the server reads apps' source repositories (git ls-remote and a fetch
    # without blobs, by default).
    source: SourceReader | None = None


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    bus: EventBus
    secret_box: SecretBox
    rbac: RbacManager
    apps: AppsManager
    deploy: DeployManager
    trace: TraceManager
    install: InstallRuntime

    @classmethod
    def build(cls, settings: Settings, plugins: PluginOverrides | None = None) -> Runtime:
        plugins = plugins or PluginOverrides()
        codec = JwtCodec(
            load_signing_key(settings),
            settings.access_token_ttl_seconds,
            settings.refresh_token_ttl_seconds,
        )
        bus = EventBus()
        secret_box = SecretBox.from_settings(settings)
        rbac = RbacManager(codec, bus, settings.access_token_ttl_seconds, settings.auth)
        source_hosts = SourceHostPolicy.from_settings(settings)
        source = plugins.source or SourceProbe(
            settings.data_dir / "source-probe", source_hosts, secret_box
        )
        apps = AppsManager(secret_box, source_hosts, source)
        trace = TraceManager(settings.trace, bus)
        deploy = DeployManager(
            settings,
            bus,
            secret_box,
            trace,
            git=plugins.git,
            builder=plugins.builder,
            registry=plugins.registry,
            deployer=plugins.deployer,
            source=source,
        )
        # Rights changes reach live subscriptions on every replica through the
        # same listener as release events.
        rbac.access.share_through(deploy.engine.events)
        return cls(
            settings,
            bus,
            secret_box,
            rbac,
            apps,
            deploy,
            trace,
            InstallRuntime(settings, bus, deploy, installer=plugins.installer),
        )
