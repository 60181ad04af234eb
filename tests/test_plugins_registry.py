"""Plugin discovery gives clear errors for missing and broken plugins."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from home_idp.plugins import registry


def fake_entry_points(*entries: EntryPoint):  # type: ignore[no-untyped-def]
    def lookup(group: str) -> tuple[EntryPoint, ...]:
        return entries if group == registry.PLUGIN_GROUP else ()

    return lookup


def test_a_missing_plugin_names_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry,
        "entry_points",
        fake_entry_points(
            EntryPoint("git.local", "json:loads", registry.PLUGIN_GROUP),
            EntryPoint("git.github", "json:dumps", registry.PLUGIN_GROUP),
        ),
    )
    assert registry.installed_plugins("git") == ["github", "local"]
    with pytest.raises(registry.PluginNotFound, match=r"named 'gitlab'.*installed: github, local"):
        registry.load_plugin("git", "gitlab")
    import json

    assert registry.load_plugin("git", "local") is json.loads


def test_a_broken_plugin_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry,
        "entry_points",
        fake_entry_points(
            EntryPoint("git.broken", "no_such_module_x:thing", registry.PLUGIN_GROUP)
        ),
    )
    with pytest.raises(registry.PluginNotFound, match="failed to load"):
        registry.load_plugin("git", "broken")
