"""Deploy apps through Argo CD: an Application per app (or per project) and a sync call.

home-idp commits the manifests to the platform repo; this plugin makes Argo CD
deploy them from there through its REST API
(https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/): it
creates or updates (upserts) the Application, then asks for a sync at once
rather than waiting for Argo CD's next poll of the repository (3 minutes by
default). The token needs, in the Argo CD project: applications get, create,
update, sync and delete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator

from home_idp.plugins.deployer import labels
from home_idp.plugins.deployer.argocd_status import application_status, running_apps
from home_idp.plugins.deployer.contract import (
    AppDeployment,
    AppLogLine,
    AppResource,
    DeployerConfig,
    DeployError,
    DeployUnavailable,
    RolloutState,
    RolloutStatus,
    RunningApp,
    StabilityReport,
)
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from home_idp.plugins.support.masking import mask_secrets
from home_idp.plugins.support.options import Between, Flag, HttpUrl, PluginOptions

__all__ = ["ArgoCDDeployer"]

logger = logging.getLogger(__name__)

API = "/api/v1/applications"
# Deleting the Application then deletes what it deployed, however it is deleted.
FINALIZER = "resources-finalizer.argocd.argoproj.io"
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_REVISION = re.compile(r"^[0-9a-f]{7,64}$")


def _argocd_project(project: str) -> str:
    if len(project) > 253 or not _SUBDOMAIN.match(project):
        raise ValueError("is not a valid Argo CD project name")
    return project


class ArgoCDOptions(PluginOptions):
    """The argocd deployer's own options (see `ArgoCDDeployer`); `kube_*` ones go to the
    cluster's API."""

    url: HttpUrl
    token: str
    mode: Literal["app", "project"] = "app"
    project: Annotated[str, AfterValidator(_argocd_project)] = "default"
    dest_server: HttpUrl = "https://kubernetes.default.svc"
    verify_tls: Flag = True
    connect_timeout: Annotated[float, Between(0.01, 600)] = 5.0
    request_timeout: Annotated[float, Between(0.01, 600)] = 30.0


