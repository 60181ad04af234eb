"""The start of the flow: save a Dockerfile, commit it, and the push webhook advances it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64

from home_idp.server.deploy.models import WebhookDelivery
from home_idp.server.deploy.releases import RELEASE_PLAN
from home_idp.server.pipeline.models import ReleaseStatus, ReleaseStep, StepState
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.deploy.flow import make_app, save_dockerfile, unique_dockerfile, wait_for_release
from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Real components: the system tier.
pytestmark = pytest.mark.system


async def test_a_saved_dockerfile_is_committed_and_its_push_webhook_advances_the_release(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    content = unique_dockerfile()
    async with live_server(app, port=settings.port):
        saved = await save_dockerfile(gql, dev.token, web, content)
        assert saved["__typename"] == "SaveDockerfileSuccess", saved
        assert [s["name"] for s in saved["release"]["steps"]] == list(RELEASE_PLAN)
        release = await wait_for_release(int(from_base64(saved["release"]["id"])[1]))
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    steps = {s.name: s for s in await ReleaseStep.filter(release_id=release.id)}
    assert steps["await-push"].detail["advanced_by"] == "webhook"
    assert steps["commit"].state is StepState.SUCCEEDED
    # The file is in the platform repo at the recorded commit.
    git = runtime.deploy.git
    committed = await git.read_file("projects/shop/apps/web/Dockerfile", release.commit_sha or "")
    assert committed == content.encode()
    # Two pushes: the Dockerfile's commit and the manifests' commit.
    pushes = await WebhookDelivery.filter(source="git", outcome="accepted", event="push")
    assert len(pushes) == 2 and all(push.signature_ok for push in pushes)


async def test_a_lost_webhook_is_made_up_for_by_the_reconciler(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    # No server listens on the settings' port, so the hook's webhook is lost.
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    saved = await save_dockerfile(gql, dev.token, web, unique_dockerfile())
    release = await wait_for_release(int(from_base64(saved["release"]["id"])[1]))
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    step = await ReleaseStep.get(release_id=release.id, name="await-push")
    assert step.detail["advanced_by"] == "reconciler"
    assert not await WebhookDelivery.exists(source="git")


async def test_saving_the_same_dockerfile_again_needs_no_push_and_still_completes(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    web = await make_app(await factory.project("shop", dev="developer"))
    content = unique_dockerfile()
    first = await save_dockerfile(gql, dev.token, web, content)
    await wait_for_release(int(from_base64(first["release"]["id"])[1]))
    again = await save_dockerfile(gql, dev.token, web, content, message="same again")
    release = await wait_for_release(int(from_base64(again["release"]["id"])[1]))
    assert release.status is ReleaseStatus.SUCCEEDED
    step = await ReleaseStep.get(release_id=release.id, name="await-push")
    assert step.detail["advanced_by"] == "no new commit"
    assert again["dockerfileVersion"]["number"] == 2
