"""`POST /webhooks/git` over real HTTP: signatures, replays, size cap, push handling, inspector.

Every request is a GitHub-format body signed (or not) with the platform repo's
webhook secret, sent through the ASGI app. The release that a push advances is
built straight in the database, waiting on `await-push` for a commit that is not
in the platform repo, so only the webhook can move it on.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from strawberry.relay import from_base64, to_base64

from home_idp.plugins.git.webhooks import sign
from home_idp.server.apps.models import DockerfileVersion
from home_idp.server.deploy.models import DeliveryOutcome, GitPush, WebhookDelivery
from home_idp.server.deploy.platform_repo import webhook_secret
from home_idp.server.gateway.webhooks import MAX_WEBHOOK_BYTES
from home_idp.server.pipeline.models import (
    Release,
    ReleaseEvent,
    ReleaseStatus,
    ReleaseStep,
    StepState,
)
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.deploy.flow import DOCKERFILE, make_app
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient

URL = "/webhooks/git"
ZERO_SHA = "0" * 40


# -- helpers ------------------------------------------------------------------


def new_sha() -> str:
    return secrets.token_hex(20)


def push_body(
    runtime: Runtime, after: str, *, repository: str | None = None, ref: str = "refs/heads/main"
) -> bytes:
    """A push event as GitHub (and the platform repo's post-receive hook) sends it."""
    full_name = repository or runtime.deploy.git.repository
    owner, _, name = full_name.partition("/")
    payload = {
        "ref": ref,
        "before": new_sha(),
        "after": after,
        "created": False,
        "deleted": False,
        "forced": False,
        "compare": f"https://git.example.test/{full_name}/compare/{after[:12]}",
        "commits": [
            {
                "id": after,
                "tree_id": new_sha(),
                "distinct": True,
                "message": "shop/web: Dockerfile v1 (release #1)",
                "timestamp": "2024-05-01T12:00:00+00:00",
                "author": {"name": "dev", "email": "dev@users.home-idp"},
                "committer": {"name": "dev", "email": "dev@users.home-idp"},
                "added": ["projects/shop/apps/web/Dockerfile"],
                "modified": [],
                "removed": [],
            }
        ],
        "head_commit": {"id": after},
        "repository": {"name": name, "full_name": full_name, "owner": {"name": owner}},
        "pusher": {"name": "dev", "email": "dev@users.home-idp"},
    }
    return json.dumps(payload).encode()


def github_headers(
    body: bytes,
    *,
    secret: str | None,
    event: str = "push",
    delivery: str | None = None,
) -> dict[str, str]:
    """GitHub's headers; signed with `secret` unless it is None."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "42",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return headers


@pytest.fixture
def secret(settings: Settings) -> str:
    return webhook_secret(settings)


@pytest.fixture
def quiet_reconciler(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the reconciler's passes from racing the webhook.

    It could not advance the test's step on its own (the commit is not in the
    platform repo), but once the webhook has recorded the push it might see
    that record a moment before the webhook advances the step, and take the
    credit. Tests that check *who* advanced a step switch its passes off.
    """

    async def nothing() -> None:
        return None

    monkeypatch.setattr(runtime.deploy.engine, "reconcile_once", nothing)


async def waiting_release(factory: Factory, sha: str) -> tuple[Release, ReleaseStep]:
    """A running release whose only step waits for the push webhook of `sha`."""
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
        commit_sha=sha,
    )
    now = utcnow()
    step = await ReleaseStep.create(
        release=release,
        position=0,
        name="await-push",
        state=StepState.WAITING,
        attempts=1,
        started_at=now,
        deadline=now + timedelta(minutes=10),
        detail={},
    )
    return release, step


async def assert_untouched(release: Release, step: ReleaseStep) -> None:
    await release.refresh_from_db()
    await step.refresh_from_db()
    assert release.status is ReleaseStatus.RUNNING
    assert step.state is StepState.WAITING
    assert step.detail == {}
    assert not await ReleaseEvent.filter(release_id=release.id).exists()


async def only_delivery() -> WebhookDelivery:
    deliveries = await WebhookDelivery.all()
    assert len(deliveries) == 1, [(d.outcome, d.detail) for d in deliveries]
    return deliveries[0]


# -- a valid push ---------------------------------------------------------------


