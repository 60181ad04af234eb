"""`POST /webhooks/registry`: the secret header, both formats, replays, size cap, inspector.

The release a push advances is built straight in the database, waiting on
`await-image` for an image whose tag is not in the registry, so only the
webhook can move it on.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from strawberry.relay import to_base64

from home_idp.server.apps.models import DockerfileVersion
from home_idp.server.deploy.models import DeliveryOutcome, RegistryPush, WebhookDelivery
from home_idp.server.gateway.webhooks import MAX_WEBHOOK_BYTES
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.runtime import Runtime
from tests.components import REGISTRY_HOST, REGISTRY_WEBHOOK_SECRET
from tests.deploy.flow import DOCKERFILE, make_app
from tests.factories import Factory
from tests.graphql import GraphQLClient

URL = "/webhooks/registry"
AUTH = {"Authorization": f"Bearer {REGISTRY_WEBHOOK_SECRET}"}
TAG = "r1-0123456789ab"

REDELIVER = """mutation($id: ID!) {
  redeliverWebhook(input: {id: $id}) { __typename ... on Error { message } }
}"""


def digest() -> str:
    return "sha256:" + secrets.token_hex(32)


def distribution_body(
    repository: str, tag: str | None, image_digest: str, action: str = "push"
) -> bytes:
    """An envelope as the CNCF registry sends it (notifications v1)."""
    target: dict[str, Any] = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "size": 401,
        "digest": image_digest,
        "length": 401,
        "repository": repository,
        "url": f"http://{REGISTRY_HOST}/v2/{repository}/manifests/{image_digest}",
    }
    if tag is not None:
        target["tag"] = tag
    event = {
        "id": str(uuid.uuid4()),
        "timestamp": "2026-12-01T10:00:00.000000000Z",
        "action": action,
        "target": target,
        "request": {"id": str(uuid.uuid4()), "method": "PUT", "useragent": "Buildah/1.28.2"},
        "actor": {},
        "source": {"addr": "registry:5000", "instanceID": str(uuid.uuid4())},
    }
    return json.dumps({"events": [event]}).encode()


def harbor_body(project: str, name: str, tag: str, image_digest: str) -> bytes:
    """A PUSH_ARTIFACT event as Harbor sends it (default payload format)."""
    return json.dumps(
        {
            "type": "PUSH_ARTIFACT",
            "occur_at": 1764583200,
            "operator": "robot$shop+home-idp",
            "event_data": {
                "resources": [
                    {
                        "digest": image_digest,
                        "tag": tag,
                        "resource_url": f"harbor.example.test/{project}/{name}:{tag}",
                    }
                ],
                "repository": {
                    "date_created": 1764583000,
                    "name": name,
                    "namespace": project,
                    "repo_full_name": f"{project}/{name}",
                    "repo_type": "private",
                },
            },
        }
    ).encode()


@pytest.fixture
def quiet_reconciler(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the webhook may move the step on (the registry has no such tag anyway)."""

    async def nothing() -> None:
        return None

    monkeypatch.setattr(runtime.deploy.engine, "reconcile_once", nothing)


async def waiting_for_image(factory: Factory, image_digest: str) -> tuple[Release, ReleaseStep]:
    """A running release whose only step waits for `shop/web:TAG` at `image_digest`."""
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    app = await make_app(project)
    version = await DockerfileVersion.create(
        app=app, number=1, content=DOCKERFILE, author="dev", message="first"
    )
    release = await Release.create(
        app=app,
        number=1,
        dockerfile_version=version,
        trigger="dockerfile",
        created_by="dev",
        status=ReleaseStatus.RUNNING,
        commit_sha="0123456789ab" + "0" * 28,
        # The host of the registry this server pushes to (real or fake).
        image=f"{factory.runtime.deploy.registry.host}/shop/web:{TAG}",
        digest=image_digest,
    )
    now = utcnow()
    step = await ReleaseStep.create(
        release=release,
        position=0,
        name="await-image",
        state=StepState.WAITING,
        attempts=1,
        started_at=now,
        deadline=now + timedelta(minutes=10),
        detail={},
    )
    return release, step


async def assert_waiting(step: ReleaseStep) -> None:
    await step.refresh_from_db()
    assert step.state is StepState.WAITING
    assert step.detail == {}


