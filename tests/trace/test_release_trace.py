"""Each release is one trace: a root span, a span per step, the plugins' work and the
webhooks inside them, with the trace context carried into the build."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64, to_base64

from home_idp.server.deploy.models import BuildLogLine, WebhookDelivery
from home_idp.server.deploy.releases import RELEASE_PLAN
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.components import BASE_IMAGE
from tests.deploy.flow import make_app, save_dockerfile, wait_for_release
from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Real components: the system tier.
pytestmark = pytest.mark.system

RELEASE = """
query($id: ID!) {
  node(id: $id) {
    ... on Release {
      traceId status durationMs
      steps { name spanId durationMs }
      criticalPath { name selfMs durationMs }
      trace {
        traceId status spanCount errorCount durationMs
        spans { spanId parentSpanId name kind status statusMessage attributes depth
                events { name attributes } }
        roots { name children { name } }
      }
    }
  }
}
"""
TRACES = """
query($filter: TraceFilter) {
  traces(filter: $filter, first: 10) { totalCount edges { node { traceId name status project app } } }
}
"""


def traced_dockerfile(marker: str, *, fail: bool = False) -> str:
    """A Dockerfile whose build prints the trace context it was given."""
    return (
        f"FROM {BASE_IMAGE}\nARG TRACEPARENT\n"
        f'RUN echo "traceparent=$TRACEPARENT {marker}"{" && false" if fail else ""}\n'
        'COPY . /app\nCMD ["/app/run"]\n'
    )


async def released(
    gql: GraphQLClient, token: str, web: Any, dockerfile: str
) -> tuple[Release, dict[str, Any]]:
    saved = await save_dockerfile(gql, token, web, dockerfile)
    assert saved["__typename"] == "SaveDockerfileSuccess", saved
    release = await wait_for_release(int(from_base64(saved["release"]["id"])[1]), seconds=120)
    return release, saved


async def release_view(
    gql: GraphQLClient, runtime: Runtime, release: Release, token: str
) -> dict[str, Any]:
    await runtime.trace.tracing.flush()
    node: dict[str, Any] = (
        await gql(RELEASE, {"id": to_base64("Release", release.id)}, token=token)
    )["node"]
    return node


async def test_a_release_is_one_trace_of_its_steps_plugins_and_webhooks(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    web = await make_app(await factory.project("shop", dev="developer"))
    async with live_server(app, port=settings.port):
        release, _ = await released(gql, dev.token, web, traced_dockerfile("traced-ok"))
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    view = await release_view(gql, runtime, release, dev.token)
    trace = view["trace"]
    assert view["traceId"] == trace["traceId"] == release.trace_id
    spans = {span["name"]: span for span in trace["spans"]}

    root = spans["release shop/web #1"]
    assert root["parentSpanId"] is None and root["depth"] == 0
    assert (root["kind"], root["status"]) == ("SERVER", "OK")
    assert root["attributes"]["home_idp.project"] == "shop"
    assert root["attributes"]["home_idp.app"] == "web"
    assert root["attributes"]["home_idp.image"] == release.image
    assert root["attributes"]["home_idp.digest"] == release.digest
    assert root["attributes"]["home_idp.commit_sha"] == release.commit_sha
    assert [root["name"]] == [r["name"] for r in trace["roots"]]

    # One span per step, children of the root, with the ids the steps show.
    step_span_ids = {step["name"]: step["spanId"] for step in view["steps"]}
    assert list(step_span_ids) == list(RELEASE_PLAN)
    for name, span_id in step_span_ids.items():
        step = spans[name]
        assert (step["spanId"], step["parentSpanId"]) == (span_id, root["spanId"])
        assert step["status"] == "OK"
        assert step["attributes"]["home_idp.step"] == name
    assert {child["name"] for child in trace["roots"][0]["children"]} == set(RELEASE_PLAN)

    def parent_of(name: str) -> str:
        by_id: dict[str, str] = {span["spanId"]: span["name"] for span in trace["spans"]}
        return by_id[spans[name]["parentSpanId"]]

    # The plugins' work, inside the steps that asked for it.
    build = spans["build image"]
    assert parent_of("build image") == "build"
    assert build["attributes"]["home_idp.digest"] == release.digest
    for phase in (
        "git fetch platform repo",
        "git fetch source repo",
        "buildah bud",
        "buildah push",
    ):
        assert parent_of(phase) == "build image"
    assert parent_of("deploy sync") == "sync"
    git_commits = [span for span in trace["spans"] if span["name"] == "git commit"]
    assert {span["attributes"]["home_idp.git.sha"] for span in git_commits} == {
        release.commit_sha,
        release.manifests_sha,
    }

    # Every webhook that moved a step on, with its delivery id.
    git_push = spans["webhook git push"]
    assert parent_of("webhook git push") in ("await-push", "await-manifest-push")
    deliveries = set(
        await WebhookDelivery.filter(source="git", event="push").values_list(
            "delivery_id", flat=True
        )
    )
    assert git_push["attributes"]["home_idp.webhook.delivery_id"] in deliveries
    registry = [span for span in trace["spans"] if span["name"].startswith("webhook registry")]
    assert [parent_of(span["name"]) for span in registry] == ["await-image"]

    # The build was handed the trace context of its span (W3C traceparent).
    lines = await BuildLogLine.filter(release_id=release.id, text__contains="traced-ok")
    assert any(
        f"traceparent=00-{release.trace_id}-{build['spanId']}-01" in line.text for line in lines
    ), [line.text for line in lines]

    # Figures: the critical path covers the release, step by step.
    path = view["criticalPath"]
    assert path[0]["name"] == root["name"]
    assert {"build", "rollout"} <= {segment["name"] for segment in path}
    covered = sum(segment["selfMs"] for segment in path)
    assert abs(covered - trace["durationMs"]) < 5, (covered, trace["durationMs"])
    assert all(step["durationMs"] is not None for step in view["steps"])

    listed = (await gql(TRACES, {"filter": {"project": "shop"}}, token=dev.token))["traces"]
    assert listed["edges"][0]["node"] == {
        "traceId": release.trace_id,
        "name": root["name"],
        "status": "OK",
        "project": "shop",
        "app": "web",
    }


async def test_a_failed_build_records_its_error_on_the_spans(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    web = await make_app(await factory.project("shop", dev="developer"))
    async with live_server(app, port=settings.port):
        release, _ = await released(gql, dev.token, web, traced_dockerfile("boom", fail=True))
    assert release.status is ReleaseStatus.FAILED
    view = await release_view(gql, runtime, release, dev.token)
    spans = {span["name"]: span for span in view["trace"]["spans"]}
    assert spans["release shop/web #1"]["status"] == "ERROR"
    build = spans["build"]
    assert build["status"] == "ERROR"
    assert "exit code" in build["statusMessage"]
    assert [event["name"] for event in build["events"]][-1] == "exception"
    assert spans["buildah bud"]["status"] == "ERROR"
    # Steps after the failed one never ran: no spans.
    assert "await-image" not in spans and "rollout" not in spans
    assert view["trace"]["status"] == "ERROR"

    failed = (await gql(TRACES, {"filter": {"status": "ERROR"}}, token=dev.token))["traces"]
    assert [edge["node"]["traceId"] for edge in failed["edges"]] == [release.trace_id]
    ok = (await gql(TRACES, {"filter": {"status": "OK"}}, token=dev.token))["traces"]
    assert ok["totalCount"] == 0


async def test_outsiders_do_not_see_a_release_trace(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    outsider = await factory.user("otto")
    await factory.project("elsewhere", otto="maintainer")
    web = await make_app(await factory.project("shop", dev="developer"))
    async with live_server(app, port=settings.port):
        release, _ = await released(gql, dev.token, web, traced_dockerfile("private"))
    await runtime.trace.tracing.flush()
    query = "query($id: String!) { trace(id: $id) { spanCount } }"
    assert (await gql(query, {"id": release.trace_id}, token=dev.token))["trace"]["spanCount"] > 8
    assert (await gql(query, {"id": release.trace_id}, token=outsider.token))["trace"] is None
    listed = (await gql(TRACES, {}, token=outsider.token))["traces"]
    assert listed["totalCount"] == 0
