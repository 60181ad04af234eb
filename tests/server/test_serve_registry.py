"""`home-idp serve` on defaults runs the local registry: started, supervised, stopped.

Each server runs as a user runs it (a process, no settings but a fresh HOME),
except for the registry's port: a free one, so that runs do not share 5000.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from home_idp.server.install.local_registry import local_registry_port, start_local_registry
from home_idp.server.settings import RegistrySettings, Settings
from tests.liveserver import free_port, threaded_http_server
from tests.serverprocess import HOME_IDP, ServerProcess

_COMPONENTS = "{ components { name status message } }"
_REGISTRY_DELIVERIES = """{ webhookDeliveries(filter: {source: "registry"}) {
  edges { node { event signatureOk } } } }"""


def _env(home: Path, registry_port: int, **settings: str) -> dict[str, str]:
    """No HOME_IDP_ settings but the data dir, the registry's URL and those given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOME_IDP_")}
    env["HOME"] = str(home)
    env["HOME_IDP_DATA_DIR"] = str(_data_dir(home))
    env["HOME_IDP_REGISTRY__URL"] = f"http://127.0.0.1:{registry_port}"
    env.update({f"HOME_IDP_{name.upper()}": value for name, value in settings.items()})
    return env


def _data_dir(home: Path) -> Path:
    return home / "data"