@pytest.mark.usefixtures("quiet_reconciler")
async def test_a_distribution_push_advances_the_waiting_release_at_once(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    image_digest = digest()
    release, step = await waiting_for_image(factory, image_digest)
    response = await http.post(
        URL, content=distribution_body("shop/web", TAG, image_digest), headers=AUTH
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "accepted"
    await step.refresh_from_db()
    await release.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    assert step.detail["advanced_by"] == "webhook"
    assert release.status is ReleaseStatus.SUCCEEDED
    delivery = await WebhookDelivery.get(source="registry")
    assert delivery.signature_ok and delivery.event == "push"
    assert await RegistryPush.exists(repository="shop/web", tag=TAG, digest=image_digest)


@pytest.mark.usefixtures("quiet_reconciler")
async def test_a_harbor_push_on_the_same_endpoint_advances_it_too(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    image_digest = digest()
    _, step = await waiting_for_image(factory, image_digest)
    response = await http.post(
        URL, content=harbor_body("shop", "web", TAG, image_digest), headers=AUTH
    )
    assert response.status_code == 200, response.text
    await step.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    assert (await WebhookDelivery.get(source="registry")).event == "PUSH_ARTIFACT"


@pytest.mark.usefixtures("quiet_reconciler")
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret-value"},
        {"Authorization": REGISTRY_WEBHOOK_SECRET},
    ],
    ids=["missing", "wrong", "without-scheme"],
)
async def test_a_push_without_the_secret_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, factory: Factory, headers: dict[str, str]
) -> None:
    image_digest = digest()
    _, step = await waiting_for_image(factory, image_digest)
    body = distribution_body("shop/web", TAG, image_digest)
    response = await http.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    await assert_waiting(step)
    delivery = await WebhookDelivery.get(source="registry")
    assert delivery.outcome is DeliveryOutcome.REJECTED and not delivery.signature_ok
    assert delivery.body is None
    assert not await RegistryPush.exists()


@pytest.mark.usefixtures("quiet_reconciler")
async def test_a_replayed_delivery_is_ignored(http: httpx.AsyncClient, factory: Factory) -> None:
    image_digest = digest()
    await waiting_for_image(factory, image_digest)
    body = distribution_body("shop/web", TAG, image_digest)
    first = await http.post(URL, content=body, headers=AUTH)
    again = await http.post(URL, content=body, headers=AUTH)
    assert first.json()["outcome"] == "accepted"
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert await RegistryPush.filter(repository="shop/web").count() == 1


@pytest.mark.usefixtures("quiet_reconciler")
@pytest.mark.parametrize(
    ("repository", "tag", "action"),
    [
        ("shop/web", TAG, "pull"),
        ("base/busybox", "1", "push"),
        ("shop/other", TAG, "push"),
        ("shop/web", None, "push"),
    ],
    ids=["pull", "base-image", "no-such-app", "by-digest-only"],
)
async def test_pulls_base_images_and_unknown_repositories_are_ignored(
    http: httpx.AsyncClient, factory: Factory, repository: str, tag: str | None, action: str
) -> None:
    image_digest = digest()
    _, step = await waiting_for_image(factory, image_digest)
    body = distribution_body(repository, tag, image_digest, action)
    response = await http.post(URL, content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "ignored"
    await assert_waiting(step)
    assert not await RegistryPush.exists()


@pytest.mark.usefixtures("quiet_reconciler")
async def test_a_push_of_another_digest_under_the_tag_does_not_advance(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    _, step = await waiting_for_image(factory, digest())
    response = await http.post(
        URL, content=distribution_body("shop/web", TAG, digest()), headers=AUTH
    )
    assert response.json()["outcome"] == "accepted"
    await assert_waiting(step)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"events": [{"action": "push"}]}', b'{"events": "x"}'],
    ids=["not-json", "list", "no-target", "events-not-a-list"],
)
async def test_malformed_bodies_are_rejected(
    http: httpx.AsyncClient, app: object, body: bytes
) -> None:
    response = await http.post(URL, content=body, headers=AUTH)
    assert response.status_code == 400
    delivery = await WebhookDelivery.get(source="registry")
    assert delivery.outcome is DeliveryOutcome.REJECTED and delivery.signature_ok


async def test_an_oversized_body_gets_413_and_is_recorded(
    http: httpx.AsyncClient, app: object
) -> None:
    body = b'{"events": [' + b" " * MAX_WEBHOOK_BYTES + b"]}"
    response = await http.post(URL, content=body, headers=AUTH)
    assert response.status_code == 413
    delivery = await WebhookDelivery.get(source="registry")
    assert delivery.outcome is DeliveryOutcome.REJECTED


async def test_an_admin_redelivers_a_registry_delivery(
    http: httpx.AsyncClient, factory: Factory, gql: GraphQLClient, runtime: Runtime
) -> None:
    image_digest = digest()
    _, step = await waiting_for_image(factory, image_digest)
    admin = await factory.user("root", admin=True)
    # First delivered while nothing could use it: the step was not waiting yet.
    await ReleaseStep.filter(id=step.id).update(state=StepState.PENDING)
    body = distribution_body("shop/web", TAG, image_digest)
    await http.post(URL, content=body, headers=AUTH)
    await RegistryPush.all().delete()
    await ReleaseStep.filter(id=step.id).update(state=StepState.WAITING)
    original = await WebhookDelivery.get(source="registry")
    result = await gql(REDELIVER, {"id": to_base64("WebhookDelivery", original.id)}, admin.token)
    assert result["redeliverWebhook"]["__typename"] == "RedeliverWebhookSuccess", result
    await step.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
