"""Deploy apps by server-side apply against the Kubernetes API, without a GitOps engine.

Every document is applied with the official client (`PATCH` as
`application/apply-patch+yaml`, field manager `home-idp`, conflicts forced:
home-idp owns these objects), the Namespace first. Then the app's objects
that the manifests no longer hold are deleted (pruned), found by the labels
home-idp puts on all of them. The client blocks, so every call runs in a
worker thread (`anyio.to_thread`).

The resource view (`app_resources`) lists the app's objects by the same
labels; a Secret shows the names of its keys only, its values dropped as soon
as the list is read. `app_logs` streams the pods' logs (`kubernetes_logs`),
`delete_instance` deletes one of the app's pods for its ReplicaSet to replace.

The service account needs: namespaces (get, patch) cluster-wide; in each
project namespace deployments, services, secrets, configmaps and ingresses
(get, list, patch, delete), pods (get, list, delete) and pods/log (get); and
deployments and ingresses (list) in all namespaces for `list_running()`
without a project.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from typing import Annotated, Any

from home_idp.plugins.deployer import kubernetes_objects as objects
from home_idp.plugins.deployer import labels
from home_idp.plugins.deployer.contract import (
    AppDeployment,
    AppLogLine,
    AppResource,
    DeployerConfig,
    DeployError,
    DeployUnavailable,
    InstanceNotFound,
    RolloutState,
    RolloutStatus,
    RunningApp,
    StabilityReport,
)
from home_idp.plugins.deployer.kubernetes_logs import PodLogs, log_containers
from home_idp.plugins.deployer.kubernetes_resources import app_resources, secret_names_only
from home_idp.plugins.deployer.kubernetes_stability import pods_health
from home_idp.plugins.deployer.kubernetes_status import deployment_status, pod_failure
from home_idp.plugins.support.kube_api import KubeApi, KubeErrors
from home_idp.plugins.support.kube_config import KubeOptions, client_configuration
from home_idp.plugins.support.masking import mask_secrets
from home_idp.plugins.support.options import Between

__all__ = ["KubernetesDeployer", "KubernetesOptions"]

logger = logging.getLogger(__name__)

FIELD_MANAGER = "home-idp"
_WHO = "the kubernetes deployer"


class _NotFound(DeployError):
    pass


class _Conflict(DeployError):
    pass


class KubernetesOptions(KubeOptions):
    """The kubernetes deployer's options: the API server and the timeouts per request."""

    connect_timeout: Annotated[float, Between(0.01, 600)] = 5.0
    request_timeout: Annotated[float, Between(0.01, 600)] = 30.0


