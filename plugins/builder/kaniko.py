"""Image builds as Kubernetes Jobs: kaniko (or buildah) in the cluster.

Each build is one Job named after the build id, with two init containers that
fetch the platform repo (the Dockerfile) and the source, and a build container
that builds and pushes the image and leaves the digest as its termination
message. The official `kubernetes` client blocks, so every call runs in a
worker thread (`anyio.to_thread`); log streams get their own thread limiter so
they never starve the server's other blocking calls.

The service account home-idp runs as needs namespaces (create: a project's
first build comes before its first sync) and, in each build namespace: jobs
(create, get, delete), pods (list, get), pods/log (get) and secrets (create,
get, update, delete).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any, TypeVar

import anyio
from kubernetes import client as k8s

from home_idp.plugins.builder import kaniko_manifests as manifests
from home_idp.plugins.builder.contract import BuilderConfig, BuildError, BuildRequest, BuildResult
from home_idp.plugins.support.kube_api import KubeApi, KubeErrors
from home_idp.plugins.support.kube_config import KubeOptions, client_configuration
from home_idp.plugins.support.kube_logs import MAX_STREAMS, OpenLogStreams, StreamEnd, StreamLimiter
from home_idp.plugins.support.options import Between

__all__ = ["KanikoBuild", "KanikoBuilder"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Signs, in a failed container's last output, that the infrastructure (a git
# server or a registry) was away rather than the Dockerfile or source wrong.
_TRANSIENT = re.compile(
    r"could not resolve host|connection refused|connection reset|timed? ?out|"
    r"temporary failure|no route to host|unexpected eof|too many requests|"
    r"\b50[234]\b|\b429\b",
    re.IGNORECASE,
)
# How long result() waits beyond activeDeadlineSeconds for the Job controller.
_DEADLINE_SLACK = 120.0


class _Unavailable(BuildError):
    """The API server could not be reached or answered 5xx/429: worth retrying."""


class _NotFound(BuildError):
    pass


class _Conflict(BuildError):
    pass


_WHO = "the kaniko builder"
_ERRORS = KubeErrors(BuildError, _Unavailable, _NotFound, _Conflict)


class KanikoOptions(KubeOptions, manifests.JobSettings):
    """The kaniko builder's options: the API server, the Job's shape and the timing."""

    poll_interval: Annotated[float, Between(0.01, 60)] = 2.0
    request_timeout: Annotated[float, Between(0.1, 600)] = 30.0
    unavailable_timeout: Annotated[float, Between(0, 3600)] = 120.0
    delete_timeout: Annotated[float, Between(0.1, 600)] = 60.0


class _Away:
    """How long the API server has been unreachable, to give up after `limit` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.since: float | None = None

    def back(self) -> None:
        self.since = None

    def too_long(self) -> bool:
        now = time.monotonic()
        self.since = self.since or now
        return now - self.since >= self.limit


class _Api(KubeApi):
    """The API client with the typed APIs the builds use and the options' timing."""

    def __init__(self, options: KanikoOptions) -> None:
        configuration, secrets = client_configuration(options, _WHO, BuildError)
        timeouts = min(10.0, options.request_timeout), options.request_timeout
        super().__init__(configuration, _ERRORS, timeouts, secrets)
        self.batch = k8s.BatchV1Api(self.client)
        self.core = k8s.CoreV1Api(self.client)
        self.timing = options
        self.stream_limiter = StreamLimiter(MAX_STREAMS)


