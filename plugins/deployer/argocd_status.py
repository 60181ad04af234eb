"""What an Argo CD Application's status says about a rollout.

Argo CD reports three things: whether the live objects match git at a
revision (`status.sync`), how healthy they are (`status.health`, and per
object in `status.resources`), and how the last operation ended
(`status.operationState`). An Application per project holds several apps,
so there the app's own Deployment is looked at, and its image (pinned by
digest) tells whether this release is the one running.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from home_idp.plugins.deployer import labels
from home_idp.plugins.deployer.contract import (
    AppDeployment,
    RolloutState,
    RolloutStatus,
    RunningApp,
)

__all__ = ["application_status", "running_apps"]

_FAILED_PHASES = {"Failed", "Error"}


def application_status(
    application: Mapping[str, Any], deployment: AppDeployment, *, per_project: bool
) -> RolloutStatus:
    """READY, FAILED or PROGRESSING (with what Argo CD reports) for `deployment`."""
    status = application.get("status") or {}
    sync = status.get("sync") or {}
    operation = status.get("operationState") or {}
    summary = status.get("summary") or {}
    url = _first(summary.get("externalURLs"))
    if per_project:
        health = _resource_health(status, deployment.project, deployment.app)
        at_release = deployment.image in (summary.get("images") or [])
    else:
        health = status.get("health") or {}
        at_release = sync.get("revision") == deployment.commit_sha
    phase = operation.get("phase")
    if phase in _FAILED_PHASES and _about(operation, deployment, per_project):
        message = operation.get("message") or "no message"
        return RolloutStatus(RolloutState.FAILED, f"the Argo CD sync {phase.lower()}: {message}")
    health_status = health.get("status") or "Unknown"
    if at_release and health_status == "Degraded":
        message = health.get("message") or _degraded(status) or "no message"
        return RolloutStatus(RolloutState.FAILED, f"Argo CD reports the app Degraded: {message}")
    if at_release and sync.get("status") == "Synced" and health_status == "Healthy":
        return RolloutStatus(RolloutState.READY, "Synced and Healthy", url)
    revision = str(sync.get("revision") or "")[:12] or "no revision"
    reason = f"Argo CD: {sync.get('status') or 'Unknown'} at {revision}, {health_status}"
    if phase in {"Running", "Terminating"}:
        reason += f", sync {phase.lower()}"
    return RolloutStatus(RolloutState.PROGRESSING, reason, url)


def running_apps(applications: Iterable[Mapping[str, Any]]) -> list[RunningApp]:
    """The apps home-idp's Applications deploy: one per Application, or, for an
    Application per project, one per Deployment in it."""
    running = []
    for application in applications:
        metadata = application.get("metadata") or {}
        found = metadata.get("labels") or {}
        status = application.get("status") or {}
        summary = status.get("summary") or {}
        images = [str(image) for image in summary.get("images") or []]
        project = str(found.get(labels.PROJECT) or "")
        if not project:
            continue
        app = found.get(labels.APP)
        if app:
            running.append(
                RunningApp(
                    project=project,
                    app=str(app),
                    release=_int(found.get(labels.RELEASE)),
                    image=images[0] if images else "",
                    state=_state(status.get("sync") or {}, status.get("health") or {}),
                    url=_first(summary.get("externalURLs")),
                )
            )
            continue
        for resource in status.get("resources") or []:
            if resource.get("kind") != "Deployment" or resource.get("namespace") != project:
                continue
            name = str(resource.get("name") or "")
            running.append(
                RunningApp(
                    project=project,
                    app=name,
                    release=None,
                    image=next((i for i in images if f"/{project}/{name}@" in i), ""),
                    state=_state(resource, resource.get("health") or {}),
                )
            )
    return running


def _about(operation: Mapping[str, Any], deployment: AppDeployment, per_project: bool) -> bool:
    """Whether a finished operation concerns this release (not an earlier one's)."""
    if per_project:
        return True  # at the branch: the last operation is the one that counts
    revision = (operation.get("syncResult") or {}).get("revision") or (
        ((operation.get("operation") or {}).get("sync") or {}).get("revision")
    )
    return revision in {None, "", deployment.commit_sha}


def _resource_health(status: Mapping[str, Any], project: str, app: str) -> Mapping[str, Any]:
    for resource in status.get("resources") or []:
        if (resource.get("kind"), resource.get("namespace"), resource.get("name")) == (
            "Deployment",
            project,
            app,
        ):
            health = resource.get("health")
            return health if isinstance(health, Mapping) else {}
    return {"status": "Missing"}


def _degraded(status: Mapping[str, Any]) -> str:
    """The first Degraded object's message (Argo CD keeps health messages per object)."""
    for resource in status.get("resources") or []:
        health = resource.get("health") or {}
        if health.get("status") == "Degraded":
            where = f"{resource.get('kind')} {resource.get('name')}"
            return f"{where}: {health.get('message') or 'Degraded'}"
    return ""


def _state(sync: Mapping[str, Any], health: Mapping[str, Any]) -> RolloutState:
    if health.get("status") == "Degraded":
        return RolloutState.FAILED
    if health.get("status") == "Healthy" and sync.get("status") == "Synced":
        return RolloutState.READY
    return RolloutState.PROGRESSING


def _first(values: Any) -> str | None:
    return str(values[0]) if isinstance(values, list) and values else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
