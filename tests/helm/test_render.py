"""What the chart renders: valid objects, a locked-down pod, secrets kept out of ConfigMaps."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography.fernet import Fernet

from tests.helm.chart import CHART, FULL_VALUES, NAMESPACE, RELEASE, Helm, decoded, of_kind, one

Docs = list[dict[str, Any]]

# The oldest and newest Kubernetes the project validates its manifests against.
VERSIONS = ("1.29.0", "1.32.0")
FULLNAME = f"{RELEASE}-home-idp"
GENERATED = {
    "HOME_IDP_JWT_SECRET",
    "HOME_IDP_SECRETS_KEY",
    "HOME_IDP_GIT__WEBHOOK_SECRET",
    "HOME_IDP_REGISTRY__WEBHOOK_SECRET",
}


def container(docs: Docs) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(docs)["containers"]
    [only] = containers
    return only


def pod_spec(docs: Docs) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def config(docs: Docs) -> dict[str, str]:
    data: dict[str, str] = one(docs, "ConfigMap")["data"]
    return data


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("values", ["default_docs", "full_docs"])
def test_every_document_is_valid(request: pytest.FixtureRequest, values: str, version: str) -> None:
    docs: Docs = request.getfixturevalue(values)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_default_objects(default_docs: Docs) -> None:
    kinds = sorted(doc["kind"] for doc in default_docs)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    for doc in default_docs:
        assert doc["metadata"]["name"] == FULLNAME
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        if not doc["kind"].startswith("Cluster"):
            assert doc["metadata"]["namespace"] == NAMESPACE


# The pod.


def test_the_pod_runs_unprivileged_on_a_read_only_root(default_docs: Docs) -> None:
    pod = pod_spec(default_docs)
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    server = container(default_docs)
    assert server["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    # Writable: the data dir and /tmp, both emptyDirs by default; nothing else.
    assert server["volumeMounts"] == [
        {"name": "data", "mountPath": "/var/lib/home-idp"},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (a path in the pod)
    ]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert set(volumes) == {"data", "tmp"}
    assert "emptyDir" in volumes["data"]
    assert "emptyDir" in volumes["tmp"]
    assert config(default_docs)["HOME_IDP_DATA_DIR"] == "/var/lib/home-idp"


def test_the_server_command_port_and_probes(default_docs: Docs) -> None:
    server = container(default_docs)
    assert server["image"] == "ghcr.io/home-idp/home-idp:0.1.0"
    assert [*server["command"], *server["args"]] == [
        "home-idp",
        "serve",
        "--host",
        "0.0.0.0",  # noqa: S104 (the pod listens on its own address)
        "--port",
        "8080",
    ]
    assert server["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert server["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert server["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert server["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert set(server["resources"]) == {"requests", "limits"}
    assert set(server["resources"]["limits"]) == {"cpu", "memory"}
    service = one(default_docs, "Service")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]


def test_the_pod_reads_its_settings_and_calls_the_api_as_its_account(
    default_docs: Docs,
) -> None:
    pod = pod_spec(default_docs)
    assert pod["serviceAccountName"] == one(default_docs, "ServiceAccount")["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is True
    # Service links would set HOME_IDP_PORT=tcp://... for a Service named home-idp.
    assert pod["enableServiceLinks"] is False
    assert container(default_docs)["envFrom"] == [
        {"configMapRef": {"name": FULLNAME}},
        {"secretRef": {"name": FULLNAME}},
    ]
    assert one(default_docs, "Deployment")["spec"]["replicas"] == 1


def test_a_config_change_rolls_the_pods(helm: Helm, default_docs: Docs) -> None:
    def checksums(docs: Docs) -> dict[str, str]:
        annotations = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        return {k: v for k, v in annotations.items() if k.startswith("checksum/")}

    before = checksums(default_docs)
    assert set(before) == {"checksum/config", "checksum/secret"}
    assert checksums(helm.template()) == before  # same values, same pods
    config_changed = checksums(helm.template("--set", "config.logLevel=debug"))
    assert config_changed["checksum/config"] != before["checksum/config"]
    secret_changed = checksums(helm.template("--set", "database.url=postgres://a:b@db/idp"))
    assert secret_changed["checksum/secret"] != before["checksum/secret"]


def test_a_claim_keeps_the_data_and_replaces_the_pod_whole(helm: Helm) -> None:
    docs = helm.template("--set", "persistence.existingClaim=idp-data")
    volumes = {volume["name"]: volume for volume in pod_spec(docs)["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "idp-data"}}
    assert one(docs, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


# Settings and secrets.


def test_the_configmap_holds_the_settings(full_docs: Docs) -> None:
    assert config(full_docs) == {
        "HOME_IDP_PROFILE": "cluster",
        "HOME_IDP_DATA_DIR": "/var/lib/home-idp",
        "HOME_IDP_PUBLIC_URL": "https://idp.example.org",
        "HOME_IDP_LOG_LEVEL": "debug",
        "HOME_IDP_GIT__PLUGIN": "github",
        "HOME_IDP_GIT__REPO_NAME": "platform",
        "HOME_IDP_GIT__BRANCH": "main",
        "HOME_IDP_BUILDER__PLUGIN": "kaniko",
        "HOME_IDP_REGISTRY__PLUGIN": "harbor",
        "HOME_IDP_REGISTRY__URL": "https://harbor.example.org",
        "HOME_IDP_DEPLOYER__PLUGIN": "argocd",
        "HOME_IDP_DEPLOYER__TLS_CLUSTER_ISSUER": "letsencrypt",
        "HOME_IDP_TRACE__RETENTION_HOURS": "72",
        "HOME_IDP_PIPELINE__WORKERS": "4",
        "HOME_IDP_GRAPHQL__GRAPHIQL": "false",
    }


def test_the_default_public_url_is_the_service(default_docs: Docs) -> None:
    assert config(default_docs)["HOME_IDP_PUBLIC_URL"] == f"http://{FULLNAME}.{NAMESPACE}.svc"
    assert config(default_docs)["HOME_IDP_PROFILE"] == "cluster"
    assert config(default_docs)["HOME_IDP_BUILDER__PLUGIN"] == "kaniko"
    assert config(default_docs)["HOME_IDP_DEPLOYER__PLUGIN"] == "kubernetes"
    # No issuer: apps stay on plain HTTP, and the server's default ("") applies.
    assert "HOME_IDP_DEPLOYER__TLS_CLUSTER_ISSUER" not in config(default_docs)


@pytest.mark.parametrize("values", ["default_docs", "full_docs"])
def test_no_secret_reaches_a_configmap(request: pytest.FixtureRequest, values: str) -> None:
    docs: Docs = request.getfixturevalue(values)
    secret = decoded(one(docs, "Secret"))
    given = yaml.safe_load(FULL_VALUES.read_text())["secrets"]
    sensitive = [*secret.values(), *(v for v in given.values() if isinstance(v, str))]
    sensitive += [
        v for k in ("gitOptions", "registryOptions", "deployerOptions") for v in given[k].values()
    ]
    for config_map in of_kind(docs, "ConfigMap"):
        assert not set(config_map["data"]) & set(secret)
        text = json.dumps(config_map)
        for value in sensitive:
            if len(value) >= 8:
                assert value not in text


def test_the_secret_holds_what_was_given_and_the_generated_keys(
    default_docs: Docs, full_docs: Docs
) -> None:
    assert set(decoded(one(default_docs, "Secret"))) == GENERATED
    secret = decoded(one(full_docs, "Secret"))
    assert set(secret) == GENERATED | {
        "HOME_IDP_DATABASE_URL",
        "HOME_IDP_GIT__OPTIONS",
        "HOME_IDP_REGISTRY__OPTIONS",
        "HOME_IDP_BUILDER__OPTIONS",
        "HOME_IDP_DEPLOYER__OPTIONS",
        "HOME_IDP_TRACE__EXPORT_HEADERS",
    }
    values = yaml.safe_load(FULL_VALUES.read_text())
    assert secret["HOME_IDP_JWT_SECRET"] == values["secrets"]["jwtSecret"]
    assert secret["HOME_IDP_DATABASE_URL"] == values["database"]["url"]
    # Options are JSON objects of strings, as home-idp reads them.
    assert json.loads(secret["HOME_IDP_GIT__OPTIONS"]) == values["secrets"]["gitOptions"]
    assert json.loads(secret["HOME_IDP_DEPLOYER__OPTIONS"])["token"].startswith("example-")
    assert one(full_docs, "Secret")["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_generated_secrets_are_strong_and_given_ones_win(helm: Helm, default_docs: Docs) -> None:
    secret = decoded(one(default_docs, "Secret"))
    assert len(secret["HOME_IDP_JWT_SECRET"]) >= 32
    assert len(secret["HOME_IDP_GIT__WEBHOOK_SECRET"]) >= 16
    assert len(secret["HOME_IDP_REGISTRY__WEBHOOK_SECRET"]) >= 16
    Fernet(secret["HOME_IDP_SECRETS_KEY"].encode())  # raises unless a valid key

    # Without a cluster `lookup` finds nothing, so each render generates anew;
    # given values are rendered as they are, every time.
    again = decoded(one(helm.template(), "Secret"))
    assert again["HOME_IDP_JWT_SECRET"] != secret["HOME_IDP_JWT_SECRET"]
    key = Fernet.generate_key().decode()
    given = (
        "--set",
        "secrets.jwtSecret=given-jwt-secret-0123456789abcdefghijkl",
        "--set",
        f"secrets.secretsKey={key}",
        "--set",
        "secrets.gitWebhookSecret=given-git-webhook-secret",
        "--set",
        "secrets.registryWebhookSecret=given-registry-webhook-secret",
    )
    first, second = (decoded(one(helm.template(*given), "Secret")) for _ in range(2))
    assert first == second
    assert first["HOME_IDP_JWT_SECRET"] == "given-jwt-secret-0123456789abcdefghijkl"
    assert first["HOME_IDP_SECRETS_KEY"] == key
    assert first["HOME_IDP_GIT__WEBHOOK_SECRET"] == "given-git-webhook-secret"
    assert first["HOME_IDP_REGISTRY__WEBHOOK_SECRET"] == "given-registry-webhook-secret"


def test_an_existing_secret_replaces_the_charts(helm: Helm) -> None:
    docs = helm.template(
        "--set", "existingSecret=idp-settings", "--set", "database.url=postgres://a:b@db/idp"
    )
    assert of_kind(docs, "Secret") == []
    assert {"secretRef": {"name": "idp-settings"}} in container(docs)["envFrom"]


def test_a_database_secret_gives_the_url(helm: Helm) -> None:
    docs = helm.template("--set", "database.existingSecret=idp-postgres", "--set", "replicaCount=2")
    assert container(docs)["env"] == [
        {
            "name": "HOME_IDP_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "idp-postgres", "key": "database-url"}},
        }
    ]
    assert "HOME_IDP_DATABASE_URL" not in decoded(one(docs, "Secret"))


# Optional objects.


def test_the_ingress_only_when_enabled(default_docs: Docs, full_docs: Docs) -> None:
    assert of_kind(default_docs, "Ingress") == []
    ingress = one(full_docs, "Ingress")
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["idp.example.org"], "secretName": "idp-example-org-tls"}]
    [rule] = spec["rules"]
    assert rule["host"] == "idp.example.org"
    assert rule["http"]["paths"] == [
        {
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": FULLNAME, "port": {"name": "http"}}},
        }
    ]


def test_the_public_url_follows_the_ingress(helm: Helm) -> None:
    host = ("--set", "ingress.enabled=true", "--set", "ingress.hosts[0].host=idp.home.example")
    assert config(helm.template(*host))["HOME_IDP_PUBLIC_URL"] == "http://idp.home.example"
    tls = ("--set", "ingress.tls[0].hosts[0]=idp.home.example")
    assert config(helm.template(*host, *tls))["HOME_IDP_PUBLIC_URL"] == "https://idp.home.example"


def test_the_disruption_budget_never_blocks_a_drain(default_docs: Docs, full_docs: Docs) -> None:
    # One replica: evicting it must stay possible. Several: one keeps serving.
    assert one(default_docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in one(default_docs, "PodDisruptionBudget")["spec"]
    assert one(full_docs, "Deployment")["spec"]["replicas"] == 2
    assert one(full_docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_the_network_policy_only_when_enabled(default_docs: Docs, full_docs: Docs) -> None:
    assert of_kind(default_docs, "NetworkPolicy") == []
    spec = one(full_docs, "NetworkPolicy")["spec"]
    assert spec["podSelector"] == one(full_docs, "Deployment")["spec"]["selector"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
        },
        {"namespaceSelector": {"matchLabels": {"app.kubernetes.io/managed-by": "home-idp"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "harbor"}}},
    ]
    assert spec["egress"] == [{}]


def test_rbac_can_be_left_to_the_cluster_admin(helm: Helm) -> None:
    docs = helm.template("--set", "rbac.create=false")
    assert of_kind(docs, "ClusterRole") == of_kind(docs, "ClusterRoleBinding") == []
    assert pod_spec(docs)["serviceAccountName"] == FULLNAME


def test_the_notes_say_how_to_begin(helm: Helm) -> None:
    result = helm.run("install", RELEASE, str(CHART), "--dry-run=client", "-n", NAMESPACE)
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"port-forward svc/{FULLNAME} 8080:80" in notes
    assert f"exec -it deploy/{FULLNAME} -- home-idp admin create <user>" in notes
    assert "home-idp install" in notes
    assert "no database is set" in notes
