"""The Kubernetes objects of one kaniko (or buildah) build Job, as plain dicts.

Pure functions: no API calls, so every manifest can be checked against the
official schemas in tests. Values that vary per build (URLs, refs, paths, the
image) reach the containers as environment variables or as single arguments,
never spliced into a shell command, and secrets only as Secret references.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator

from home_idp.plugins.builder.contract import BuildError, BuildRequest, GitSource
from home_idp.plugins.support.options import Between, Flag, PluginOptions, Word

__all__ = [
    "BUILD_CONTAINER",
    "CONTAINER_ORDER",
    "DEFAULT_BUILDAH_IMAGE",
    "DEFAULT_EXECUTOR_IMAGE",
    "DEFAULT_GIT_IMAGE",
    "JobSettings",
    "cache_repository",
    "check_request",
    "git_secret",
    "job",
    "labels",
    "registry_host",
    "registry_secret",
    "secret_names",
]

# Upstream kaniko (GoogleContainerTools) was archived in 2025; v1.23.2 is its
# last release. A maintained fork such as ghcr.io/chainguard-dev/kaniko takes
# the same flags: switching is the one option `executor_image`.
DEFAULT_EXECUTOR_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
DEFAULT_GIT_IMAGE = "alpine/git:v2.47.2"
DEFAULT_BUILDAH_IMAGE = "quay.io/buildah/stable:v1.39.3"

BUILD_CONTAINER = "build"
FETCH_PLATFORM = "fetch-platform"
FETCH_SOURCE = "fetch-source"
# The order the containers run in, which is the order their logs are read in.
CONTAINER_ORDER = (FETCH_PLATFORM, FETCH_SOURCE, BUILD_CONTAINER)

MANAGED_BY = "home-idp"
BUILD_LABEL = "home-idp.dev/build"
WORKSPACE = "/workspace"
_TERMINATION_LOG = "/dev/termination-log"
_NON_ROOT = 65532

_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_REPO_PATH = re.compile(r"^[A-Za-z0-9._@+-]+(?:/[A-Za-z0-9._@+-]+)*$")
# registry host[:port] / path components : tag (the tag is required: builds are pinned).
_IMAGE = re.compile(
    r"^(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?)"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
    r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
)
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUANTITY = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:m|k|Ki|M|Mi|G|Gi|T|Ti)?$")

# A git credential helper that answers from the environment: the secret stays
# in env vars filled from the Secret, never in a URL or on a command line.
_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'echo "username=${GIT_USERNAME}"; echo "password=${GIT_PASSWORD}"; }; f'
)

# One script for both fetches. A shallow fetch of exactly the ref comes first;
# servers that refuse to serve a bare sha get a full fetch instead.
_FETCH_SCRIPT = """\
set -eu
mkdir -p "$GIT_DEST"
cd "$GIT_DEST"
git init -q .
git remote add origin "$GIT_URL"
if [ -n "${GIT_SPARSE:-}" ]; then
  git config core.sparseCheckout true
  printf '%s\\n' "$GIT_SPARSE" > .git/info/sparse-checkout
fi
if git fetch -q --depth 1 origin "$GIT_REF"; then
  git checkout -q --detach FETCH_HEAD
else
  echo "a shallow fetch of $GIT_REF was refused; fetching every branch and tag"
  git fetch -q --tags origin '+refs/heads/*:refs/remotes/origin/*'
  commit=$(git rev-parse -q --verify "origin/$GIT_REF^{commit}" \\
    || git rev-parse --verify "$GIT_REF^{commit}")
  git checkout -q --detach "$commit"
fi
echo "checked out $GIT_REF at $(git rev-parse HEAD)"
"""

_BUILDAH_SCRIPT = """\
set -eu
buildah --storage-driver vfs bud --isolation chroot --tls-verify="$TLS_VERIFY" \\
  -f "$DOCKERFILE" -t "$IMAGE" "$CONTEXT"
buildah --storage-driver vfs push --tls-verify="$TLS_VERIFY" \\
  --digestfile /dev/termination-log "$IMAGE"
