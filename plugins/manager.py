"""The process-wide plugin manager and the facade through which services call hooks.

Built-ins are plugins like any other (``DEFAULT_PLUGINS``); third-party plugins come from the
``predis`` entry-point group, loaded by pluggy (``load_setuptools_entrypoints``), which records
the distribution each came from. ``PREDIS_PLUGINS`` (comma-separated entry-point names) loads only
those third-party plugins; ``PREDIS_DISABLE_PLUGINS`` blocks any plugin by name, built-ins
included (a built-in's name is its module's last part, such as ``sqlite_origin``). Both work
through pluggy's own blocking (``set_blocked``), so ``is_blocked`` answers for every name.

Every hook is called through ``pm.hook``, so pluggy's call order applies: ``tryfirst`` and
``trylast`` implementations, and wrappers (``wrapper=True``, ``hookwrapper=True``) around the rest.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, cast

import pluggy
from pluggy import HookImpl

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

REGISTRATION_HOOKS = (
    "predis_register_origins",
    "predis_register_adaptation_strategies",
    "predis_register_drift_detectors",
)


class PluginError(ValueError):
    """A plugin is misconfigured or misbehaves; the message names it."""


def _names(environ: Mapping[str, str], var: str) -> set[str] | None:
    raw = environ.get(var)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def builtin_name(module_path: str) -> str:
    """The plugin name a built-in is registered under: its module's last part."""
    return module_path.rsplit(".", 1)[-1]


def _distribution(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"


def build_plugin_manager(environ: Mapping[str, str] | None = None) -> pluggy.PluginManager:
    """A plugin manager with the built-ins and the allowed entry-point plugins registered.

    Raises PluginError naming the plugin when one fails to import, implements a hook with
    arguments the hook does not have, or implements a hook that does not exist (a typo).
    """
    env = os.environ if environ is None else environ
    allowed = _names(env, ALLOW_ENV)
    denied = _names(env, DENY_ENV) or set()
    pm = pluggy.PluginManager("predis")
    pm.add_hookspecs(hookspecs)
    for name in denied:  # before registering: pluggy then refuses these names, built-ins included
        pm.set_blocked(name)
    third_party = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    known = {builtin_name(path) for path in DEFAULT_PLUGINS} | set(third_party)
    for var, names in ((ALLOW_ENV, allowed or set()), (DENY_ENV, denied)):
        for name in sorted(names - known):
            log.warning("%s names %r, but no plugin has that name (installed: %s)", var, name, ", ".join(sorted(known)))
    try:
        for module_path in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(module_path), name=builtin_name(module_path))
        if allowed is not None:
            for name in third_party.keys() - allowed:
                if not pm.has_plugin(name):  # an entry point named like a built-in never replaces it
                    pm.set_blocked(name)
        for name, ep in third_party.items():
            try:
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
            except pluggy.PluginValidationError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever a plugin's import raises, name the plugin
                where = f"{ep.value}, from {_distribution(ep)}"
                raise PluginError(f"plugin {name!r} ({where}) failed to load: {exc}") from exc
        # A hook implementation whose name matches no hookspec (a typo) fails here, loudly.
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc} (`predis plugins --hooks` lists the hooks and their arguments)") from exc
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
        """Every plugin's application candidates after a read of ``key``, in pluggy's call order.

        An answer that is not an iterable of non-empty ``bytes`` keys is logged and skipped. An
        exception stops the call (pluggy runs no further implementation): it is logged, naming
        the plugin, and this read gets no application candidates.
        """
        hook = self._pm.hook.predis_prefetch_candidates
        try:
            answers = hook(tenant=tenant, key=key)
        except Exception as exc:  # noqa: BLE001 - one plugin's bug must not stop prefetching
            log.warning(
                "plugin %s: predis_prefetch_candidates failed: %s; this read's application candidates are skipped",
                _culprit(exc, hook.get_hookimpls()),
                exc,
            )
            return []
        out: list[bytes] = []
        for answer in answers if isinstance(answers, list) else [answers]:
            keys = _keys(answer)
            if keys is None:
                log.warning("predis_prefetch_candidates answered %.80r, not an iterable of bytes keys: skipped", answer)
                continue
            out.extend(keys)
        return out

    def registrations(self, plugin: object) -> dict[str, list[str]]:
        """The names one registered plugin registers, by registration hook (``predis plugins``).

        Calls only that plugin's implementations (pluggy's ``subset_hook_caller``); names are
        not validated here. A hook that raises is reported as ``["failed: ..."]``.
        """
        others = [p for p in self._pm.get_plugins() if p is not plugin]
        found: dict[str, list[str]] = {}
        for hook in REGISTRATION_HOOKS:
            names: list[str] = []
            caller = self._pm.subset_hook_caller(hook, others)
            if not caller.get_hookimpls():
                continue
            try:
                caller(register=lambda name, _provided, names=names: names.append(str(name)))
            except Exception as exc:  # noqa: BLE001 - reported, not raised: this is a listing
                names.append(f"failed: {exc}")
            found[hook] = names
        return found

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


def _keys(answer: object) -> list[bytes] | None:
    """The keys in one implementation's answer, or None when it is not an iterable of keys."""
    if isinstance(answer, bytes | str) or not isinstance(answer, Iterable):
        return None
    try:
        keys = list(cast("Iterable[object]", answer))
    except Exception:  # noqa: BLE001 - a generator that fails is a wrong answer like any other
        return None
    if not all(isinstance(k, bytes) and k for k in keys):
        return None
    return cast("list[bytes]", keys)


def _culprit(exc: BaseException, impls: Iterable[HookImpl]) -> str:
    """The plugin whose implementation raised ``exc`` (the innermost one in its traceback)."""
    by_code = {impl.function.__code__: impl.plugin_name for impl in impls if hasattr(impl.function, "__code__")}
    name = "unknown"
    tb = exc.__traceback__
    while tb is not None:
        name = by_code.get(tb.tb_frame.f_code, name)
        tb = tb.tb_next
    return name


_lock = threading.Lock()
_plugins: Plugins | None = None


def plugins() -> Plugins:
    """The process-wide plugin facade, built on first use."""
    global _plugins
    with _lock:
        if _plugins is None:
            _plugins = Plugins(build_plugin_manager())
        return _plugins
