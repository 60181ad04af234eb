"""The `helm` installer: cluster dependencies as Helm releases, through the helm binary.

`install` runs `helm upgrade --install` with `--wait`, a timeout and a
rollback on failure (`--atomic` on Helm 3, `--rollback-on-failure` on Helm
4), values from a file that only this user can read, never on the command
line. `status` reads `helm status -o json`. Options (`HOME_IDP_INSTALL__OPTIONS`):
`helm` (the binary, default `helm` on PATH), `kubeconfig`, `kube_context`,
`timeout` (default `10m`), and `dry_run: "client"`: render every release with
`helm install --dry-run=client` and touch no cluster (what `home-idp install
--dry-run` shows, and what the tests run); in that mode the release records
helm prints are kept in the data dir, so status and "nothing to do" work as
they would against a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator

from home_idp.plugins.installer.contract import (
    ComponentSpec,
    ComponentState,
    ComponentStatus,
    InstallerConfig,
    InstallError,
    values_digest,
)
from home_idp.plugins.support.masking import mask_secrets
from home_idp.plugins.support.options import PluginOptions

__all__ = ["MINIMUM_HELM", "HelmInstaller", "release_state"]

log = logging.getLogger(__name__)

MINIMUM_HELM = (3, 13)
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_TIMEOUT = re.compile(r"^\d+(s|m|h)$")
# Helm's release statuses, as a component's.
_STATUSES = {
    "deployed": ComponentStatus.READY,
    "superseded": ComponentStatus.READY,
    "failed": ComponentStatus.FAILED,
    "unknown": ComponentStatus.FAILED,
    "uninstalled": ComponentStatus.ABSENT,
    "uninstalling": ComponentStatus.INSTALLING,
    "pending-install": ComponentStatus.INSTALLING,
    "pending-upgrade": ComponentStatus.INSTALLING,
    "pending-rollback": ComponentStatus.INSTALLING,
}
_NOT_FOUND = re.compile(r"release: not found", re.IGNORECASE)
# Extra time for helm itself past its own --timeout before it is stopped.
_GRACE_SECONDS = 60


def _helm_duration(timeout: str) -> str:
    if not _TIMEOUT.match(timeout):
        raise ValueError("must look like 300s, 10m or 1h")
    return timeout


class HelmOptions(PluginOptions):
    """The helm installer's options: the binary, the cluster it reaches, how long it waits."""

    helm: str = "helm"
    kubeconfig: str = ""
    kube_context: str = ""
    timeout: Annotated[str, AfterValidator(_helm_duration)] = "10m"
    # Empty, or "client": render and check, install nothing.
    dry_run: Literal["", "client"] = ""