def _needs_registry_binary() -> None:
    """A skip when docker-registry is missing; a failure under CI=true."""
    if shutil.which("docker-registry") or shutil.which("registry"):
        return
    message = "docker-registry is not installed (apt-get install docker-registry)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _alive(pid: int) -> bool:
    """Running; an ended process that no one has reaped yet (a zombie) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _registry_pids(config: Path) -> list[int]:
    """The live registry processes serving with this config file."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config).encode() in argv and _alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(what: str, check: Callable[[], object], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def _push(url: str, repository: str, tag: str) -> None:
    """A one-layer OCI image, pushed over the v2 API."""
    with httpx.Client(base_url=url, timeout=10) as client:
        descriptors = []
        for media_type, blob in (
            ("application/vnd.oci.image.config.v1+json", b'{"architecture":"amd64","os":"linux"}'),
            ("application/vnd.oci.image.layer.v1.tar", b"\0" * 1024),
        ):
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            location = client.post(f"/v2/{repository}/blobs/uploads/").headers["Location"]
            # copy_add_param keeps the upload's own query (`params=` would replace it).
            put = client.put(
                httpx.URL(location).copy_add_param("digest", digest),
                content=blob,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert put.status_code == 201, put.text
            descriptors.append({"mediaType": media_type, "digest": digest, "size": len(blob)})
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptors[0],
            "layers": descriptors[1:],
        }
        pushed = client.put(
            f"/v2/{repository}/manifests/{tag}",
            content=json.dumps(manifest).encode(),
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert pushed.status_code == 201, pushed.text


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.mark.system
def test_a_bare_serve_runs_the_registry_restarts_it_and_stops_it(home: Path) -> None:
    _needs_registry_binary()
    registry_port = free_port()
    registry_url = f"http://127.0.0.1:{registry_port}"
    config = _data_dir(home) / "registry" / "config.yml"
    server = ServerProcess(_env(home, registry_port))
    server.create_admin()
    server.start()
    try:
        assert _answers(registry_url)
        [first] = _registry_pids(config)
        server.login()
        [component] = server.graphql(_COMPONENTS)["components"]
        assert component["name"] == "registry" and component["status"] == "READY", component

        # An image pushed there reaches the server as a signed notification.
        _push(registry_url, "probe/hello", "v1")

        def notified() -> bool:
            edges = server.graphql(_REGISTRY_DELIVERIES)["webhookDeliveries"]["edges"]
            return any(edge["node"]["signatureOk"] for edge in edges)

        _wait_for("the registry's push notification reached the server", notified)

        # Killed, it is started again (same data: the image is still there).
        os.kill(first, signal.SIGKILL)
        _wait_for(
            "the registry was restarted",
            lambda: (pids := _registry_pids(config)) and pids != [first] and _answers(registry_url),
        )
        manifest = httpx.get(
            f"{registry_url}/v2/probe/hello/manifests/v1",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert manifest.status_code == 200
        [second] = _registry_pids(config)
    finally:
        server.stop()
    assert "the local registry stopped; starting it again" in server.log_path.read_text()
    # Stopping the server stopped the registry it ran.
    _wait_for("the registry ended with the server", lambda: not _registry_pids(config), 10)
    assert not _alive(second)
    assert not _answers(registry_url)


@pytest.mark.system
def test_a_killed_server_leaves_no_registry_behind(home: Path) -> None:
    _needs_registry_binary()
    config = _data_dir(home) / "registry" / "config.yml"
    server = ServerProcess(_env(home, free_port()))
    server.start()
    try:
        [registry] = _registry_pids(config)
    finally:
        server.kill()
    _wait_for("the registry ended with the server", lambda: not _registry_pids(config), 10)
    assert not _alive(registry)


class _FakeRegistry(BaseHTTPRequestHandler):
    """Answers /v2/ as a registry does; 404 elsewhere."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


class _NotARegistry(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


_REGISTRY_COMPONENT = "{ components { name status message } }"


def _registry_row(server: ServerProcess) -> tuple[str, str]:
    [row] = [
        c for c in server.graphql(_REGISTRY_COMPONENT)["components"] if c["name"] == "registry"
    ]
    return row["status"], row["message"]


def test_a_registry_that_already_answers_is_used_as_it_is(home: Path) -> None:
    with threaded_http_server(_FakeRegistry) as registry:
        port = registry.server_address[1]
        assert isinstance(port, int)
        server = ServerProcess(_env(home, port))
        server.create_admin()
        server.start()
        try:
            server.login()
            # The Components tab says so from the start, not "absent".
            answering = f"a registry not started by home-idp answers at http://127.0.0.1:{port}"
            assert _registry_row(server) == ("READY", answering)
            # Installing it installs nothing, and says why rather than "up to date".
            started = server.graphql(
                'mutation { installComponent(input: {name: "registry"}) { __typename } }'
            )
            assert started["installComponent"]["__typename"] == "ComponentSuccess"
            left_alone = ("READY", f"{answering}; home-idp leaves it alone")
            deadline = time.monotonic() + 30
            while _registry_row(server) != left_alone and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _registry_row(server) == left_alone
        finally:
            server.stop()
    log = server.log_path.read_text()
    assert f"a registry already answers at http://127.0.0.1:{port}; using it as it is" in log
    assert not (_data_dir(home) / "registry").exists()


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOME_IDP, "serve", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_taken_server_port_is_one_clear_line(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve(_env(home, free_port(), port=str(port)))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert str(port) in line and "HOME_IDP_PORT" in line, line
    # Nothing started before the check.
    assert not (_data_dir(home) / "registry").exists()


def test_a_registry_port_held_by_another_program_is_one_clear_line(home: Path) -> None:
    with threaded_http_server(_NotARegistry) as other:
        port = other.server_address[1]
        assert isinstance(port, int)
        result = _serve(_env(home, port, port=str(free_port())))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert str(port) in line and "HOME_IDP_REGISTRY__URL" in line, line
    assert not (_data_dir(home) / "registry").exists()


def test_the_registry_and_the_server_on_one_port_is_one_clear_line(home: Path) -> None:
    port = free_port()
    result = _serve(_env(home, port, port=str(port)))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "HOME_IDP_PORT" in line and "HOME_IDP_REGISTRY__URL" in line and str(port) in line


async def test_nothing_is_started_in_the_cluster_profile(tmp_path: Path) -> None:
    cluster = Settings(profile="cluster", data_dir=tmp_path)
    assert local_registry_port(cluster) is None
    # Not even looked at: the install-manager is not needed.
    assert await start_local_registry(cluster, install=None) is None  # type: ignore[arg-type]


def test_only_a_registry_on_this_machine_is_run_by_home_idp(tmp_path: Path) -> None:
    def port(url: str, **settings: object) -> int | None:
        return local_registry_port(
            Settings(data_dir=tmp_path, registry=RegistrySettings(url=url), **settings)  # type: ignore[arg-type]
        )

    assert port("http://127.0.0.1:5000") == 5000
    assert port("http://localhost:5123") == 5123
    assert port("http://registry.example.test:5000") is None
    assert port("https://127.0.0.1:5000") is None