class KanikoBuilder:
    """Builds images in Kubernetes Jobs: kaniko by default, buildah as the alternative.

    Options (`config.options`, all strings): the API server as `api_url` +
    `token` (+ `ca_file`, `verify_tls`), or a `kubeconfig` path, or nothing for
    the in-cluster service account. `executor` (kaniko | buildah),
    `executor_image`, `git_image`, `buildah_image`, `ttl_seconds` (3600),
    `active_deadline_seconds` (1800), `service_account`, the build
    container's `cpu_request`/`cpu_limit`/`memory_request`/`memory_limit`,
    `workspace_size`, `cache` (kaniko's layer cache in the app's
    `<registry>/<project>/<app>/cache` repository; default on) and
    `cache_ttl_hours` (168); and timing: `poll_interval` (2 s), `request_timeout`
    (30 s), `unavailable_timeout` (how long the API may be away before a
    build is given up as retryable, 120 s), `delete_timeout` (60 s).
    """

    def __init__(self, config: BuilderConfig) -> None:
        options = KanikoOptions.read(config.options, _WHO, BuildError)
        self._settings = options
        self._api = _Api(options)
        self._server = self._api.client.configuration.host
        self._builds: set[KanikoBuild] = set()

    def __repr__(self) -> str:
        return f"KanikoBuilder(server={self._server!r}, executor={self._settings.executor!r})"

    @property
    def on_this_machine(self) -> bool:
        """False: builds run in the cluster, so sources must be reachable from there."""
        return False

    async def start(self, request: BuildRequest) -> KanikoBuild:
        """Create the build's Secrets and Job, replacing what an earlier start left.

        Raises BuildError (nothing created) for a bad name, path or URL, and
        when the API refuses or cannot be reached.
        """
        manifests.check_request(request)
        job = manifests.job(request, self._settings)
        secrets = (manifests.registry_secret(request), manifests.git_secret(request))
        extra = _request_secrets(request)
        namespace, name = request.namespace, request.build_id
        logger.info("starting build Job %s/%s (%s)", namespace, name, self._settings.executor)
        # A project's first build comes before its first sync, which applies the namespace.
        await self._ensure_namespace(namespace, extra)
        # An interrupted earlier attempt is removed first, so this one starts clean.
        await _remove(self._api, namespace, name, wait=True)
        try:
            created = [await self._put_secret(namespace, doc, extra) for doc in secrets]
            created_job = await self._api.call(
                f"creating the Job {namespace}/{name}",
                lambda: self._api.batch.create_namespaced_job(
                    namespace, _model(k8s.V1Job, job), _request_timeout=self._api.timeouts
                ),
                extra,
            )
            job_uid = _uid(created_job.metadata)
            for secret in created:
                await self._own(secret, name, job_uid, extra)
        except BuildError:
            try:
                await _remove(self._api, namespace, name, wait=False)
            except BuildError:
                logger.warning("could not clean up after a failed start of %s/%s", namespace, name)
            raise
        build = KanikoBuild(
            self._api,
            namespace,
            name,
            job_uid,
            {_name(s.metadata): _uid(s.metadata) for s in created},
            extra,
            self._settings.active_deadline_seconds,
            self._builds.discard,
        )
        self._builds.add(build)
        return build

    async def aclose(self) -> None:
        """Cancel the builds still running, then close the API connections."""
        for build in list(self._builds):
            try:
                await build.cancel()
            except BuildError as error:
                logger.warning("could not cancel a build at shutdown: %s", error)
        await self._api.aclose()

    async def _ensure_namespace(self, namespace: str, extra: tuple[str, ...]) -> None:
        """Create the project's namespace unless it exists (create only: no read needed)."""
        body = k8s.V1Namespace(
            metadata=k8s.V1ObjectMeta(
                name=namespace, labels={"app.kubernetes.io/managed-by": manifests.MANAGED_BY}
            )
        )
        core, timeouts = self._api.core, self._api.timeouts
        with contextlib.suppress(_Conflict):  # it exists
            await self._api.call(
                f"creating the namespace {namespace}",
                lambda: core.create_namespace(body, _request_timeout=timeouts),
                extra,
            )

    async def _put_secret(
        self, namespace: str, doc: dict[str, Any], extra: tuple[str, ...]
    ) -> k8s.V1Secret:
        name = doc["metadata"]["name"]
        core, timeouts = self._api.core, self._api.timeouts
        try:
            return await self._api.call(
                f"creating the Secret {namespace}/{name}",
                lambda: core.create_namespaced_secret(
                    namespace, _model(k8s.V1Secret, doc), _request_timeout=timeouts
                ),
                extra,
            )
        except _Conflict:
            pass
        # Created meanwhile (by a concurrent start): replace it with this build's.
        current = await self._api.call(
            f"reading the Secret {namespace}/{name}",
            lambda: core.read_namespaced_secret(name, namespace, _request_timeout=timeouts),
            extra,
        )
        body = _model(k8s.V1Secret, doc)
        assert body.metadata is not None
        assert current.metadata is not None
        body.metadata.resource_version = current.metadata.resource_version
        return await self._api.call(
            f"replacing the Secret {namespace}/{name}",
            lambda: core.replace_namespaced_secret(
                name, namespace, body, _request_timeout=timeouts
            ),
            extra,
        )

    async def _own(
        self, secret: k8s.V1Secret, job_name: str, job_uid: str, extra: tuple[str, ...]
    ) -> None:
        """Make the Job own the Secret, so the garbage collector removes it with the Job."""
        metadata = secret.metadata
        assert metadata is not None
        metadata.owner_references = [
            k8s.V1OwnerReference(api_version="batch/v1", kind="Job", name=job_name, uid=job_uid)
        ]
        namespace, name = metadata.namespace or "", _name(metadata)
        try:
            await self._api.call(
                f"setting the owner of the Secret {namespace}/{name}",
                lambda: self._api.core.replace_namespaced_secret(
                    name, namespace, secret, _request_timeout=self._api.timeouts
                ),
                extra,
            )
        except BuildError as error:
            # Not fatal: the build deletes its Secrets itself once it ends.
            logger.warning("%s", error)


