"""An HTTP stand-in for the Kubernetes API server, good enough for the real client.

It follows the documented REST shapes
(https://kubernetes.io/docs/reference/using-api/api-concepts/): core objects
under `/api/v1/...`, the others under `/apis/<group>/<version>/...`, errors as
`kind: Status` objects with the API server's reasons and messages. Objects
live in memory, keyed by (group/version, namespace, plural, name), and get a
uid, a resourceVersion, a creationTimestamp and their namespace. Deleting an
object deletes the objects it owns (ownerReferences), as the garbage
collector would, unless the policy is Orphan (the default for Jobs, as in the
real API).

A created Job gets a Pending Pod (as the Job controller makes one); tests make
it run and end with `run_container`, `finish_job` and `fail_job`, which fill
the container logs served at `/api/v1/namespaces/{ns}/pods/{name}/log`
(`kubernetes_logs`: `follow`, `tailLines`, `timestamps`, `previous`); any
pod's log is filled with `add_pod_logs`.

Server-side apply (`PATCH` as `application/apply-patch+yaml`) needs a
`fieldManager`; it creates the object, or merges the applied configuration
into it and removes the fields the same manager applied before and no longer
does (lists are atomic, as with most fields of the built-in types). No
controller runs: tests drive a Deployment with `roll_out` and `set_status`,
add its pods (with waiting reasons) with `add_pod`, and make a pod's container
restart (`restart_container`, OOMKilled too) or lose readiness (`set_ready`). Lists of namespaced
resources across all namespaces (`/apis/apps/v1/deployments`) work.

    async with kubernetes_stand_in(token="t") as kube:
        ...  # api_url=kube.base_url, token="t"
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import copy
import hmac
import json
import re
import secrets
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

from tests.doubles.kubernetes_logs import BadLogRequest, PodLogs, main_statuses, statuses
from tests.liveserver import free_port

__all__ = ["KubernetesStandIn", "RecordedRequest", "kubernetes_stand_in"]

Key = tuple[str, str, str, str]  # (group/version, namespace or "", plural, name)

# plural -> kind, for the resources tests use; others get a kind made from the plural.
KINDS = {
    "pods": "Pod",
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "services": "Service",
    "serviceaccounts": "ServiceAccount",
    "namespaces": "Namespace",
    "events": "Event",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
    "ingresses": "Ingress",
    "roles": "Role",
    "rolebindings": "RoleBinding",
    "applications": "Application",
}
CLUSTER_SCOPED = {"namespaces", "nodes", "clusterroles", "clusterrolebindings"}
# Resources whose status is a subresource: the main endpoint ignores status.
WITH_STATUS = {
    "pods",
    "jobs",
    "cronjobs",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "services",
    "namespaces",
    "persistentvolumeclaims",
    "ingresses",
}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ApiError(Exception):
    """Answered as a `kind: Status` failure."""

    def __init__(self, code: int, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return JSONResponse(body, status_code=self.code)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in answered."""

    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    content_type: str = ""


