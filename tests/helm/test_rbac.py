"""The chart's RBAC grants exactly the Kubernetes API calls the configured plugins make.

Every plugin that calls the Kubernetes API runs its flows against the
stand-in (plugin_calls.py); each recorded request becomes what the API server
authorizes (authorizer.py). For each builder and deployer the chart allows,
the rules bound to home-idp's ServiceAccount must allow every such call, and
grant nothing that no call needs.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.doubles.kubernetes import RecordedRequest
from tests.helm.authorizer import Attributes, attributes, bound_rules, granted
from tests.helm.chart import NAMESPACE, RELEASE, Helm, one
from tests.helm.plugin_calls import argocd_calls, kaniko_calls, kubernetes_calls

Calls = dict[str, set[Attributes]]


def checks(requests: list[RecordedRequest]) -> set[Attributes]:
    found: set[Attributes] = set()
    for request in requests:
        found |= attributes(request.method, request.path, request.query, request.content_type)
    return found


@pytest.fixture(scope="module")
async def calls(tmp_path_factory: pytest.TempPathFactory) -> Calls:
    """What each plugin's flows needed authorized."""
    data_dir = tmp_path_factory.mktemp("plugins")
    return {
        "kaniko": checks(await kaniko_calls(data_dir)),
        "kubernetes": checks(await kubernetes_calls(data_dir)),
        "argocd": checks(await argocd_calls(data_dir)),
    }


def rules_of(docs: list[dict[str, Any]]) -> list[Any]:
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    return bound_rules(docs, account, NAMESPACE)


def test_the_flows_reach_every_kind_of_call(calls: Calls) -> None:
    assert {str(a) for a in calls["kaniko"]} == {
        "create namespaces",
        "create jobs.batch",
        "get jobs.batch",
        "delete jobs.batch",
        "list pods",
        "get pods",
        "get pods/log",
        "create secrets",
        "get secrets",
        "update secrets",
        "delete secrets",
    }
    # The argocd deployer's Kubernetes part applies Secrets (and their Namespace),
    # and reads what runs for the resource view and the logs, Secrets excepted.
    assert {str(a) for a in calls["argocd"]} == {
        "create namespaces",
        "patch namespaces",
        "create secrets",
        "patch secrets",
        "list deployments.apps",
        "list services",
        "list configmaps",
        "list ingresses.networking.k8s.io",
        "list pods",
        "get pods",
        "delete pods",
        "get pods/log",
    }
    deployer_kinds = {(a.group, a.resource) for a in calls["kubernetes"]}
    assert deployer_kinds == {
        ("", "namespaces"),
        ("", "secrets"),
        ("", "configmaps"),
        ("", "services"),
        ("", "pods"),
        ("", "pods/log"),
        ("apps", "deployments"),
        ("networking.k8s.io", "ingresses"),
    }


@pytest.mark.parametrize("deployer", ["kubernetes", "argocd"])
def test_the_rules_are_exactly_the_calls(helm: Helm, calls: Calls, deployer: str) -> None:
    docs = helm.template("--set", f"config.deployer.plugin={deployer}")
    assert one(docs, "ClusterRoleBinding")["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-home-idp", "namespace": NAMESPACE}
    ]
    allowed = granted(rules_of(docs))
    needed = calls["kaniko"] | calls[deployer]

    denied = sorted(str(a) for a in needed - allowed)
    assert not denied, f"the plugins make calls the rules do not allow: {denied}"
    unused = sorted(str(a) for a in allowed - needed)
    assert not unused, f"the rules grant what no plugin calls: {unused}"


def test_secrets_are_never_listed_without_the_kubernetes_deployer(helm: Helm, calls: Calls) -> None:
    # Listing Secrets reads every value in every namespace: only the
    # kubernetes deployer's prune needs it.
    docs = helm.template("--set", "config.deployer.plugin=argocd")
    assert Attributes("", "secrets", "list") not in granted(rules_of(docs))
    assert Attributes("", "secrets", "list") in calls["kubernetes"]


def test_no_rule_for_argo_cd_applications(default_docs: list[dict[str, Any]]) -> None:
    # The argocd deployer reaches Applications through Argo CD's REST API.
    groups = {group for rule in rules_of(default_docs) for group in rule["apiGroups"]}
    assert "argoproj.io" not in groups
    assert "rbac.authorization.k8s.io" not in groups


def test_a_request_maps_as_the_api_server_authorizes_it() -> None:
    def only(method: str, path: str, query: dict[str, str] | None = None) -> str:
        [found] = attributes(method, path, query or {}, "application/json")
        return str(found)

    assert only("GET", "/api/v1/namespaces/shop/pods") == "list pods"
    assert only("GET", "/api/v1/namespaces/shop/pods", {"watch": "true"}) == "watch pods"
    assert only("GET", "/api/v1/namespaces/shop/pods/web-1") == "get pods"
    assert only("GET", "/api/v1/namespaces/shop/pods/web-1/log") == "get pods/log"
    assert only("GET", "/apis/apps/v1/deployments") == "list deployments.apps"
    assert only("POST", "/apis/batch/v1/namespaces/shop/jobs") == "create jobs.batch"
    assert only("PUT", "/api/v1/namespaces/shop/secrets/a") == "update secrets"
    assert only("PATCH", "/api/v1/namespaces/shop") == "patch namespaces"
    assert only("PUT", "/api/v1/namespaces/shop/finalize") == "update namespaces/finalize"
    assert only("DELETE", "/api/v1/namespaces/shop/secrets/a") == "delete secrets"
    assert only("DELETE", "/api/v1/namespaces/shop/secrets") == "deletecollection secrets"
    applied = attributes("PATCH", "/api/v1/namespaces/shop", {}, "application/apply-patch+yaml")
    assert {str(a) for a in applied} == {"patch namespaces", "create namespaces"}
