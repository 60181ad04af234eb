"""Config that reaches a running app, with real components in local mode.

A real release runs an app in podman that serves a CGI page showing an env
var from the project and a mounted config file, and logs a line (holding a
secret) per request. The test reads both back through the app, follows the
log through the `appLogs` subscription over a real websocket, changes the
project variable and the file (config-only releases: same digest, no build),
lists the app's objects, and restarts its container.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from starlette.applications import Starlette
from strawberry.relay import to_base64

from home_idp.server.apps.models import App
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep
from home_idp.server.settings import Settings
from tests.components import BASE_IMAGE
from tests.deploy.flow import make_app, save_dockerfile, wait_for_release
from tests.deploy.test_deploy_flow import release_pk
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Real components: the system tier.
pytestmark = pytest.mark.system

SECRET = "tok-9f3a7c1e5b"
# `show` prints the project's GREETING, the mounted file, and whether the file
# can be written; it logs each request (with the secret) to the container's log.
SHOW = [
    "#!/bin/sh",
    "echo Content-Type: text/plain",
    "echo",
    'echo "GREETING=$GREETING"',
    "cat /config/greeting.txt",
    "(echo x >> /config/greeting.txt) 2>/dev/null && echo WRITABLE || echo READ-ONLY",
    'echo "served /show with token $API_TOKEN" > /proc/1/fd/1',
]
DOCKERFILE = (
    f"FROM {BASE_IMAGE}\n"
    "RUN mkdir -p /www/cgi-bin && echo ok > /www/index.html"
    + "".join(f" && echo '{line}' >> /www/cgi-bin/show" for line in SHOW)
    + " && chmod +x /www/cgi-bin/show\n"
    'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n'
)
SET_VARIABLE = """mutation($input: SetProjectVariableInput!) {
  setProjectVariable(input: $input) {
    __typename
    ... on ProjectConfigSuccess { releases { id trigger } project { variables { name value } } }
    ... on Error { message }
  }
}"""
PUT_FILE = """mutation($input: PutAppFileInput!) {
  putAppFile(input: $input) {
    __typename
    ... on AppConfigSuccess { releases { id trigger } app { files { name mountPath size } } }
    ... on Error { message }
  }
}"""
UPDATE_APP = """mutation($input: UpdateAppInput!) {
  updateApp(input: $input) { __typename ... on Error { message } }
}"""
RESOURCES = """query($app: ID!) {
  appResources(app: $app) { kind name status ready restarts release keys }
}"""
DELETE_POD = """mutation($input: DeletePodInput!) {
  deletePod(input: $input) { __typename ... on DeletePodSuccess { deletedPod } ... on Error { message } }
}"""
ENVIRONMENT = """query($id: ID!) {
  node(id: $id) { ... on App { environment { name source isSecret value overridden } } }
}"""


def fetch(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        response = httpx.get(url.rstrip("/") + "/cgi-bin/show", timeout=5)
    except httpx.TransportError:
        return None
    return response.text if response.status_code == 200 else None


async def config_release(payload: dict[str, Any], trigger: str) -> Release:
    assert [r["trigger"] for r in payload["releases"]] == [trigger], payload
    release = await wait_for_release(release_pk({"release": payload["releases"][0]}), 120)
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    steps = [s.name for s in await ReleaseStep.filter(release_id=release.id).order_by("position")]
    assert steps == ["manifests", "await-manifest-push", "sync", "rollout", "verify"]
    return release


async def test_files_and_shared_variables_reach_the_running_app_and_its_logs(
    app: Starlette,
    settings: Settings,
    factory: Factory,
    gql: GraphQLClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dev = await factory.user("dev")
    mia = await factory.user("mia")
    project = await factory.project("cfg", dev="developer", mia="maintainer")
    web = await make_app(project)
    app_gid, project_gid = to_base64("App", web.id), to_base64("Project", project.id)
    answers: list[str] = []

    async def call(document: str, variables: dict[str, Any], who: Person) -> dict[str, Any]:
        result = await gql(document, variables, who.token)
        answers.append(result.response.text)
        data: dict[str, Any] = result.data or {}
        return data

    async with live_server(app, port=settings.port) as address:
        # Config first: nothing runs yet, so no release starts.
        for name, value, secret in (("GREETING", "hello", False), ("API_TOKEN", SECRET, True)):
            variable = {"project": project_gid, "name": name, "value": value, "isSecret": secret}
            answer = (await call(SET_VARIABLE, {"input": variable}, dev))["setProjectVariable"]
            assert answer["__typename"] == "ProjectConfigSuccess", answer
            assert answer["releases"] == []
        shared = {"id": app_gid, "sharedEnv": ["GREETING", "API_TOKEN"]}
        assert (await call(UPDATE_APP, {"input": shared}, dev))["updateApp"] == {
            "__typename": "AppSuccess"
        }
        file = {
            "app": app_gid,
            "name": "greeting.txt",
            "mountPath": "/config/greeting.txt",
            "content": "from the file v1\n",
        }
        put = (await call(PUT_FILE, {"input": file}, dev))["putAppFile"]
        assert put["__typename"] == "AppConfigSuccess", put
        assert put["app"]["files"] == [
            {"name": "greeting.txt", "mountPath": "/config/greeting.txt", "size": 17}
        ]
        environment = (await call(ENVIRONMENT, {"id": app_gid}, dev))["node"]["environment"]
        assert environment == [
            {"name": "API_TOKEN", "source": "project", "isSecret": True, "value": None,
             "overridden": False},
            {"name": "GREETING", "source": "project", "isSecret": False, "value": "hello",
             "overridden": False},
        ]  # fmt: skip

        # 1. A real release: the app shows the project's variable and the file, read-only.
        saved = await save_dockerfile(gql, dev.token, web, DOCKERFILE)
        assert saved["__typename"] == "SaveDockerfileSuccess", saved
        first = await wait_for_release(release_pk(saved), seconds=180)
        assert first.status is ReleaseStatus.SUCCEEDED, first.error
        assert fetch(first.url) == "GREETING=hello\nfrom the file v1\nREAD-ONLY\n"

        # 2. Its log through the subscription: a line per request, the secret masked.
        transport = WebsocketsTransport(
            url=f"ws://{address}/graphql",
            init_payload={"Authorization": f"Bearer {dev.token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            lines = session.subscribe(
                GraphQLRequest(
                    "subscription($app: ID!) { appLogs(appId: $app, tailLines: 5) { source text } }",
                    variable_values={"app": app_gid},
                )
            )
            # The request made before subscribing is in the tail.
            line = await asyncio.wait_for(anext(lines), 20)
            assert line["appLogs"] == {
                "source": f"hidp-cfg-web-r{first.number}",
                "text": "served /show with token ****",
            }
            following = asyncio.ensure_future(anext(lines))
            await asyncio.sleep(0.5)
            assert fetch(first.url) is not None
            line = await asyncio.wait_for(following, 20)
            assert line["appLogs"]["text"] == "served /show with token ****"
            await lines.aclose()

        # 3. A changed project variable: a config-only release, same digest.
        variable = {"project": project_gid, "name": "GREETING", "value": "changed"}
        changed = (await call(SET_VARIABLE, {"input": variable}, dev))["setProjectVariable"]
        second = await config_release(changed, "config: GREETING")
        assert second.digest == first.digest
        assert fetch(second.url) == "GREETING=changed\nfrom the file v1\nREAD-ONLY\n"
        # Setting the same value again changes nothing.
        same = (await call(SET_VARIABLE, {"input": variable}, dev))["setProjectVariable"]
        assert same["releases"] == []

        # 4. A changed file: another config-only release.
        file["content"] = "from the file v2\n"
        put = (await call(PUT_FILE, {"input": file}, dev))["putAppFile"]
        third = await config_release(put, "config: file greeting.txt")
        assert third.digest == first.digest
        assert fetch(third.url) == "GREETING=changed\nfrom the file v2\nREAD-ONLY\n"

        # 5. The resource view shows the container, ready, with its mounted file
        # (once the older ones, stopped in the background after the cut-over, are gone).
        container = f"hidp-cfg-web-r{third.number}"
        async with asyncio.timeout(30):
            while True:
                resources = (await call(RESOURCES, {"app": app_gid}, dev))["appResources"]
                if len(resources) == 1:
                    break
                await asyncio.sleep(0.2)
        assert [(r["kind"], r["name"], r["ready"]) for r in resources] == [
            ("Container", container, True)
        ], resources
        assert "/config/greeting.txt" in resources[0]["keys"]

        # 6. Deleting the pod is for maintainers; in local mode it restarts the container.
        pod = {"input": {"app": app_gid, "name": container}}
        refused = (await call(DELETE_POD, pod, dev))["deletePod"]
        assert refused["__typename"] == "PermissionDenied", refused
        deleted = (await call(DELETE_POD, pod, mia))["deletePod"]
        assert deleted == {"__typename": "DeletePodSuccess", "deletedPod": container}
        for _ in range(150):
            if fetch(third.url) is not None:
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the app did not answer again after its restart")
        unknown = {"input": {"app": app_gid, "name": "hidp-other-app-r1"}}
        assert (await call(DELETE_POD, unknown, mia))["deletePod"]["__typename"] == "NotFound"

    assert (await App.get(id=web.id)).live_release_id == third.id
    # The secret is in no answer and in no log record.
    assert not [text for text in answers if SECRET in text]
    assert not [r.getMessage() for r in caplog.records if SECRET in r.getMessage()]
