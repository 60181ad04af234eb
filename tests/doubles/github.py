"""An HTTP stand-in for the parts of GitHub's REST API the github git plugin uses.

It follows GitHub's documented requests and answers (status codes, the JSON
fields PyGithub reads, `url` fields pointing back at the stand-in) and keeps
real git objects in memory: blob, tree and commit ids are the ones git itself
computes. Ref updates that are not fast-forwards get GitHub's 422, and every
branch move sends a signed GitHub-format push webhook to the repo's hooks.

    async with github_stand_in(token="t") as github:
        ...  # GitHubGit(api_url=github.base_url, token="t", ...)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.doubles.github_objects import (
    HOOKS_ADMIN,
    HOOKS_NONE,
    HOOKS_READ,
    ZERO_SHA,
    FakeRepo,
    Hook,
    account_json,
    iso,
)
from tests.liveserver import free_port

__all__ = [
    "HOOKS_ADMIN",
    "HOOKS_NONE",
    "HOOKS_READ",
    "Delivery",
    "FakeRepo",
    "GitHubStandIn",
    "Hook",
    "github_stand_in",
]

_DOCS = "https://docs.github.com/rest"
# Repository webhooks as https://docs.github.com/rest/repos/webhooks (API version
# 2022-11-28) documents them: lists of 30 a page (`per_page` up to 100, `Link`
# headers), a hook's secret never sent back, and 404 for hooks the token may not
# see or 403 when it may see but not change them.
_HOOKS_PER_PAGE, _HOOKS_MAX_PER_PAGE = 30, 100
_HOOK_CONTENT_TYPES = {"json", "form"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra

    def response(self) -> JSONResponse:
        body = {"message": self.message, "documentation_url": _DOCS, "status": str(self.status)}
        return JSONResponse({**body, **self.extra}, status_code=self.status)


@dataclass
class Delivery:
    """One webhook the stand-in sent (or tried to send)."""

    hook_id: int
    event: str
    delivery_id: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class GitHubStandIn:
    """In-memory GitHub: one authenticated user, some organisations, their repositories."""

    def __init__(self, token: str, login: str, orgs: tuple[str, ...]) -> None:
        self.token, self.login, self.orgs = token, login, orgs
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str]] = []
        self.deliveries: list[Delivery] = []
        self.base_url = ""
        self.truncate_recursive_trees = False
        self._races: dict[tuple[str, str], list[Mapping[str, bytes | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self.app = Starlette(routes=self._routes())

    # Test helpers.

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        auto_init: bool = True,
        default_branch: str = "main",
        hooks_access: str = HOOKS_ADMIN,
    ) -> FakeRepo:
        """A repository as if made on GitHub beforehand (with a README commit when auto_init).

        `hooks_access` is what the stand-in's token may do with its hooks:
        HOOKS_ADMIN, HOOKS_READ or HOOKS_NONE.
        """
        owner, name = full_name.split("/")
        owner_type = "User" if owner == self.login else "Organization"
        repo = FakeRepo(len(self.repos) + 1, owner, name, private, owner_type, default_branch)
        repo.hooks_access = hooks_access
        if auto_init:
            sha = repo.commit({"README.md": f"# {name}\n".encode()}, "Initial commit", None)
            repo.refs[f"refs/heads/{default_branch}"] = sha
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos[full_name.lower()]

    def push(
        self, full_name: str, branch: str, files: Mapping[str, bytes | None], message: str = "push"
    ) -> str:
        """Another writer pushes a commit on `branch` (hooks get the push event)."""
        repo = self.repo(full_name)
        ref = f"refs/heads/{branch}"
        before = repo.refs.get(ref)
        sha = repo.commit(files, message, before)
        self._move_ref(repo, ref, sha)
        return sha

    def race_next_update(
        self, full_name: str, branch: str, files: Mapping[str, bytes | None]
    ) -> None:
        """Just before the next ref update of `branch`, another writer pushes `files`."""
        self._races.setdefault((full_name.lower(), branch), []).append(files)

    async def wait_for_deliveries(self, event: str = "push", count: int = 1) -> list[Delivery]:
        """The first `count` finished deliveries of `event`; a test fails after 5 s without them."""
        async with asyncio.timeout(5):
            while True:
                done = [d for d in self.deliveries if d.event == event and d.done.is_set()]
                if len(done) >= count:
                    return done
                await asyncio.sleep(0.01)

    # Lifecycle.

    async def start(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self._client = httpx.AsyncClient(trust_env=False, timeout=5.0)
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
        """Stop serving (GitHub is down from now on); idempotent."""
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
            self._server = self._serving = None
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # Webhooks.

    def _move_ref(self, repo: FakeRepo, ref: str, sha: str) -> None:
        before = repo.refs.get(ref, ZERO_SHA)
        repo.refs[ref] = sha
        if before != sha:
            self._deliver(
                repo, "push", repo.push_payload(self.base_url, ref, before, sha, self._user())
            )

    def _deliver(
        self, repo: FakeRepo, event: str, payload: dict[str, Any], only: int | None = None
    ) -> None:
        payload = {**payload, "repository": repo.payload(self.base_url), "sender": self._user()}
        raw = json.dumps(payload).encode()
        for hook in repo.hooks.values():
            wanted = event == "ping" or event in hook.events or "*" in hook.events
            if not hook.active or not wanted or (only is not None and hook.id != only):
                continue
            body, content_type = raw, "application/json"
            if hook.config.get("content_type") == "form":
                body = urlencode({"payload": raw.decode()}).encode()
                content_type = "application/x-www-form-urlencoded"
            delivery_id = str(uuid.uuid4())
            headers = {
                "Content-Type": content_type,
                "User-Agent": "GitHub-Hookshot/stand-in",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery_id,
                "X-GitHub-Hook-ID": str(hook.id),
                "X-GitHub-Hook-Installation-Target-Type": "repository",
                "X-GitHub-Hook-Installation-Target-ID": str(repo.id),
            }
            if secret := hook.config.get("secret"):
                key = secret.encode()
                headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, "sha1").hexdigest()
                headers["X-Hub-Signature-256"] = (
                    "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
                )
            delivery = Delivery(hook.id, event, delivery_id, hook.config["url"], headers, body)
            self.deliveries.append(delivery)
            task = asyncio.get_running_loop().create_task(self._send(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, delivery: Delivery) -> None:
        try:
            assert self._client is not None
            answer = await self._client.post(
                delivery.url, content=delivery.body, headers=delivery.headers
            )
            delivery.status = answer.status_code
        except (httpx.HTTPError, AssertionError) as error:  # best effort, as GitHub's is
            delivery.error = repr(error)
        finally:
            delivery.done.set()

    # HTTP.

    def _user(self) -> dict[str, Any]:
        return account_json(self.base_url, self.login, "User", 1)

    def _routes(self) -> list[Route]:
        repo = "/repos/{owner}/{name}"
        table: list[tuple[str, str, Callable[..., Awaitable[Any]]]] = [
            ("/user", "GET", self._get_user),
            ("/orgs/{org}", "GET", self._get_org),
            ("/user/repos", "POST", self._create_repo),
            ("/orgs/{org}/repos", "POST", self._create_repo),
            (repo, "GET", self._get_repo),
            (repo + "/git/ref/{ref:path}", "GET", self._get_ref),
            (repo + "/git/refs/{ref:path}", "GET", self._get_ref),
            (repo + "/git/refs/{ref:path}", "PATCH", self._update_ref),
            (repo + "/git/refs", "POST", self._create_ref),
            (repo + "/git/blobs", "POST", self._create_blob),
            (repo + "/git/blobs/{sha}", "GET", self._get_blob),
            (repo + "/git/trees", "POST", self._create_tree),
            (repo + "/git/trees/{sha}", "GET", self._get_tree),
            (repo + "/git/commits", "POST", self._create_commit),
            (repo + "/git/commits/{sha}", "GET", self._get_commit),
            (repo + "/contents/{path:path}", "GET", self._get_contents),
            (repo + "/contents/{path:path}", "PUT", self._put_contents),
            (repo + "/compare/{basehead:path}", "GET", self._compare),
            (repo + "/hooks", "GET", self._list_hooks),
            (repo + "/hooks", "POST", self._create_hook),
            (repo + "/hooks/{hook_id:int}", "GET", self._get_hook),
            (repo + "/hooks/{hook_id:int}", "PATCH", self._edit_hook),
            (repo + "/hooks/{hook_id:int}", "DELETE", self._delete_hook),
        ]
        return [Route(path, self._endpoint(call), methods=[verb]) for path, verb, call in table]

    def _endpoint(
        self, call: Callable[..., Awaitable[Any]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.requests.append((request.method, request.url.path))
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() not in {"token", "bearer"} or not hmac.compare_digest(
                token.encode(), self.token.encode()
            ):
                return ApiError(401, "Bad credentials").response()
            try:
                answer = await call(request)
            except ApiError as error:
                return error.response()
            if isinstance(answer, Response):
                return answer
            status, body = answer
            return JSONResponse(body, status_code=status)

        return endpoint

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Problems parsing JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Problems parsing JSON")
        return body

    def _find(self, request: Request) -> FakeRepo:
        params = request.path_params
        repo = self.repos.get(f"{params['owner']}/{params['name']}".lower())
        if repo is None:
            raise ApiError(404, "Not Found")
        return repo

    async def _get_user(self, request: Request) -> tuple[int, Any]:
        return 200, self._user()

    async def _get_org(self, request: Request) -> tuple[int, Any]:
        org = request.path_params["org"]
        if org not in self.orgs:
            raise ApiError(404, "Not Found")
        return 200, account_json(self.base_url, org, "Organization", 1000 + self.orgs.index(org))

    async def _create_repo(self, request: Request) -> tuple[int, Any]:
        body = await self._body(request)
        owner = request.path_params.get("org", self.login)
        if owner != self.login and owner not in self.orgs:
            raise ApiError(404, "Not Found")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(422, "Repository creation failed.")
        if f"{owner}/{name}".lower() in self.repos:
            error = {"resource": "Repository", "code": "custom", "field": "name"}
            error["message"] = "name already exists on this account"
            raise ApiError(422, "Repository creation failed.", errors=[error])
        repo = self.add_repo(
            f"{owner}/{name}",
            private=bool(body.get("private", False)),
            auto_init=bool(body.get("auto_init", False)),
        )
        return 201, repo.payload(self.base_url)

    async def _get_repo(self, request: Request) -> tuple[int, Any]:
        return 200, self._find(request).payload(self.base_url)

    async def _get_ref(self, request: Request) -> tuple[int, Any]:
        repo = self._find(request)
        ref = "refs/" + request.path_params["ref"]
        if not repo.refs:
            raise ApiError(409, "Git Repository is empty.")
        if ref not in repo.refs:
            raise ApiError(404, "Not Found")
        return 200, repo.ref_json(self.base_url, ref)

    async def _create_ref(self, request: Request) -> tuple[int, Any]:
        repo, body = self._find(request), await self._body(request)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            raise ApiError(422, "Reference name is invalid")
        if ref in repo.refs:
            raise ApiError(422, "Reference already exists")
        if sha not in repo.commits:
            raise ApiError(422, "Object does not exist")
        self._move_ref(repo, ref, sha)
        return 201, repo.ref_json(self.base_url, ref)

    async def _update_ref(self, request: Request) -> tuple[int, Any]:
        repo, body = self._find(request), await self._body(request)
        ref, sha = "refs/" + request.path_params["ref"], body.get("sha")
        if ref not in repo.refs:
            raise ApiError(422, "Reference does not exist")
        if sha not in repo.commits:
            raise ApiError(422, "Object does not exist")
        races = self._races.get((repo.full_name.lower(), ref.removeprefix("refs/heads/")))
        if races:
            self.push(repo.full_name, ref.removeprefix("refs/heads/"), races.pop(0), "racing push")
        if not body.get("force") and repo.refs[ref] not in repo.ancestors(sha):
            repo.rejected_updates += 1
            raise ApiError(422, "Update is not a fast forward")
        self._move_ref(repo, ref, sha)
        return 200, repo.ref_json(self.base_url, ref)

    def _writable(self, request: Request) -> FakeRepo:
        repo = self._find(request)
        if not repo.refs:  # GitHub's git data API refuses to write into an empty repository
            raise ApiError(409, "Git Repository is empty.")
        return repo

    async def _create_blob(self, request: Request) -> tuple[int, Any]:
        repo, body = self._writable(request), await self._body(request)
        content, encoding = body.get("content"), body.get("encoding", "utf-8")
        if not isinstance(content, str) or encoding not in {"utf-8", "base64"}:
            raise ApiError(422, "Invalid request.")
        data = base64.b64decode(content) if encoding == "base64" else content.encode()
        sha = repo.put_blob(data)
        return 201, {"sha": sha, "url": f"{repo.api(self.base_url)}/git/blobs/{sha}"}

    async def _get_blob(self, request: Request) -> tuple[int, Any]:
        repo, sha = self._find(request), request.path_params["sha"]
        if sha not in repo.blobs:
            raise ApiError(404, "Not Found")
        return 200, repo.blob_json(self.base_url, sha)

    async def _create_tree(self, request: Request) -> tuple[int, Any]:
        repo, body = self._writable(request), await self._body(request)
        try:
            sha = repo.create_tree(body.get("tree"), body.get("base_tree"))
        except ValueError as error:
            raise ApiError(422, str(error)) from None
        return 201, repo.tree_json(self.base_url, sha, recursive=False)

    async def _get_tree(self, request: Request) -> tuple[int, Any]:
        repo, sha = self._find(request), request.path_params["sha"]
        if sha not in repo.trees:
            raise ApiError(404, "Not Found")
        recursive = request.query_params.get("recursive") not in {None, "", "0", "false"}
        tree = repo.tree_json(self.base_url, sha, recursive=recursive)
        if recursive and self.truncate_recursive_trees:
            tree = repo.tree_json(self.base_url, sha, recursive=False) | {"truncated": True}
        return 200, tree

    async def _create_commit(self, request: Request) -> tuple[int, Any]:
        repo, body = self._writable(request), await self._body(request)
        message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
        if not isinstance(message, str) or tree not in repo.trees:
            raise ApiError(422, "Invalid request.")
        if not isinstance(parents, list) or any(p not in repo.commits for p in parents):
            raise ApiError(422, "Invalid request.")
        author = body.get("author") or {"name": self.login, "email": f"{self.login}@users.test"}
        sha = repo.put_commit(
            tree, tuple(parents), message, author, body.get("committer") or author
        )
        return 201, repo.commit_json(self.base_url, sha)

    async def _get_commit(self, request: Request) -> tuple[int, Any]:
        repo, sha = self._find(request), request.path_params["sha"]
        if sha not in repo.commits:
            raise ApiError(404, "Not Found")
        return 200, repo.commit_json(self.base_url, sha)

    async def _get_contents(self, request: Request) -> tuple[int, Any]:
        repo = self._find(request)
        ref = request.query_params.get("ref") or repo.default_branch
        sha = repo.resolve(ref)
        if sha is None:
            raise ApiError(404, f"No commit found for the ref {ref}")
        found = repo.contents_json(self.base_url, sha, request.path_params["path"].strip("/"))
        if found is None:
            raise ApiError(404, "Not Found")
        return 200, found

    async def _put_contents(self, request: Request) -> tuple[int, Any]:
        repo, body = self._find(request), await self._body(request)
        path, branch = request.path_params["path"], body.get("branch") or repo.default_branch
        message, content = body.get("message"), body.get("content")
        if not isinstance(message, str) or not isinstance(content, str):
            raise ApiError(422, "Invalid request.")
        ref = f"refs/heads/{branch}"
        if repo.refs and ref not in repo.refs:
            raise ApiError(404, f"Branch {branch} not found")
        parent = repo.refs.get(ref)
        existing = repo.lookup(repo.commits[parent].tree, path) if parent else None
        if existing is not None and body.get("sha") != existing[2]:
            raise ApiError(422, '"sha" wasn\'t supplied.' if "sha" not in body else "sha mismatch")
        if not repo.refs:
            repo.default_branch = branch  # the first branch of an empty repo becomes its default
        sha = repo.commit({path: base64.b64decode(content)}, message, parent)
        self._move_ref(repo, ref, sha)
        answer = {
            "content": repo.contents_json(self.base_url, sha, path),
            "commit": repo.commit_json(self.base_url, sha),
        }
        return (200 if existing else 201), answer

    async def _compare(self, request: Request) -> tuple[int, Any]:
        repo = self._find(request)
        base, sep, head = request.path_params["basehead"].partition("...")
        base_sha, head_sha = repo.resolve(base), repo.resolve(head)
        if not sep or base_sha is None or head_sha is None:
            raise ApiError(404, "Not Found")
        return 200, repo.compare_json(self.base_url, base_sha, head_sha)

    def _hooks_of(self, request: Request, *, change: bool) -> FakeRepo:
        """The repository, if the token may see (or, for `change`, change) its hooks."""
        repo = self._find(request)
        if repo.hooks_access == HOOKS_NONE:
            raise ApiError(404, "Not Found")
        if change and repo.hooks_access != HOOKS_ADMIN:
            raise ApiError(403, "Resource not accessible by personal access token")
        return repo

    async def _list_hooks(self, request: Request) -> Response:
        repo = self._hooks_of(request, change=False)
        try:
            per_page = int(request.query_params.get("per_page", _HOOKS_PER_PAGE))
            page = int(request.query_params.get("page", 1))
        except ValueError:
            raise ApiError(422, "Invalid request.") from None
        per_page, page = min(max(per_page, 1), _HOOKS_MAX_PER_PAGE), max(page, 1)
        hooks = list(repo.hooks.values())
        shown = hooks[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(hooks) // per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last)):
            if 1 <= number <= last and number != page:
                url = request.url.include_query_params(page=number, per_page=per_page)
                links.append(f'<{self.base_url}{url.path}?{url.query}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        body = [repo.hook_json(self.base_url, hook) for hook in shown]
        return JSONResponse(body, headers=headers)

    @staticmethod
    def _hook_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        """The hook's fields in a create or update body, checked as GitHub checks them."""
        config = body.get("config")
        if creating or config is not None:
            if not isinstance(config, dict) or not isinstance(config.get("url"), str):
                raise ApiError(422, "Validation Failed", errors=[_hook_error("url is missing")])
            content_type = config.get("content_type", "form")
            if content_type not in _HOOK_CONTENT_TYPES:
                raise ApiError(
                    422, "Validation Failed", errors=[_hook_error("content_type is invalid")]
                )
        if creating and body.get("name", "web") != "web":
            raise ApiError(422, "Validation Failed", errors=[_hook_error("name must be web")])
        for key in ("events", "add_events", "remove_events"):
            value = body.get(key)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(e, str) for e in value)
            ):
                raise ApiError(422, "Validation Failed", errors=[_hook_error(f"{key} is invalid")])
        if not isinstance(body.get("active", True), bool):
            raise ApiError(422, "Validation Failed", errors=[_hook_error("active is invalid")])
        return body

    async def _create_hook(self, request: Request) -> tuple[int, Any]:
        repo = self._hooks_of(request, change=True)
        body = self._hook_fields(await self._body(request), creating=True)
        config = body["config"]
        if any(hook.config.get("url") == config["url"] for hook in repo.hooks.values()):
            error = _hook_error("Hook already exists on this repository")
            raise ApiError(422, "Validation Failed", errors=[error])
        hook_id = max(repo.hooks, default=0) + 1
        hook = Hook(
            hook_id, dict(config), list(body.get("events") or ["push"]), body.get("active", True)
        )
        repo.hooks[hook_id] = hook
        # GitHub pings a new hook right away.
        zen = {"zen": "Keep it logically awesome.", "hook_id": hook_id}
        self._deliver(repo, "ping", zen | {"hook": repo.hook_json(self.base_url, hook)}, hook_id)
        return 201, repo.hook_json(self.base_url, hook)

    def _hook(self, request: Request, *, change: bool = False) -> tuple[FakeRepo, Hook]:
        repo = self._hooks_of(request, change=change)
        hook = repo.hooks.get(request.path_params["hook_id"])
        if hook is None:
            raise ApiError(404, "Not Found")
        return repo, hook

    async def _get_hook(self, request: Request) -> tuple[int, Any]:
        repo, hook = self._hook(request)
        return 200, repo.hook_json(self.base_url, hook)

    async def _edit_hook(self, request: Request) -> tuple[int, Any]:
        repo, hook = self._hook(request, change=True)
        body = self._hook_fields(await self._body(request), creating=False)
        if body.get("config") is not None:
            hook.config = dict(body["config"])
        if body.get("events") is not None:
            hook.events = list(body["events"])
        hook.events += [e for e in body.get("add_events") or [] if e not in hook.events]
        hook.events = [e for e in hook.events if e not in (body.get("remove_events") or [])]
        hook.active = body.get("active", hook.active)
        hook.updated_at = iso(time.time())
        return 200, repo.hook_json(self.base_url, hook)

    async def _delete_hook(self, request: Request) -> Response:
        repo, hook = self._hook(request, change=True)
        del repo.hooks[hook.id]
        return Response(status_code=204)


def _hook_error(message: str) -> dict[str, str]:
    return {"resource": "Hook", "code": "custom", "message": message}


@asynccontextmanager
async def github_stand_in(
    token: str, *, login: str = "home-idp-bot", orgs: tuple[str, ...] = ("acme",)
) -> AsyncIterator[GitHubStandIn]:
    """A started stand-in on 127.0.0.1 that accepts `token`; stopped on exit."""
    stand_in = GitHubStandIn(token, login, orgs)
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()
