"""Plugin discovery: entry points in the group `home_idp.plugins`.

An entry point is named `<kind>.<name>` (for example `git.local`); settings
choose a plugin by kind and name.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

__all__ = ["PLUGIN_GROUP", "PluginNotFound", "installed_plugins", "load_plugin"]

PLUGIN_GROUP = "home_idp.plugins"


class PluginNotFound(Exception):
    """A setting names a plugin that is not installed or does not load."""


def _entry_points() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=PLUGIN_GROUP)}


def installed_plugins(kind: str) -> list[str]:
    """Names of the installed plugins of one kind, sorted."""
    prefix = f"{kind}."
    return sorted(name.removeprefix(prefix) for name in _entry_points() if name.startswith(prefix))


def load_plugin(kind: str, name: str) -> Any:
    """The object an entry point names, or a PluginNotFound that lists what is installed."""
    entry = _entry_points().get(f"{kind}.{name}")
    installed = ", ".join(installed_plugins(kind)) or "none"
    if entry is None:
        raise PluginNotFound(
            f"no {kind} plugin named {name!r} is installed (installed: {installed})"
        )
    try:
        return entry.load()
    except Exception as error:  # a broken plugin must not look like a missing one
        raise PluginNotFound(f"the {kind} plugin {name!r} failed to load: {error}") from error