@pytest.mark.usefixtures("quiet_reconciler")
async def test_a_signed_push_advances_the_waiting_release_at_once(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body = push_body(runtime, sha)
    headers = github_headers(body, secret=secret, delivery="d-1")

    response = await http.post(URL, content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "outcome": "accepted",
        "detail": f"push of {sha[:12]}; advanced 1 step(s)",
    }
    # Done by the time the response is back: no reconciler pass was needed.
    await step.refresh_from_db()
    await release.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    assert step.detail == {"advanced_by": "webhook", "delivery": "d-1"}
    assert release.status is ReleaseStatus.SUCCEEDED
    assert release.finished_at is not None
    push = await GitPush.get(sha=sha)

    delivery = await only_delivery()
    assert push.delivery_id == delivery.id  # type: ignore[attr-defined]
    assert delivery.signature_ok
    assert delivery.outcome is DeliveryOutcome.ACCEPTED
    assert delivery.event == "push"
    assert delivery.delivery_id == "d-1"
    assert delivery.body == body.decode()
    assert delivery.processed_at is not None
    assert delivery.headers == {
        "x-github-event": "push",
        "x-github-delivery": "d-1",
        "x-github-hook-id": "42",
        "user-agent": "GitHub-Hookshot/test",
    }


async def test_a_push_nobody_waits_for_is_recorded_for_later_steps(
    http: httpx.AsyncClient, runtime: Runtime, secret: str
) -> None:
    sha = new_sha()
    body = push_body(runtime, sha)
    response = await http.post(URL, content=body, headers=github_headers(body, secret=secret))
    assert response.status_code == 200
    assert response.json()["detail"] == f"push of {sha[:12]}; advanced 0 step(s)"
    # An await-push step that starts later finds it.
    assert await GitPush.exists(sha=sha)


# -- signatures -----------------------------------------------------------------


def _unsigned(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    return body, github_headers(body, secret=None)


def _wrong_secret(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    return body, github_headers(body, secret=secret + "-not-it")


def _tampered(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    headers = github_headers(body, secret=secret)
    return body.replace(b'"forced": false', b'"forced": true'), headers


def _sha1(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    import hashlib
    import hmac

    headers = github_headers(body, secret=None)
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    headers["X-Hub-Signature-256"] = f"sha1={digest}"
    return body, headers


def _sha1_header(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    # GitHub's legacy header alone, correctly computed, is not accepted.
    import hashlib
    import hmac

    headers = github_headers(body, secret=None)
    headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return body, headers


def _empty_signature(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    headers = github_headers(body, secret=None)
    headers["X-Hub-Signature-256"] = "sha256="
    return body, headers


@pytest.mark.parametrize(
    "make",
    [
        _unsigned,
        _wrong_secret,
        _tampered,
        _sha1,
        _sha1_header,
        _empty_signature,
    ],
    ids=lambda make: make.__name__.strip("_"),
)
async def test_a_push_without_a_valid_signature_is_refused_and_recorded(
    make: Any, http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body, headers = make(push_body(runtime, sha), secret)

    response = await http.post(URL, content=body, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"outcome": "rejected", "detail": "bad signature"}
    delivery = await only_delivery()
    assert delivery.signature_ok is False
    assert delivery.outcome is DeliveryOutcome.REJECTED
    assert delivery.event == "push"
    assert delivery.delivery_id == headers["X-GitHub-Delivery"]
    assert delivery.body is None  # an unverified body is not kept
    assert delivery.dedupe_key is None  # so it cannot block the real delivery
    assert not await GitPush.exists()
    await assert_untouched(release, step)


async def test_a_refused_delivery_id_does_not_block_the_genuine_delivery(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    _release, step = await waiting_release(factory, sha)
    body = push_body(runtime, sha)
    forged = github_headers(body, secret="guessed", delivery="d-7")
    assert (await http.post(URL, content=body, headers=forged)).status_code == 401

    genuine = github_headers(body, secret=secret, delivery="d-7")
    response = await http.post(URL, content=body, headers=genuine)

    assert response.status_code == 200
    assert response.json()["outcome"] == "accepted"
    await step.refresh_from_db()
    assert step.state is StepState.SUCCEEDED


# -- replays ----------------------------------------------------------------------


async def test_a_replayed_delivery_id_is_ignored_and_recorded_as_duplicate(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body = push_body(runtime, sha)
    headers = github_headers(body, secret=secret, delivery="d-replayed")
    first = await http.post(URL, content=body, headers=headers)
    assert first.status_code == 200
    await step.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    finished_at = step.finished_at
    events = await ReleaseEvent.filter(release_id=release.id).count()

    replay = await http.post(URL, content=body, headers=headers)

    assert replay.status_code == 200
    assert replay.json() == {"outcome": "duplicate", "detail": "duplicate delivery ignored"}
    await step.refresh_from_db()
    await release.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    assert step.finished_at == finished_at
    assert release.status is ReleaseStatus.SUCCEEDED
    assert await ReleaseEvent.filter(release_id=release.id).count() == events
    assert await GitPush.filter(sha=sha).count() == 1
    deliveries = await WebhookDelivery.filter(delivery_id="d-replayed").order_by("id")
    assert [d.outcome for d in deliveries] == [DeliveryOutcome.ACCEPTED, DeliveryOutcome.DUPLICATE]
    assert deliveries[1].signature_ok
    assert deliveries[1].body is None
    assert deliveries[1].processed_at is not None


async def test_concurrent_copies_of_one_delivery_are_processed_once(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body = push_body(runtime, sha)
    headers = github_headers(body, secret=secret, delivery="d-racing")

    responses = await asyncio.gather(
        *(http.post(URL, content=body, headers=headers) for _ in range(8))
    )

    outcomes = sorted(response.json()["outcome"] for response in responses)
    assert outcomes == ["accepted"] + ["duplicate"] * 7
    assert all(response.status_code == 200 for response in responses)
    await step.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    succeeded = ReleaseEvent.filter(release_id=release.id, step="await-push", state="succeeded")
    assert await succeeded.count() == 1


async def test_the_same_delivery_id_with_a_different_body_is_still_a_duplicate(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    first_sha, second_sha = new_sha(), new_sha()
    release, step = await waiting_release(factory, second_sha)
    first = push_body(runtime, first_sha)
    await http.post(URL, content=first, headers=github_headers(first, secret=secret, delivery="d"))
    second = push_body(runtime, second_sha)

    response = await http.post(
        URL, content=second, headers=github_headers(second, secret=secret, delivery="d")
    )

    assert response.json()["outcome"] == "duplicate"
    await assert_untouched(release, step)


async def test_a_delivery_that_failed_here_is_processed_when_the_sender_retries_it(
    http: httpx.AsyncClient,
    runtime: Runtime,
    factory: Factory,
    secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body = push_body(runtime, sha)
    headers = github_headers(body, secret=secret, delivery="d-retried")

    def broken(_: bytes) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(runtime.deploy.git, "parse_push", broken)
        failed = await http.post(URL, content=body, headers=headers)
    assert failed.status_code == 500
    assert failed.json() == {"outcome": "failed", "detail": "internal error; see the log"}
    await assert_untouched(release, step)

    # GitHub's redelivery carries the same delivery id: it is not a replay.
    retried = await http.post(URL, content=body, headers=headers)

    assert retried.status_code == 200
    assert retried.json()["outcome"] == "accepted"
    await step.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    deliveries = await WebhookDelivery.filter(delivery_id="d-retried").order_by("id")
    assert [d.outcome for d in deliveries] == [DeliveryOutcome.FAILED, DeliveryOutcome.ACCEPTED]
    # Once it succeeded, the id is taken again.
    replay = await http.post(URL, content=body, headers=headers)
    assert replay.json()["outcome"] == "duplicate"


# -- body size ------------------------------------------------------------------------


async def _chunks(size: int, read: list[int], chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        piece = b" " * min(chunk, size - sent)
        sent += len(piece)
        read.append(len(piece))
        yield piece


def _oversized_push(runtime: Runtime, sha: str) -> bytes:
    # Valid JSON, padded past the cap with whitespace.
    body = push_body(runtime, sha)
    return body + b" " * (MAX_WEBHOOK_BYTES + 1 - len(body))


async def test_a_body_over_the_cap_with_content_length_is_refused_unread(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body = _oversized_push(runtime, sha)
    assert len(body) == MAX_WEBHOOK_BYTES + 1
    headers = github_headers(body, secret=secret, delivery="d-big")

    response = await http.post(URL, content=body, headers=headers)

    assert response.status_code == 413
    assert response.json() == {
        "outcome": "rejected",
        "detail": f"body over {MAX_WEBHOOK_BYTES} bytes",
    }
    delivery = await only_delivery()
    assert delivery.outcome is DeliveryOutcome.REJECTED
    assert delivery.signature_ok is False
    assert delivery.delivery_id == "d-big"
    assert delivery.event == "push"
    assert delivery.body is None
    await assert_untouched(release, step)

    # A declared length over the cap is refused before any of the body is read.
    read: list[int] = []
    headers = github_headers(b"", secret=None) | {"Content-Length": str(4 * MAX_WEBHOOK_BYTES)}
    response = await http.post(URL, content=_chunks(4 * MAX_WEBHOOK_BYTES, read), headers=headers)
    assert response.status_code == 413
    assert read == []


async def test_a_chunked_body_over_the_cap_is_refused_once_it_passes_the_cap(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    read: list[int] = []
    headers = github_headers(b"", secret=None, delivery="d-chunked")

    request = http.build_request(
        "POST", URL, content=_chunks(8 * MAX_WEBHOOK_BYTES, read), headers=headers
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await http.send(request)

    assert response.status_code == 413
    # Reading stopped just past the cap, not at the end of the stream.
    assert MAX_WEBHOOK_BYTES < sum(read) <= MAX_WEBHOOK_BYTES + 64 * 1024
    delivery = await only_delivery()
    assert delivery.outcome is DeliveryOutcome.REJECTED
    assert delivery.delivery_id == "d-chunked"
    assert delivery.detail == f"body over {MAX_WEBHOOK_BYTES} bytes"
    await assert_untouched(release, step)


async def test_a_body_of_exactly_the_cap_is_accepted(
    http: httpx.AsyncClient, runtime: Runtime, secret: str
) -> None:
    body = push_body(runtime, new_sha())
    body += b" " * (MAX_WEBHOOK_BYTES - len(body))
    read: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100_000):
            read.append(1)
            yield body[start : start + 100_000]

    response = await http.post(URL, content=stream(), headers=github_headers(body, secret=secret))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "accepted"


# -- pushes that are not for us, and other events ---------------------------------------


@pytest.mark.parametrize(
    ("repository", "ref", "detail"),
    [
        ("someone/else", "refs/heads/main", "not the platform repo (someone/else)"),
        (None, "refs/heads/feature", "not the platform branch (refs/heads/feature)"),
        (None, "refs/tags/main", "not the platform branch (refs/tags/main)"),
    ],
    ids=["other-repository", "other-branch", "tag-named-like-the-branch"],
)
async def test_a_push_for_another_repository_or_branch_is_ignored(
    repository: str | None,
    ref: str,
    detail: str,
    http: httpx.AsyncClient,
    runtime: Runtime,
    factory: Factory,
    secret: str,
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body = push_body(runtime, sha, repository=repository, ref=ref)

    response = await http.post(URL, content=body, headers=github_headers(body, secret=secret))

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored", "detail": detail}
    delivery = await only_delivery()
    assert delivery.outcome is DeliveryOutcome.IGNORED
    assert delivery.signature_ok
    assert not await GitPush.exists()
    await assert_untouched(release, step)


async def test_text_that_postgres_cannot_store_is_recorded_all_the_same(
    http: httpx.AsyncClient, runtime: Runtime, secret: str
) -> None:
    # JSON may carry NUL characters (as \u0000); Postgres text cannot.
    body = push_body(runtime, new_sha(), repository="evil\u0000/x", ref="refs/heads/\u0000")
    response = await http.post(URL, content=body, headers=github_headers(body, secret=secret))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    delivery = await only_delivery()
    assert delivery.outcome is DeliveryOutcome.IGNORED
    assert "\x00" not in delivery.detail
    assert "\x00" not in (delivery.body or "")


async def test_a_ping_is_answered(http: httpx.AsyncClient, secret: str) -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 42}).encode()
    response = await http.post(
        URL, content=body, headers=github_headers(body, secret=secret, event="ping")
    )
    assert response.status_code == 200
    assert response.json() == {"outcome": "accepted", "detail": "pong"}
    delivery = await only_delivery()
    assert (delivery.event, delivery.outcome) == ("ping", DeliveryOutcome.ACCEPTED)


async def test_other_events_are_ignored(
    http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    # Even a body that looks like a push is not acted on under another event name.
    body = push_body(runtime, sha)
    response = await http.post(
        URL, content=body, headers=github_headers(body, secret=secret, event="issues")
    )
    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored", "detail": "event 'issues' is not used"}
    await assert_untouched(release, step)


async def test_a_deleted_branch_records_no_zero_commit(
    http: httpx.AsyncClient, runtime: Runtime, secret: str
) -> None:
    payload = json.loads(push_body(runtime, ZERO_SHA))
    payload["deleted"], payload["commits"] = True, []
    body = json.dumps(payload).encode()
    response = await http.post(URL, content=body, headers=github_headers(body, secret=secret))
    assert response.status_code == 200
    assert not await GitPush.exists()


# -- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"ref": "refs/heads/main"}',
        b'{"ref": 1, "before": "a", "after": "b", "repository": {"full_name": "x/y"}}',
        b'{"ref": "r", "before": "a", "after": "b", "repository": {"full_name": "x/y"},'
        b' "commits": [{"id": 5}]}',
    ],
    ids=["broken-json", "binary", "array", "missing-fields", "wrong-type", "bad-commit"],
)
async def test_a_signed_but_malformed_push_is_rejected(
    body: bytes, http: httpx.AsyncClient, secret: str
) -> None:
    response = await http.post(URL, content=body, headers=github_headers(body, secret=secret))
    assert response.status_code == 400
    assert response.json()["outcome"] == "rejected"
    assert response.json()["detail"].startswith("not a push event")
    delivery = await only_delivery()
    assert delivery.signature_ok
    assert delivery.outcome is DeliveryOutcome.REJECTED
    assert delivery.processed_at is not None


@pytest.mark.parametrize("missing", ["X-GitHub-Delivery", "X-GitHub-Event"])
async def test_a_signed_request_without_event_or_delivery_id_is_rejected(
    missing: str, http: httpx.AsyncClient, runtime: Runtime, factory: Factory, secret: str
) -> None:
    sha = new_sha()
    release, step = await waiting_release(factory, sha)
    body = push_body(runtime, sha)
    headers = github_headers(body, secret=secret)
    del headers[missing]

    response = await http.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json() == {"outcome": "rejected", "detail": "missing event or delivery id"}
    delivery = await only_delivery()
    assert delivery.signature_ok
    assert delivery.outcome is DeliveryOutcome.REJECTED
    await assert_untouched(release, step)


async def test_only_post_is_allowed(http: httpx.AsyncClient) -> None:
    assert (await http.get(URL)).status_code == 405
    assert not await WebhookDelivery.exists()


# -- the inspector (GraphQL) ------------------------------------------------------------------

DELIVERIES = """
query($filter: WebhookDeliveryFilter, $first: Int! = 50, $after: String) {
  webhookDeliveries(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id source event deliveryId signatureOk outcome detail headers
      receivedAt processedAt redeliveryOf
    } }
  }
}
"""

REDELIVER = """
mutation($id: ID!) {
  redeliverWebhook(input: {id: $id}) {
    __typename
    ... on RedeliverWebhookSuccess {
      delivery { id deliveryId event signatureOk outcome detail headers redeliveryOf }
    }
    ... on Error { message }
  }
}
"""


def gid(delivery: WebhookDelivery) -> str:
    return to_base64("WebhookDelivery", delivery.id)


async def deliveries(gql: GraphQLClient, token: str, **filter_: Any) -> list[dict[str, Any]]:
    result = await gql(DELIVERIES, {"filter": filter_ or None}, token=token)
    connection = result["webhookDeliveries"]
    nodes: list[dict[str, Any]] = [edge["node"] for edge in connection["edges"]]
    assert connection["totalCount"] == len(nodes)
    return nodes


async def send_mix(http: httpx.AsyncClient, runtime: Runtime, secret: str) -> None:
    """One delivery of each kind, oldest first: d-ping, d-push, d-push (replay), d-bad, d-issue."""
    ping = b"{}"
    await http.post(
        URL,
        content=ping,
        headers=github_headers(ping, secret=secret, event="ping", delivery="d-ping"),
    )
    push = push_body(runtime, new_sha())
    signed = github_headers(push, secret=secret, delivery="d-push")
    await http.post(URL, content=push, headers=signed)
    await http.post(URL, content=push, headers=signed)
    await http.post(
        URL, content=push, headers=github_headers(push, secret="nope", delivery="d-bad")
    )
    await http.post(
        URL,
        content=push,
        headers=github_headers(push, secret=secret, event="issues", delivery="d-issue"),
    )


@pytest.fixture
async def admin(factory: Factory) -> Person:
    return await factory.user("root", admin=True)


async def test_admins_list_deliveries_newest_first_and_filter_them(
    http: httpx.AsyncClient, gql: GraphQLClient, runtime: Runtime, admin: Person, secret: str
) -> None:
    await send_mix(http, runtime, secret)

    everything = await deliveries(gql, admin.token)
    assert [(n["deliveryId"], n["outcome"]) for n in everything] == [
        ("d-issue", "ignored"),
        ("d-bad", "rejected"),
        ("d-push", "duplicate"),
        ("d-push", "accepted"),
        ("d-ping", "accepted"),
    ]
    assert all(n["source"] == "git" for n in everything)
    ids = [int(from_base64(n["id"])[1]) for n in everything]
    assert ids == sorted(ids, reverse=True)

    accepted = await deliveries(gql, admin.token, outcome="accepted")
    assert [n["deliveryId"] for n in accepted] == ["d-push", "d-ping"]
    unsigned = await deliveries(gql, admin.token, signatureOk=False)
    assert [n["deliveryId"] for n in unsigned] == ["d-bad"]
    assert unsigned[0]["detail"] == "missing or wrong X-Hub-Signature-256"
    signed = await deliveries(gql, admin.token, signatureOk=True)
    assert [n["deliveryId"] for n in signed] == ["d-issue", "d-push", "d-push", "d-ping"]
    pushes = await deliveries(gql, admin.token, event="push")
    assert [n["deliveryId"] for n in pushes] == ["d-bad", "d-push", "d-push"]
    both = await deliveries(gql, admin.token, event="push", outcome="duplicate")
    assert [n["deliveryId"] for n in both] == ["d-push"]
    by_id = await deliveries(gql, admin.token, deliveryId="d-push", signatureOk=True)
    assert [n["outcome"] for n in by_id] == ["duplicate", "accepted"]
    assert await deliveries(gql, admin.token, event="push", outcome="ignored") == []

    # Pages follow the same order.
    first = await gql(DELIVERIES, {"first": 2}, token=admin.token)
    page = first["webhookDeliveries"]
    assert [e["node"]["deliveryId"] for e in page["edges"]] == ["d-issue", "d-bad"]
    assert page["pageInfo"]["hasNextPage"]
    rest = await gql(
        DELIVERIES, {"first": 10, "after": page["pageInfo"]["endCursor"]}, token=admin.token
    )
    assert [e["node"]["deliveryId"] for e in rest["webhookDeliveries"]["edges"]] == [
        "d-push",
        "d-push",
        "d-ping",
    ]


async def test_an_unknown_outcome_filter_is_an_error_not_a_crash(
    gql: GraphQLClient, admin: Person
) -> None:
    result = await gql(DELIVERIES, {"filter": {"outcome": "exploded"}}, token=admin.token)
    assert result.data is None
    assert result.error_messages == [
        "outcome: must be one of accepted, duplicate, ignored, rejected, failed"
    ]


async def test_non_admins_cannot_list_or_redeliver(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    runtime: Runtime,
    factory: Factory,
    secret: str,
) -> None:
    await send_mix(http, runtime, secret)
    dev = await factory.user("dev")
    delivery = await WebhookDelivery.filter(outcome="accepted", event="push").get()

    for token in (dev.token, None):
        listed = await gql(DELIVERIES, token=token)
        assert listed.data is None
        assert listed.error_messages == ["only administrators may do this"]
        node = await gql(
            "query($id: ID!) { node(id: $id) { id } }", {"id": gid(delivery)}, token=token
        )
        assert node.errors or node.data == {"node": None}

    denied = await gql(REDELIVER, {"id": gid(delivery)}, token=dev.token)
    assert denied["redeliverWebhook"] == {
        "__typename": "PermissionDenied",
        "message": "only administrators may do this",
    }
    assert await WebhookDelivery.filter(redelivery_of_id=delivery.id).count() == 0


@pytest.mark.usefixtures("quiet_reconciler")
async def test_an_admin_redelivers_a_signed_delivery_and_it_is_processed_again(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    runtime: Runtime,
    factory: Factory,
    admin: Person,
    secret: str,
) -> None:
    # The push arrived while nothing waited for its commit ...
    sha = new_sha()
    body = push_body(runtime, sha)
    await http.post(URL, content=body, headers=github_headers(body, secret=secret, delivery="d-1"))
    original = await only_delivery()
    assert original.detail.endswith("advanced 0 step(s)")
    # ... and the release's step started waiting only afterwards (without the
    # push record, say, after a restore): redelivery moves it on.
    await GitPush.all().delete()
    release, step = await waiting_release(factory, sha)

    result = await gql(REDELIVER, {"id": gid(original)}, token=admin.token)

    payload = result["redeliverWebhook"]
    assert payload["__typename"] == "RedeliverWebhookSuccess", payload
    copy = payload["delivery"]
    assert copy["id"] != gid(original)
    assert copy["redeliveryOf"] == gid(original)
    assert copy["deliveryId"] == "d-1"
    assert copy["event"] == "push"
    assert copy["signatureOk"] is True
    assert copy["outcome"] == "accepted"
    assert copy["detail"] == f"push of {sha[:12]}; advanced 1 step(s)"
    assert copy["headers"] == original.headers
    await step.refresh_from_db()
    await release.refresh_from_db()
    assert step.state is StepState.SUCCEEDED
    assert step.detail["advanced_by"] == "webhook"
    assert release.status is ReleaseStatus.SUCCEEDED
    # The original is left as it was.
    before = (original.outcome, original.detail)
    await original.refresh_from_db()
    assert (original.outcome, original.detail) == before

    # It shows in the inspector, newest first, pointing at the original.
    listed = await deliveries(gql, admin.token, deliveryId="d-1")
    assert [n["redeliveryOf"] for n in listed] == [gid(original), None]

    # A second redelivery is processed again too, and advances nothing more.
    again = await gql(REDELIVER, {"id": gid(original)}, token=admin.token)
    assert again["redeliverWebhook"]["delivery"]["detail"].endswith("advanced 0 step(s)")
    assert await ReleaseStep.filter(id=step.id, state=StepState.SUCCEEDED).exists()


@pytest.mark.parametrize("kind", ["unsigned", "too-large", "duplicate", "missing-id"])
async def test_only_signed_stored_deliveries_can_be_redelivered(
    kind: str,
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    runtime: Runtime,
    admin: Person,
    secret: str,
) -> None:
    body = push_body(runtime, new_sha())
    if kind == "unsigned":
        await http.post(URL, content=body, headers=github_headers(body, secret=None))
    elif kind == "too-large":
        big = body + b" " * MAX_WEBHOOK_BYTES
        await http.post(URL, content=big, headers=github_headers(big, secret=secret))
    elif kind == "duplicate":
        headers = github_headers(body, secret=secret, delivery="d-dup")
        await http.post(URL, content=body, headers=headers)
        await http.post(URL, content=body, headers=headers)
    else:
        headers = github_headers(body, secret=secret)
        del headers["X-GitHub-Delivery"]
        await http.post(URL, content=body, headers=headers)
    target = await WebhookDelivery.filter(outcome__not="accepted").get()
    count = await WebhookDelivery.all().count()

    result = await gql(REDELIVER, {"id": gid(target)}, token=admin.token)

    assert result["redeliverWebhook"] == {
        "__typename": "Conflict",
        "message": "only deliveries with a valid signature can be redelivered",
    }
    assert await WebhookDelivery.all().count() == count


async def test_redelivering_an_unknown_delivery_is_not_found(
    gql: GraphQLClient, admin: Person
) -> None:
    result = await gql(REDELIVER, {"id": to_base64("WebhookDelivery", 999_999)}, token=admin.token)
    assert result["redeliverWebhook"]["__typename"] == "NotFound"


async def test_stored_headers_never_contain_the_signature(
    http: httpx.AsyncClient, gql: GraphQLClient, runtime: Runtime, admin: Person, secret: str
) -> None:
    await send_mix(http, runtime, secret)
    body = push_body(runtime, new_sha())
    headers = github_headers(body, secret=secret)
    headers["X-Hub-Signature"] = "sha1=0123456789abcdef0123456789abcdef01234567"
    await http.post(URL, content=body, headers=headers)

    stored = await WebhookDelivery.all()
    assert len(stored) == 6
    listed = await deliveries(gql, admin.token)
    for kept in [d.headers for d in stored] + [n["headers"] for n in listed]:
        assert kept["x-github-event"]  # the useful headers are kept ...
        assert not any("signature" in name for name in kept)  # ... the signatures are not
        assert not any(value.startswith(("sha256=", "sha1=")) for value in kept.values())
    assert not any(
        headers["X-Hub-Signature-256"].removeprefix("sha256=") in json.dumps(d.headers)
        for d in stored
    )
