"""What home-idp needs of a component once it is ready.

- Postgres: a Secret `home-idp-database` with the `database-url` home-idp
  connects with (the chart's `database.existingSecret`), made from the
  generated password without the password leaving the cluster's Secrets.
- Argo CD: a repository credential for the platform repo, so its
  Applications can read the manifests home-idp commits.
- Harbor (in the server only, which has the database): a Harbor project,
  robot accounts and the push webhook for every home-idp project that exists
  (new projects get theirs on their first build).

The registry pull secret of each project namespace is not made here: the
deployer applies it with every sync, with the project's current robot account.
"""

from __future__ import annotations

from collections.abc import Sequence

from home_idp.server.deploy.platform_repo import PlatformReadTokens, make_git_plugin
from home_idp.server.deploy.registry_access import RegistryAccounts
from home_idp.server.install.catalog import POSTGRES_SECRET, CatalogEntry
from home_idp.server.install.cluster_secrets import ClusterSecrets
from home_idp.server.install.manager import Configurer
from home_idp.server.rbac.models import Project
from home_idp.server.settings import Settings

__all__ = ["DATABASE_SECRET", "PLATFORM_REPO_SECRET", "configurers"]

PLATFORM_REPO_SECRET = "home-idp-platform-repo"  # noqa: S105 (a Secret's name)
DATABASE_SECRET = "home-idp-database"  # noqa: S105 (a Secret's name)
# Argo CD reads the repo for as long as it runs; the local repo's read tokens expire.
_READ_TOKEN_SECONDS = 365 * 86_400


def configurers(
    settings: Settings,
    secrets: ClusterSecrets,
    entries: Sequence[CatalogEntry],
    accounts: RegistryAccounts | None = None,
) -> dict[str, Configurer]:
    """The configuration steps per component; Harbor's only with `accounts` (the server)."""
    namespaces = {entry.spec.name: entry.spec.namespace for entry in entries}

    async def postgres() -> str:
        namespace = namespaces["postgres"]
        await secrets.ensure_database_url(
            namespace,
            DATABASE_SECRET,
            source=POSTGRES_SECRET.name,
            # The home_idp user's password (the other key is the superuser's).
            password_key=POSTGRES_SECRET.keys[1],
            host=f"postgres-postgresql.{namespace}.svc",
            user="home_idp",
            database="home_idp",
        )
        return f"home-idp connects through the Secret {DATABASE_SECRET} (database-url)"

    async def argocd() -> str:
        git = make_git_plugin(settings)
        username: str | None
        password: str | None
        if settings.git.plugin == "local":
            username = "argocd"
            password = PlatformReadTokens.from_settings(settings).issue(_READ_TOKEN_SECONDS)
        else:
            read_token = settings.git.options.get("read_token")
            username = "x-access-token" if read_token else None
            password = read_token.get_secret_value() if read_token else None
        await secrets.apply_repository(
            namespaces["argocd"], PLATFORM_REPO_SECRET, git.clone_url, username, password
        )
        return f"Argo CD can read the platform repo ({PLATFORM_REPO_SECRET})"

    async def harbor() -> str:
        if settings.registry.plugin != "harbor" or accounts is None:
            return "home-idp's registry plugin is not harbor: nothing to configure"
        projects = await Project.all()
        for project in projects:
            await accounts.for_project(project)
        return f"{len(projects)} project(s) have their Harbor project, robots and webhook"

    steps = {"postgres": postgres, "argocd": argocd}
    if accounts is not None:
        steps["harbor"] = harbor
    return {name: step for name, step in steps.items() if name in namespaces}
