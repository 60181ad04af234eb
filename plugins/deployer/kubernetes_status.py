"""How far a Deployment's rollout is, read from its status and its pods.

The checks follow `kubectl rollout status`: the controller has seen the
current generation, every replica is updated, no old replica is left and the
updated ones are available. A rollout fails when the controller gives up
(ProgressDeadlineExceeded) or, sooner, when a pod cannot start at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from home_idp.plugins.deployer.contract import RolloutState, RolloutStatus

__all__ = ["FATAL_WAITING", "deployment_status", "pod_failure"]

# Waiting reasons that do not go away by waiting: the image or the config is wrong.
FATAL_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "InvalidImageName",
    }
)


def deployment_status(deployment: Mapping[str, Any]) -> RolloutStatus:
    """READY, FAILED (progress deadline) or PROGRESSING with what is still awaited."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    if int(status.get("observedGeneration", 0)) < int(metadata.get("generation", 1)):
        return RolloutStatus(RolloutState.PROGRESSING, "waiting for the rollout to start")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            message = condition.get("message") or "the rollout exceeded its progress deadline"
            return RolloutStatus(RolloutState.FAILED, f"ProgressDeadlineExceeded: {message}")
    updated = int(status.get("updatedReplicas", 0))
    total = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    if updated < wanted:
        reason = f"{updated} of {wanted} replicas updated"
    elif total > updated:
        reason = f"{total - updated} old replicas are pending termination"
    elif available < updated:
        reason = f"{available} of {wanted} replicas ready"
    else:
        return RolloutStatus(RolloutState.READY, f"{available} of {wanted} replicas ready")
    return RolloutStatus(RolloutState.PROGRESSING, reason)


def pod_failure(pods: Iterable[Mapping[str, Any]]) -> str | None:
    """Why a pod of the rollout cannot start (`pod/container: reason: message`), if one cannot."""
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "?")
        status = pod.get("status") or {}
        containers = (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        )
        for container in containers:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in FATAL_WAITING:
                found = f"{reason} in pod {name}, container {container.get('name', '?')}"
                message = str(waiting.get("message") or "")[:300]
                return f"{found}: {message}" if message else found
    return None
