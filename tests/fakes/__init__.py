"""In-memory fakes of every plugin kind, for the fast tier.

Each fake keeps its contract (the contract suites in tests/plugins run it
beside the real plugins); `FakePlugins.from_settings` makes a set that a
server built with `create_app(settings, plugins=fakes.overrides())` runs
a whole release on, with no process started.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp

from home_idp.plugins.builder.contract import BuilderConfig
from home_idp.plugins.deployer.contract import DeployerConfig
from home_idp.plugins.git.contract import GitConfig
from home_idp.plugins.installer.contract import InstallerConfig
from home_idp.plugins.registry.contract import RegistryConfig
from home_idp.server.deploy.platform_repo import webhook_secret
from home_idp.server.deploy.registry_access import registry_webhook_secret
from home_idp.server.runtime import PluginOverrides
from home_idp.server.settings import Settings
from tests.fakes.builder import FakeBuild, FakeBuilder
from tests.fakes.deployer import FakeDeployer
from tests.fakes.git import FakeGit
from tests.fakes.installer import FakeInstaller
from tests.fakes.registry import FakeRegistry
from tests.fakes.source import FakeSourceRepos
from tests.fakes.webhooks import WebhookOutbox, WebhookSender, post_over_http, post_to_app

__all__ = [
    "FakeBuild",
    "FakeBuilder",
    "FakeDeployer",
    "FakeGit",
    "FakeInstaller",
    "FakePlugins",
    "FakeRegistry",
    "FakeSourceRepos",
    "WebhookOutbox",
    "WebhookSender",
    "post_over_http",
    "post_to_app",
]


@dataclass(frozen=True)
class FakePlugins:
    """One fake of each kind, wired to each other as the real ones are through the network."""

    git: FakeGit
    builder: FakeBuilder
    registry: FakeRegistry
    deployer: FakeDeployer
    installer: FakeInstaller
    outbox: WebhookOutbox
    source: FakeSourceRepos

    @classmethod
    def from_settings(cls, settings: Settings) -> FakePlugins:
        """Fakes configured as the server configures its plugins (the same webhook
        secrets, so tests sign deliveries as for the real ones); webhooks go to its URLs."""
        outbox = WebhookOutbox()
        git = FakeGit(
            GitConfig(
                repo_name=settings.git.repo_name,
                branch=settings.git.branch,
                data_dir=settings.data_dir,
                webhook_url=f"{settings.base_url}/webhooks/git",
                webhook_secret=webhook_secret(settings),
            ),
            outbox,
        )
        registry = FakeRegistry(
            RegistryConfig(
                url=settings.registry.url.rstrip("/"),
                webhook_url=f"{settings.base_url}/webhooks/registry",
                webhook_secret=registry_webhook_secret(settings),
            ),
            outbox,
        )
        builder = FakeBuilder(BuilderConfig(settings.data_dir), git=git, registry=registry)
        deployer = FakeDeployer(
            DeployerConfig(settings.data_dir, git.clone_url, settings.git.branch)
        )
        installer = FakeInstaller(InstallerConfig(settings.data_dir))
        return cls(git, builder, registry, deployer, installer, outbox, FakeSourceRepos())

    def overrides(self) -> PluginOverrides:
        """What `create_app(settings, plugins=...)` takes."""
        return PluginOverrides(
            git=self.git,
            builder=self.builder,
            registry=self.registry,
            deployer=self.deployer,
            installer=self.installer,
            source=self.source,
        )

    def deliver_to(self, app: ASGIApp) -> None:
        """Send every webhook straight into `app` (no port needed)."""
        self.outbox.send = post_to_app(app)
