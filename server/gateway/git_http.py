"""The platform repo over git smart HTTP: `/git/<repo>.git/...`, read-only, admins only.

Requests are handed to `git http-backend` (CGI) run as an asyncio subprocess;
the request body streams into it and its answer streams back out, so a pack
is never held in memory. Git clients authenticate with HTTP Basic (any
username, a home-idp JWT or API token as the password) or with a Bearer token.
Pushes are refused: commits come from home-idp itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.authentication import BaseUser
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from home_idp.plugins.support.dns_names import DNS1123_LABEL_PATTERN
from home_idp.plugins.support.git_isolation import isolated_git_env
from home_idp.server.rbac import Principal
from home_idp.server.rbac.auth import Authenticator

__all__ = ["MAX_BODY_BYTES", "git_routes"]

log = logging.getLogger(__name__)

# A clone's request is its negotiation ("want"/"have" lines), small next to
# the pack it gets back; only these request bodies are capped.
MAX_BODY_BYTES = 32 * 1024 * 1024
_REPO = re.compile(rf"^({DNS1123_LABEL_PATTERN})\.git$")
_MAX_CGI_HEADER_BYTES = 64 * 1024
_READ_CHUNK = 64 * 1024
_REALM = 'Basic realm="home-idp"'
# Who a builder's short-lived read token stands for: a clone, nothing else.
_BUILDER = Principal(
    user_id=None, username="home-idp-builder", is_admin=True, scopes=frozenset({"read"})
)


class _BodyTooLarge(Exception):
    pass


def _cgi_env(repo_root: Path, request: Request, path_info: str, user: str) -> dict[str, str]:
    headers = request.headers
    env = {
        **isolated_git_env(),
        # Defence in depth: http-backend would allow receive-pack for any
        # REMOTE_USER; the route refuses pushes before this point as well.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.receivepack",
        "GIT_CONFIG_VALUE_0": "false",
        "GIT_PROJECT_ROOT": str(repo_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        # Rebuilt rather than passed on, so git parses exactly what was checked.
        "QUERY_STRING": "service=git-upload-pack" if request.method == "GET" else "",
        "REQUEST_METHOD": request.method,
        "CONTENT_TYPE": headers.get("content-type", ""),
        "REMOTE_USER": user,
        "REMOTE_ADDR": request.client.host if request.client else "",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    optional = {
        # Absent for chunked requests: http-backend then reads to the end.
        "CONTENT_LENGTH": headers.get("content-length"),
        "HTTP_CONTENT_ENCODING": headers.get("content-encoding"),
        "GIT_PROTOCOL": headers.get("git-protocol"),
    }
    env.update({key: value for key, value in optional.items() if value})
    return env


def _unauthorized(message: str) -> Response:
    return PlainTextResponse(message, status_code=401, headers={"WWW-Authenticate": _REALM})


def _credential(authorization: str | None) -> str | None:
    """The token in a Basic password or a Bearer header; None if there is none."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, _, password = decoded.partition(":")
    return password or None


