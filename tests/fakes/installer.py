"""An in-memory installer: components install at once and keep their values' digest."""

from __future__ import annotations

from home_idp.plugins.installer.contract import (
    ComponentSpec,
    ComponentState,
    ComponentStatus,
    InstallerConfig,
    InstallError,
    values_digest,
)

__all__ = ["FakeInstaller"]


class FakeInstaller:
    """Installs by remembering; `fail_install` makes one component's next install fail."""

    VERSION = "fake-installer v1.0.0"

    def __init__(self, config: InstallerConfig) -> None:
        self._config = config
        self._installed: dict[str, ComponentState] = {}
        self._failing: dict[str, str] = {}
        self.installs: list[str] = []

    def fail_install(self, name: str, message: str) -> None:
        self._failing[name] = message

    async def check(self) -> str:
        return self.VERSION

    def plan(self, spec: ComponentSpec) -> list[list[str]]:
        # Values go by file name only: they may hold secrets.
        return [["install", spec.name, spec.chart, spec.version, f"{spec.name}-values.yaml"]]

    async def install(self, spec: ComponentSpec) -> ComponentState:
        if not spec.name or not spec.chart:
            raise InstallError("a component needs a name and a chart")
        self.installs.append(spec.name)
        if spec.name in self._failing:
            return ComponentState(ComponentStatus.FAILED, self._failing.pop(spec.name))
        earlier = self._installed.get(spec.name)
        revision = (earlier.revision or 0) + 1 if earlier else 1
        state = ComponentState(
            ComponentStatus.READY,
            f"{spec.name} {spec.version} is ready",
            version=spec.version,
            revision=revision,
            values_digest=values_digest(spec.values),
        )
        self._installed[spec.name] = state
        return state

    async def status(self, spec: ComponentSpec) -> ComponentState:
        return self._installed.get(spec.name) or ComponentState(ComponentStatus.ABSENT)

    async def uninstall(self, spec: ComponentSpec) -> ComponentState:
        self._installed.pop(spec.name, None)
        return ComponentState(ComponentStatus.ABSENT, f"{spec.name} is not installed")

    async def aclose(self) -> None:
        return None
