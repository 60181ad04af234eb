"""Reusable plugins of home-idp's managers, found through entry points.

Each kind (git, builder, registry, deployer, installer) has a `contract`
module: its Protocols and the data they pass. Plugins of a kind import their
kind's contract and their own SDKs; the managers hold them through these
Protocols, so a plugin can be swapped by a setting.
"""

from home_idp.plugins.discovery import PLUGIN_GROUP, PluginNotFound, installed_plugins, load_plugin

__all__ = ["PLUGIN_GROUP", "PluginNotFound", "installed_plugins", "load_plugin"]