class KanikoBuild:
    """One build Job in progress, as `KanikoBuilder.start` returns it."""

    def __init__(
        self,
        api: _Api,
        namespace: str,
        name: str,
        job_uid: str,
        secrets: Mapping[str, str],
        masked: tuple[str, ...],
        active_deadline_seconds: int,
        forget: Callable[[KanikoBuild], None],
    ) -> None:
        self.namespace, self.name, self.job_uid = namespace, name, job_uid
        self._api = api
        self._secrets = dict(secrets)  # name -> uid
        self._masked = masked
        self._deadline = time.monotonic() + active_deadline_seconds + _DEADLINE_SLACK
        self._forget = forget
        self._cancelled = False
        self._result: BuildResult | None = None
        self._result_lock = asyncio.Lock()
        self._streams = OpenLogStreams()

    def __repr__(self) -> str:
        return f"KanikoBuild({self.namespace}/{self.name})"

    async def log_lines(self) -> AsyncIterator[str]:
        """The init containers' output, then the build's, line by line; ends with the build.

        A line `==> <container>` comes before each container's output.
        Passwords and tokens are masked.
        """
        pod = await self._wait_for_pod()
        if pod is None:
            return
        for container in manifests.CONTAINER_ORDER:
            if not await self._wait_started(pod, container):
                continue
            yield f"==> {container}"
            async for line in self._follow(pod, container):
                yield self._api.mask(line, self._masked)

    async def result(self) -> BuildResult:
        """Wait for the Job to end: the digest on success, which container failed otherwise.

        The Kubernetes API away for longer than `unavailable_timeout` gives a
        retryable failure; it never waits past the Job's deadline (plus slack).
        """
        async with self._result_lock:
            if self._result is None:
                self._result = await self._watch()
                self._forget(self)
                if not self._cancelled:
                    await self._delete_secrets()
            return self._result

    async def cancel(self) -> None:
        """Delete the Job (its pod with it) and its Secrets; idempotent.

        Only this start's objects are deleted (uid preconditions), never those
        of a later start with the same build id.
        """
        self._cancelled = True
        self._streams.close()
        self._forget(self)
        await _delete(
            self._api, "Job", self.namespace, self.name, uid=self.job_uid, propagation="Background"
        )
        await self._delete_secrets(strict=True)

    # Watching.

    async def _watch(self) -> BuildResult:
        timing = self._api.timing
        away = _Away(timing.unavailable_timeout)
        while True:
            if self._cancelled:
                return BuildResult(None, "the build was cancelled")
            try:
                job = await self._read_job()
            except _NotFound:
                if self._cancelled:
                    return BuildResult(None, "the build was cancelled")
                return BuildResult(
                    None, f"the Job {self.namespace}/{self.name} was deleted", retryable=True
                )
            except _Unavailable as error:
                if away.too_long():
                    return BuildResult(None, str(error), retryable=True)
            else:
                away.back()
                if _uid(job.metadata) != self.job_uid:
                    return BuildResult(None, "the build was replaced by a newer start")
                outcome = _outcome(job)
                if outcome is not None:
                    return await self._conclude(outcome, job)
            if time.monotonic() > self._deadline:
                return BuildResult(
                    None, "the Job reported no outcome within its deadline", retryable=True
                )
            await anyio.sleep(timing.poll_interval)

    async def _conclude(self, outcome: str, job: k8s.V1Job) -> BuildResult:
        try:
            pod = await self._find_pod()
        except _Unavailable:
            pod = None
        if outcome == "complete":
            terminated = _terminated(pod, manifests.BUILD_CONTAINER)
            digest = (terminated.message or "").strip() if terminated is not None else ""
            if _DIGEST.match(digest):
                logger.info("build Job %s/%s pushed %s", self.namespace, self.name, digest)
                return BuildResult(digest)
            return BuildResult(
                None, "the build finished but reported no image digest", retryable=pod is None
            )
        reason, retryable = _failure(pod, job)
        return BuildResult(None, self._api.mask(reason, self._masked), retryable=retryable)

    async def _read_job(self) -> k8s.V1Job:
        return await self._api.call(
            f"reading the Job {self.namespace}/{self.name}",
            lambda: self._api.batch.read_namespaced_job(
                self.name, self.namespace, _request_timeout=self._api.timeouts
            ),
        )

    async def _find_pod(self) -> k8s.V1Pod | None:
        pods = await self._api.call(
            f"listing the pods of the Job {self.namespace}/{self.name}",
            lambda: self._api.core.list_namespaced_pod(
                self.namespace,
                label_selector=f"job-name={self.name}",
                _request_timeout=self._api.timeouts,
            ),
        )
        # The label alone could match a pod of an earlier Job with this name.
        mine = [
            pod
            for pod in pods.items
            if pod.metadata is not None
            and any(ref.uid == self.job_uid for ref in pod.metadata.owner_references or [])
        ]
        return mine[-1] if mine else None

    async def _wait_for_pod(self) -> str | None:
        """The pod's name once it exists; None when the build ends without one."""
        away = _Away(self._api.timing.unavailable_timeout)
        while not self._cancelled and time.monotonic() < self._deadline:
            try:
                pod = await self._find_pod()
                if pod is not None:
                    return _name(pod.metadata)
                job = await self._read_job()
                away.back()
                if _uid(job.metadata) != self.job_uid or _outcome(job) is not None:
                    return None
            except _NotFound:
                return None
            except _Unavailable:
                if away.too_long():
                    return None
            await anyio.sleep(self._api.timing.poll_interval)
        return None

    async def _wait_started(self, pod_name: str, container: str) -> bool:
        """Whether the container runs or ran; False when it never will."""
        away = _Away(self._api.timing.unavailable_timeout)
        while not self._cancelled and time.monotonic() < self._deadline:
            try:
                pod = await self._api.call(
                    f"reading the pod {self.namespace}/{pod_name}",
                    lambda: self._api.core.read_namespaced_pod(
                        pod_name, self.namespace, _request_timeout=self._api.timeouts
                    ),
                )
            except _NotFound:
                return False
            except _Unavailable:
                if away.too_long():
                    return False
            else:
                away.back()
                state = _state(pod, container)
                if state is not None and (state.running or state.terminated):
                    return True
                if pod.status is not None and pod.status.phase in {"Succeeded", "Failed"}:
                    return False
            await anyio.sleep(self._api.timing.poll_interval)
        return False

    async def _follow(self, pod_name: str, container: str) -> AsyncIterator[str]:
        """The container's log, read in a thread as it is written, until the stream ends."""
        api = self._api
        async with self._streams.opened(api.stream_limiter.get()) as streams:
            streams.start(
                container,
                lambda: api.core.read_namespaced_pod_log(
                    pod_name,
                    self.namespace,
                    container=container,
                    follow=True,
                    _preload_content=False,
                    # A quiet build (a long push) is no reason to drop the stream.
                    _request_timeout=(api.timeouts[0], 3600),
                ),
            )
            while (item := await streams.get()) is not None:
                if isinstance(item, StreamEnd):
                    if item.error is not None and not self._cancelled:
                        logger.warning(
                            "could not read the log of %s in %s/%s (%s)",
                            container,
                            self.namespace,
                            pod_name,
                            type(item.error).__name__,
                        )
                    return
                yield item[1]

    async def _delete_secrets(self, *, strict: bool = False) -> None:
        for name, uid in self._secrets.items():
            try:
                await _delete(self._api, "Secret", self.namespace, name, uid=uid)
            except BuildError as error:
                if strict:
                    raise
                # The Job owns them: the garbage collector removes them with it.
                logger.warning("%s", error)


