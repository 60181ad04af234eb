"""An HTTP stand-in for the parts of Harbor's API v2.0 the harbor registry plugin uses.

It follows Harbor's swagger (api/v2.0/swagger.yaml) and handlers: basic auth
(401 without it), `{"errors": [{"code", "message"}]}` bodies, 201 with a
`Location` and no body on creates, 409 on duplicate names, `X-Total-Count` and
`Link` headers on lists (built as Harbor builds them: the request's path with
`page` and `page_size` set), robot secrets shown only on create and on a
refresh that did not supply one, repository names encoded twice in paths, and
webhook addresses stripped of their query. State is in memory; every request
is recorded with its raw path (relative to /api/v2.0).

    async with harbor_stand_in("admin", "Harbor12345") as harbor:
        ...  # HarborRegistry(RegistryConfig(harbor.base_url, ...))
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tests.liveserver import free_port

__all__ = [
    "Call",
    "Delivery",
    "FakeArtifact",
    "FakePolicy",
    "FakeProject",
    "FakeRobot",
    "HarborStandIn",
    "harbor_stand_in",
]

API = "/api/v2.0"
ROBOT_PREFIX = "robot$"
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_EVENT_TYPES = {
    "PUSH_ARTIFACT",
    "PULL_ARTIFACT",
    "DELETE_ARTIFACT",
    "SCANNING_FAILED",
    "SCANNING_STOPPED",
    "SCANNING_COMPLETED",
    "QUOTA_EXCEED",
    "QUOTA_WARNING",
    "REPLICATION",
    "TAG_RETENTION",
}
_NOTIFY_TYPES = {"http", "slack"}
_ALPHANUMERIC = string.ascii_letters + string.digits


def iso(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status)


def _bad(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


@dataclass
class Call:
    """One request as it reached the stand-in: `path` is raw (still percent-encoded)."""

    method: str
    path: str
    query: str
    body: Any


@dataclass
class FakeProject:
    id: int
    name: str
    public: bool
    created: float = field(default_factory=time.time)

    def json(self) -> dict[str, Any]:
        return {
            "project_id": self.id,
            "owner_id": 1,
            "name": self.name,
            "registry_id": 0,
            "creation_time": iso(self.created),
            "update_time": iso(self.created),
            "deleted": False,
            "owner_name": "admin",
            "togglable": True,
            "current_user_role_id": 1,
            "current_user_role_ids": [1],
            "repo_count": 0,
            "metadata": {"public": "true" if self.public else "false"},
            "cve_allowlist": {"id": 0, "project_id": self.id, "items": []},
        }


@dataclass
class FakeRobot:
    id: int
    name: str  # as Harbor shows it, with its prefix: robot$<project>+<name>
    level: str
    project_id: int
    description: str
    duration: int
    expires_at: int
    disable: bool
    permissions: list[dict[str, Any]]
    secret: str = field(repr=False)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "expires_at": self.expires_at,
            "duration": self.duration,
            "level": self.level,
            "disable": self.disable,
            "editable": True,
            "creation_time": iso(self.created),
            "update_time": iso(self.updated),
            "permissions": self.permissions,
        }

    def usable(self) -> bool:
        return not self.disable and (self.expires_at == -1 or self.expires_at > time.time())

    def may(self, project: str, action: str) -> bool:
        return any(
            permission.get("kind") == "project"
            and permission.get("namespace") == project
            and any(
                access.get("resource") == "repository" and access.get("action") == action
                for access in permission.get("access", [])
            )
            for permission in self.permissions
        )


@dataclass
class FakePolicy:
    id: int
    project_id: int
    name: str
    description: str
    enabled: bool
    event_types: list[str]
    targets: list[dict[str, Any]]
    creator: str
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "project_id": self.project_id,
            "targets": [dict(target) for target in self.targets],
            "event_types": list(self.event_types),
            "creator": self.creator,
            "creation_time": iso(self.created),
            "update_time": iso(self.updated),
            "enabled": self.enabled,
        }


@dataclass
class FakeArtifact:
    id: int
    repository_id: int
    digest: str
    tags: dict[str, int] = field(default_factory=dict)  # name -> tag id
    pushed: float = field(default_factory=time.time)


@dataclass
class FakeRepository:
    id: int
    project_id: int
    name: str  # inside the project: `web`, `team/web`
    artifacts: list[FakeArtifact] = field(default_factory=list)


@dataclass
class Delivery:
    """One webhook the stand-in sent."""

    policy_id: int
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    error: str | None = None


class HarborStandIn:
    """In-memory Harbor: one administrator, projects, robots, webhook policies, artifacts."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.projects: dict[str, FakeProject] = {}
        self.robots: dict[int, FakeRobot] = {}
        self.policies: dict[int, FakePolicy] = {}
        self.repositories: dict[tuple[str, str], FakeRepository] = {}
        self.requests: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.base_url = ""
        self._ids: dict[str, int] = {}
        self._failures: list[tuple[int, str]] = []
        self._created_meanwhile: set[str] = set()
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self.app = Starlette(routes=[Mount(API, routes=self._routes())])

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    # Test helpers.

    def add_project(self, name: str, *, public: bool = False) -> FakeProject:
        project = FakeProject(self._next("project"), name, public)
        self.projects[name] = project
        return project

    def add_artifact(self, project: str, repo: str, tag: str, digest: str) -> FakeArtifact:
        """As if `<project>/<repo>:<tag>` were pushed with `digest` (the tag moves if it existed)."""
        owner = self.projects.get(project) or self.add_project(project)
        repository = self.repositories.get((project, repo))
        if repository is None:
            repository = FakeRepository(self._next("repository"), owner.id, repo)
            self.repositories[(project, repo)] = repository
        for other in repository.artifacts:
            other.tags.pop(tag, None)
        artifact = next((a for a in repository.artifacts if a.digest == digest), None)
        if artifact is None:
            artifact = FakeArtifact(self._next("artifact"), repository.id, digest)
            repository.artifacts.append(artifact)
        artifact.tags[tag] = self._next("tag")
        artifact.pushed = time.time()
        return artifact

    def push_event_body(
        self, project: str, repo: str, tag: str, digest: str, *, operator: str = "admin"
    ) -> bytes:
        """A PUSH_ARTIFACT webhook body, as Harbor's docs show it for an `http` target."""
        now = int(time.time())
        owner = self.projects.get(project)
        payload = {
            "type": "PUSH_ARTIFACT",
            "occur_at": now,
            "operator": operator,
            "event_data": {
                "resources": [
                    {
                        "digest": digest,
                        "tag": tag,
                        "resource_url": f"{self.host}/{project}/{repo}:{tag}",
                    }
                ],
                "repository": {
                    "date_created": int(owner.created) if owner else now,
                    "name": repo,
                    "namespace": project,
                    "repo_full_name": f"{project}/{repo}",
                    "repo_type": "public" if owner and owner.public else "private",
                },
            },
        }
        return json.dumps(payload).encode()

    async def push(self, project: str, repo: str, tag: str, digest: str) -> list[Delivery]:
        """`add_artifact`, then send the push event to the project's matching policies."""
        self.add_artifact(project, repo, tag, digest)
        body = self.push_event_body(project, repo, tag, digest)
        owner = self.projects[project]
        sent: list[Delivery] = []
        async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
            for policy in self.policies.values():
                if policy.project_id != owner.id or not policy.enabled:
                    continue
                if "PUSH_ARTIFACT" not in policy.event_types:
                    continue
                for target in policy.targets:
                    if target.get("type") != "http":
                        continue
                    headers = {"Content-Type": "application/json"}
                    if target.get("auth_header"):
                        headers["Authorization"] = target["auth_header"]
                    delivery = Delivery(policy.id, target["address"], headers, body)
                    try:
                        answer = await client.post(delivery.url, content=body, headers=headers)
                        delivery.status = answer.status_code
                    except httpx.HTTPError as error:
                        delivery.error = repr(error)
                    self.deliveries.append(delivery)
                    sent.append(delivery)
        return sent

    def robot(self, name: str) -> FakeRobot:
        """The robot Harbor shows as `name` (`robot$<project>+<robot>`)."""
        return next(robot for robot in self.robots.values() if robot.name == name)

    def project_policies(self, project: str) -> list[FakePolicy]:
        owner = self.projects[project]
        return [policy for policy in self.policies.values() if policy.project_id == owner.id]

    def fail_next(self, status: int, message: str = "stand-in failure") -> None:
        """The next request (after authentication) gets this error."""
        self._failures.append((status, message))

    def create_project_meanwhile(self, name: str) -> None:
        """Just before the next POST /projects for `name`, another client creates it."""
        self._created_meanwhile.add(name)

    def calls(self, *methods: str) -> list[tuple[str, str]]:
        """(method, raw path) of the recorded requests, only `methods` when given."""
        return [(c.method, c.path) for c in self.requests if not methods or c.method in methods]

    # Lifecycle.

    async def start(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving (Harbor is down from now on); idempotent."""
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
            self._server = self._serving = None

    # HTTP plumbing.

    def _next(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def _routes(self) -> list[Route]:
        project = "/projects/{project_name_or_id}"
        artifacts = "/projects/{project_name}/repositories/{repository_name}/artifacts"
        table: list[tuple[str, str, Callable[..., Awaitable[Response]]]] = [
            # HEAD first: Starlette adds HEAD to every GET route.
            ("/projects", "HEAD", self._head_project),
            ("/projects", "GET", self._list_projects),
            ("/projects", "POST", self._create_project),
            (project, "GET", self._get_project),
            ("/robots", "GET", self._list_robots),
            ("/robots", "POST", self._create_robot),
            ("/robots/{robot_id:int}", "GET", self._get_robot),
            ("/robots/{robot_id:int}", "PUT", self._update_robot),
            ("/robots/{robot_id:int}", "PATCH", self._refresh_secret),
            ("/robots/{robot_id:int}", "DELETE", self._delete_robot),
            (project + "/webhook/policies", "GET", self._list_policies),
            (project + "/webhook/policies", "POST", self._create_policy),
            (project + "/webhook/policies/{policy_id:int}", "GET", self._get_policy),
            (project + "/webhook/policies/{policy_id:int}", "PUT", self._update_policy),
            (project + "/webhook/policies/{policy_id:int}", "DELETE", self._delete_policy),
            (artifacts, "GET", self._list_artifacts),
            (artifacts + "/{reference}", "GET", self._get_artifact),
        ]
        return [Route(path, self._endpoint(call), methods=[verb]) for path, verb, call in table]

    def _endpoint(
        self, call: Callable[..., Awaitable[Response]]
    ) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw = request.scope.get("raw_path") or request.url.path.encode()
            path = raw.decode().removeprefix(API)
            content = await request.body()
            try:
                body = json.loads(content) if content else None
            except ValueError:
                body = content
            self.requests.append(Call(request.method, path, request.url.query, body))
            principal = self._authenticate(request)
            if principal is None:
                return error_response(401, "UNAUTHORIZED", "unauthorized")
            if self._failures:
                status, message = self._failures.pop(0)
                return error_response(
                    status, "UNKNOWN" if status >= 500 else "BAD_REQUEST", message
                )
            try:
                return await call(request, principal)
            except ApiError as error:
                return error.response()

        return endpoint

    def _authenticate(self, request: Request) -> str | FakeRobot | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if username == self.username:
            if hmac.compare_digest(password.encode(), self.password.encode()):
                return username
            return None
        for robot in self.robots.values():
            if (
                robot.name == username
                and robot.usable()
                and hmac.compare_digest(password.encode(), robot.secret.encode())
            ):
                return robot
        return None

    @staticmethod
    def _require_admin(principal: str | FakeRobot) -> None:
        if isinstance(principal, FakeRobot):
            raise ApiError(403, "FORBIDDEN", "forbidden")

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _bad("parsing the body failed") from None
        if not isinstance(body, dict):
            raise _bad("parsing the body failed")
        return body

    def _paging(self, request: Request) -> tuple[int, int]:
        try:
            page = int(request.query_params.get("page", "1"))
            size = int(request.query_params.get("page_size", "10"))
        except ValueError:
            raise ApiError(
                422, "UNPROCESSABLE_ENTITY", "page and page_size must be integers"
            ) from None
        if page < 1 or size < 1:
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "page and page_size must be positive")
        if size > 100:
            raise ApiError(
                422,
                "UNPROCESSABLE_ENTITY",
                "page_size in query should be less than or equal to 100",
            )
        return page, size

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        page, size = self._paging(request)
        total = len(items)
        headers = {"X-Total-Count": str(total)}
        links = []
        # As Harbor's BaseAPI.Links: the request path, its query with page and
        # page_size set, sorted by key and unescaped.
        raw = (request.scope.get("raw_path") or request.url.path.encode()).decode()
        for number, rel in ((page - 1, "prev"), (page + 1, "next")):
            wanted = (rel == "prev" and page > 1 and (page - 1) * size < total) or (
                rel == "next" and page * size < total
            )
            if wanted:
                query = dict(parse_qsl(request.url.query, keep_blank_values=True))
                query |= {"page": str(number), "page_size": str(size)}
                encoded = unquote(urlencode(sorted(query.items())))
                links.append(f'<{raw}?{encoded}>; rel="{rel}"')
        if links:
            headers["Link"] = " , ".join(links)
        return JSONResponse(items[(page - 1) * size : page * size], headers=headers)

    def _project(self, request: Request, *, by_name: bool = False) -> FakeProject:
        key = request.path_params.get("project_name_or_id") or request.path_params["project_name"]
        named = by_name or request.headers.get("x-is-resource-name", "").lower() == "true"
        if not named and key.isdigit():
            found = next((p for p in self.projects.values() if p.id == int(key)), None)
        else:
            found = self.projects.get(key)
        if found is None:
            # Harbor's permission check finds no project and answers 403, not 404.
            raise ApiError(403, "FORBIDDEN", "forbidden")
        return found

    # Projects.

    async def _head_project(self, request: Request, principal: str | FakeRobot) -> Response:
        name = request.query_params.get("project_name", "")
        return Response(status_code=200 if name in self.projects else 404)

    async def _list_projects(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        name = request.query_params.get("name")
        found = [p.json() for p in self.projects.values() if name is None or p.name == name]
        return self._page(request, found)

    async def _create_project(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        body = await self._body(request)
        name = body.get("project_name")
        if not isinstance(name, str) or len(name) > 255 or not _NAME.match(name):
            raise _bad("project name is not in lower case or contains illegal characters!")
        if name in self._created_meanwhile:
            self._created_meanwhile.discard(name)
            self.add_project(name)
        if name in self.projects:
            raise ApiError(409, "CONFLICT", f"The project named {name} already exists")
        metadata = body.get("metadata") or {}
        project = self.add_project(name, public=str(metadata.get("public")).lower() == "true")
        location = f"{API}/projects/{project.id}"
        return Response(status_code=201, headers={"Location": location})

    async def _get_project(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        return JSONResponse(self._project(request).json())

    # Robots.

    def _robot(self, request: Request) -> FakeRobot:
        robot = self.robots.get(request.path_params["robot_id"])
        if robot is None:
            raise ApiError(404, "NOT_FOUND", f"robot {request.path_params['robot_id']} not found")
        return robot

    def _check_robot(
        self, body: dict[str, Any]
    ) -> tuple[str, int, list[dict[str, Any]], FakeProject | None]:
        level, duration, permissions = (
            body.get("level"),
            body.get("duration"),
            body.get("permissions"),
        )
        if not isinstance(duration, int) or duration < -1:
            raise _bad(f"bad request error duration input: {duration}")
        if level not in {"system", "project"}:
            raise _bad(f"bad request error level input: {level}")
        if not isinstance(permissions, list) or not permissions:
            raise _bad("bad request empty permission")
        for permission in permissions:
            if not isinstance(permission, dict) or not permission.get("access"):
                raise _bad("bad request empty access")
        if level == "project" and len(permissions) > 1:
            raise _bad("bad request permission")
        project = None
        if level == "project":
            project = self.projects.get(str(permissions[0].get("namespace")))
            if project is None:
                raise ApiError(403, "FORBIDDEN", "forbidden")
        return str(level), duration, permissions, project

    @staticmethod
    def _expiry(duration: int, created: float) -> int:
        return -1 if duration == -1 else int(created) + 86400 * (duration or 30)

    async def _list_robots(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        keywords: dict[str, str] = {}
        for term in filter(None, request.query_params.get("q", "").split(",")):
            key, sep, value = term.partition("=")
            if not sep or value.startswith(("~", "[", "{", "(")):
                raise _bad(f"invalid query {term!r} (the stand-in knows only k=v)")
            keywords[key] = value
        level = keywords.pop("Level", "system")
        if level not in {"system", "project"}:
            raise _bad("bad request error level input")
        project_id = 0
        if level == "project":
            if "ProjectID" not in keywords:
                raise _bad("must with project ID when to query project robots")
            if not keywords["ProjectID"].isdigit():
                raise _bad("Project ID must be int type.")
            project_id = int(keywords.pop("ProjectID"))
        name = keywords.pop("name", None)
        if keywords:
            raise _bad(f"the stand-in cannot filter robots by {sorted(keywords)}")
        found = [
            robot.json()
            for robot in self.robots.values()
            if robot.level == level
            and robot.project_id == project_id
            and (name is None or robot.name.removeprefix(ROBOT_PREFIX) == name)
        ]
        return self._page(request, found)

    async def _create_robot(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        body = await self._body(request)
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _bad("robot name is not in lower case or contains illegal characters")
        level, duration, permissions, project = self._check_robot(body)
        # Harbor names a project robot `<project>+<name>`: '+' cannot be in a name.
        full = ROBOT_PREFIX + (f"{project.name}+{name}" if project else name)
        if any(robot.name == full for robot in self.robots.values()):
            raise ApiError(409, "CONFLICT", f"robot account {full} already exists")
        created = time.time()
        secret = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))
        robot = FakeRobot(
            id=self._next("robot"),
            name=full,
            level=level,
            project_id=project.id if project else 0,
            description=str(body.get("description") or ""),
            duration=duration,
            expires_at=self._expiry(duration, created),
            disable=bool(body.get("disable", False)),
            permissions=permissions,
            secret=secret,
            created=created,
            updated=created,
        )
        self.robots[robot.id] = robot
        answer = {
            "id": robot.id,
            "name": robot.name,
            "secret": secret,
            "creation_time": iso(created),
            "expires_at": robot.expires_at,
        }
        location = f"{API}/robots/{robot.id}"
        return JSONResponse(answer, status_code=201, headers={"Location": location})

    async def _get_robot(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        return JSONResponse(self._robot(request).json())

    async def _update_robot(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        robot, body = self._robot(request), await self._body(request)
        level, duration, permissions, _ = self._check_robot(body)
        if level != robot.level or body.get("name") != robot.name:
            raise _bad("cannot update the level or name of robot")
        if duration != robot.duration:
            robot.duration = duration
            robot.expires_at = self._expiry(duration, robot.created)
        robot.description = str(body.get("description") or "")
        robot.disable = bool(body.get("disable", False))
        robot.permissions = permissions
        robot.updated = time.time()
        return Response(status_code=200)

    async def _refresh_secret(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        robot, body = self._robot(request), await self._body(request)
        given = body.get("secret") or ""
        if given:
            valid = (
                isinstance(given, str)
                and len(given) >= 8
                and re.search("[a-z]", given)
                and re.search("[A-Z]", given)
                and re.search("[0-9]", given)
            )
            if not valid:
                raise _bad(
                    "the secret must longer than 8 chars with at least 1 uppercase letter, "
                    "1 lowercase letter and 1 number"
                )
            robot.secret, shown = str(given), ""
        else:
            robot.secret = shown = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))
        robot.updated = time.time()
        return JSONResponse({"secret": shown})

    async def _delete_robot(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        del self.robots[self._robot(request).id]
        return Response(status_code=200)

    # Webhook policies.

    def _policy(self, request: Request, project: FakeProject) -> FakePolicy:
        policy = self.policies.get(request.path_params["policy_id"])
        if policy is None or policy.project_id != project.id:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"project id:{project.id}, webhook policy id: {request.path_params['policy_id']} not found",
            )
        return policy

    @staticmethod
    def _check_policy(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        events, targets = body.get("event_types"), body.get("targets")
        if not isinstance(events, list) or not events:
            raise _bad("empty event type")
        for event in events:
            if event not in _EVENT_TYPES:
                raise _bad(f"unsupported event type {event}")
        if not isinstance(targets, list) or not targets:
            raise _bad(f"empty notification target with policy {body.get('name')}")
        cleaned = []
        for target in targets:
            if not isinstance(target, dict):
                raise _bad("a target is not an object")
            parts = urlsplit(str(target.get("address", "")))
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise _bad(f"invalid endpoint: {target.get('address')}")
            if target.get("type") not in _NOTIFY_TYPES:
                raise _bad(
                    f"unsupported target type {target.get('type')} with policy {body.get('name')}"
                )
            # Harbor keeps scheme, host and path only (its fix for SSRF, #3755).
            address = f"{parts.scheme}://{parts.netloc}{parts.path}"
            cleaned.append(
                {
                    "type": target["type"],
                    "address": address,
                    "auth_header": str(target.get("auth_header") or ""),
                    "skip_cert_verify": bool(target.get("skip_cert_verify", False)),
                }
            )
        return [str(event) for event in events], cleaned

    def _name_taken(self, project: FakeProject, name: str, but: int | None = None) -> bool:
        return any(
            p.project_id == project.id and p.name == name and p.id != but
            for p in self.policies.values()
        )

    async def _list_policies(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        project = self._project(request)
        found = [p.json() for p in self.policies.values() if p.project_id == project.id]
        return self._page(request, found)

    async def _create_policy(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        project, body = self._project(request), await self._body(request)
        events, targets = self._check_policy(body)
        name = str(body.get("name") or "")
        if self._name_taken(project, name):
            raise ApiError(409, "CONFLICT", f"notification policy {name} already exists")
        policy = FakePolicy(
            id=self._next("policy"),
            project_id=project.id,
            name=name,
            description=str(body.get("description") or ""),
            enabled=bool(body.get("enabled", False)),
            event_types=events,
            targets=targets,
            creator=str(principal),
        )
        self.policies[policy.id] = policy
        location = f"{request.url.path.rstrip('/')}/{policy.id}"
        return Response(status_code=201, headers={"Location": location})

    async def _get_policy(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        return JSONResponse(self._policy(request, self._project(request)).json())

    async def _update_policy(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        project = self._project(request)
        policy, body = self._policy(request, project), await self._body(request)
        events, targets = self._check_policy(body)
        name = str(body.get("name") or "")
        if self._name_taken(project, name, but=policy.id):
            raise ApiError(409, "CONFLICT", f"notification policy {name} already exists")
        policy.name, policy.event_types, policy.targets = name, events, targets
        policy.description = str(body.get("description") or "")
        policy.enabled = bool(body.get("enabled", False))
        policy.updated = time.time()
        return Response(status_code=200)

    async def _delete_policy(self, request: Request, principal: str | FakeRobot) -> Response:
        self._require_admin(principal)
        policy = self._policy(request, self._project(request))
        del self.policies[policy.id]
        return Response(status_code=200)

    # Artifacts.

    def _repository(
        self, request: Request, principal: str | FakeRobot
    ) -> tuple[str, FakeRepository]:
        project = request.path_params["project_name"]
        if isinstance(principal, FakeRobot) and not principal.may(project, "pull"):
            raise ApiError(403, "FORBIDDEN", "forbidden")
        # The path arrives decoded once (a%252Fb -> a%2Fb); Harbor decodes the name again.
        name = unquote(request.path_params["repository_name"])
        repository = self.repositories.get((project, name))
        if repository is None:
            raise ApiError(404, "NOT_FOUND", f"repository {project}/{name} not found")
        return project, repository

    def _artifact_json(
        self, project: str, repository: FakeRepository, artifact: FakeArtifact, with_tag: bool
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": artifact.id,
            "type": "IMAGE",
            "media_type": "application/vnd.oci.image.config.v1+json",
            "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
            "project_id": repository.project_id,
            "repository_id": repository.id,
            "digest": artifact.digest,
            "size": 1024,
            "icon": "sha256:0048162a053eef4d4ce3fe7518615bef084403614f8bca43b40ae2e762e11e06",
            "push_time": iso(artifact.pushed),
            "pull_time": "0001-01-01T00:00:00.000Z",
            "extra_attrs": {"architecture": "amd64", "os": "linux"},
            "annotations": None,
            "references": None,
            "labels": None,
            "tags": None,
            "addition_links": {
                "build_history": {
                    "absolute": False,
                    "href": f"{API}/projects/{project}/repositories/"
                    f"{repository.name.replace('/', '%252F')}/artifacts/{artifact.digest}"
                    "/additions/build_history",
                }
            },
        }
        if with_tag and artifact.tags:
            answer["tags"] = [
                {
                    "id": tag_id,
                    "repository_id": repository.id,
                    "artifact_id": artifact.id,
                    "name": name,
                    "push_time": iso(artifact.pushed),
                    "pull_time": "0001-01-01T00:00:00.000Z",
                    "immutable": False,
                    "signed": False,
                }
                for name, tag_id in artifact.tags.items()
            ]
        return answer

    async def _list_artifacts(self, request: Request, principal: str | FakeRobot) -> Response:
        project, repository = self._repository(request, principal)
        with_tag = request.query_params.get("with_tag", "true").lower() != "false"
        newest_first = sorted(repository.artifacts, key=lambda a: (a.pushed, a.id), reverse=True)
        found = [self._artifact_json(project, repository, a, with_tag) for a in newest_first]
        return self._page(request, found)

    async def _get_artifact(self, request: Request, principal: str | FakeRobot) -> Response:
        project, repository = self._repository(request, principal)
        reference = request.path_params["reference"]
        if reference.startswith("sha256:"):
            found = next((a for a in repository.artifacts if a.digest == reference), None)
        else:
            found = next((a for a in repository.artifacts if reference in a.tags), None)
        if found is None:
            separator = "@" if reference.startswith("sha256:") else ":"
            raise ApiError(
                404,
                "NOT_FOUND",
                f"artifact {project}/{repository.name}{separator}{reference} not found",
            )
        with_tag = request.query_params.get("with_tag", "true").lower() != "false"
        return JSONResponse(self._artifact_json(project, repository, found, with_tag))


@asynccontextmanager
async def harbor_stand_in(username: str, password: str) -> AsyncIterator[HarborStandIn]:
    """A started stand-in on 127.0.0.1 that accepts `username`/`password`; stopped on exit."""
    stand_in = HarborStandIn(username, password)
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()
