"""The Kubernetes manifests of an app at one release, rendered from its settings.

They are what home-idp commits to `projects/<project>/apps/<app>/manifests/`
and what the GitOps engine (or the direct-apply deployer) makes real. Secret
*values* never go to git: the Deployment refers to a Secret `<app>-secrets`
by name, which the deployer keeps in the cluster. Each config file is a
ConfigMap of its own (a ConfigMap holds at most 1 MiB) whose one key is the
file name, mounted with `subPath` at the file's mount path.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = [
    "MANAGED_BY",
    "MANIFEST_FILES",
    "PULL_SECRET",
    "AppManifestInput",
    "FileMount",
    "config_map_name",
    "manifest_diff",
    "render_documents",
    "render_manifests",
    "secret_name",
    "tls_secret_name",
]

MANAGED_BY = "home-idp"
PULL_SECRET = "home-idp-registry"  # noqa: S105 (the name of a Secret, not a secret)
# Every file home-idp may write into an app's manifests folder; a file of
# this list that a release no longer renders is deleted from git.
MANIFEST_FILES = (
    "namespace.yaml",
    "deployment.yaml",
    "service.yaml",
    "ingress.yaml",
    "configmaps.yaml",
)
# Defaults a small cluster can schedule, generous enough for a web app.
_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


def secret_name(app: str) -> str:
    return f"{app}-secrets"


def _file_key(file_name: str) -> str:
    # File names may hold capitals and '_', which object names may not.
    return hashlib.sha256(file_name.encode()).hexdigest()[:10]


def config_map_name(app: str, file_name: str) -> str:
    """The ConfigMap that holds one config file of the app."""
    return f"{app}-file-{_file_key(file_name)}"


@dataclass(frozen=True)
class FileMount:
    """A config file: its name (the ConfigMap key), where it is mounted, its text."""

    name: str
    mount_path: str
    content: str = field(repr=False)


@dataclass(frozen=True)
class AppManifestInput:
    """What the manifests are made of; names are DNS-1123 labels by now."""

    project: str
    app: str
    release: int
    image: str
    port: int
    replicas: int
    health_path: str
    env: Mapping[str, str] = field(default_factory=dict)
    secret_names: Sequence[str] = ()
    ingress_host: str | None = None
    files: Sequence[FileMount] = ()
    # A cert-manager ClusterIssuer: the Ingress asks it for a certificate of its host.
    tls_cluster_issuer: str | None = None


def _labels(spec: AppManifestInput) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": spec.app,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "home-idp.dev/project": spec.project,
        "home-idp.dev/app": spec.app,
    }


def _selector(spec: AppManifestInput) -> dict[str, str]:
    # Never changes for an app: a Deployment's selector is immutable.
    return {"app.kubernetes.io/name": spec.app, "home-idp.dev/app": spec.app}


def _metadata(spec: AppManifestInput, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": spec.project, "labels": _labels(spec)}


def _container(spec: AppManifestInput) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": name, "value": value} for name, value in sorted(spec.env.items())
    ]
    env += [
        {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": secret_name(spec.app), "key": name}},
        }
        for name in sorted(spec.secret_names)
    ]
    probe = {"httpGet": {"path": spec.health_path, "port": "http"}}
    container: dict[str, Any] = {
        "name": spec.app,
        "image": spec.image,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "initialDelaySeconds": 15, "periodSeconds": 10},
        "resources": _RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if env:
        container["env"] = env
    if spec.files:
        container["volumeMounts"] = [
            {
                "name": f"file-{_file_key(f.name)}",
                "mountPath": f.mount_path,
                "subPath": f.name,
                "readOnly": True,
            }
            for f in spec.files
        ]
    return container


def _file_volumes(spec: AppManifestInput) -> list[dict[str, Any]]:
    return [
        {
            "name": f"file-{_file_key(f.name)}",
            "configMap": {
                "name": config_map_name(spec.app, f.name),
                "items": [{"key": f.name, "path": f.name}],
            },
        }
        for f in spec.files
    ]


def _config_maps(spec: AppManifestInput) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                **_metadata(spec, config_map_name(spec.app, f.name)),
                "annotations": {"home-idp.dev/mount-path": f.mount_path},
            },
            "data": {f.name: f.content},
        }
        for f in spec.files
    ]


def _deployment(spec: AppManifestInput) -> dict[str, Any]:
    pod_labels = {**_labels(spec), "home-idp.dev/release": str(spec.release)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**_metadata(spec, spec.app), "labels": pod_labels},
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 300,
            "selector": {"matchLabels": _selector(spec)},
            "strategy": {
                "type": "RollingUpdate",
                # The old pods serve until the new ones are ready.
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "imagePullSecrets": [{"name": PULL_SECRET}],
                    "containers": [_container(spec)],
                    **({"volumes": _file_volumes(spec)} if spec.files else {}),
                },
            },
        },
    }


def _service(spec: AppManifestInput) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, spec.app),
        "spec": {
            "selector": _selector(spec),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _ingress(spec: AppManifestInput, host: str) -> dict[str, Any]:
    backend = {"service": {"name": spec.app, "port": {"name": "http"}}}
    ingress: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(spec, spec.app),
        "spec": {
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }
    if spec.tls_cluster_issuer:
        # cert-manager's ingress-shim sees the annotation and keeps a certificate
        # for the hosts under `tls` in the named Secret
        # (https://cert-manager.io/docs/usage/ingress/).
        ingress["metadata"]["annotations"] = {
            "cert-manager.io/cluster-issuer": spec.tls_cluster_issuer
        }
        ingress["spec"]["tls"] = [{"hosts": [host], "secretName": tls_secret_name(spec.app)}]
    return ingress


def tls_secret_name(app: str) -> str:
    """The Secret cert-manager keeps the app's certificate in."""
    return f"{app}-tls"


def _namespace(spec: AppManifestInput) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": spec.project,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGED_BY,
                "home-idp.dev/project": spec.project,
            },
        },
    }


def render_documents(spec: AppManifestInput) -> dict[str, list[dict[str, Any]]]:
    """File name → the Kubernetes objects in it."""
    documents = {
        "namespace.yaml": [_namespace(spec)],
        "deployment.yaml": [_deployment(spec)],
        "service.yaml": [_service(spec)],
    }
    if spec.ingress_host:
        documents["ingress.yaml"] = [_ingress(spec, spec.ingress_host)]
    if spec.files:
        documents["configmaps.yaml"] = _config_maps(spec)
    return documents


class _PlainDumper(yaml.SafeDumper):
    """No `&id001` anchors: shared label dicts are written out in full, as people do."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Config files read as written (`|` blocks) in git and in a release's
    # plan; the emitter falls back to quotes where a block cannot hold them.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_PlainDumper.add_representer(str, _text)


def render_manifests(spec: AppManifestInput) -> dict[str, str]:
    """File name → YAML text, stable for equal input (so unchanged files stay unchanged)."""
    return {
        name: yaml.dump_all(
            documents, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False
        )
        for name, documents in render_documents(spec).items()
    }


def manifest_diff(before: Mapping[str, str], after: Mapping[str, str], folder: str) -> str:
    """A unified diff of every file of the folder, from `before` to `after`."""
    chunks: list[str] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, ""), after.get(name, "")
        if old == new:
            continue
        chunks += difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{folder}/{name}" if name in before else "/dev/null",
            tofile=f"b/{folder}/{name}" if name in after else "/dev/null",
        )
    return "".join(chunks)
