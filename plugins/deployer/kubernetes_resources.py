"""An app's objects as the resource view shows them: one AppResource per object.

Plain functions over the objects as the API lists them. A Secret's values
never reach them: `secret_names_only` is applied to a Secret list as soon as
it is read, and keeps the names of the data keys, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from home_idp.plugins.deployer import labels
from home_idp.plugins.deployer.contract import AppResource, RolloutState
from home_idp.plugins.deployer.kubernetes_status import deployment_status

__all__ = ["KIND_ORDER", "app_resources", "secret_names_only"]

# The order the resource view lists kinds in: what runs first, what it reads last.
KIND_ORDER = ("Deployment", "Pod", "Service", "Ingress", "ConfigMap", "Secret")


def secret_names_only(secret: Mapping[str, Any]) -> dict[str, Any]:
    """The Secret with its values gone: name, labels, type and the names of its keys.

    Annotations go too: `kubectl apply` keeps the whole applied object, values
    included, in one of them.
    """
    metadata = secret.get("metadata") or {}
    keys = set(_mapping(secret.get("data"))) | set(_mapping(secret.get("stringData")))
    return {
        "metadata": {
            "name": metadata.get("name"),
            "labels": dict(_mapping(metadata.get("labels"))),
            "creationTimestamp": metadata.get("creationTimestamp"),
        },
        "type": secret.get("type"),
        "keys": sorted(str(key) for key in keys),
    }


def app_resources(found: Mapping[str, Iterable[Mapping[str, Any]]]) -> list[AppResource]:
    """The resources of the listed objects (kind -> objects), sorted by kind, then name.

    Secrets must have been through `secret_names_only`.
    """
    describe = {
        "Deployment": _deployment,
        "Pod": _pod,
        "Service": _service,
        "Ingress": _ingress,
        "ConfigMap": _config_map,
        "Secret": _secret,
    }
    resources = [describe[kind](obj) for kind in KIND_ORDER for obj in found.get(kind, ())]
    order = {kind: n for n, kind in enumerate(KIND_ORDER)}
    return sorted(resources, key=lambda r: (order[r.kind], r.name))


def _deployment(found: Mapping[str, Any]) -> AppResource:
    spec, status = _mapping(found.get("spec")), _mapping(found.get("status"))
    wanted = _int(spec.get("replicas"), 1)
    rollout = deployment_status(found)
    release = _release(found)
    text = f"{_int(status.get('readyReplicas'), 0)}/{wanted} ready"
    if release is not None:
        text += f", release {release}"
    if rollout.state is RolloutState.FAILED:
        text += f"; {rollout.reason}"
    return AppResource(
        "Deployment",
        _name(found),
        text,
        ready=rollout.state is RolloutState.READY,
        release=release,
        created_at=_created(found),
    )


def _pod(found: Mapping[str, Any]) -> AppResource:
    status = _mapping(found.get("status"))
    init = _list(status.get("initContainerStatuses"))
    containers = _list(status.get("containerStatuses"))
    phase = str(status.get("phase") or "Unknown")
    waiting = [
        str(reason)
        for container in (*init, *containers)
        if (reason := _mapping(_mapping(container.get("state")).get("waiting")).get("reason"))
    ]
    if _mapping(found.get("metadata")).get("deletionTimestamp"):
        text = "Terminating"
    elif waiting:
        text = waiting[0]
    else:
        text = phase
    return AppResource(
        "Pod",
        _name(found),
        text,
        ready=bool(containers) and all(c.get("ready") is True for c in containers),
        phase=phase,
        restarts=sum(_int(c.get("restartCount"), 0) for c in (*init, *containers)),
        release=_release(found),
        created_at=_created(found),
    )


def _service(found: Mapping[str, Any]) -> AppResource:
    spec, status = _mapping(found.get("spec")), _mapping(found.get("status"))
    kind = str(spec.get("type") or "ClusterIP")
    cluster_ip = spec.get("clusterIP")
    parts = [f"{kind} {cluster_ip}" if cluster_ip and cluster_ip != "None" else kind]
    ports = [
        f"{port.get('port')}" + (f":{port['nodePort']}" if port.get("nodePort") else "")
        for port in _list(spec.get("ports"))
    ]
    if ports:
        parts.append(f"{'port' if len(ports) == 1 else 'ports'} {', '.join(ports)}")
    addresses = _addresses(status)
    if addresses:
        parts.append(f"external {', '.join(addresses)}")
    return AppResource("Service", _name(found), ", ".join(parts), created_at=_created(found))


def _ingress(found: Mapping[str, Any]) -> AppResource:
    spec = _mapping(found.get("spec"))
    hosts = [str(rule["host"]) for rule in _list(spec.get("rules")) if rule.get("host")]
    text = f"{'host' if len(hosts) == 1 else 'hosts'} {', '.join(hosts)}" if hosts else "any host"
    addresses = _addresses(_mapping(found.get("status")))
    if addresses:
        text += f", address {', '.join(addresses)}"
    return AppResource("Ingress", _name(found), text, created_at=_created(found))


def _config_map(found: Mapping[str, Any]) -> AppResource:
    keys = sorted(set(_mapping(found.get("data"))) | set(_mapping(found.get("binaryData"))))
    return AppResource(
        "ConfigMap",
        _name(found),
        _count(len(keys), "key"),
        keys=tuple(keys),
        created_at=_created(found),
    )


def _secret(found: Mapping[str, Any]) -> AppResource:
    keys = tuple(str(key) for key in found.get("keys") or ())
    text = f"{found.get('type') or 'Opaque'}, {_count(len(keys), 'key')}"
    return AppResource("Secret", _name(found), text, keys=keys, created_at=_created(found))


def _addresses(status: Mapping[str, Any]) -> list[str]:
    found = _list(_mapping(status.get("loadBalancer")).get("ingress"))
    return [str(entry.get("ip") or entry.get("hostname")) for entry in found if entry]


def _release(found: Mapping[str, Any]) -> int | None:
    value = _mapping(_mapping(found.get("metadata")).get("labels")).get(labels.RELEASE)
    return _optional_int(value)


def _name(found: Mapping[str, Any]) -> str:
    return str(_mapping(found.get("metadata")).get("name") or "")


def _created(found: Mapping[str, Any]) -> str | None:
    created = _mapping(found.get("metadata")).get("creationTimestamp")
    return str(created) if created else None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _int(value: Any, default: int) -> int:
    number = _optional_int(value)
    return default if number is None else number


def _optional_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