"""


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("must be a Kubernetes quantity")
    return value


def _service_account(value: str | None) -> str | None:
    if value is not None and not _DNS_LABEL.match(value):
        raise ValueError("is not a valid name")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]


class JobSettings(PluginOptions):
    """The plugin options that shape every build Job."""

    executor: Literal["kaniko", "buildah"] = "kaniko"
    executor_image: Word = DEFAULT_EXECUTOR_IMAGE
    git_image: Word = DEFAULT_GIT_IMAGE
    buildah_image: Word = DEFAULT_BUILDAH_IMAGE
    ttl_seconds: Annotated[int, Between(0, 7 * 86400)] = 3600
    active_deadline_seconds: Annotated[int, Between(1, 86400)] = 1800
    service_account: Annotated[str | None, AfterValidator(_service_account)] = None
    cpu_request: Quantity = "500m"
    cpu_limit: Quantity = "2"
    memory_request: Quantity = "1Gi"
    memory_limit: Quantity = "4Gi"
    workspace_size: Quantity = "10Gi"
    cache: Flag = True
    cache_ttl_hours: Annotated[int, Between(1, 24 * 365)] = 168


def check_request(request: BuildRequest) -> None:
    """Raise BuildError unless every name, path and URL in `request` is safe to render."""
    if not _DNS_LABEL.match(request.build_id) or len(request.build_id) > 52:
        # 52, so that "<id>-registry" and the pods' generated names stay valid.
        raise BuildError(
            f"the build id {request.build_id!r} must be a DNS-1123 label of at most 52 characters"
        )
    if not _DNS_LABEL.match(request.namespace):
        raise BuildError(f"the namespace {request.namespace!r} is not a DNS-1123 label")
    registry_host(request.image)
    _check_path(request.dockerfile_path, "the Dockerfile path")
    for what, source in (("source", request.source), ("platform", request.platform)):
        _check_source(what, source)
    for name in request.env:
        if not _ENV_NAME.match(name):
            raise BuildError(f"{name!r} is not a valid environment variable name")


def registry_host(image: str) -> str:
    """The registry part of an image reference (before the first `/`)."""
    found = _IMAGE.match(image)
    if found is None:
        raise BuildError(f"{image!r} is not an image reference of the form host/path:tag")
    return found.group("host")


def cache_repository(image: str) -> str:
    """Where kaniko keeps an app's cached layers: `<registry>/<project>/<app>/cache`.

    Beside the app's images, so per project: a layer's cache key is only its
    instruction and its parent, and one project must never reuse (or plant)
    another's. It is pushed with the build's own push credentials, which
    reach only the project's repositories.
    """
    registry_host(image)  # an image of the form host/path:tag, or BuildError
    return f"{image.rpartition(':')[0]}/cache"


def secret_names(build_id: str) -> tuple[str, str]:
    """The registry Secret's and the git Secret's names for a build."""
    return f"{build_id}-registry", f"{build_id}-git"


def labels(build_id: str) -> dict[str, str]:
    """The labels on every object of a build."""
    return {"app.kubernetes.io/managed-by": MANAGED_BY, BUILD_LABEL: build_id}


def registry_secret(request: BuildRequest) -> dict[str, Any]:
    """A kubernetes.io/dockerconfigjson Secret with the push credentials (or no auths)."""
    auths: dict[str, Any] = {}
    if request.push_credentials is not None:
        credentials = request.push_credentials
        pair = f"{credentials.username}:{credentials.password}".encode()
        auths[registry_host(request.image)] = {
            "username": credentials.username,
            "password": credentials.password,
            "auth": base64.b64encode(pair).decode(),
        }
    config = json.dumps({"auths": auths}).encode()
    return _secret(
        secret_names(request.build_id)[0],
        request,
        "kubernetes.io/dockerconfigjson",
        {".dockerconfigjson": config},
    )


def git_secret(request: BuildRequest) -> dict[str, Any]:
    """An Opaque Secret with the git usernames and passwords that were given."""
    data: dict[str, bytes] = {}
    for prefix, source in (("platform", request.platform), ("source", request.source)):
        if source.password:
            data[f"{prefix}-username"] = _git_username(source).encode()
            data[f"{prefix}-password"] = source.password.encode()
    return _secret(secret_names(request.build_id)[1], request, "Opaque", data)


def job(request: BuildRequest, settings: JobSettings) -> dict[str, Any]:
    """The batch/v1 Job: two fetching init containers, then the build container."""
    registry_name, git_name = secret_names(request.build_id)
    build = (
        _kaniko(request, settings) if settings.executor == "kaniko" else _buildah(request, settings)
    )
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # The build never talks to the Kubernetes API, so it gets no token.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [
            {"name": "workspace", "emptyDir": {"sizeLimit": settings.workspace_size}},
            {
                "name": "registry-auth",
                "secret": {
                    "secretName": registry_name,
                    "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                    "defaultMode": 0o400,
                },
            },
        ],
        "initContainers": [
            _fetch(
                FETCH_PLATFORM,
                request.platform,
                "platform",
                git_name,
                settings,
                sparse="/" + request.dockerfile_path,
            ),
            _fetch(FETCH_SOURCE, request.source, "source", git_name, settings, sparse=None),
        ],
        "containers": [build],
    }
    if settings.service_account:
        pod_spec["serviceAccountName"] = settings.service_account
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": request.build_id,
            "namespace": request.namespace,
            "labels": labels(request.build_id),
        },
        "spec": {
            # One attempt: a retry is the engine's decision, made with a reason.
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": settings.ttl_seconds,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "template": {"metadata": {"labels": labels(request.build_id)}, "spec": pod_spec},
        },
    }


def _secret(name: str, request: BuildRequest, kind: str, data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": request.namespace,
            "labels": labels(request.build_id),
        },
        "type": kind,
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def _fetch(
    name: str,
    source: GitSource,
    prefix: str,
    git_secret_name: str,
    settings: JobSettings,
    *,
    sparse: str | None,
) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "GIT_URL", "value": source.url},
        {"name": "GIT_REF", "value": source.ref},
        {"name": "GIT_DEST", "value": f"{WORKSPACE}/{prefix}"},
        {"name": "GIT_TERMINAL_PROMPT", "value": "0"},
        {"name": "HOME", "value": "/tmp"},  # noqa: S108 - git writes nothing there
    ]
    if sparse is not None:
        env.append({"name": "GIT_SPARSE", "value": sparse})
    parts = urlsplit(source.url)
    # Git reads config from GIT_CONFIG_* variables. A redirect would lead the
    # fetch to a host nobody checked.
    config: list[tuple[str, str]] = [("http.followRedirects", "false")]
    if source.password:
        env += [
            _secret_env("GIT_USERNAME", git_secret_name, f"{prefix}-username"),
            _secret_env("GIT_PASSWORD", git_secret_name, f"{prefix}-password"),
        ]
        # The helper is scoped to the repository's host so a redirect elsewhere gets nothing.
        config.append((f"credential.{parts.scheme}://{parts.netloc}.helper", _CREDENTIAL_HELPER))
    if source.address and parts.hostname:
        # The fetch connects to the address the server checked, whatever the
        # name resolves to by then.
        address = f"[{source.address}]" if ":" in source.address else source.address
        port = parts.port or (443 if parts.scheme == "https" else 80)
        config.append(("http.curloptResolve", f"{parts.hostname}:{port}:{address}"))
    env.append({"name": "GIT_CONFIG_COUNT", "value": str(len(config))})
    for number, (key, value) in enumerate(config):
        env += [
            {"name": f"GIT_CONFIG_KEY_{number}", "value": key},
            {"name": f"GIT_CONFIG_VALUE_{number}", "value": value},
        ]
    return {
        "name": name,
        "image": settings.git_image,
        "command": ["/bin/sh", "-c", _FETCH_SCRIPT],
        "env": env,
        "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _NON_ROOT,
            "runAsGroup": _NON_ROOT,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # A failed clone's last output lines become the termination message,
        # which is how the build result can say what went wrong.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _kaniko(request: BuildRequest, settings: JobSettings) -> dict[str, Any]:
    args = [
        f"--dockerfile={WORKSPACE}/platform/{request.dockerfile_path}",
        f"--context=dir://{_context_dir(request)}",
        f"--destination={request.image}",
        f"--digest-file={_TERMINATION_LOG}",
        "--verbosity=info",
        # The build's env (trace context among it) reaches the Dockerfile's
        # ARGs too, so a RUN that emits spans joins the release's trace.
        *(f"--build-arg={name}={value}" for name, value in sorted(request.env.items())),
    ]
    if settings.cache:
        args += [
            "--cache=true",
            f"--cache-repo={cache_repository(request.image)}",
            # A cached `RUN apt-get upgrade` never runs again: after the TTL
            # its layer is built afresh, so a long-lived cache still picks up fixes.
            f"--cache-ttl={settings.cache_ttl_hours}h",
        ]
    if request.insecure_registry:
        host = registry_host(request.image)
        args += [
            "--insecure",
            "--skip-tls-verify",
            # Base images may come from the same registry.
            f"--insecure-registry={host}",
            f"--skip-tls-verify-registry={host}",
        ]
    return {
        **_build_base(request, settings, settings.executor_image, []),
        "args": args,
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE},
            {"name": "registry-auth", "mountPath": "/kaniko/.docker", "readOnly": True},
        ],
        # kaniko unpacks and snapshots a whole root filesystem: it runs as root
        # (unprivileged, with the runtime's default capabilities).
        "securityContext": {"runAsUser": 0, "privileged": False},
    }


def _buildah(request: BuildRequest, settings: JobSettings) -> dict[str, Any]:
    env = [
        {"name": "IMAGE", "value": request.image},
        {"name": "DOCKERFILE", "value": f"{WORKSPACE}/platform/{request.dockerfile_path}"},
        {"name": "CONTEXT", "value": _context_dir(request)},
        {"name": "TLS_VERIFY", "value": "false" if request.insecure_registry else "true"},
        {"name": "REGISTRY_AUTH_FILE", "value": "/registry/config.json"},
    ]
    return {
        **_build_base(request, settings, settings.buildah_image, env),
        "command": ["/bin/sh", "-c", _BUILDAH_SCRIPT],
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE},
            {"name": "registry-auth", "mountPath": "/registry", "readOnly": True},
        ],
        # Rootful buildah with chroot isolation and vfs storage: no privileged
        # mode and no user namespaces, the runtime's default capabilities only.
        "securityContext": {"runAsUser": 0, "privileged": False},
    }


def _build_base(
    request: BuildRequest, settings: JobSettings, image: str, env: list[dict[str, Any]]
) -> dict[str, Any]:
    user_env = [{"name": name, "value": value} for name, value in sorted(request.env.items())]
    return {
        "name": BUILD_CONTAINER,
        "image": image,
        "env": user_env + env,
        "workingDir": WORKSPACE,
        "resources": {
            "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
            "limits": {"cpu": settings.cpu_limit, "memory": settings.memory_limit},
        },
        # Success writes the digest to the termination log; a failure leaves
        # the last log lines there instead.
        "terminationMessagePath": _TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _context_dir(request: BuildRequest) -> str:
    return posixpath.normpath(f"{WORKSPACE}/source/{request.source.path}")


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _git_username(source: GitSource) -> str:
    # GitHub (and Gitea, Forgejo) take any user name with a token; this is GitHub's.
    return source.username or "x-access-token"


def _check_path(path: str, what: str) -> None:
    parts = path.split("/")
    if not _REPO_PATH.match(path) or any(part in {".", ".."} for part in parts):
        raise BuildError(f"{what} {path!r} must be a relative path inside the repository")


def _check_source(what: str, source: GitSource) -> None:
    parts = urlsplit(source.url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BuildError(f"the {what} repository URL must be an http(s) URL")
    if parts.username or parts.password:
        # It would be in the Job spec for anyone who can read Jobs.
        raise BuildError(f"the {what} repository URL must not carry credentials")
    if not _REF.match(source.ref) or ".." in source.ref:
        raise BuildError(f"the {what} ref {source.ref!r} is not a valid git ref")
    if source.path not in {".", ""}:
        _check_path(source.path, f"the {what} path")
