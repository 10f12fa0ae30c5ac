"""Extending Predis with pluggy plugins: ``from predis.plugins import hookimpl``."""

from predis.plugins.hookspecs import hookimpl, hookspec
from predis.plugins.manager import PluginError, Plugins, build_plugin_manager, plugins
from predis.plugins.origin import Origin, OriginFactory, OriginSpec

__all__ = [
    "Origin",
    "OriginFactory",
    "OriginSpec",
    "PluginError",
    "Plugins",
    "build_plugin_manager",
    "hookimpl",
    "hookspec",
    "plugins",
]
