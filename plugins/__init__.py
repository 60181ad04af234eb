"""Reusable plugins of home-idp's managers, found through entry points."""

from home_idp.plugins.discovery import PLUGIN_GROUP, PluginNotFound, installed_plugins, load_plugin

__all__ = ["PLUGIN_GROUP", "PluginNotFound", "installed_plugins", "load_plugin"]
