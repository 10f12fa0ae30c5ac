"""The process-wide plugin manager and the facade through which services call hooks.

Built-ins are plugins like any other (``DEFAULT_PLUGINS``); third-party plugins come from the
``predis`` entry-point group. ``PREDIS_PLUGINS`` (comma-separated entry-point names) loads only
those third-party plugins; ``PREDIS_DISABLE_PLUGINS`` blocks any plugin by name, built-ins
included (a built-in's name is its module's last part, such as ``sqlite_origin``).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, cast

import pluggy

from predis.plugins import hookspecs
from predis.plugins.origin import Origin, OriginFactory, OriginSpec

if TYPE_CHECKING:
    from predis.services.retrainer.adaptation import AdaptationStrategy

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "predis"
ALLOW_ENV = "PREDIS_PLUGINS"
DENY_ENV = "PREDIS_DISABLE_PLUGINS"
DEFAULT_PLUGINS = (
    "predis.plugins.builtin.sqlite_origin",
    "predis.plugins.builtin.synthetic_origin",
    "predis.services.retrainer.adaptation",
)


class PluginError(ValueError):
    """A plugin is misconfigured or misbehaves; the message names it."""


def _names(environ: Mapping[str, str], var: str) -> set[str] | None:
    raw = environ.get(var)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def build_plugin_manager(environ: Mapping[str, str] | None = None) -> pluggy.PluginManager:
    """A plugin manager with the built-ins and the allowed entry-point plugins registered."""
    env = os.environ if environ is None else environ
    allowed = _names(env, ALLOW_ENV)
    denied = _names(env, DENY_ENV) or set()
    pm = pluggy.PluginManager("predis")
    pm.add_hookspecs(hookspecs)
    for module_path in DEFAULT_PLUGINS:
        name = module_path.rsplit(".", 1)[-1]
        if name not in denied:
            pm.register(importlib.import_module(module_path), name=name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in denied or (allowed is not None and ep.name not in allowed):
            continue
        if pm.get_plugin(ep.name) is None:
            pm.register(ep.load(), name=ep.name)
    # A hook implementation whose name matches no hookspec (a typo) fails here, loudly.
    pm.check_pending()
    return pm


class Plugins:
    """The only caller of ``pm.hook.*``: typed, validated access to what plugins provide."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm

    def origin_factories(self) -> dict[str, OriginFactory]:
        factories: dict[str, OriginFactory] = {}

        def register(name: str, factory: OriginFactory) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"an origin was registered with the invalid name {name!r}")
            if name in factories:
                raise PluginError(f"two plugins register an origin named {name!r}; disable one")
            if not callable(factory):
                raise PluginError(f"origin {name!r} was registered with a factory that is not callable")
            factories[name] = factory

        self._pm.hook.predis_register_origins(register=register)
        return factories

    def adaptation_strategies(self) -> dict[str, AdaptationStrategy]:
        """Every registered per-tenant adaptation strategy, by name."""
        from predis.services.retrainer.adaptation import AdaptationStrategy

        strategies: dict[str, AdaptationStrategy] = {}

        def register(name: str, strategy: AdaptationStrategy) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"an adaptation strategy was registered with the invalid name {name!r}")
            if name in strategies:
                raise PluginError(f"two plugins register an adaptation strategy named {name!r}; disable one")
            if not isinstance(strategy, AdaptationStrategy):
                raise PluginError(f"adaptation strategy {name!r} lacks scope() and build()")
            strategies[name] = strategy

        self._pm.hook.predis_register_adaptation_strategies(register=register)
        return strategies

    def drift_detector_factories(self) -> dict[str, Callable[[str, Any], object]]:
        """Every registered drift detector factory, by name."""
        from predis.services.drift.observer import BUILT_IN_DETECTORS

        factories: dict[str, Callable[[str, Any], object]] = {}

        def register(name: str, factory: Callable[[str, Any], object]) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"a drift detector was registered with the invalid name {name!r}")
            if name in factories or name in BUILT_IN_DETECTORS:
                raise PluginError(f"two plugins (or a plugin and a built-in) register a drift detector named {name!r}")
            if not callable(factory):
                raise PluginError(f"drift detector {name!r} was registered with a factory that is not callable")
            factories[name] = factory

        self._pm.hook.predis_register_drift_detectors(register=register)
        return factories

    def has_prefetch_candidates(self) -> bool:
        """Whether any plugin implements ``predis_prefetch_candidates``."""
        return bool(self._pm.hook.predis_prefetch_candidates.get_hookimpls())

    def prefetch_candidates(self, tenant: str, key: bytes) -> list[bytes]:
        """Every plugin's application candidates after a read of ``key``; a plugin that fails
        or answers something other than keys is logged and skipped."""
        out: list[bytes] = []
        for impl in self._pm.hook.predis_prefetch_candidates.get_hookimpls():
            try:
                answer = impl.function(**{a: {"tenant": tenant, "key": key}[a] for a in impl.argnames})
                keys = list(cast("Iterable[bytes]", answer or ()))
                if not all(isinstance(k, bytes) and k for k in keys):
                    raise TypeError("predis_prefetch_candidates must return non-empty bytes keys")
            except Exception as exc:  # noqa: BLE001 - one plugin's bug must not stop prefetching
                log.warning("plugin %s: predis_prefetch_candidates failed: %s", impl.plugin_name, exc)
                continue
            out.extend(keys)
        return out

    def make_origin(self, url: str) -> Origin:
        """The origin the URL names, built by the plugin that registered that name."""
        try:
            spec = OriginSpec.parse(url)
        except ValueError as exc:
            raise PluginError(str(exc)) from exc
        factories = self.origin_factories()
        factory = factories.get(spec.name)
        if factory is None:
            known = ", ".join(sorted(factories)) or "none"
            raise PluginError(f"no plugin provides an origin named {spec.name!r} (installed: {known})")
        try:
            origin = factory(spec)
        except ValueError as exc:
            raise PluginError(f"origin {spec.name!r} refused its settings: {exc}") from exc
        if not isinstance(origin, Origin):
            raise PluginError(f"origin {spec.name!r}: its factory returned {type(origin).__name__}, not an Origin")
        return origin


_lock = threading.Lock()
_plugins: Plugins | None = None


def plugins() -> Plugins:
    """The process-wide plugin facade, built on first use."""
    global _plugins
    with _lock:
        if _plugins is None:
            _plugins = Plugins(build_plugin_manager())
        return _plugins
