"""Plugin discovery gives clear errors for missing and broken plugins."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from home_idp.plugins import discovery


def fake_entry_points(*entries: EntryPoint):  # type: ignore[no-untyped-def]
    def lookup(group: str) -> tuple[EntryPoint, ...]:
        return entries if group == discovery.PLUGIN_GROUP else ()

    return lookup


def test_a_missing_plugin_names_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        discovery,
        "entry_points",
        fake_entry_points(
            EntryPoint("git.local", "json:loads", discovery.PLUGIN_GROUP),
            EntryPoint("git.github", "json:dumps", discovery.PLUGIN_GROUP),
        ),
    )
    assert discovery.installed_plugins("git") == ["github", "local"]
    with pytest.raises(discovery.PluginNotFound, match=r"named 'gitlab'.*installed: github, local"):
        discovery.load_plugin("git", "gitlab")
    import json

    assert discovery.load_plugin("git", "local") is json.loads


def test_a_broken_plugin_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        discovery,
        "entry_points",
        fake_entry_points(
            EntryPoint("git.broken", "no_such_module_x:thing", discovery.PLUGIN_GROUP)
        ),
    )
    with pytest.raises(discovery.PluginNotFound, match="failed to load"):
        discovery.load_plugin("git", "broken")