class _GitHttp:
    """The ASGI endpoint behind every `/git/...` path."""

    def __init__(
        self,
        repo_root: Path,
        authenticator: Authenticator,
        max_body_bytes: int,
        is_read_token: Callable[[str], bool] | None,
    ) -> None:
        self._repo_root = repo_root
        self._authenticator = authenticator
        self._max_body_bytes = max_body_bytes
        self._is_read_token = is_read_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        answer = await self._check(request)
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        await self._serve(request, send, answer)

    async def _principal(self, request: Request) -> Principal | None:
        # A Bearer header was already checked by the authentication middleware.
        user: BaseUser | None = request.scope.get("user")
        principal: Principal | None = getattr(user, "principal", None)
        if principal is not None and principal.is_authenticated:
            return principal
        token = _credential(request.headers.get("authorization"))
        if token is None or len(token) > 4096:
            return None
        if self._is_read_token is not None and self._is_read_token(token):
            return _BUILDER
        return await self._authenticator.authenticate_bearer(token)

    async def _check(self, request: Request) -> Response | Principal:
        """The refusal of this request, or the principal http-backend answers it for."""
        name, service = request.path_params["repo"], request.path_params["service"]
        if not _REPO.fullmatch(name):
            return PlainTextResponse("no such repository", status_code=404)
        services = request.query_params.getlist("service")
        if "git-receive-pack" in (service, *services):
            return PlainTextResponse(
                "pushes are refused: commits to the platform repo come from home-idp itself",
                status_code=403,
            )
        reads = {("GET", "info/refs"), ("POST", "git-upload-pack")}
        if (request.method, service) not in reads or (
            service == "info/refs" and services != ["git-upload-pack"]
        ):
            # Only the smart protocol: the dumb one would expose raw files.
            return PlainTextResponse("not found", status_code=404)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body_bytes:
            return PlainTextResponse("request body too large", status_code=413)
        principal = await self._principal(request)
        if principal is None:
            return _unauthorized("authentication required: a home-idp token as the password")
        if not principal.is_admin or "read" not in principal.scopes:
            return PlainTextResponse(
                "the platform repo spans every project: only administrators may read it",
                status_code=403,
            )
        if not await asyncio.to_thread((self._repo_root / name / "HEAD").is_file):
            return PlainTextResponse("no such repository", status_code=404)
        return principal

    async def _serve(self, request: Request, send: Send, principal: Principal) -> None:
        git = shutil.which("git", path=os.environ.get("PATH", os.defpath))
        if git is None:
            await PlainTextResponse("git is not installed", status_code=503)(
                request.scope, request.receive, send
            )
            return
        path_info = f"/{request.path_params['repo']}/{request.path_params['service']}"
        env = _cgi_env(self._repo_root, request, path_info, principal.username)
        process = await asyncio.create_subprocess_exec(
            git,
            "http-backend",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            # Its own process group, so upload-pack and pack-objects below it
            # can be stopped with it when the client goes away.
            start_new_session=True,
        )
        # Pipes were asked for, so they are there; the asserts tell mypy.
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        feeding = asyncio.create_task(self._feed(request.stream(), process.stdin))
        watching = asyncio.create_task(_stop_on_disconnect(request.receive, feeding, process))
        errors = asyncio.create_task(process.stderr.read())
        started = False
        try:
            status, headers = await _cgi_headers(process.stdout)
            # http-backend sends its headers before it reads the body, but
            # upload-pack answers only once it has the whole request: waiting
            # for the body lets one over the cap still get a 413, not a cut 200.
            await asyncio.wait([feeding])
            if _failed_with(feeding, _BodyTooLarge):
                raise _BodyTooLarge
            await send({"type": "http.response.start", "status": status, "headers": headers})
            started = True
            while chunk := await process.stdout.read(_READ_CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except (_BodyTooLarge, _BadCgi) as error:
            too_large = isinstance(error, _BodyTooLarge) or _failed_with(feeding, _BodyTooLarge)
            if not too_large:
                log.warning("git http-backend request failed: %s", error)
            if not started:
                refusal = (
                    PlainTextResponse("request body too large", status_code=413)
                    if too_large
                    else PlainTextResponse("git failed", status_code=502)
                )
                await refusal(request.scope, request.receive, send)
        finally:
            await _stop(process, feeding, watching)
            stderr = await errors
            if stderr.strip():
                log.info("git http-backend: %s", " ".join(stderr.decode(errors="replace").split()))

    async def _feed(self, body: AsyncIterator[bytes], stdin: asyncio.StreamWriter) -> None:
        """Stream the request body into http-backend, stopping at the cap."""
        received = 0
        try:
            async for chunk in body:
                received += len(chunk)
                if received > self._max_body_bytes:
                    raise _BodyTooLarge
                stdin.write(chunk)
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return  # http-backend stopped reading; its answer says why
        finally:
            stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await stdin.wait_closed()


class _BadCgi(Exception):
    pass


async def _cgi_headers(stdout: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The status and headers of a CGI answer: `Name: value` lines, then a blank one."""
    status, size = 200, 0
    headers: list[tuple[bytes, bytes]] = []
    while True:
        try:
            line = await stdout.readuntil(b"\n")
        except asyncio.IncompleteReadError as error:
            raise _BadCgi("http-backend ended before its headers did") from error
        except asyncio.LimitOverrunError as error:
            raise _BadCgi("an http-backend header line is too long") from error
        size += len(line)
        if size > _MAX_CGI_HEADER_BYTES:
            raise _BadCgi("http-backend's headers are too long")
        line = line.rstrip(b"\r\n")
        if not line:
            return status, headers
        name, separator, value = line.partition(b":")
        if not separator:
            raise _BadCgi("http-backend sent a malformed header")
        if name.strip().lower() == b"status":
            code = value.strip().split(b" ", 1)[0]
            if not code.isdigit():
                raise _BadCgi("http-backend sent a malformed status")
            status = int(code)
        else:
            headers.append((name.strip().lower(), value.strip()))


def _failed_with(task: asyncio.Task[None], kind: type[Exception]) -> bool:
    return task.done() and not task.cancelled() and isinstance(task.exception(), kind)


async def _stop_on_disconnect(
    receive: Receive, feeding: asyncio.Task[None], process: asyncio.subprocess.Process
) -> None:
    """Once the body is in, the next message is the client going away (or the end)."""
    with contextlib.suppress(Exception):
        await asyncio.shield(feeding)
    message = await receive()
    if message["type"] == "http.disconnect":
        _kill(process)


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


async def _stop(
    process: asyncio.subprocess.Process, feeding: asyncio.Task[None], watching: asyncio.Task[None]
) -> None:
    if not (process.stdout and process.stdout.at_eof()):
        _kill(process)  # the client went away, or the body was refused mid-stream
    for task in (feeding, watching):
        task.cancel()
    await asyncio.gather(feeding, watching, return_exceptions=True)
    await process.wait()


def git_routes(
    repo_root: Path,
    authenticator: Authenticator,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    is_read_token: Callable[[str], bool] | None = None,
) -> list[BaseRoute]:
    """Routes serving the bare repos under `repo_root` at `/git/<name>.git/`.

    Mount them behind an AuthenticationMiddleware with BearerAuthBackend, or
    on their own: they read credentials themselves when no principal is set.
    `is_read_token` accepts builders' short-lived clone tokens as well.
    """
    endpoint = _GitHttp(repo_root, authenticator, max_body_bytes, is_read_token)
    return [Route("/git/{repo}/{service:path}", endpoint, methods=["GET", "POST"])]
