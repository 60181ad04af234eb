"""The documents the Kubernetes deployer applies: parsed, checked, and placed in the API.

home-idp renders one Namespace (the project) and, per app, a Deployment, a
Service and optionally a Secret, a ConfigMap and an Ingress. Only these kinds
are applied, so a manifest can never create cluster-wide objects (roles,
bindings) with the deployer's permissions, and pruning knows every kind an
app can leave behind.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from home_idp.plugins.deployer import labels
from home_idp.plugins.deployer.contract import AppDeployment, DeployError
from home_idp.plugins.support.dns_names import is_dns_subdomain

__all__ = [
    "BY_KIND",
    "DEPLOYMENT",
    "INGRESS",
    "MANAGED",
    "NAMESPACE",
    "PODS",
    "Manifest",
    "Resource",
    "ingress_url",
    "parse",
    "valid_name",
]

# The pull secret the rendered Deployments name (home-idp's manifests).
PULL_SECRET = "home-idp-registry"  # noqa: S105 (a Secret's name)


def valid_name(name: str) -> bool:
    """Whether `name` is a DNS-1123 subdomain (an object name), so safe in a URL path."""
    return is_dns_subdomain(name)


@dataclass(frozen=True)
class Resource:
    """One kind of object and where the API serves it."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection's path (across all namespaces without one), or an object's."""
        path = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            path += f"/namespaces/{namespace}"
        path += f"/{self.plural}"
        return f"{path}/{name}" if name else path


NAMESPACE = Resource("Namespace", "v1", "namespaces", namespaced=False)
DEPLOYMENT = Resource("Deployment", "apps/v1", "deployments")
INGRESS = Resource("Ingress", "networking.k8s.io/v1", "ingresses")
PODS = Resource("Pod", "v1", "pods")
# In the order they are applied: what a Deployment mounts exists before its pods start.
MANAGED = (
    Resource("Secret", "v1", "secrets"),
    Resource("ConfigMap", "v1", "configmaps"),
    Resource("Service", "v1", "services"),
    DEPLOYMENT,
    INGRESS,
)
BY_KIND = {resource.kind: resource for resource in (NAMESPACE, *MANAGED)}


@dataclass(frozen=True)
class Manifest:
    """One document to apply, with home-idp's labels on it."""

    resource: Resource
    name: str
    namespace: str | None
    body: dict[str, Any]

    @property
    def path(self) -> str:
        return self.resource.path(self.namespace, self.name)

    @property
    def title(self) -> str:
        """`Deployment shop/web`, for messages."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.resource.kind} {where}{self.name}"


def parse(deployment: AppDeployment) -> list[Manifest]:
    """The deployment's documents, Namespace first, each checked; raises DeployError.

    Every namespaced object lands in the project's namespace and carries the
    labels that pruning and undeploy select on. A Namespace is added when the
    manifests hold none.
    """
    project, app = deployment.project, deployment.app
    labels.check_names(project, app)
    found: dict[tuple[str, str], Manifest] = {}
    for file_name in sorted(deployment.manifests):
        for doc in _documents(file_name, deployment.manifests[file_name]):
            manifest = _manifest(file_name, doc, deployment)
            key = (manifest.resource.kind, manifest.name)
            if key in found:
                raise DeployError(f"{manifest.title} is in the manifests twice ({file_name})")
            found[key] = manifest
    if deployment.secrets:
        # The app's secret values never go to git: the manifests refer to this
        # Secret by name, and the deployer keeps it in the cluster.
        secret = _manifest(
            "(the app's secrets)",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{app}-secrets", "namespace": project},
                "type": "Opaque",
                "stringData": dict(deployment.secrets),
            },
            deployment,
        )
        found[(secret.resource.kind, secret.name)] = secret
    if deployment.pull_credentials is not None:
        # The manifests name this pull secret; its credentials are the registry's.
        pull = _manifest("(the registry pull secret)", _pull_secret(deployment), deployment)
        found[(pull.resource.kind, pull.name)] = pull
    if (NAMESPACE.kind, project) not in found:
        found[(NAMESPACE.kind, project)] = Manifest(
            NAMESPACE,
            project,
            None,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": project,
                    "labels": {labels.MANAGED_BY: labels.HOME_IDP, labels.PROJECT: project},
                },
            },
        )
    order = {kind: n for n, kind in enumerate(BY_KIND)}
    return sorted(found.values(), key=lambda m: (order[m.resource.kind], m.name))


def _pull_secret(deployment: AppDeployment) -> dict[str, Any]:
    credentials = deployment.pull_credentials
    assert credentials is not None
    host = deployment.image.split("/", 1)[0]
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    config = {"auths": {host: {"username": credentials.username, "auth": token}}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": PULL_SECRET, "namespace": deployment.project},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json.dumps(config)},
    }


def _documents(file_name: str, text: str) -> list[dict[str, Any]]:
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        # The parser's message quotes the document, which may hold a secret: the line only.
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DeployError(f"the manifest {file_name} is not valid YAML{where}") from None
    for doc in docs:
        if not isinstance(doc, dict):
            raise DeployError(f"the manifest {file_name} is not a Kubernetes object")
    return docs


def _manifest(file_name: str, doc: dict[str, Any], deployment: AppDeployment) -> Manifest:
    project = deployment.project
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    resource = BY_KIND.get(kind) if isinstance(kind, str) else None
    if resource is None or resource.api_version != api_version:
        raise DeployError(
            f"the manifest {file_name} holds a {str(api_version)[:40]} {str(kind)[:40]}; "
            f"the Kubernetes deployer applies only {', '.join(BY_KIND)}"
        )
    body = copy.deepcopy(doc)
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        raise DeployError(f"the {kind} in {file_name} has no metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not valid_name(name):
        raise DeployError(f"the {kind} in {file_name} has no valid name")
    if resource is NAMESPACE:
        if name != project:
            raise DeployError(f"the Namespace in {file_name} must be the project's, {project!r}")
        return Manifest(resource, name, None, body)
    namespace = metadata.setdefault("namespace", project)
    if namespace != project:
        raise DeployError(f"the {kind} {name} in {file_name} is not in the namespace {project!r}")
    body_labels = metadata.setdefault("labels", {})
    if not isinstance(body_labels, dict):
        raise DeployError(f"the labels of the {kind} {name} in {file_name} are not a mapping")
    wanted = {
        labels.MANAGED_BY: labels.HOME_IDP,
        labels.PROJECT: project,
        labels.APP: deployment.app,
        labels.RELEASE: str(deployment.release),
    }
    for key, value in wanted.items():
        if body_labels.setdefault(key, value) != value:
            raise DeployError(
                f"the {kind} {name} in {file_name} has the label {key}={body_labels[key]!r}; "
                f"it must be {value!r}"
            )
    return Manifest(resource, name, project, body)


def ingress_url(manifests: list[Manifest]) -> str | None:
    """Where the app answers through its Ingress: the first rule's host."""
    for manifest in manifests:
        if manifest.resource is not INGRESS:
            continue
        spec = manifest.body.get("spec") or {}
        for rule in spec.get("rules") or []:
            host = rule.get("host") if isinstance(rule, Mapping) else None
            if isinstance(host, str) and host:
                tls_hosts = {h for tls in spec.get("tls") or [] for h in tls.get("hosts") or []}
                return f"{'https' if host in tls_hosts else 'http'}://{host}/"
    return None
