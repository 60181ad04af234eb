"""Out-of-range input is the caller's mistake, said with the field's name."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from strawberry.relay import to_base64

from home_idp.server.deploy.models import DeliveryOutcome, WebhookDelivery
from home_idp.server.rbac.models import ApiToken
from home_idp.server.runtime import Runtime
from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.serverprocess import ServerProcess, home_idp_env

HUGE_ID = 2**63


async def test_an_over_long_project_name_is_a_validation_error(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    result = await gql('query { project(name: "%s") { name } }' % ("a" * 64), token=admin.token)
    assert result.status == 200
    assert result.error_messages and result.error_messages[0].startswith("name:"), result.errors


async def test_an_over_long_username_at_login_is_a_validation_error(gql: GraphQLClient) -> None:
    for length in (41, 64):
        result = await gql(
            'mutation($u: String!) { login(input: {username: $u, password: "x"}) {'
            " __typename ... on ValidationError { fieldErrors { field } } } }",
            {"u": "a" * length},
        )
        assert result["login"] == {
            "__typename": "ValidationError",
            "fieldErrors": [{"field": "username"}],
        }


async def test_a_huge_id_is_a_validation_error(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    result = await gql(
        "mutation($id: ID!) { redeliverWebhook(input: {id: $id}) {"
        " __typename ... on ValidationError { fieldErrors { field } } } }",
        {"id": to_base64("WebhookDelivery", HUGE_ID)},
        token=admin.token,
    )
    assert result["redeliverWebhook"]["__typename"] == "ValidationError"
    nodes = await gql(
        "query($id: ID!) { node(id: $id) { __typename } }",
        {"id": to_base64("Project", HUGE_ID)},
        token=admin.token,
    )
    assert nodes["node"] is None


async def test_a_trace_bound_outside_the_span_clock_is_a_validation_error(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    for field, moment in (
        ("until", "6906-01-01T00:00:00+00:00"),
        ("since", "0001-01-01T00:00:00Z"),
    ):
        result = await gql(
            "query($filter: TraceFilter) { traces(first: 1, filter: $filter) { edges { cursor } } }",
            {"filter": {"project": "", field: moment}},
            token=admin.token,
        )
        assert result.status == 200
        assert [m.partition(":")[0] for m in result.error_messages] == [field], result.errors


async def _post_unsigned(http: httpx.AsyncClient, n: int) -> httpx.Response:
    return await http.post(
        "/webhooks/git",
        content=b"{}",
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": f"forged-{n}"},
    )


async def test_unsigned_webhook_posts_cannot_grow_the_database_without_end(
    http: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = runtime.deploy.webhooks.limits
    monkeypatch.setattr(limits, "rejected_max_count", 5)
    accepted = await WebhookDelivery.create(
        source="git",
        event="push",
        delivery_id="genuine",
        signature_ok=True,
        outcome=DeliveryOutcome.ACCEPTED,
    )

    for n in range(20):
        assert (await _post_unsigned(http, n)).status_code == 401

    kept = await WebhookDelivery.filter(outcome=DeliveryOutcome.REJECTED).order_by("id")
    assert [d.delivery_id for d in kept] == [f"forged-{n}" for n in range(15, 20)]
    # Accepted deliveries are the inspector's history and redelivery's source: kept.
    assert await WebhookDelivery.exists(id=accepted.id)


async def test_refused_webhook_deliveries_older_than_the_age_limit_are_deleted(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    max_age = timedelta(hours=runtime.deploy.webhooks.limits.rejected_max_age_hours)
    assert (await _post_unsigned(http, 1)).status_code == 401
    old = await WebhookDelivery.get(delivery_id="forged-1")
    await WebhookDelivery.filter(id=old.id).update(
        received_at=datetime.now(UTC) - max_age - timedelta(minutes=1)
    )

    assert (await _post_unsigned(http, 2)).status_code == 401

    kept = await WebhookDelivery.filter(outcome=DeliveryOutcome.REJECTED)
    assert [d.delivery_id for d in kept] == ["forged-2"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_is_private_to_its_owner(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # As an older release, or a hand-made folder, may have left it.
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "notes.txt").write_text("left here by hand")
    (data / "notes.txt").chmod(0o644)
    server = ServerProcess(home_idp_env(data, f"sqlite://{data / 'home-idp.sqlite3'}"))
    server.create_admin()
    server.start()
    try:
        server.login()
    finally:
        server.kill()

    assert _mode(data) == 0o700
    files = [entry for entry in data.iterdir() if entry.is_file()]
    assert data / "home-idp.sqlite3" in files
    assert {entry.name: _mode(entry) for entry in files} == {entry.name: 0o600 for entry in files}


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (
            "query($a: String) { auditEvents(first: 1, filter: {actor: $a}) { totalCount } }",
            {"a": "root\u0000"},
        ),
        ('{ auditEvents(first: 1, filter: {actor: "ro\\u0000ot"}) { totalCount } }', {}),
        ("query($n: String!) { project(name: $n) { id } }", {"n": "we\u0000b"}),
    ],
    ids=["variable", "literal", "another-query"],
)
async def test_a_nul_character_in_a_query_is_a_clear_error_on_every_database(
    gql: GraphQLClient, factory: Factory, document: str, variables: dict[str, Any]
) -> None:
    root = await factory.user("root", admin=True)
    result = await gql(document, variables, token=root.token)
    assert result.error_messages == [
        "text in a request may not contain the NUL character (U+0000)"
    ], result.errors


async def test_a_nul_character_in_a_mutation_is_refused_before_it_runs(
    gql: GraphQLClient, factory: Factory
) -> None:
    root = await factory.user("root", admin=True)
    result = await gql(
        "mutation($n: String!) { createApiToken(input: {name: $n}) { __typename } }",
        {"n": "ci\u0000"},
        token=root.token,
    )
    assert result.error_messages == ["text in a request may not contain the NUL character (U+0000)"]
    assert not await ApiToken.exists()


async def test_a_filter_too_long_for_its_column_is_a_field_error_on_every_database(
    gql: GraphQLClient, factory: Factory
) -> None:
    root = await factory.user("root", admin=True)
    result = await gql(
        "query($a: String) { auditEvents(first: 1, filter: {actor: $a}) { totalCount } }",
        {"a": "a" * 300},
        token=root.token,
    )
    assert result.errors
    assert "Unexpected error." not in result.error_messages
    assert all("a" * 300 not in message for message in result.error_messages)
