"""`helm lint` of the chart, and the values it refuses with a message naming the field."""

from __future__ import annotations

import pytest

from tests.helm.chart import CHART, FULL_VALUES, Helm


@pytest.mark.parametrize("values", [(), ("-f", str(FULL_VALUES))], ids=["defaults", "full"])
def test_the_chart_lints_strictly(helm: Helm, values: tuple[str, ...]) -> None:
    result = helm.run("lint", "--strict", str(CHART), *values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ERROR]" not in result.stdout
    assert "[WARNING]" not in result.stdout


# values.schema.json: each bad value is refused, and the message points at it.
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--set", "replicaCount=0"), "at '/replicaCount': minimum: got 0, want 1"),
        (("--set-json", "replicaCount=1.5"), "at '/replicaCount': got number, want integer"),
        (("--set", "replicaCount=two"), "at '/replicaCount': got string, want integer"),
        (("--set", "image.tag="), "at '/image/tag': minLength: got 0, want 1"),
        (("--set", "config.profile=moon"), "at '/config/profile': value must be one of"),
        (("--set", "config.git.plugin=gitlab"), "at '/config/git/plugin'"),
        (("--set", "config.builder.plugin=buildah"), "at '/config/builder/plugin'"),
        (("--set", "config.deployer.plugin=container"), "at '/config/deployer/plugin'"),
        (
            ("--set", "config.deployer.tlsClusterIssuer=Lets_Encrypt"),
            "at '/config/deployer/tlsClusterIssuer'",
        ),
        (("--set", "config.logLevel=loud"), "at '/config/logLevel'"),
        (("--set", "config.publicUrl=idp.example.org"), "at '/config/publicUrl'"),
        (("--set", "ingress.enabled=true"), "at '/ingress/hosts': minItems: got 0, want 1"),
        (("--set", "service.port=70000"), "at '/service/port': maximum: got 70,000, want 65,535"),
        (("--set", "service.port=0"), "at '/service/port': minimum: got 0, want 1"),
        (("--set", "replicas=2"), "additional properties 'replicas' not allowed"),
        (("--set", "extraEnv.BAD-NAME=x"), "at '/extraEnv': additional properties 'BAD-NAME'"),
        (("--set", "secrets.jwtSecret=too-short"), "at '/secrets/jwtSecret'"),
        (("--set", "secrets.gitWebhookSecret=short"), "at '/secrets/gitWebhookSecret'"),
        (("--set", "secrets.secretsKey=not-a-fernet-key"), "at '/secrets/secretsKey'"),
    ],
)
def test_the_schema_refuses_bad_values(helm: Helm, options: tuple[str, ...], message: str) -> None:
    error = helm.refuse(*options)
    assert "don't meet the specifications of the schema" in error
    assert message in error


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--set", "image.tag=latest"), "image.tag: `latest` is not a pinned tag"),
        (
            ("--set", "replicaCount=2"),
            "replicaCount > 1 needs Postgres: set database.url or database.existingSecret",
        ),
        (
            ("--set", "database.url=mysql://idp:pw@db/idp"),
            "database.url must be a postgres:// (or postgresql://) URL",
        ),
        (
            ("--set", "extraEnv.HOME_IDP_JWT_SECRET=0123456789abcdef0123456789abcdef"),
            "extraEnv.HOME_IDP_JWT_SECRET holds a secret and would land in a ConfigMap",
        ),
        (
            ("--set", "secrets.extraEnv.HOME_IDP_JWT_SECRET=0123456789abcdef0123456789abcdef"),
            "secrets.extraEnv.HOME_IDP_JWT_SECRET has a value of its own in the chart",
        ),
        (
            ("--set", "serviceAccount.create=false"),
            "serviceAccount.name must name an existing ServiceAccount",
        ),
    ],
)
def test_the_templates_refuse_what_the_schema_cannot_say(
    helm: Helm, options: tuple[str, ...], message: str
) -> None:
    assert message in helm.refuse(*options)


@pytest.mark.parametrize(
    "option",
    [
        "secrets.jwtSecret=hunter2-secret",
        "secrets.secretsKey=hunter2-secret",
        "database.url=mysql://idp:hunter2-secret@db/idp",
    ],
)
def test_errors_never_quote_a_secret(helm: Helm, option: str) -> None:
    assert "hunter2-secret" not in helm.refuse("--set", option)