class KubernetesDeployer:
    """Applies the rendered manifests straight to a cluster and watches the Deployment.

    Options (`config.options`, all strings): the API server as `api_url` +
    `token` (+ `ca_file`, `verify_tls`), or a `kubeconfig` path, or nothing for
    the in-cluster service account; `connect_timeout` (5 s) and
    `request_timeout` (30 s) per API request.
    """

    def __init__(self, config: DeployerConfig, *, list_secrets: bool = True) -> None:
        """`list_secrets` False keeps Secrets out of the resource view: listing them
        reads every value, a right the Argo CD deployer's account does not get."""
        options = KubernetesOptions.read(config.options, _WHO, DeployError)
        self._list_secrets = list_secrets
        configuration, secrets = client_configuration(options, _WHO, DeployError)
        # One retry: a kept-alive connection the server closed is retried, a
        # server that is away fails at once (the caller retries later).
        configuration.retries = 1
        self._server = configuration.host
        read = options.request_timeout
        timeouts = min(options.connect_timeout, read), read
        errors = KubeErrors(DeployError, DeployUnavailable, _NotFound, _Conflict)
        self._api = KubeApi(configuration, errors, timeouts, secrets)
        self._logs = PodLogs(self._api)

    def __repr__(self) -> str:
        return f"KubernetesDeployer(server={self._server!r})"

    async def sync(self, deployment: AppDeployment) -> None:
        """Apply every document (Namespace first), then delete the app's objects not in them.

        Raises DeployError before any request when a name or a document is not
        valid, DeployUnavailable when the API is away or failing.
        """
        manifests = await self.apply(deployment)
        keep = {(m.resource.kind, m.name) for m in manifests}
        project, app = deployment.project, deployment.app
        await self._delete_objects(project, app, keep=lambda kind, name: (kind, name) in keep)

    async def apply(self, deployment: AppDeployment) -> list[objects.Manifest]:
        """Apply the deployment's documents (and its Secrets), pruning nothing.

        The Argo CD deployer applies only the Secrets with it: their values
        never go to git, so Argo CD cannot make them.
        """
        manifests = objects.parse(deployment)
        masked = tuple(deployment.secrets.values())
        project, app = deployment.project, deployment.app
        logger.info("applying %d objects of %s/%s", len(manifests), project, app)
        for manifest in manifests:
            await self._api.request(
                "PATCH",
                manifest.path,
                f"applying the {manifest.title}",
                query={"fieldManager": FIELD_MANAGER, "force": "true"},
                body=manifest.body,
                content_type="application/apply-patch+yaml",
                masked=masked,
            )
        return manifests

    async def rollout_status(self, deployment: AppDeployment) -> RolloutStatus:
        """The Deployment's rollout of this release; a pod that cannot start fails it at once."""
        manifests = objects.parse(deployment)
        project, app = deployment.project, deployment.app
        url = objects.ingress_url(manifests)
        found = await self._deployment(project, app)
        if found is None:
            return RolloutStatus(
                RolloutState.PROGRESSING, f"the Deployment {project}/{app} does not exist yet"
            )
        release = ((found.get("metadata") or {}).get("labels") or {}).get(labels.RELEASE)
        if release != str(deployment.release):
            return RolloutStatus(
                RolloutState.PROGRESSING,
                f"the cluster runs release {release or 'unknown'}, not {deployment.release}",
            )
        status = deployment_status(found)
        if status.state is not RolloutState.PROGRESSING:
            return RolloutStatus(status.state, status.reason, url)
        failure = pod_failure(await self._release_pods(found, deployment))
        if failure is not None:
            return RolloutStatus(RolloutState.FAILED, failure, url)
        return RolloutStatus(RolloutState.PROGRESSING, status.reason, url)

    async def _deployment(self, project: str, app: str) -> dict[str, Any] | None:
        """The app's Deployment as the cluster has it, or None if there is none yet."""
        try:
            return await self._api.request(
                "GET",
                objects.DEPLOYMENT.path(project, app),
                f"reading the Deployment {project}/{app}",
            )
        except _NotFound:
            return None

    async def _release_pods(
        self, found: dict[str, Any], deployment: AppDeployment
    ) -> list[dict[str, Any]]:
        """The pods of the release the Deployment `found` runs."""
        project, app = deployment.project, deployment.app
        return await self._api.items(
            objects.PODS.path(project),
            _pod_selector(found, deployment),
            f"listing the pods of {project}/{app}",
        )

    async def stability(self, deployment: AppDeployment) -> StabilityReport:
        """The release's pods: restarts, readiness and the last termination of the app
        container, with a few lines of its log (secrets masked)."""
        project, app = deployment.project, deployment.app
        labels.check_names(project, app)
        found = await self._deployment(project, app)
        if found is None:
            return StabilityReport(ready=False, running=False)
        health = pods_health(await self._release_pods(found, deployment), app)
        lines: list[str] = []
        if health.telling is not None and (not health.ready or health.restarts):
            read = self._logs.lines(project, [health.telling], follow=False, tail_lines=5)
            async with contextlib.aclosing(read) as log_lines:
                lines = [line.text async for line in log_lines]
        secrets = deployment.secrets.values()
        return StabilityReport(
            ready=health.ready,
            running=health.running,
            restarts=health.restarts,
            exit_code=health.exit_code,
            oom_killed=health.oom_killed,
            log_lines=tuple(mask_secrets(line, secrets) for line in lines[-5:]),
        )

    async def discard(self, deployment: AppDeployment) -> None:
        """Nothing to remove: the app's one Deployment runs whichever release git (or
        the rollback) applies next."""
        labels.check_names(deployment.project, deployment.app)

    async def undeploy(self, project: str, app: str) -> None:
        """Delete every object labelled as the app's (the Namespace stays); idempotent."""
        labels.check_names(project, app)
        logger.info("removing %s/%s from the cluster", project, app)
        await self._delete_objects(project, app, keep=lambda kind, name: False)

    async def list_running(self, project: str | None = None) -> list[RunningApp]:
        """The Deployments home-idp manages (of one project or all), with their rollout state."""
        if project is not None:
            labels.check_names(project)
        selector = labels.managed_selector(project)
        where = f"in {project}" if project else "in all namespaces"
        deployments = await self._api.items(
            objects.DEPLOYMENT.path(project), selector, f"listing Deployments {where}"
        )
        ingresses = await self._api.items(
            objects.INGRESS.path(project), selector, f"listing Ingresses {where}"
        )
        urls = _ingress_urls(ingresses)
        running = []
        for found in deployments:
            metadata = found.get("metadata") or {}
            found_labels = metadata.get("labels") or {}
            namespace = str(metadata.get("namespace") or "")
            app = str(found_labels.get(labels.APP) or metadata.get("name") or "")
            running.append(
                RunningApp(
                    project=str(found_labels.get(labels.PROJECT) or namespace),
                    app=app,
                    release=_int(found_labels.get(labels.RELEASE)),
                    image=_image(found),
                    state=deployment_status(found).state,
                    url=urls.get((namespace, app)),
                )
            )
        return sorted(running, key=lambda r: (r.project, r.app))

    async def app_resources(self, project: str, app: str) -> list[AppResource]:
        """The app's Deployment, pods, Service, Ingress, ConfigMaps and Secrets, with their
        status; of a Secret only the names of its keys."""
        labels.check_names(project, app)
        selector = labels.app_selector(app)
        kinds = tuple(
            resource
            for resource in (objects.DEPLOYMENT, objects.PODS, *objects.MANAGED)
            if self._list_secrets or resource.kind != "Secret"
        )
        listed = await asyncio.gather(
            *(
                self._api.items(
                    resource.path(project),
                    selector,
                    f"listing the {resource.plural} of {project}/{app}",
                )
                for resource in kinds
            )
        )
        found = dict(zip((resource.kind for resource in kinds), listed, strict=True))
        # The values are dropped here, before anything else reads the list.
        found["Secret"] = [secret_names_only(secret) for secret in found.get("Secret", [])]
        return app_resources(found)

    async def app_logs(
        self, project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncGenerator[AppLogLine, None]:
        """The last `tail_lines` lines of each of the app's pods whose container runs or ran,
        then (`follow`) new lines as they are written, labelled with the pod's name.

        The pods are those listed when the iteration starts; closing the iterator
        shuts every stream down.
        """
        labels.check_names(project, app)
        if tail_lines < 0:
            raise DeployError("`tail_lines` must not be negative")
        pods = await self._api.items(
            objects.PODS.path(project),
            labels.app_selector(app),
            f"listing the pods of {project}/{app}",
        )
        async with contextlib.aclosing(
            self._logs.lines(
                project, log_containers(pods, app), follow=follow, tail_lines=tail_lines
            )
        ) as lines:
            async for line in lines:
                yield line

    async def delete_instance(self, project: str, app: str, name: str) -> None:
        """Delete the app's pod `name`; its ReplicaSet starts a fresh one.

        Raises InstanceNotFound when there is no such pod or it is not the app's.
        """
        labels.check_names(project, app)
        if not objects.valid_name(name):
            raise DeployError(f"{name[:80]!r} is not a valid pod name")
        path = objects.PODS.path(project, name)
        try:
            pod = await self._api.request("GET", path, f"reading the pod {project}/{name}")
        except _NotFound:
            raise InstanceNotFound(f"{project}/{app} has no pod {name}") from None
        metadata = pod.get("metadata") or {}
        pod_labels = metadata.get("labels") or {}
        if (
            pod_labels.get(labels.APP) != app
            or pod_labels.get(labels.MANAGED_BY) != labels.HOME_IDP
        ):
            raise InstanceNotFound(f"{project}/{app} has no pod {name}")
        logger.info("deleting the pod %s/%s of %s", project, name, app)
        uid = metadata.get("uid")
        try:
            await self._api.request(
                "DELETE",
                path,
                f"deleting the pod {project}/{name}",
                # Exactly the pod looked at, not a later one with its name.
                body={"preconditions": {"uid": uid}} if uid else None,
            )
        except (_NotFound, _Conflict):
            raise InstanceNotFound(f"the pod {name} of {project}/{app} is gone") from None

    async def aclose(self) -> None:
        """Close the log streams still open and the API connections (the apps keep running)."""
        self._logs.close()
        await self._api.aclose()

    async def _delete_objects(
        self, project: str, app: str, *, keep: Callable[[str, str], bool]
    ) -> None:
        selector = labels.app_selector(app)
        for resource in objects.MANAGED:
            found = await self._api.items(
                resource.path(project),
                selector,
                f"listing the {resource.plural} of {project}/{app}",
            )
            for item in found:
                name = str((item.get("metadata") or {}).get("name") or "")
                if not name or keep(resource.kind, name):
                    continue
                logger.info("deleting the %s %s/%s", resource.kind, project, name)
                # Deleted meanwhile is what was wanted.
                with contextlib.suppress(_NotFound):
                    await self._api.request(
                        "DELETE",
                        resource.path(project, name),
                        f"deleting the {resource.kind} {project}/{name}",
                        query={"propagationPolicy": "Background"},
                    )


def _pod_selector(found: Mapping[str, Any], deployment: AppDeployment) -> str:
    """The Deployment's own selector, narrowed to this release when its pods carry the label.

    Narrowed so that an old release's pods crash-looping on their way out do
    not fail the new rollout.
    """
    spec = found.get("spec") or {}
    match = dict((spec.get("selector") or {}).get("matchLabels") or {})
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if labels.RELEASE in template_labels:
        match[labels.RELEASE] = str(template_labels[labels.RELEASE])
    if not match:
        return labels.app_selector(deployment.app)
    return ",".join(f"{key}={value}" for key, value in sorted(match.items()))


def _ingress_urls(ingresses: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    urls: dict[tuple[str, str], str] = {}
    for ingress in ingresses:
        metadata = ingress.get("metadata") or {}
        app = (metadata.get("labels") or {}).get(labels.APP)
        manifest = objects.Manifest(objects.INGRESS, "", None, dict(ingress))
        url = objects.ingress_url([manifest])
        if app and url:
            urls.setdefault((str(metadata.get("namespace") or ""), str(app)), url)
    return urls


def _image(found: Mapping[str, Any]) -> str:
    template = (found.get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or [{}]
    return str(containers[0].get("image") or "")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
