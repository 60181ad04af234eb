"""Kubernetes API requests as the API server authorizes them, and RBAC rules that allow them.

The mapping follows the API server's request info
(https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb):
`/api/v1/...` is the core group and `/apis/<group>/<version>/...` the others;
`namespaces/<ns>/` in front scopes a request to a namespace; then come the
resource, the object's name and a subresource (`pods/log`). GET of a
collection is `list` (`watch` with `?watch=true`), GET of an object `get`,
POST `create`, PUT `update`, PATCH `patch`, DELETE of an object `delete` and
of a collection `deletecollection`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Attributes", "attributes", "bound_rules", "granted"]

APPLY = "application/apply-patch+yaml"
# Subresources of a Namespace itself (`/api/v1/namespaces/<ns>/status`), as in the API server.
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass(frozen=True, order=True)
class Attributes:
    """What RBAC decides on: the API group, `resource` or `resource/subresource`, the verb."""

    group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}" + (f".{self.group}" if self.group else "")


def attributes(
    method: str, path: str, query: Mapping[str, str], content_type: str
) -> set[Attributes]:
    """The authorization checks one request passes through."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"{path} is not a resource path")
    if rest[:1] == ["namespaces"] and len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        rest = rest[2:]
    resource, name, subresource = ([*rest, "", ""])[:3]
    if subresource:
        resource = f"{resource}/{subresource}"
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") in {"true", "1"} else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]
    checks = {Attributes(group, resource, verb)}
    if method == "PATCH" and content_type == APPLY:
        # A server-side apply that makes a missing object is authorized as `create`
        # too (kubernetes/kubernetes#66002); the deployers' applies make every
        # object of a first release.
        checks.add(Attributes(group, resource, "create"))
    return checks


def bound_rules(docs: Iterable[Mapping[str, Any]], account: str, namespace: str) -> list[Any]:
    """The rules of every ClusterRole and Role bound to the ServiceAccount."""
    docs = list(docs)
    roles = {
        (doc["kind"], doc["metadata"]["name"]): doc
        for doc in docs
        if doc["kind"] in {"ClusterRole", "Role"}
    }
    rules: list[Any] = []
    for binding in docs:
        if binding["kind"] not in {"ClusterRoleBinding", "RoleBinding"}:
            continue
        subject = {"kind": "ServiceAccount", "name": account, "namespace": namespace}
        if subject not in binding.get("subjects", []):
            continue
        ref = binding["roleRef"]
        rules += roles[(ref["kind"], ref["name"])].get("rules", [])
    return rules


def granted(rules: Iterable[Mapping[str, Any]]) -> set[Attributes]:
    """Every (group, resource, verb) the rules allow; wildcards and name limits are refused."""
    found = set()
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"a wildcard in {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found |= {Attributes(group, resource, verb) for verb in rule["verbs"]}
    return found
