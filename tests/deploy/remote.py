"""GraphQL operations against a server process, for the durability tests."""

from __future__ import annotations

import time
from typing import Any

from tests.components import SOURCE_REPO
from tests.serverprocess import ServerProcess

__all__ = ["make_app", "release_state", "save", "wait_for_step", "wait_until_finished"]


def make_app(server: ServerProcess, project: str, app: str) -> str:
    """Create the project (if needed) and an app; return the app's global id."""
    projects = server.graphql(
        "mutation($n: String!) { createProject(input: {name: $n}) { __typename "
        "... on ProjectSuccess { project { id } } } }",
        {"n": project},
    )["createProject"]
    if projects["__typename"] == "ProjectSuccess":
        project_id = projects["project"]["id"]
    else:
        project_id = server.graphql(
            "query($n: String!) { project(name: $n) { id } }", {"n": project}
        )["project"]["id"]
    created = server.graphql(
        "mutation($p: ID!, $n: String!, $s: String!) { createApp(input: {project: $p, name: $n, "
        "sourceRepo: $s, port: 8080}) { __typename "
        "... on AppSuccess { app { id } } ... on Error { message } } }",
        {"p": project_id, "n": app, "s": SOURCE_REPO},
    )["createApp"]
    assert created["__typename"] == "AppSuccess", created
    app_id: str = created["app"]["id"]
    return app_id


def save(server: ServerProcess, app_id: str, content: str) -> str:
    """Save a Dockerfile; return the release's global id."""
    saved = server.graphql(
        "mutation($a: ID!, $c: String!) { saveDockerfile(input: {app: $a, content: $c, "
        'message: "change"}) { __typename ... on SaveDockerfileSuccess { release { id } } '
        "... on Error { message } } }",
        {"a": app_id, "c": content},
    )["saveDockerfile"]
    assert saved["__typename"] == "SaveDockerfileSuccess", saved
    release_id: str = saved["release"]["id"]
    return release_id


def release_state(server: ServerProcess, release_id: str) -> dict[str, Any]:
    node: dict[str, Any] = server.graphql(
        "query($id: ID!) { node(id: $id) { ... on Release { status error commitSha "
        "steps { name state attempts error } } } }",
        {"id": release_id},
    )["node"]
    return node


def wait_until_finished(
    server: ServerProcess, release_id: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = release_state(server, release_id)
        if state["status"] != "RUNNING":
            return state
        assert time.monotonic() < deadline, f"release still running: {state}"
        time.sleep(0.1)


def wait_for_step(
    server: ServerProcess, release_id: str, step: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll until the named step has ended (or the release has); return the release."""
    deadline = time.monotonic() + timeout
    while True:
        state = release_state(server, release_id)
        ended = {s["name"]: s["state"] for s in state["steps"]}.get(step)
        if ended in ("SUCCEEDED", "FAILED", "CANCELLED") or state["status"] != "RUNNING":
            return state
        assert time.monotonic() < deadline, f"step {step} did not end: {state}"
        time.sleep(0.1)