class HelmInstaller:
    """Helm releases of the components, one release per component."""

    def __init__(self, config: InstallerConfig) -> None:
        options = HelmOptions.read(config.options, "the helm installer", InstallError)
        self._helm = options.helm
        self._kubeconfig = options.kubeconfig or None
        self._context = options.kube_context or None
        self._timeout = options.timeout
        self.dry_run = options.dry_run == "client"
        self._work = config.data_dir / "helm"
        self._major: int | None = None

    # -- the binary ------------------------------------------------------------------

    async def check(self) -> str:
        binary = shutil.which(self._helm)
        if binary is None:
            raise InstallError(
                f"no helm binary ({self._helm!r} is not on PATH); install Helm 3.13+"
            )
        code, out, err = await self._run([binary, "version", "--template", "{{.Version}}"], 30)
        found = _VERSION.search(out)
        if code != 0 or found is None:
            raise InstallError(f"`helm version` failed: {_last_line(err or out)}")
        major, minor = int(found.group(1)), int(found.group(2))
        if (major, minor) < MINIMUM_HELM:
            raise InstallError(f"helm {found.group(0)} is too old; Helm 3.13 or newer is needed")
        self._major = major
        return f"helm {found.group(0)}"

    def _global(self) -> list[str]:
        flags = []
        if self._kubeconfig:
            flags += ["--kubeconfig", self._kubeconfig]
        if self._context:
            flags += ["--kube-context", self._context]
        return flags

    # -- the commands ------------------------------------------------------------------

    def install_args(self, spec: ComponentSpec, values_file: Path) -> list[str]:
        chart = [spec.chart, "--version", spec.version]
        if spec.repo_url:
            chart += ["--repo", spec.repo_url]
        common = [
            "--namespace",
            spec.namespace,
            *chart,
            "--values",
            str(values_file),
            "--output",
            "json",
            *self._global(),
        ]
        if self.dry_run:
            return [self._helm, "install", spec.name, *common, "--dry-run=client"]
        rollback = "--atomic" if self._major == 3 else "--rollback-on-failure"
        return [
            self._helm,
            "upgrade",
            "--install",
            spec.name,
            *common,
            "--create-namespace",
            "--wait",
            "--timeout",
            self._timeout,
            rollback,
        ]

    def plan(self, spec: ComponentSpec) -> list[list[str]]:
        return [self.install_args(spec, Path(f"{spec.name}-values.yaml"))]

    # -- install, status, uninstall ---------------------------------------------------

    async def install(self, spec: ComponentSpec) -> ComponentState:
        if self._major is None:
            await self.check()
        self._work.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(dir=self._work) as scratch:
            values_file = Path(scratch) / f"{spec.name}-values.yaml"
            # JSON is YAML; the file is this user's only, as the values may name secrets.
            fd = os.open(values_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(dict(spec.values), handle)
            code, out, err = await self._run(self.install_args(spec, values_file))
        if code != 0:
            return ComponentState(
                ComponentStatus.FAILED, _masked(_last_line(err or out), spec.values)
            )
        try:
            release = json.loads(out)
        except ValueError:
            return ComponentState(ComponentStatus.FAILED, "helm printed no release record")
        if self.dry_run:
            self._keep(spec, release)
        return release_state(release, dry_run=self.dry_run)

    async def status(self, spec: ComponentSpec) -> ComponentState:
        if self.dry_run:
            kept = self._kept(spec)
            if kept is None:
                return ComponentState(ComponentStatus.ABSENT, "not rendered yet")
            return release_state(kept, dry_run=True)
        argv = [self._helm, "status", spec.name, "--namespace", spec.namespace, "-o", "json"]
        code, out, err = await self._run([*argv, *self._global()], 60)
        if code != 0:
            if _NOT_FOUND.search(err):
                return ComponentState(ComponentStatus.ABSENT, "no release")
            raise InstallError(f"`helm status {spec.name}` failed: {_last_line(err)}")
        return release_state(json.loads(out))

    async def uninstall(self, spec: ComponentSpec) -> ComponentState:
        if self.dry_run:
            self._record_path(spec).unlink(missing_ok=True)
            return ComponentState(ComponentStatus.ABSENT, "removed (client dry run)")
        argv = [
            self._helm,
            "uninstall",
            spec.name,
            "--namespace",
            spec.namespace,
            "--wait",
            "--timeout",
            self._timeout,
            *self._global(),
        ]
        code, _, err = await self._run(argv)
        if code != 0 and not _NOT_FOUND.search(err):
            return ComponentState(ComponentStatus.FAILED, _last_line(err))
        return ComponentState(ComponentStatus.ABSENT, "uninstalled")

    async def aclose(self) -> None:
        pass

    # -- helpers ----------------------------------------------------------------------

    def _record_path(self, spec: ComponentSpec) -> Path:
        return self._work / "dry-run" / f"{spec.namespace}.{spec.name}.json"

    def _keep(self, spec: ComponentSpec, release: Mapping[str, Any]) -> None:
        """Keep what status needs of a rendered release: never its values or manifests."""
        info = release.get("info") or {}
        kept = {
            "info": {"status": info.get("status"), "description": info.get("description", "")},
            "chart": {"metadata": (release.get("chart") or {}).get("metadata") or {}},
            "version": release.get("version"),
            "values_digest": values_digest(release.get("config") or {}),
        }
        path = self._record_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path.with_suffix(".partial"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(kept, handle)
        path.with_suffix(".partial").replace(path)

    def _kept(self, spec: ComponentSpec) -> dict[str, Any] | None:
        path = self._record_path(spec)
        if not path.exists():
            return None
        kept: dict[str, Any] = json.loads(path.read_text())
        return kept

    async def _run(
        self, argv: Sequence[str], limit_seconds: float | None = None
    ) -> tuple[int, str, str]:
        limit = limit_seconds or _seconds(self._timeout) + _GRACE_SECONDS
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            raise InstallError(f"could not run helm: {error.strerror}") from None
        try:
            out, err = await asyncio.wait_for(process.communicate(), limit)
        except TimeoutError:
            await _kill(process)
            return 1, "", f"helm did not finish within {limit:g}s"
        except BaseException:
            # Cancelled (the server stops): helm must not go on alone.
            await _kill(process)
            raise
        code = process.returncode if process.returncode is not None else 1
        return code, out.decode(errors="replace"), err.decode(errors="replace")


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def release_state(release: Mapping[str, Any], *, dry_run: bool = False) -> ComponentState:
    """A component's state from a helm release record (`helm status -o json`)."""
    info = release.get("info") or {}
    status = str(info.get("status", "unknown"))
    chart = (release.get("chart") or {}).get("metadata") or {}
    config = release.get("config") or {}
    description = str(info.get("description", ""))
    if dry_run and status == "pending-install":
        mapped, message = ComponentStatus.READY, "rendered (client dry run, nothing installed)"
    else:
        mapped = _STATUSES.get(status, ComponentStatus.FAILED)
        message = f"{status}: {description}" if description else status
    return ComponentState(
        mapped,
        message,
        version=str(chart["version"]) if "version" in chart else None,
        revision=int(release["version"]) if "version" in release else None,
        values_digest=str(release.get("values_digest") or values_digest(config)),
    )


def _seconds(duration: str) -> float:
    return float(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else "no output"


def _masked(text: str, values: Mapping[str, object]) -> str:
    """Helm quotes values in some errors; no string value of the spec is shown."""
    return mask_secrets(text, _strings(values))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []
