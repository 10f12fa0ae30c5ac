"""``predis plugins``: which plugins are loaded and from where, which are blocked, and which hook
implementations pluggy calls in which order.

It builds the plugin manager the services build (``build_plugin_manager``, same environment), so
what it lists is what ``predis serve`` would load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, entry_points, version
from types import ModuleType

import pluggy
from pluggy import HookImpl

from predis.plugins import reference
from predis.plugins.manager import (
    ALLOW_ENV,
    DEFAULT_PLUGINS,
    DENY_ENV,
    ENTRY_POINT_GROUP,
    PluginError,
    Plugins,
    build_plugin_manager,
    builtin_name,
)


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``predis plugins`` shows it.

    Attributes:
        name: the name it is registered (or blocked) under.
        source: ``built-in``, ``entry point`` or ``registered`` (by code, not by an entry point).
        module: where its hook implementations are: a module, or ``module.Class``.
        distribution: the installed distribution and version it came from, or "".
        blocked_by: the variable that blocks it (``PREDIS_DISABLE_PLUGINS``, or ``PREDIS_PLUGINS``
            for an entry point it does not name), or "" when it is loaded.
        hooks: the hooks it implements, each with its ordering marks (``tryfirst``, ``trylast``,
            ``wrapper``, ``hookwrapper``) in parentheses.
        registers: for each registration hook it implements, the names it registers.
    """

    name: str
    source: str
    module: str
    distribution: str
    blocked_by: str
    hooks: tuple[str, ...]
    registers: Mapping[str, list[str]]


@dataclass(frozen=True)
class HookInfo:
    """One hook: its contract's first line and its implementations, in pluggy's call order."""

    name: str
    summary: str
    wrappers: tuple[str, ...]
    calls: tuple[str, ...]


def _marks(impl: HookImpl) -> str:
    marks = [m for m in ("wrapper", "hookwrapper", "tryfirst", "trylast") if getattr(impl, m)]
    return f" ({', '.join(marks)})" if marks else ""


def _module_of(plugin: object) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


def _predis_distribution() -> str:
    try:
        return f"predis {version('predis')}"
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "predis"


def describe_plugins(pm: pluggy.PluginManager, environ: Mapping[str, str]) -> list[PluginInfo]:
    """Every plugin ``pm`` holds, then every known plugin it blocks (built-ins first)."""
    facade = Plugins(pm)
    denied = {n.strip() for n in environ.get(DENY_ENV, "").split(",") if n.strip()}
    dists = {id(plugin): f"{dist.project_name} {dist.version}" for plugin, dist in pm.list_plugin_distinfo()}
    builtins = {builtin_name(path): path for path in DEFAULT_PLUGINS}
    third_party = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    out: list[PluginInfo] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue  # blocked: listed below
        if name in builtins:
            source, dist = "built-in", _predis_distribution()
        elif id(plugin) in dists:
            source, dist = "entry point", dists[id(plugin)]
        else:
            source, dist = "registered", ""
        hooks = tuple(
            f"{caller.name}{_marks(impl)}"
            for caller in sorted(pm.get_hookcallers(plugin) or [], key=lambda c: c.name)
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin
        )
        out.append(PluginInfo(name, source, _module_of(plugin), dist, "", hooks, facade.registrations(plugin)))
    for name, path in builtins.items():
        if pm.is_blocked(name):
            out.append(PluginInfo(name, "built-in", path, _predis_distribution(), DENY_ENV, (), {}))
    for name, ep in sorted(third_party.items()):
        if pm.is_blocked(name):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
            blocked_by = DENY_ENV if name in denied else ALLOW_ENV
            out.append(PluginInfo(name, "entry point", ep.value, dist, blocked_by, (), {}))
    return out


def describe_hooks(pm: pluggy.PluginManager) -> list[HookInfo]:
    """Every hook in ``hookspecs``, in the order it defines them, with who implements it."""
    out = []
    for name in reference.hooks():
        impls = getattr(pm.hook, name).get_hookimpls()  # ascending priority: pluggy calls the last first
        label = {id(impl): f"{impl.plugin_name}{_marks(impl)}" for impl in impls}
        wrappers = tuple(label[id(i)] for i in reversed(impls) if i.wrapper or i.hookwrapper)
        calls = tuple(label[id(i)] for i in reversed(impls) if not (i.wrapper or i.hookwrapper))
        out.append(HookInfo(name, reference.summary(name), wrappers, calls))
    return out


def format_plugins(infos: list[PluginInfo]) -> str:
    width = max((len(i.name) for i in infos), default=0) + 2
    lines = []
    for info in infos:
        origin = ", ".join(part for part in (info.source, info.distribution) if part)
        blocked = f"  BLOCKED by {info.blocked_by}" if info.blocked_by else ""
        lines.append(f"{info.name:<{width}}{info.module} ({origin}){blocked}")
        for hook in info.hooks:
            registered = info.registers.get(hook.split(" ", 1)[0])
            lines.append(f"{'':<{width}}{hook}" + (f": {', '.join(registered)}" if registered else ""))
    return "\n".join(lines)


def format_hooks(infos: list[HookInfo]) -> str:
    lines = []
    for info in infos:
        lines.append(f"{info.name}: {info.summary}")
        if info.wrappers:
            lines.append(f"  wrapped by, outermost first: {', '.join(info.wrappers)}")
        lines.append(f"  called in order: {', '.join(info.calls) or '(no plugin implements it)'}")
    return "\n".join(lines)


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    listing = commands.add_parser(
        "plugins", help="the plugins loaded and from where, the blocked ones, and each hook's call order"
    )
    listing.add_argument("--hooks", action="store_true", help="list every hook, its contract and its call order")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        pm = build_plugin_manager(os.environ)
    except PluginError as error:
        print(f"predis plugins: {error}", file=sys.stderr)
        return 2
    if args.hooks:
        hooks = describe_hooks(pm)
        print(json.dumps([asdict(h) for h in hooks], indent=2) if args.json else format_hooks(hooks))
    else:
        infos = describe_plugins(pm, os.environ)
        print(json.dumps([asdict(i) for i in infos], indent=2) if args.json else format_plugins(infos))
    return 0
