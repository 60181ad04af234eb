"""An HTTP stand-in for the parts of Argo CD's REST API the argocd deployer uses.

It follows the documented API (https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/,
the server's swagger.json): Applications under `/api/v1/applications`,
`upsert` on create, a sync that starts an operation, `?refresh=hard`,
deletion with `cascade`, list with a label `selector`; errors as the
grpc-gateway's `{"error", "code", "message"}` with Argo CD's status codes and
messages (a sync while an operation runs is a 400 FailedPrecondition,
"another operation is already in progress"). Applications live in memory;
no controller runs: tests move them with `finish_sync`, `fail_sync`,
`set_health`, `set_resources` and `start_operation`.

    async with argocd_stand_in(token="t") as argocd:
        ...  # url=argocd.base_url, token="t"
"""

from __future__ import annotations

import asyncio
import copy
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.liveserver import free_port

__all__ = ["ArgoCDStandIn", "RecordedRequest", "argocd_stand_in"]

# gRPC codes as Argo CD's gateway sends them, with their HTTP statuses.
INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE, UNAUTHENTICATED = 3, 5, 9, 14, 16
_HTTP = {
    INVALID_ARGUMENT: 400,
    NOT_FOUND: 404,
    FAILED_PRECONDITION: 400,
    UNAVAILABLE: 503,
    UNAUTHENTICATED: 401,
}


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> JSONResponse:
        body = {"error": self.message, "code": self.code, "message": self.message}
        return JSONResponse(body, status_code=_HTTP[self.code])


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in answered."""

    method: str
    path: str
    query: Mapping[str, str]
    body: Any


class ArgoCDStandIn:
    """In-memory Argo CD: Applications, their operations, sync and health."""

    def __init__(self, token: str, projects: Iterable[str]) -> None:
        self.token = token
        self.projects = set(projects)
        self.applications: dict[str, dict[str, Any]] = {}
        self.recorded: list[RecordedRequest] = []
        self.base_url = ""
        self._version = 0
        self._failures: list[ApiError] = []
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self.app = Starlette(
            routes=[
                Route("/api/v1/applications", self._collection, methods=["GET", "POST"]),
                Route("/api/v1/applications/{name}", self._one, methods=["GET", "DELETE"]),
                Route("/api/v1/applications/{name}/sync", self._sync, methods=["POST"]),
            ]
        )

    # Test controls: what Argo CD's controller would do.

    def start_operation(self, name: str, revision: str = "") -> None:
        """An operation (an automated sync) runs on the Application from now on."""
        application = self.applications[name]
        revision = revision or application["spec"]["source"].get("targetRevision", "")
        operation = {"sync": {"revision": revision}, "initiatedBy": {"automated": True}}
        application["operation"] = operation
        application["status"]["operationState"] = {
            "operation": operation,
            "phase": "Running",
            "message": "",
            "startedAt": _now(),
        }
        self._touch(application)

    def finish_sync(
        self,
        name: str,
        *,
        health: str = "Healthy",
        revision: str | None = None,
        images: Iterable[str] = (),
        urls: Iterable[str] = (),
    ) -> None:
        """The running operation succeeded: Synced at its revision, with `health`."""
        application = self.applications[name]
        state = application["status"].get("operationState") or {}
        revision = revision or (state.get("operation") or {}).get("sync", {}).get("revision", "")
        application.pop("operation", None)
        application["status"]["operationState"] = {
            **state,
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "syncResult": {"revision": revision, "resources": []},
            "finishedAt": _now(),
        }
        application["status"]["sync"] = {"status": "Synced", "revision": revision}
        application["status"]["health"] = {"status": health}
        application["status"]["summary"] = {"images": list(images), "externalURLs": list(urls)}
        self._touch(application)

    def fail_sync(self, name: str, message: str, phase: str = "Failed") -> None:
        """The running operation ended with `phase` (Failed or Error) and `message`."""
        application = self.applications[name]
        state = application["status"].get("operationState") or {}
        revision = (state.get("operation") or {}).get("sync", {}).get("revision", "")
        application.pop("operation", None)
        application["status"]["operationState"] = {
            **state,
            "phase": phase,
            "message": message,
            "syncResult": {"revision": revision, "resources": []},
            "finishedAt": _now(),
        }
        application["status"]["sync"] = {"status": "OutOfSync", "revision": revision}
        self._touch(application)

    def fail_next(self, code: int, message: str) -> None:
        """Answer the next request with the gRPC error `code` (e.g. UNAVAILABLE) and `message`."""
        self._failures.append(ApiError(code, message))

    def set_health(self, name: str, status: str, message: str = "") -> None:
        health = {"status": status, **({"message": message} if message else {})}
        self.applications[name]["status"]["health"] = health
        self._touch(self.applications[name])

    def set_resources(self, name: str, resources: list[dict[str, Any]]) -> None:
        """`status.resources`: each with group, version, kind, namespace, name, status, health."""
        self.applications[name]["status"]["resources"] = copy.deepcopy(resources)
        self._touch(self.applications[name])

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
        """Stop serving (Argo CD is down from now on); idempotent."""
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
            self._server = self._serving = None

    # HTTP.

    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.recorded.append(
            RecordedRequest(request.method, request.url.path, dict(request.query_params), body)
        )
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.encode(), self.token.encode()
        ):
            raise ApiError(UNAUTHENTICATED, "invalid session: token signature is invalid")
        if self._failures:
            raise self._failures.pop(0)
        return body

    async def _collection(self, request: Request) -> Response:
        try:
            body = await self._record(request)
            if request.method == "GET":
                return JSONResponse(self._list(request))
            upsert = request.query_params.get("upsert") == "true"
            return JSONResponse(self._create(body, upsert=upsert))
        except ApiError as error:
            return error.response()

    async def _one(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            await self._record(request)
            application = self._get(name)
            if request.method == "DELETE":
                del self.applications[name]
                return JSONResponse({})
            if request.query_params.get("refresh") in {"normal", "hard"}:
                application["metadata"].setdefault("annotations", {})
                self._touch(application)
            return JSONResponse(application)
        except ApiError as error:
            return error.response()

    async def _sync(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await self._record(request) or {}
            application = self._get(name)
            if application.get("operation") is not None:
                raise ApiError(FAILED_PRECONDITION, "another operation is already in progress")
            source = application["spec"]["source"]
            target = source.get("targetRevision") or "HEAD"
            revision = body.get("revision") or target
            automated = (application["spec"].get("syncPolicy") or {}).get("automated")
            if automated is not None and revision != target:
                raise ApiError(
                    FAILED_PRECONDITION,
                    f"Cannot sync to {revision}: auto-sync currently set to {target}",
                )
            operation = {
                "sync": {"revision": revision, "prune": bool(body.get("prune"))},
                "initiatedBy": {"username": "admin"},
            }
            application["operation"] = operation
            application["status"]["operationState"] = {
                "operation": operation,
                "phase": "Running",
                "message": "",
                "startedAt": _now(),
            }
            self._touch(application)
            return JSONResponse(application)
        except ApiError as error:
            return error.response()

    # Store.

    def _get(self, name: str) -> dict[str, Any]:
        found = self.applications.get(name)
        if found is None:
            raise ApiError(NOT_FOUND, f'applications.argoproj.io "{name}" not found')
        return found

    def _list(self, request: Request) -> dict[str, Any]:
        terms = [t for t in request.query_params.get("selector", "").split(",") if t]
        wanted = dict(term.split("=", 1) for term in terms)
        projects = request.query_params.getlist("projects")
        items = [
            copy.deepcopy(application)
            for application in self.applications.values()
            if all(application["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
            and (not projects or application["spec"]["project"] in projects)
        ]
        return {"metadata": {"resourceVersion": str(self._version)}, "items": items}

    def _create(self, body: Any, *, upsert: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(INVALID_ARGUMENT, "the request body must be an Application")
        metadata, spec = body.get("metadata") or {}, body.get("spec") or {}
        name = metadata.get("name")
        if not name:
            raise ApiError(INVALID_ARGUMENT, "application name is required")
        problems = []
        if spec.get("project") not in self.projects:
            problems.append(
                f"application references project {spec.get('project')} which does not exist"
            )
        if not (spec.get("source") or {}).get("repoURL"):
            problems.append(
                "spec.source.repoURL and either source.path, source.chart, or source.ref are required"
            )
        destination = spec.get("destination") or {}
        if not destination.get("server") and not destination.get("name"):
            problems.append("Destination server missing from app spec")
        if problems:
            raise ApiError(
                INVALID_ARGUMENT,
                f"application spec for {name} is invalid: InvalidSpecError: {'; '.join(problems)}",
            )
        existing = self.applications.get(name)
        if existing is not None:
            same = existing["spec"] == spec and existing["metadata"].get("labels") == metadata.get(
                "labels"
            )
            if not same and not upsert:
                raise ApiError(
                    INVALID_ARGUMENT,
                    "existing application spec is different, use upsert flag to force update",
                )
            if not same:
                existing["spec"] = copy.deepcopy(spec)
                for kept in ("labels", "annotations", "finalizers"):
                    if kept in metadata:
                        existing["metadata"][kept] = copy.deepcopy(metadata[kept])
                existing["metadata"]["generation"] += 1
                self._touch(existing)
            return existing
        application = {
            "metadata": {
                **copy.deepcopy(metadata),
                "namespace": "argocd",
                "uid": str(uuid.uuid4()),
                "generation": 1,
                "creationTimestamp": _now(),
            },
            "spec": copy.deepcopy(spec),
            "status": {
                "sync": {"status": "OutOfSync", "comparedTo": {"source": spec.get("source")}},
                "health": {"status": "Missing"},
                "resources": [],
                "summary": {},
            },
        }
        self.applications[name] = application
        self._touch(application)
        return application

    def _touch(self, application: dict[str, Any]) -> None:
        self._version += 1
        application["metadata"]["resourceVersion"] = str(self._version)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def argocd_stand_in(
    token: str, *, projects: Iterable[str] = ("default",)
) -> AsyncIterator[ArgoCDStandIn]:
    """A started stand-in on 127.0.0.1 that accepts `token`; stopped on exit."""
    stand_in = ArgoCDStandIn(token, projects)
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()