class ArgoCDDeployer:
    """Deploys through Argo CD Applications that read the platform repo.

    Options (`config.options`, all strings): `url` of the Argo CD server and
    `token` (a bearer token, an account's API key); `verify_tls` (true);
    `project`, the Argo CD project (`default`); `mode`: `app` (one Application
    per app, `hidp-<project>-<app>`, pinned to the release's commit) or
    `project` (one per project, `hidp-<project>`, reading `projects/<project>`
    at the branch); `dest_server` (`https://kubernetes.default.svc`);
    `connect_timeout` (5 s) and `request_timeout` (30 s). The cluster's API as
    `kube_api_url` + `kube_token` (+ `kube_ca_file`, `kube_verify_tls`) or
    `kube_kubeconfig`: the app's Secrets are applied there (their values never
    go to git), and its pods, logs and objects are read from there.
    """

    def __init__(self, config: DeployerConfig) -> None:
        options = ArgoCDOptions.read(config.options, "the argocd deployer", DeployError)
        url, token = options.url.rstrip("/"), options.token
        self._mode = options.mode
        self._project = options.project
        self._dest_server = options.dest_server
        if not config.repo_url:
            raise DeployError("the argocd deployer needs the platform repo's URL")
        self._repo_url, self._branch = config.repo_url, config.branch
        # The app's Secrets (values never in git) go straight to the cluster,
        # when the options say how to reach its API (`kube_api_url`, …).
        kube = {
            name.removeprefix("kube_"): value
            for name, value in config.options.items()
            if name.startswith("kube_")
        }
        self._secrets = (
            KubernetesDeployer(DeployerConfig(config.data_dir, "", "", kube), list_secrets=False)
            if kube
            else None
        )
        self._url, self._token = url, token
        read = options.request_timeout
        if not options.verify_tls:
            logger.warning("the argocd deployer does not verify Argo CD's TLS certificate")
        self._client = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(read, connect=min(options.connect_timeout, read)),
            verify=options.verify_tls,
        )

    def __repr__(self) -> str:
        return f"ArgoCDDeployer(url={self._url!r}, mode={self._mode!r})"

    def application_name(self, project: str, app: str) -> str:
        """The Argo CD Application that deploys the app."""
        return f"hidp-{project}" if self._mode == "project" else f"hidp-{project}-{app}"

    async def sync(self, deployment: AppDeployment) -> None:
        """Create or update the Application, then start its sync (or a hard refresh when
        Argo CD is already syncing it)."""
        if self._secrets is not None and (deployment.secrets or deployment.pull_credentials):
            await self._secrets.apply(dataclasses.replace(deployment, manifests={}))
        application = self._application(deployment)
        name = application["metadata"]["name"]
        logger.info("upserting the Argo CD Application %s", name)
        await self._request(
            "POST",
            API,
            f"creating the Application {name}",
            params={"upsert": "true"},
            json=application,
        )
        await self._start_sync(name, application["spec"]["source"]["targetRevision"])

    async def rollout_status(self, deployment: AppDeployment) -> RolloutStatus:
        """Synced at the release's commit and Healthy ⇒ READY; a failed sync or a
        Degraded app ⇒ FAILED, with Argo CD's message."""
        labels.check_names(deployment.project, deployment.app)
        name = self.application_name(deployment.project, deployment.app)
        found = await self._request(
            "GET", f"{API}/{name}", f"reading the Application {name}", absent=(404,)
        )
        if found is None:
            return RolloutStatus(
                RolloutState.PROGRESSING, f"the Argo CD Application {name} does not exist yet"
            )
        return application_status(found, deployment, per_project=self._mode == "project")

    async def stability(self, deployment: AppDeployment) -> StabilityReport:
        """The release's pods through the cluster's API (the `kube_*` options); without
        it, Argo CD's health of the app: Healthy is ready, anything else is not."""
        if self._secrets is not None:
            return await self._secrets.stability(deployment)
        status = await self.rollout_status(deployment)
        return StabilityReport(ready=status.state is RolloutState.READY)

    async def discard(self, deployment: AppDeployment) -> None:
        """Nothing to remove: Argo CD deploys what git holds, and git moves on."""
        labels.check_names(deployment.project, deployment.app)

    async def undeploy(self, project: str, app: str) -> None:
        """App mode: delete the Application and, with it, what it deployed. Project mode:
        sync with pruning, which removes the app once its manifests left the repo."""
        labels.check_names(project, app)
        name = self.application_name(project, app)
        if self._mode == "app":
            logger.info("deleting the Argo CD Application %s", name)
            await self._request(
                "DELETE",
                f"{API}/{name}",
                f"deleting the Application {name}",
                params={"cascade": "true"},
                absent=(404,),
            )
            return
        found = await self._request(
            "GET", f"{API}/{name}", f"reading the Application {name}", absent=(404,)
        )
        if found is not None:
            revision = ((found.get("spec") or {}).get("source") or {}).get("targetRevision")
            await self._start_sync(name, str(revision or self._branch))

    async def list_running(self, project: str | None = None) -> list[RunningApp]:
        """The apps of home-idp's Applications (of one project or all), with their state."""
        if project is not None:
            labels.check_names(project)
        listed = await self._request(
            "GET",
            API,
            "listing Applications",
            params={"selector": labels.managed_selector(project)},
        )
        items = (listed or {}).get("items") or []
        found = [item for item in items if isinstance(item, dict)]
        return sorted(running_apps(found), key=lambda r: (r.project, r.app))

    async def app_resources(self, project: str, app: str) -> list[AppResource]:
        """The app's objects, read from the cluster's API (the `kube_*` options)."""
        return await self._cluster().app_resources(project, app)

    async def app_logs(
        self, project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncGenerator[AppLogLine, None]:
        """The app's pod logs, read from the cluster's API (the `kube_*` options)."""
        async with contextlib.aclosing(
            self._cluster().app_logs(project, app, follow=follow, tail_lines=tail_lines)
        ) as lines:
            async for line in lines:
                yield line

    async def delete_instance(self, project: str, app: str, name: str) -> None:
        """Delete the app's pod `name` through the cluster's API (the `kube_*` options)."""
        await self._cluster().delete_instance(project, app, name)

    async def aclose(self) -> None:
        """Close the connections to Argo CD (the apps keep running)."""
        await self._client.aclose()
        if self._secrets is not None:
            await self._secrets.aclose()

    def _cluster(self) -> KubernetesDeployer:
        """The cluster's API, for what Argo CD's API does not show (pods, logs)."""
        if self._secrets is None:
            raise DeployError(
                "the argocd deployer needs the kube_api_url option (or kube_kubeconfig) "
                "to show an app's pods and logs"
            )
        return self._secrets

    def _application(self, deployment: AppDeployment) -> dict[str, Any]:
        project, app = deployment.project, deployment.app
        labels.check_names(project, app)
        app_labels = {labels.MANAGED_BY: labels.HOME_IDP, labels.PROJECT: project}
        if self._mode == "project":
            # Every app of the project in one Application, at the branch: pinning it to
            # one app's commit would hold the other apps back (or roll them back).
            source: dict[str, Any] = {
                "repoURL": self._repo_url,
                "targetRevision": self._branch,
                "path": f"projects/{project}",
                "directory": {"recurse": True},
            }
        else:
            _check_path(deployment.manifests_path)
            revision = deployment.commit_sha or self._branch
            if deployment.commit_sha and not _REVISION.match(deployment.commit_sha):
                raise DeployError(f"{deployment.commit_sha[:80]!r} is not a commit id")
            source = {
                "repoURL": self._repo_url,
                "targetRevision": revision,
                "path": deployment.manifests_path,
            }
            app_labels |= {labels.APP: app, labels.RELEASE: str(deployment.release)}
        return {
            "metadata": {
                "name": self.application_name(project, app),
                "labels": app_labels,
                "finalizers": [FINALIZER],
            },
            "spec": {
                "project": self._project,
                "source": source,
                "destination": {"server": self._dest_server, "namespace": project},
                "syncPolicy": {
                    # Automated (with self-heal) keeps the cluster on what git says
                    # between releases; the sync call below only makes it start now.
                    "automated": {"prune": True, "selfHeal": True},
                    # Server-side apply: a client-side apply copies each object into an
                    # annotation capped at 256 KiB, too small for a config file.
                    "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
                },
            },
        }

    async def _start_sync(self, name: str, revision: str) -> None:
        try:
            await self._request(
                "POST",
                f"{API}/{name}/sync",
                f"syncing the Application {name}",
                json={"revision": revision, "prune": True},
            )
        except _Busy:
            # Argo CD runs one operation per Application (an automated sync beat us
            # to it): a hard refresh makes it compare against git again once done.
            logger.info("Argo CD is already syncing %s; asking for a hard refresh", name)
            await self._request(
                "GET",
                f"{API}/{name}",
                f"refreshing the Application {name}",
                params={"refresh": "hard"},
            )

    async def _request(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        absent: Iterable[int] = (),
    ) -> dict[str, Any] | None:
        """The JSON answer; None when the status is in `absent`; raises DeployError otherwise."""
        try:
            response = await self._client.request(method, path, params=params, json=json)
        except httpx.TransportError as error:
            raise DeployUnavailable(
                f"Argo CD at {self._url} could not be reached while {doing} "
                f"({type(error).__name__})"
            ) from None
        if response.status_code in set(absent):
            return None
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = None
        if response.is_success:
            if not isinstance(answer, dict):
                raise DeployError(f"Argo CD sent an unexpected answer while {doing}")
            return answer
        raise self._error(response.status_code, answer, doing)

    def _error(self, status: int, answer: Any, doing: str) -> DeployError:
        message = ""
        if isinstance(answer, dict):
            message = str(answer.get("message") or answer.get("error") or "")
        detail = mask_secrets(message, [self._token])[:400] or "no message"
        if status == 409 or (
            status == 400 and "another operation is already in progress" in message
        ):
            return _Busy(detail)
        if status == 401:
            return DeployError(f"Argo CD refused the token while {doing} (401)")
        text = f"Argo CD answered {status} while {doing}: {detail}"
        if status >= 500 or status == 429:
            return DeployUnavailable(text)
        return DeployError(text)


class _Busy(DeployError):
    """Another operation runs on the Application."""


def _check_path(path: str) -> None:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or any(part in {"", ".", ".."} for part in parts)
        or any(c.isspace() or c in "\\?#%" for c in path)
    ):
        raise DeployError(f"the manifests path {path[:120]!r} is not a relative path in the repo")