# Removing a build's objects.


async def _remove(api: _Api, namespace: str, name: str, *, wait: bool) -> None:
    """Delete the Job `name` and its Secrets, whoever made them; `wait` until the Job is gone."""
    timeouts = api.timeouts
    # Foreground: the old pod is gone before the Job, so two builds never
    # push the same tag at once.
    existed = await _delete(api, "Job", namespace, name, propagation="Foreground")
    for secret in manifests.secret_names(name):
        await _delete(api, "Secret", namespace, secret)
    if not (wait and existed):
        return
    logger.info("replacing the earlier Job %s/%s", namespace, name)
    deadline = time.monotonic() + api.timing.delete_timeout
    while time.monotonic() < deadline:
        try:
            await api.call(
                f"reading the Job {namespace}/{name}",
                lambda: api.batch.read_namespaced_job(name, namespace, _request_timeout=timeouts),
            )
        except _NotFound:
            return
        await anyio.sleep(api.timing.poll_interval)
    raise BuildError(f"the earlier Job {namespace}/{name} is still being deleted; try again later")


async def _delete(
    api: _Api,
    kind: str,
    namespace: str,
    name: str,
    *,
    uid: str | None = None,
    propagation: str | None = None,
) -> bool:
    """Delete a Job or a Secret; False when it was not there (or, with `uid`, is another one)."""
    options = k8s.V1DeleteOptions(
        preconditions=k8s.V1Preconditions(uid=uid) if uid is not None else None
    )
    timeouts = api.timeouts

    def delete() -> object:
        if kind == "Job":
            return api.batch.delete_namespaced_job(
                name,
                namespace,
                propagation_policy=propagation,
                body=options,
                _request_timeout=timeouts,
            )
        return api.core.delete_namespaced_secret(
            name, namespace, body=options, _request_timeout=timeouts
        )

    try:
        await api.call(f"deleting the {kind} {namespace}/{name}", delete)
    except (_NotFound, _Conflict):
        return False
    return True


