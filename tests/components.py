"""The real build components of a test run: a registry, a source git server, a base image.

There is no Docker Hub here, so the run builds its own base image (busybox
from Debian's busybox-static, FROM scratch) and pushes it to a Debian
`docker-registry` started on a loopback port; apps' source repos are served
by `git http-backend` on another. Their ports are chosen when this module is
imported, so Dockerfiles in test modules can name the base image.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from home_idp.plugins.builder.isolation import BuildIsolation
from tests.liveserver import free_port

__all__ = [
    "BASE_IMAGE",
    "REGISTRY_URL",
    "REGISTRY_WEBHOOK_SECRET",
    "SOURCE_REPO",
    "BuildComponents",
    "GitHttpServer",
    "RegistryProcess",
    "build_settings",
    "buildah_command",
    "remove_app_containers",
    "start_build_components",
]

REGISTRY_PORT = free_port()
SOURCE_PORT = free_port()
REGISTRY_HOST = f"127.0.0.1:{REGISTRY_PORT}"
REGISTRY_URL = f"http://{REGISTRY_HOST}"
BASE_IMAGE = f"{REGISTRY_HOST}/base/busybox:1"
SOURCE_REPO = f"http://127.0.0.1:{SOURCE_PORT}/web.git"
REGISTRY_WEBHOOK_SECRET = secrets.token_hex(16)

# The app every test builds: `run` serves the folder it is copied to over HTTP
# (busybox httpd, on the app's default port), so a release can roll out.
SOURCE_FILES = {
    "run": '#!/bin/sh\nexec httpd -f -p 8080 -h "$(dirname "$0")"\n',
    "index.html": "hello from web\n",
    "msg.txt": "hello\n",
    "sub/README": "a context path\n",
}
_REQUIRED = ("docker-registry", "buildah", "git")


def buildah_command(root: Path) -> list[str]:
    """buildah on the test run's storage, which the builder plugin shares: with the
    same id map, since a store is only ever used with one."""
    return [
        "buildah",
        "--root",
        str(root / "root"),
        "--runroot",
        str(root / "run"),
        "--storage-driver",
        "vfs",
        *BuildIsolation().storage_args(),
    ]


def _buildah(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*buildah_command(root), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


class RegistryProcess:
    """`docker-registry serve` on 127.0.0.1, notifying `webhook_url` with the secret."""

    def __init__(self, directory: Path, port: int, webhook_url: str, secret: str) -> None:
        self.directory = directory
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._webhook_url = webhook_url
        self._secret = secret
        self._process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        # Blob events (octet-stream) are left out: home-idp acts on manifests.
        return f"""version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {self.directory / "data"}}}
  delete: {{enabled: true}}
http:
  addr: 127.0.0.1:{self.port}
notifications:
  endpoints:
    - name: home-idp
      url: {self._webhook_url}
      headers: {{Authorization: [Bearer {self._secret}]}}
      timeout: 2s
      threshold: 3
      # Between tests nothing listens, and the registry backs off; a short
      # back-off lets the next test's push event arrive before the engine's
      # reconciler (0.5 s) finds the image itself.
      backoff: 100ms
      ignoredmediatypes: [application/octet-stream]
"""

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "config.yml"
        config.write_text(self.config())
        with (self.directory / "registry.log").open("ab") as log:
            self._process = subprocess.Popen(
                ["docker-registry", "serve", str(config)], stdout=log, stderr=log
            )
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{self.url}/v2/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start; see {self.directory}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait(10)
        self._process = None


class _GitHandler(BaseHTTPRequestHandler):
    """git smart HTTP, read-only, through `git http-backend` (CGI)."""

    root: Path

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": self.headers.get("git-protocol", ""),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        result = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


class GitHttpServer:
    """Serves the bare repos under `root` at http://127.0.0.1:<port>/<name>.git."""

    def __init__(self, root: Path, port: int) -> None:
        handler = type("Handler", (_GitHandler,), {"root": root})
        self.root = root
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def make_source_repo(root: Path, name: str = "web") -> Path:
    """A bare repo `<name>.git` with SOURCE_FILES on `main`."""
    work = root / f"{name}-work"
    bare = root / f"{name}.git"
    work.mkdir(parents=True)
    for path, content in SOURCE_FILES.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(content)
    (work / "run").chmod(0o755)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.test"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "."], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-qm", "source"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    shutil.rmtree(work)
    return bare


def build_base_image(buildah_root: Path, directory: Path) -> None:
    """busybox FROM scratch, pushed to the registry as BASE_IMAGE."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise RuntimeError("busybox is not installed (Debian package busybox-static)")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, directory / "busybox")
    (directory / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    _buildah(buildah_root, "bud", "--isolation", "chroot", "-t", BASE_IMAGE, str(directory))
    _buildah(buildah_root, "push", "--tls-verify=false", BASE_IMAGE)


@dataclass
class BuildComponents:
    """What a test run builds with; `stop()` ends every process it started."""

    registry: RegistryProcess
    source: GitHttpServer
    buildah_root: Path

    def stop(self) -> None:
        self.registry.stop()
        self.source.stop()


def start_build_components(directory: Path, webhook_url: str) -> BuildComponents:
    missing = [name for name in _REQUIRED if shutil.which(name) is None]
    if missing:
        raise RuntimeError(
            f"missing {', '.join(missing)}: apt-get install docker-registry buildah "
            "podman runc skopeo busybox-static"
        )
    registry = RegistryProcess(
        directory / "registry", REGISTRY_PORT, webhook_url, REGISTRY_WEBHOOK_SECRET
    )
    registry.start()
    make_source_repo(directory / "git")
    source = GitHttpServer(directory / "git", SOURCE_PORT)
    source.start()
    components = BuildComponents(registry, source, directory / "buildah")
    try:
        build_base_image(components.buildah_root, directory / "base")
    except BaseException:
        components.stop()
        raise
    return components


async def remove_app_containers(data_dir: Path) -> None:
    """Stop every app container a server with this data dir started (tests leave none)."""
    if not await asyncio.to_thread((data_dir / "containers").exists):
        return
    from home_idp.plugins.deployer.container import ContainerDeployer
    from home_idp.plugins.deployer.contract import DeployerConfig

    deployer = ContainerDeployer(DeployerConfig(data_dir, "", "main"))
    for app in await deployer.list_running():
        await deployer.undeploy(app.project, app.app)


def build_settings(buildah_root: Path) -> dict[str, str]:
    """The HOME_IDP_ settings (without prefix) that point a server at these components.

    The container deployer keeps its own storage (beside the data dir), so
    that it pulls the built images from the registry like any deployment.
    """
    return {
        "registry__url": REGISTRY_URL,
        "registry__webhook_secret": REGISTRY_WEBHOOK_SECRET,
        "builder__options": json.dumps(
            {"root": str(buildah_root / "root"), "runroot": str(buildah_root / "run")}
        ),
    }
