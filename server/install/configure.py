"""What home-idp needs of a component once it is ready.

- Argo CD: a repository credential for the platform repo, so its
  Applications can read the manifests home-idp commits.
- Harbor: a Harbor project, robot accounts and the push webhook for every
  home-idp project that exists (new projects get theirs on their first build).

The registry pull secret of each project namespace is not made here: the
deployer applies it with every sync, with the project's current robot account.
"""

from __future__ import annotations

from home_idp.server.deploy.service import DeployManager
from home_idp.server.install.cluster_secrets import ClusterSecrets
from home_idp.server.install.manager import Configurer
from home_idp.server.rbac.models import Project
from home_idp.server.settings import Settings

__all__ = ["PLATFORM_REPO_SECRET", "configurers"]

PLATFORM_REPO_SECRET = "home-idp-platform-repo"  # noqa: S105 (a Secret's name)
# Argo CD reads the repo for as long as it runs; the local repo's read tokens expire.
_READ_TOKEN_SECONDS = 365 * 86_400


def configurers(
    settings: Settings,
    secrets: ClusterSecrets,
    deploy: DeployManager,
    argocd_namespace: str,
) -> dict[str, Configurer]:
    async def argocd() -> str:
        username: str | None
        password: str | None
        if settings.git.plugin == "local":
            username, password = "argocd", deploy.read_tokens.issue(_READ_TOKEN_SECONDS)
        else:
            read_token = settings.git.options.get("read_token")
            username = "x-access-token" if read_token else None
            password = read_token.get_secret_value() if read_token else None
        await secrets.apply_repository(
            argocd_namespace, PLATFORM_REPO_SECRET, deploy.git.clone_url, username, password
        )
        return f"Argo CD can read the platform repo ({PLATFORM_REPO_SECRET})"

    async def harbor() -> str:
        if settings.registry.plugin != "harbor":
            return "home-idp's registry plugin is not harbor: nothing to configure"
        projects = await Project.all()
        for project in projects:
            await deploy.accounts.for_project(project)
        return f"{len(projects)} project(s) have their Harbor project, robots and webhook"

    return {"argocd": argocd, "harbor": harbor}