# Reading Job and pod status.


def _outcome(job: k8s.V1Job) -> str | None:
    status = job.status
    if status is None:
        return None
    for condition in status.conditions or []:
        if condition.status == "True" and condition.type in {"Complete", "Failed"}:
            return "complete" if condition.type == "Complete" else "failed"
    # backoffLimit 0: one pod, so its count settles the Job even before the condition.
    if status.succeeded:
        return "complete"
    if status.failed:
        return "failed"
    return None


def _failure(pod: k8s.V1Pod | None, job: k8s.V1Job) -> tuple[str, bool]:
    """Why the build failed, and whether the infrastructure is to blame."""
    condition = next(
        (
            c
            for c in (job.status.conditions if job.status else None) or []
            if c.type == "Failed" and c.status == "True"
        ),
        None,
    )
    if condition is not None and condition.reason == "DeadlineExceeded":
        deadline = job.spec.active_deadline_seconds if job.spec else None
        return f"the build took longer than its deadline ({deadline} s)", False
    if pod is not None:
        for container in manifests.CONTAINER_ORDER:
            state = _state(pod, container)
            if state is None:
                continue
            terminated, waiting = state.terminated, state.waiting
            if terminated is not None and terminated.exit_code != 0:
                reason = f"{container} failed: exit code {terminated.exit_code}"
                if terminated.reason and terminated.reason != "Error":
                    reason += f" ({terminated.reason})"
                last = _last_line(terminated.message)
                if last:
                    reason += f": {last}"
                return reason, bool(_TRANSIENT.search(terminated.message or ""))
            if waiting is not None and waiting.reason not in {None, "PodInitializing"}:
                reason = f"{container} could not start: {waiting.reason}"
                if waiting.message:
                    reason += f": {waiting.message[:200]}"
                return reason, waiting.reason in {"ErrImagePull", "ImagePullBackOff"}
        if pod.status is not None and pod.status.reason == "Evicted":
            return f"the build pod was evicted: {pod.status.message or ''}".rstrip(": "), True
    if condition is not None:
        return f"the Job failed: {condition.reason}: {condition.message or ''}".rstrip(": "), False
    return "the Job failed", False


def _state(pod: k8s.V1Pod, container: str) -> k8s.V1ContainerState | None:
    status = pod.status
    if status is None:
        return None
    for found in (status.init_container_statuses or []) + (status.container_statuses or []):
        if found.name == container:
            return found.state
    return None


def _terminated(pod: k8s.V1Pod | None, container: str) -> k8s.V1ContainerStateTerminated | None:
    state = _state(pod, container) if pod is not None else None
    return state.terminated if state is not None else None


def _last_line(message: str | None) -> str:
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


# Small helpers.


def _model(cls: type[T], doc: dict[str, Any]) -> T:
    made = cls.from_dict(doc)  # type: ignore[attr-defined]
    assert isinstance(made, cls)
    return made


def _uid(metadata: k8s.V1ObjectMeta | None) -> str:
    if metadata is None or not metadata.uid:
        raise BuildError("the Kubernetes API returned an object without a uid")
    return str(metadata.uid)


def _name(metadata: k8s.V1ObjectMeta | None) -> str:
    return str(metadata.name) if metadata is not None else ""


def _request_secrets(request: BuildRequest) -> tuple[str, ...]:
    found = [request.source.password, request.platform.password]
    if request.push_credentials is not None:
        found.append(request.push_credentials.password)
    return tuple(secret for secret in found if secret)