@dataclass(frozen=True)
class _Target:
    group_version: str
    namespace: str
    plural: str
    name: str
    subresource: str

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0] if "/" in self.group_version else ""

    @property
    def all_namespaces(self) -> bool:
        """A namespaced resource named without a namespace: a list across all of them."""
        return not self.namespace and self.plural not in CLUSTER_SCOPED

    @property
    def resource(self) -> str:
        """`jobs.batch`, `secrets`: as the API server names resources in its messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def key(self, name: str | None = None) -> Key:
        return (self.group_version, self.namespace, self.plural, name or self.name)


class KubernetesStandIn:
    """In-memory Kubernetes API: objects, a Job controller's first step, pod logs."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.objects: dict[Key, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.recorded: list[RecordedRequest] = []
        self.base_url = ""
        self.pod_logs = PodLogs()
        # What each field manager applied last, per object: what a later apply may remove.
        self._applied: dict[tuple[Key, str], dict[str, Any]] = {}
        self._failures: list[tuple[str | None, ApiError]] = []
        self._version = 0
        self._services = 0
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=_METHODS)])

    # Looking at the store.

    def get(
        self, plural: str, namespace: str, name: str, group_version: str = ""
    ) -> dict[str, Any] | None:
        """A stored object (a copy), or None; `group_version` defaults from the plural."""
        found = self.objects.get((group_version or _default_gv(plural), namespace, plural, name))
        return copy.deepcopy(found) if found is not None else None

    def list(
        self, plural: str, namespace: str | None = None, group_version: str = ""
    ) -> list[dict[str, Any]]:
        """Stored objects of one resource (copies), in creation order."""
        gv = group_version or _default_gv(plural)
        return [
            copy.deepcopy(obj)
            for (g, ns, p, _), obj in self.objects.items()
            if g == gv and p == plural and (namespace is None or ns == namespace)
        ]

    @property
    def open_follows(self) -> int:
        """How many log requests with `follow` are being answered now."""
        return self.pod_logs.open_follows

    def calls(self, method: str, path_prefix: str = "") -> builtins.list[str]:
        """The paths of the requests with `method` under `path_prefix`."""
        return [p for m, p in self.requests if m == method and p.startswith(path_prefix)]

    def job_pod(self, namespace: str, job: str) -> dict[str, Any]:
        """The live pod of the Job `job` (the stand-in makes exactly one)."""
        return self._pod_of(namespace, job)

    # Making a Job's pod run and end.

    def run_container(
        self, namespace: str, job: str, container: str, logs: Iterable[str] = ()
    ) -> None:
        """Containers before `container` end with exit 0; `container` runs and logs `logs`."""
        pod = self._pod_of(namespace, job)
        for name, status in statuses(pod):
            if name == container:
                status["state"] = {"running": {"startedAt": _now()}}
                status["started"] = True
                break
            if "terminated" not in status["state"]:
                status["state"] = _terminated(0, "")
        if any(name == container for name, _ in main_statuses(pod)):
            pod["status"]["phase"] = "Running"
        self.add_logs(namespace, job, container, logs)
        self._touch(pod)

    def add_logs(self, namespace: str, job: str, container: str, lines: Iterable[str]) -> None:
        """Append output lines to a container's log (followers get them at once)."""
        pod = self._pod_of(namespace, job)
        self.pod_logs.add(namespace, pod["metadata"]["name"], container, lines)

    def add_pod_logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        lines: Iterable[str],
        *,
        previous: bool = False,
    ) -> None:
        """Append lines to the log of a container of any pod (followers get them at once);
        `previous`: to the log of the container's previous run."""
        if ("v1", namespace, "pods", pod) not in self.objects:
            raise KeyError(f"no pod {namespace}/{pod}")
        self.pod_logs.add(namespace, pod, container, lines, previous=previous)

    def finish_job(
        self,
        namespace: str,
        name: str,
        *,
        logs: Mapping[str, Iterable[str]] | None = None,
        succeed: bool = True,
        digest: str | None = None,
        exit_codes: Mapping[str, int] | None = None,
        messages: Mapping[str, str] | None = None,
    ) -> None:
        """End the Job's pod: every container exits 0 (the main one with `digest` as its
        termination message), or, with `succeed=False`, the first container with a
        non-zero code in `exit_codes` fails (default: the last one, code 1), those
        after it never start, and the Job is Failed (BackoffLimitExceeded)."""
        pod = self._pod_of(namespace, name)
        job = self._job(namespace, name)
        for container, lines in (logs or {}).items():
            self.add_logs(namespace, name, container, lines)
        pod_statuses = statuses(pod)
        codes = dict(exit_codes or {})
        if not succeed and not any(codes.values()):
            codes[pod_statuses[-1][0]] = 1
        last_main = main_statuses(pod)[-1][0]
        failed = False
        for container, status in pod_statuses:
            if failed:
                status["state"] = {"waiting": {"reason": "PodInitializing"}}
                continue
            code = codes.get(container, 0) if not succeed else 0
            message = (messages or {}).get(container, "")
            if succeed and container == last_main and digest is not None:
                message = digest
            status["state"] = _terminated(code, message)
            status["started"] = False
            status["ready"] = False
            failed = code != 0
        pod["status"]["phase"] = "Succeeded" if succeed else "Failed"
        now = _now()
        # The conditions the Job controller (1.31+) sets, in its order.
        if succeed:
            kinds = ("SuccessCriteriaMet", "Complete")
            why = ("CompletionsReached", "Reached expected number of succeeded pods")
        else:
            kinds = ("FailureTarget", "Failed")
            why = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        job["status"] = {
            "startTime": job["status"].get("startTime", now),
            "active": 0,
            "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
            **({"succeeded": 1, "completionTime": now} if succeed else {"failed": 1}),
            "conditions": [_condition(kind, *why) for kind in kinds],
        }
        self._touch(pod)
        self._touch(job)

    def fail_job(
        self,
        namespace: str,
        name: str,
        container: str,
        exit_code: int = 1,
        *,
        message: str = "",
        logs: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """End the Job with `container` failing with `exit_code` (and termination `message`)."""
        self.finish_job(
            namespace,
            name,
            logs=logs,
            succeed=False,
            exit_codes={container: exit_code},
            messages={container: message},
        )

    def fail_next(self, code: int, reason: str, message: str, *, path: str | None = None) -> None:
        """Answer the next request (after authentication) with this `kind: Status` failure;
        with `path`, the next request for that path."""
        self._failures.append((path, ApiError(code, reason, message)))

    # Driving Deployments and pods (no controllers run here).

    def set_status(
        self,
        plural: str,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        group_version: str = "",
    ) -> None:
        """Set fields of an object's status (as its controller would); others are kept."""
        obj = self.objects[(group_version or _default_gv(plural), namespace, plural, name)]
        obj["status"] = {**(obj.get("status") or {}), **copy.deepcopy(dict(status))}
        self._touch(obj)

    def roll_out(self, namespace: str, name: str, *, available: int | None = None) -> None:
        """Give the Deployment the status of a finished rollout of its current generation.

        With `available`, only that many replicas are available (the rollout is
        still going on).
        """
        deployment = self.objects[("apps/v1", namespace, "deployments", name)]
        replicas = (deployment.get("spec") or {}).get("replicas", 1)
        ready = replicas if available is None else available
        done = ready >= replicas
        self.set_status(
            "deployments",
            namespace,
            name,
            {
                "observedGeneration": deployment["metadata"].get("generation", 1),
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                **({} if done else {"unavailableReplicas": replicas - ready}),
                "conditions": [
                    _condition(
                        "Available",
                        "MinimumReplicasAvailable" if done else "MinimumReplicasUnavailable",
                        "Deployment has minimum availability."
                        if done
                        else "Deployment does not have minimum availability.",
                        status="True" if done else "False",
                    ),
                    _condition(
                        "Progressing",
                        "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                        f'ReplicaSet "{name}-7d9f8c6b5" has '
                        + ("successfully progressed." if done else "is progressing."),
                    ),
                ],
            },
        )

    def add_pod(
        self,
        namespace: str,
        name: str,
        labels: Mapping[str, str],
        *,
        waiting: str | None = None,
        message: str = "",
        container: str = "app",
        init: bool = False,
    ) -> dict[str, Any]:
        """Add a pod (as a ReplicaSet would) whose container runs, or waits with `waiting`.

        `init` puts the container among the init containers.
        """
        state: dict[str, Any] = {"running": {"startedAt": _now()}}
        if waiting is not None:
            state = {"waiting": {"reason": waiting, **({"message": message} if message else {})}}
        status = {
            "name": container,
            "image": "registry.example/app@sha256:" + "0" * 64,
            "imageID": "",
            "ready": waiting is None,
            "restartCount": 3 if waiting == "CrashLoopBackOff" else 0,
            "started": waiting is None,
            "state": state,
        }
        pod = {
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"containers": [{"name": container, "image": status["image"]}]},
        }
        created = self._create(_Target("v1", namespace, "pods", "", ""), pod)
        created["status"] = {
            "phase": "Running" if waiting is None else "Pending",
            "initContainerStatuses" if init else "containerStatuses": [status],
            "startTime": _now(),
        }
        return copy.deepcopy(created)

    def restart_container(
        self, namespace: str, pod: str, *, exit_code: int = 1, reason: str = "Error"
    ) -> None:
        """The pod's container ended (`reason` "OOMKilled" for the kernel's memory kill)
        and the kubelet started it again: `restartCount` up, the end in `lastState`."""
        status = self._container_status(namespace, pod)
        ended = _terminated(exit_code, "")
        ended["terminated"]["reason"] = reason
        status["lastState"] = ended
        status["restartCount"] = int(status.get("restartCount") or 0) + 1
        status["state"] = {"running": {"startedAt": _now()}}

    def set_ready(self, namespace: str, pod: str, ready: bool) -> None:
        """The pod's container passes (or fails) its readiness probe."""
        self._container_status(namespace, pod)["ready"] = ready

    def _container_status(self, namespace: str, pod: str) -> dict[str, Any]:
        found = self.objects[("v1", namespace, "pods", pod)]
        self._touch(found)
        status: dict[str, Any] = found["status"]["containerStatuses"][0]
        return status

    # Lifecycle.

    async def start(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self.pod_logs.stopping = False
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving (the API server is down from now on); idempotent."""
        self.pod_logs.stopping = True  # ends the log streams being followed
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
            self._server = self._serving = None

    # HTTP.

    async def _endpoint(self, request: Request) -> Response:
        path = request.url.path
        body = await self._body(request)
        self.requests.append((request.method, path))
        self.recorded.append(
            RecordedRequest(
                request.method,
                path,
                dict(request.query_params),
                body,
                request.headers.get("content-type", "").split(";")[0],
            )
        )
        if self.token is not None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.encode(), self.token.encode()
            ):
                return ApiError(401, "Unauthorized", "Unauthorized").response()
        try:
            failure = next((f for f in self._failures if f[0] in {None, path}), None)
            if failure is not None:
                self._failures.remove(failure)
                raise failure[1]
            if path == "/version":
                return JSONResponse({"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
            target = _parse(path)
            return await self._dispatch(request, target, body)
        except ApiError as error:
            return error.response()

    async def _dispatch(self, request: Request, target: _Target, body: Any) -> Response:
        method, sub = request.method, target.subresource
        if sub == "log" and target.plural == "pods" and method == "GET":
            return self._log(request, target)
        if sub not in {"", "status"}:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if target.all_namespaces and method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{method} needs a namespace here")
        if not target.name:
            if method == "GET":
                return self._list(request, target)
            if method == "POST":
                return JSONResponse(self._create(target, _object(body)), status_code=201)
            if method == "DELETE":
                raise ApiError(405, "MethodNotAllowed", "deletecollection is not supported here")
        elif method == "GET":
            return JSONResponse(self._stored(target))
        elif method == "PUT":
            return JSONResponse(self._replace(target, _object(body)))
        elif method == "PATCH":
            content_type = request.headers.get("content-type", "").split(";")[0]
            return JSONResponse(self._patch(target, _object(body), content_type, request))
        elif method == "DELETE" and not sub:
            return JSONResponse(self._delete(target, request, body))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    @staticmethod
    async def _body(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "BadRequest", "the request body is not JSON") from None

    # Store operations.

    def _stored(self, target: _Target) -> dict[str, Any]:
        found = self.objects.get(target.key())
        if found is None:
            raise ApiError(
                404,
                "NotFound",
                f'{target.resource} "{target.name}" not found',
                name=target.name,
                group=target.group,
                kind=target.plural,
            )
        return found

    def _list(self, request: Request, target: _Target) -> Response:
        if request.query_params.get("watch") in {"true", "1"}:
            raise ApiError(400, "BadRequest", "watch is not supported by the stand-in")
        selector = _label_selector(request.query_params.get("labelSelector", ""))
        fields = _field_selector(request.query_params.get("fieldSelector", ""))
        items = []
        for (gv, ns, plural, _), obj in self.objects.items():
            if gv != target.group_version or plural != target.plural:
                continue
            if target.namespace and ns != target.namespace:
                continue
            labels = obj["metadata"].get("labels") or {}
            if _labels_match(labels, selector) and _fields_match(obj, fields):
                item = copy.deepcopy(obj)
                item.pop("kind", None)
                item.pop("apiVersion", None)
                items.append(item)
        kind = KINDS.get(target.plural) or _kind(target.plural)
        return JSONResponse(
            {
                "kind": f"{kind}List",
                "apiVersion": target.group_version,
                "metadata": {"resourceVersion": str(self._version)},
                "items": items,
            }
        )

    def _create(self, target: _Target, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj.setdefault("metadata", {})
        if target.namespace and metadata.get("namespace", target.namespace) != target.namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
        name = metadata.get("name", "")
        kind = obj.get("kind") or KINDS.get(target.plural) or _kind(target.plural)
        if not name or len(name) > 253 or not _NAME.match(name):
            raise ApiError(
                422,
                "Invalid",
                f'{kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": '
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.'",
            )
        key = target.key(name)
        if key in self.objects:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{target.resource} "{name}" already exists',
                name=name,
                group=target.group,
                kind=target.plural,
            )
        _check(target, kind, obj)
        obj["kind"], obj["apiVersion"] = kind, target.group_version
        metadata.update(
            uid=str(uuid.uuid4()),
            creationTimestamp=_now(),
            generation=1,
        )
        if target.namespace:
            metadata["namespace"] = target.namespace
        metadata.pop("resourceVersion", None)
        if target.plural in WITH_STATUS:
            obj["status"] = {}
        if target.plural == "services":
            self._allocate_cluster_ip(obj)
        self.objects[key] = obj
        self._touch(obj)
        if target.plural == "jobs" and target.group_version == "batch/v1":
            self._run_job(obj)
        return obj

    def _allocate_cluster_ip(self, service: dict[str, Any]) -> None:
        """The API server's defaults for a Service: ClusterIP, with an address of its range."""
        spec = service.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec.get("clusterIP") is None:
            self._services += 1
            spec["clusterIP"] = f"10.96.{self._services // 250}.{self._services % 250 + 1}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])

    def _replace(self, target: _Target, obj: dict[str, Any]) -> dict[str, Any]:
        current = self._stored(target)
        metadata = obj.setdefault("metadata", {})
        if metadata.get("name") != target.name:
            raise ApiError(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        version = metadata.get("resourceVersion")
        if version and version != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {target.resource} "{target.name}": the object '
                "has been modified; please apply your changes to the latest version and try again",
                name=target.name,
                group=target.group,
                kind=target.plural,
            )
        if target.subresource == "status":
            updated = copy.deepcopy(current)
            updated["status"] = obj.get("status", {})
        else:
            _check(target, current["kind"], obj)
            updated = obj
            updated["kind"], updated["apiVersion"] = current["kind"], current["apiVersion"]
            for kept in ("uid", "creationTimestamp", "namespace", "generation"):
                if kept in current["metadata"]:
                    metadata[kept] = current["metadata"][kept]
            if "status" in current:
                updated["status"] = current["status"]
            if updated.get("spec") != current.get("spec"):
                metadata["generation"] = current["metadata"].get("generation", 1) + 1
        self.objects[target.key()] = updated
        self._touch(updated)
        return updated

    def _patch(
        self, target: _Target, patch: dict[str, Any], content_type: str, request: Request
    ) -> dict[str, Any]:
        """Merge patches (strategic ones approximated as JSON merge patches) and server-side apply."""
        if content_type == "application/apply-patch+yaml":
            return self._apply(target, patch, request.query_params.get("fieldManager", ""))
        if content_type not in {
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        }:
            raise ApiError(
                415, "UnsupportedMediaType", f"the stand-in does not support {content_type}"
            )
        current = copy.deepcopy(self._stored(target))
        merged = _merge(current, patch)
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if target.subresource != "status" and "status" in current:
            merged["status"] = current["status"]
        return self._replace(target, merged)

    def _apply(self, target: _Target, applied: dict[str, Any], manager: str) -> dict[str, Any]:
        """Server-side apply for one field manager at a time (no conflicts between managers)."""
        if not manager:
            raise ApiError(
                400,
                "BadRequest",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        kind = KINDS.get(target.plural) or _kind(target.plural)
        if applied.get("apiVersion") != target.group_version or applied.get("kind") != kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the apiVersion and kind of the applied object must be {target.group_version} "
                f"and {kind} here",
            )
        if (applied.get("metadata") or {}).get("name") != target.name:
            raise ApiError(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        key = target.key()
        before = self._applied.get((key, manager))
        self._applied[(key, manager)] = copy.deepcopy(applied)
        if key not in self.objects:
            return self._create(target, copy.deepcopy(applied))
        current = copy.deepcopy(self._stored(target))
        if before is not None:
            _drop_unapplied(current, before, applied)
        merged = _merge(current, applied)
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if "status" in current:
            merged["status"] = current["status"]
        return self._replace(target, merged)

    def _delete(self, target: _Target, request: Request, body: Any) -> dict[str, Any]:
        current = self._stored(target)
        options = body if isinstance(body, dict) else {}
        wanted_uid = (options.get("preconditions") or {}).get("uid")
        if wanted_uid and wanted_uid != current["metadata"]["uid"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {target.resource} "{target.name}": '
                f"Precondition failed: UID in precondition: {wanted_uid}, "
                f"UID in object meta: {current['metadata']['uid']}",
                name=target.name,
                group=target.group,
                kind=target.plural,
            )
        policy = request.query_params.get("propagationPolicy") or options.get("propagationPolicy")
        if policy is None:
            # batch/v1 Jobs orphan their pods unless told otherwise, for compatibility.
            policy = "Orphan" if target.plural == "jobs" else "Background"
        self._remove(target.key(), cascade=policy != "Orphan")
        if target.plural == "pods":
            # A pod's DELETE answers with the pod, marked for deletion (gone here at once).
            deleted = copy.deepcopy(current)
            deleted["metadata"]["deletionTimestamp"] = _now()
            deleted["metadata"]["deletionGracePeriodSeconds"] = 30
            return deleted
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": target.name,
                "group": target.group,
                "kind": target.plural,
                "uid": current["metadata"]["uid"],
            },
        }

    def _remove(self, key: Key, *, cascade: bool) -> None:
        removed = self.objects.pop(key)
        for applied in [k for k in self._applied if k[0] == key]:
            del self._applied[applied]
        if key[2] == "pods":
            self.pod_logs.forget(key[1], key[3])
        if not cascade:
            return
        uid = removed["metadata"]["uid"]
        owned = [
            other
            for other, obj in self.objects.items()
            if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
        ]
        for other in owned:
            if other in self.objects:
                self._remove(other, cascade=True)

    def _touch(self, obj: dict[str, Any]) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)

    # The Job controller's part.

    def _run_job(self, job: dict[str, Any]) -> None:
        metadata, spec = job["metadata"], job.setdefault("spec", {})
        name, namespace, uid = metadata["name"], metadata["namespace"], metadata["uid"]
        controller_labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        # The API server's defaults for a Job.
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        template = spec.setdefault("template", {})
        template_meta = template.setdefault("metadata", {})
        template_meta["labels"] = {**(template_meta.get("labels") or {}), **controller_labels}
        job["status"] = {"active": 1, "startTime": _now(), "ready": 0, "terminating": 0}
        pod_spec = copy.deepcopy(template.get("spec") or {})

        def waiting(container: dict[str, Any]) -> dict[str, Any]:
            return {
                "name": container["name"],
                "image": container.get("image", ""),
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": {"reason": "PodInitializing"}},
            }

        pod = {
            "metadata": {
                "name": f"{name}-{secrets.token_hex(3)[:5]}",
                "labels": copy.deepcopy(template_meta["labels"]),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": name,
                        "uid": uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {**pod_spec, "nodeName": "stand-in-node"},
        }
        target = _Target("v1", namespace, "pods", "", "")
        created = self._create(target, pod)
        created["status"] = {
            "phase": "Pending",
            "initContainerStatuses": [waiting(c) for c in pod_spec.get("initContainers") or []],
            "containerStatuses": [waiting(c) for c in pod_spec.get("containers") or []],
            "startTime": _now(),
        }

    def _job(self, namespace: str, name: str) -> dict[str, Any]:
        job = self.objects.get(("batch/v1", namespace, "jobs", name))
        if job is None:
            raise KeyError(f"no Job {namespace}/{name}")
        return job

    def _pod_of(self, namespace: str, job: str) -> dict[str, Any]:
        uid = self._job(namespace, job)["metadata"]["uid"]
        for (gv, ns, plural, _), obj in self.objects.items():
            if (gv, ns, plural) == ("v1", namespace, "pods") and any(
                ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []
            ):
                return obj
        raise KeyError(f"no pod for the Job {namespace}/{job}")

    # Logs.

    def _log(self, request: Request, target: _Target) -> Response:
        pod = self._stored(target)
        try:
            return self.pod_logs.response(
                request.query_params, target.namespace, pod, lambda: self.objects.get(target.key())
            )
        except BadLogRequest as error:
            raise ApiError(400, "BadRequest", str(error)) from None


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _parse(path: str) -> _Target:
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group_version, rest = "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    if not rest:
        raise ApiError(404, "NotFound", "discovery is not supported by the stand-in")
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in {"status", "finalize"}:
        namespace, rest = rest[1], rest[2:]
    else:
        namespace = ""
        if rest[0] not in CLUSTER_SCOPED and len(rest) > 1:
            raise ApiError(404, "NotFound", f"{rest[0]} are namespaced here")
    plural, name, subresource = ([*rest, "", ""])[:3]
    if len(rest) > 3:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return _Target(group_version, namespace, plural, name, subresource)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be an object")
    return body


def _check(target: _Target, kind: str, obj: dict[str, Any]) -> None:
    """The few validations of the real API server that plugins could trip over."""
    if target.plural != "secrets":
        return
    data = obj.get("data") or {}
    for key, value in data.items():
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            raise ApiError(
                422,
                "Invalid",
                f'Secret "{obj["metadata"].get("name")}" is invalid: data[{key}]: Invalid value: <secret contents redacted>: illegal base64 data',
            ) from None
    for key, value in (obj.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    obj["data"] = data
    if obj.get("type") == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
        raise ApiError(
            422,
            "Invalid",
            f'Secret "{obj["metadata"].get("name")}" is invalid: data[.dockerconfigjson]: Required value',
        )
    obj.setdefault("type", "Opaque")


def _label_selector(text: str) -> list[tuple[str, str, str]]:
    """Equality and existence terms as (operator, key, value)."""
    terms = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        if " in " in term or " notin " in term or "(" in term:
            raise ApiError(400, "BadRequest", "set-based selectors are not supported here")
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append(("!=", key.strip(), value.strip()))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            terms.append(("=", key.strip(), value.strip()))
        elif term.startswith("!"):
            terms.append(("!", term[1:].strip(), ""))
        else:
            terms.append(("exists", term, ""))
    return terms


def _labels_match(labels: Mapping[str, str], terms: list[tuple[str, str, str]]) -> bool:
    for operator, key, value in terms:
        matched = {
            "=": labels.get(key) == value,
            "!=": labels.get(key) != value,
            "!": key not in labels,
            "exists": key in labels,
        }[operator]
        if not matched:
            return False
    return True


def _field_selector(text: str) -> list[tuple[str, str, str]]:
    """`metadata.name=x`-style terms as (section, field, value)."""
    terms = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        key, _, value = term.replace("==", "=").partition("=")
        if key not in {"metadata.name", "metadata.namespace", "status.phase"}:
            raise ApiError(400, "BadRequest", f"field label not supported: {key}")
        section, field = key.split(".")
        terms.append((section, field, value))
    return terms


def _fields_match(obj: Mapping[str, Any], terms: list[tuple[str, str, str]]) -> bool:
    return all((obj.get(section) or {}).get(field) == value for section, field, value in terms)


def _merge(current: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(current) if isinstance(current, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _drop_unapplied(
    current: dict[str, Any], before: Mapping[str, Any], now: Mapping[str, Any]
) -> None:
    """Remove from `current` the fields applied `before` that the manager no longer applies."""
    for key, value in before.items():
        if key not in now:
            if key not in {"apiVersion", "kind", "status"}:
                current.pop(key, None)
        elif isinstance(value, dict) and isinstance(now[key], dict):
            inner = current.get(key)
            if isinstance(inner, dict):
                _drop_unapplied(inner, value, now[key])


def _terminated(code: int, message: str) -> dict[str, Any]:
    now = _now()
    terminated: dict[str, Any] = {
        "exitCode": code,
        "reason": "Completed" if code == 0 else "Error",
        "startedAt": now,
        "finishedAt": now,
        "containerID": f"containerd://{secrets.token_hex(32)}",
    }
    if message:
        terminated["message"] = message
    return {"terminated": terminated}


def _condition(kind: str, reason: str, message: str, status: str = "True") -> dict[str, Any]:
    now = _now()
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }


def _default_gv(plural: str) -> str:
    return {
        "jobs": "batch/v1",
        "cronjobs": "batch/v1",
        "deployments": "apps/v1",
        "statefulsets": "apps/v1",
        "daemonsets": "apps/v1",
        "replicasets": "apps/v1",
        "applications": "argoproj.io/v1alpha1",
    }.get(plural, "v1")


def _kind(plural: str) -> str:
    singular = plural[:-3] + "y" if plural.endswith("ies") else plural.removesuffix("s")
    return singular[:1].upper() + singular[1:]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def kubernetes_stand_in(token: str | None = None) -> AsyncIterator[KubernetesStandIn]:
    """A started stand-in on 127.0.0.1 (requiring `token` as a bearer token when given)."""
    stand_in = KubernetesStandIn(token)
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()
