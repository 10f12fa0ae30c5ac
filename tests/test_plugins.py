"""Plugins: built-ins, throwaway plugins, allow/deny lists, typos, and a real installed package."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pluggy
import pytest

import predis
from predis.plugins import PluginError, Plugins, build_plugin_manager, hookimpl, hookspecs, reference
from predis.services import cli

REPO = Path(__file__).resolve().parent.parent


class EchoOrigin:
    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        return b"echo:" + key

    def close(self) -> None:
        pass


class EchoPlugin:
    @hookimpl
    def predis_register_origins(self, register):  # type: ignore[no-untyped-def]
        register("echo", lambda spec: EchoOrigin())


def test_builtins_register_sqlite_and_synthetic() -> None:
    assert {"sqlite", "synthetic"} <= set(Plugins(build_plugin_manager({})).origin_factories())


def test_a_registered_plugin_provides_an_origin_and_can_be_removed() -> None:
    pm = build_plugin_manager({})
    plugin = EchoPlugin()
    pm.register(plugin)
    try:
        assert Plugins(pm).make_origin("echo:").fetch("t", b"k") == b"echo:k"
    finally:
        pm.unregister(plugin)
    with pytest.raises(PluginError, match="no plugin provides an origin named 'echo'"):
        Plugins(pm).make_origin("echo:")


def test_two_plugins_with_one_origin_name_fail_loudly() -> None:
    pm = build_plugin_manager({})

    class Clash:
        @hookimpl
        def predis_register_origins(self, register):  # type: ignore[no-untyped-def]
            register("sqlite", lambda spec: EchoOrigin())

    pm.register(Clash())
    with pytest.raises(PluginError, match="two plugins register an origin named 'sqlite'"):
        Plugins(pm).origin_factories()


def test_a_misspelled_hook_fails_check_pending() -> None:
    pm = build_plugin_manager({})

    class Typo:
        @hookimpl
        def predis_register_orgins(self, register):  # type: ignore[no-untyped-def]
            pass

    pm.register(Typo())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def test_deny_list_blocks_builtins_by_name() -> None:
    pm = build_plugin_manager({"PREDIS_DISABLE_PLUGINS": "synthetic_origin"})
    assert set(Plugins(pm).origin_factories()) == {"sqlite"}


def test_sqlite_origin_reads_its_table(tmp_path: Path) -> None:
    db = tmp_path / "kv.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE items (key BLOB PRIMARY KEY, value BLOB, tenant TEXT)")
        conn.execute("INSERT INTO items VALUES (?, ?, ?)", (b"k", b"v-for-a", "a"))
    plugins = Plugins(build_plugin_manager({}))
    origin = plugins.make_origin(f"sqlite://{db}?table=items&tenant_column=tenant")
    assert origin.fetch("a", b"k") == b"v-for-a"
    assert origin.fetch("b", b"k") is None
    # One small page cache a worker thread: the OS caches the file once for all of them.
    assert origin._connection().execute("PRAGMA cache_size").fetchone()[0] == -256
    origin.close()
    sized = plugins.make_origin(f"sqlite://{db}?table=items&cache_kib=64")
    assert sized._connection().execute("PRAGMA cache_size").fetchone()[0] == -64
    sized.close()
    with pytest.raises(PluginError, match="cache_kib"):
        plugins.make_origin(f"sqlite://{db}?table=items&cache_kib=lots")
    with pytest.raises(PluginError, match="does not exist"):
        plugins.make_origin(f"sqlite://{tmp_path}/missing.db")
    with pytest.raises(PluginError, match="plain SQL identifier"):
        plugins.make_origin(f"sqlite://{db}?table=items;drop")


def _install_tiny_plugin(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=69"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "predis-echo-origin"
            version = "0.0.1"

            [project.entry-points.predis]
            echo = "predis_echo_origin"
            """
        )
    )
    (pkg / "predis_echo_origin.py").write_text(
        textwrap.dedent(
            """
            from predis.plugins import hookimpl

            class EchoOrigin:
                def fetch(self, tenant, key):
                    return b"echo:" + tenant.encode() + b":" + key

                def close(self):
                    pass

            @hookimpl
            def predis_register_origins(register):
                register("echo", lambda spec: EchoOrigin())
            """
        )
    )
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--target",
            str(site),
            str(pkg),
        ],
        check=True,
    )
    return site


def test_an_installed_plugin_package_is_found_by_its_entry_point_and_called(tmp_path: Path) -> None:
    site = _install_tiny_plugin(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(site), "PREDIS_ORIGIN": "echo:", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "predis.services.cli", "serve", "cache", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        port = re.search(r":(\d+)$", ready.strip())
        assert port, ready + (server.stderr.read() if server.poll() is not None else "")  # type: ignore[union-attr]
        with predis.Client(f"127.0.0.1:{port.group(1)}") as client:
            assert client.get(b"answer") == b"echo:default:answer"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0

    denied = subprocess.run(
        [sys.executable, "-m", "predis.services.cli", "serve", "cache", "--listen", "127.0.0.1:0"],
        env={**env, "PREDIS_PLUGINS": "something-else"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert denied.returncode == 2
    assert "no plugin provides an origin named 'echo'" in denied.stderr


def test_every_hook_has_a_test_and_a_documented_entry() -> None:
    hooks = [name for name in dir(hookspecs) if name.startswith("predis_")]
    assert hooks
    tests_text = "".join(p.read_text() for p in (REPO / "tests").glob("test_*.py"))
    docs_text = (REPO / "docs" / "plugins.md").read_text()
    for hook in hooks:
        assert f"def {hook}(" in tests_text, f"{hook} has no test implementing it"
        assert f"## `{hook}`" in docs_text, f"{hook} has no section in docs/plugins.md"


# -- call order: everything goes through pm.hook, so pluggy's marks and wrappers apply -------------


class Proposes:
    """A throwaway prefetch-candidates plugin that proposes one key, with ordering marks."""

    def __init__(self, key: bytes, **marks: bool) -> None:
        self.key = key

        @hookimpl(**marks)
        def predis_prefetch_candidates(tenant: str, key: bytes) -> list[bytes]:
            return [self.key]

        self.predis_prefetch_candidates = predis_prefetch_candidates


class OnlyTenantA:
    """A new-style wrapper: sees every answer, drops them for tenants other than "a"."""

    @hookimpl(wrapper=True)
    def predis_prefetch_candidates(self, tenant: str):  # type: ignore[no-untyped-def]
        answers = yield
        return answers if tenant == "a" else []


class CountsCalls:
    """An old-style hookwrapper (pluggy's ``hookwrapper=True``): runs around the others."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    @hookimpl(hookwrapper=True)
    def predis_prefetch_candidates(self, key: bytes):  # type: ignore[no-untyped-def]
        outcome = yield
        self.seen.append(outcome.get_result())


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A plugin manager built as the services build it; tests register throwaway plugins on it."""
    return build_plugin_manager({})


def _registered(pm: pluggy.PluginManager, *plugins: object) -> list[object]:
    for plugin in plugins:
        pm.register(plugin)
    return list(plugins)


def test_prefetch_candidates_follow_pluggys_call_order_and_wrappers(pm: pluggy.PluginManager) -> None:
    counter = CountsCalls()
    plugins = _registered(
        pm,
        Proposes(b"last", trylast=True),
        Proposes(b"first", tryfirst=True),
        Proposes(b"older"),
        Proposes(b"newer"),  # registered last: called first among the unmarked ones
        OnlyTenantA(),
        counter,
    )
    try:
        facade = Plugins(pm)
        assert facade.prefetch_candidates("a", b"k") == [b"first", b"newer", b"older", b"last"]
        assert facade.prefetch_candidates("b", b"k") == []  # the wrapper dropped them
        assert counter.seen == [[[b"first"], [b"newer"], [b"older"], [b"last"]], []]
    finally:
        for plugin in plugins:
            pm.unregister(plugin)
    assert not Plugins(pm).has_prefetch_candidates()


def test_a_wrapper_around_a_registration_hook_runs_around_every_registration(pm: pluggy.PluginManager) -> None:
    events: list[str] = []

    class Audits:
        @hookimpl(wrapper=True)
        def predis_register_origins(self, register):  # type: ignore[no-untyped-def]
            events.append("before")
            result = yield
            events.append("after")
            return result

    class Echo:
        @hookimpl(tryfirst=True)
        def predis_register_origins(self, register):  # type: ignore[no-untyped-def]
            events.append("echo")
            register("echo", lambda spec: EchoOrigin())

    plugins = _registered(pm, Audits(), Echo())
    try:
        assert Plugins(pm).make_origin("echo:").fetch("t", b"k") == b"echo:k"
        assert events == ["before", "echo", "after"]
    finally:
        for plugin in plugins:
            pm.unregister(plugin)


def test_a_failing_prefetch_plugin_is_named_and_only_that_read_loses_its_candidates(
    pm: pluggy.PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    class Fails:
        @hookimpl(tryfirst=True)
        def predis_prefetch_candidates(self, key: bytes) -> list[bytes]:
            if key == b"bad":
                raise RuntimeError("boom")
            return [b"fine"]

    class Wrong:
        @hookimpl
        def predis_prefetch_candidates(self, key: bytes) -> object:
            return b"one bytes value is not a list of keys" if key == b"wrong" else None

    plugins = _registered(pm, Proposes(b"other"), Wrong())
    plugins.append(Fails())
    pm.register(plugins[-1], name="fails")
    try:
        facade = Plugins(pm)
        assert facade.prefetch_candidates("t", b"bad") == []
        assert "plugin fails: predis_prefetch_candidates failed: boom" in caplog.text
        assert facade.prefetch_candidates("t", b"wrong") == [b"fine", b"other"]  # the wrong answer alone is skipped
        assert "not an iterable of bytes keys" in caplog.text
        assert facade.prefetch_candidates("t", b"good") == [b"fine", b"other"]
    finally:
        for plugin in plugins:
            pm.unregister(plugin)


# -- loading: entry points, allow and deny lists through pluggy's blocking, loud failures -----------


@pytest.fixture
def distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Makes an installed distribution on sys.path (a .dist-info folder beside its modules, as pip
    leaves them) whose entry points are in the ``predis`` group; forgets its modules afterwards."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def make(name: str, version: str, plugins: dict[str, str]) -> None:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = [f"{plugin} = {plugin}_module" for plugin in plugins]
        (info / "entry_points.txt").write_text("[predis]\n" + "\n".join(lines) + "\n")
        for plugin, source in plugins.items():
            (site / f"{plugin}_module.py").write_text(textwrap.dedent(source))
            modules.append(f"{plugin}_module")
        importlib.invalidate_caches()

    yield make
    for module in modules:
        sys.modules.pop(module, None)


ECHO_SOURCE = """
    from predis.plugins import hookimpl

    class EchoOrigin:
        def fetch(self, tenant, key):
            return key

        def close(self):
            pass

    @hookimpl
    def predis_register_origins(register):
        register("echo", lambda spec: EchoOrigin())
"""

NEXT_SOURCE = """
    from predis.plugins import hookimpl

    @hookimpl(trylast=True)
    def predis_prefetch_candidates(key):
        return [key + b"+1"]
"""


def test_entry_points_load_through_pluggy_with_their_distribution(distribution: Callable[..., None]) -> None:
    distribution("acme-plugins", "2.3", {"echo": ECHO_SOURCE, "next": NEXT_SOURCE})
    pm = build_plugin_manager({})
    assert {"echo", "next"} <= {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    assert {(dist.project_name, dist.version) for _, dist in pm.list_plugin_distinfo()} == {("acme-plugins", "2.3")}
    facade = Plugins(pm)
    assert facade.make_origin("echo:").fetch("t", b"k") == b"k"
    assert facade.prefetch_candidates("t", b"k") == [b"k+1"]


def test_allow_and_deny_lists_block_through_pluggy(
    distribution: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    distribution("acme-plugins", "2.3", {"echo": ECHO_SOURCE, "next": NEXT_SOURCE})
    denied = build_plugin_manager({"PREDIS_DISABLE_PLUGINS": "echo, sqlite_origin"})
    assert denied.is_blocked("echo") and denied.is_blocked("sqlite_origin") and not denied.is_blocked("next")
    assert "echo_module" not in sys.modules  # a blocked plugin is not even imported
    assert set(Plugins(denied).origin_factories()) == {"synthetic"}
    only_echo = build_plugin_manager({"PREDIS_PLUGINS": "echo"})
    assert only_echo.is_blocked("next") and not only_echo.is_blocked("echo")
    assert not only_echo.is_blocked("sqlite_origin")  # the allow list is for third-party plugins
    assert not Plugins(only_echo).has_prefetch_candidates()
    assert only_echo.register(object(), name="next") is None  # pluggy refuses a blocked name
    build_plugin_manager({"PREDIS_DISABLE_PLUGINS": "ecko", "PREDIS_PLUGINS": "echo"})
    assert "PREDIS_DISABLE_PLUGINS names 'ecko', but no plugin has that name" in caplog.text


def test_a_plugin_that_cannot_load_stops_loading_with_its_name(distribution: Callable[..., None]) -> None:
    distribution("broken-plugins", "0.1", {"broken": "import not_a_module_anywhere\n"})
    with pytest.raises(PluginError, match=r"plugin 'broken' \(broken_module, from broken-plugins 0.1\) failed to load"):
        build_plugin_manager({})
    assert build_plugin_manager({"PREDIS_DISABLE_PLUGINS": "broken"}).is_blocked("broken")


def test_a_misspelled_hook_or_argument_in_an_installed_plugin_is_a_plugin_error(
    distribution: Callable[..., None],
) -> None:
    typo = "from predis.plugins import hookimpl\n\n@hookimpl\ndef predis_register_orgins(register):\n    pass\n"
    wrong_arg = "from predis.plugins import hookimpl\n\n@hookimpl\ndef predis_prefetch_candidates(keys):\n    pass\n"
    distribution("typo-plugins", "0.1", {"typo": typo, "wrongarg": wrong_arg})
    with pytest.raises(PluginError, match="predis_register_orgins"):
        build_plugin_manager({"PREDIS_PLUGINS": "typo"})
    with pytest.raises(PluginError, match="keys"):
        build_plugin_manager({"PREDIS_PLUGINS": "wrongarg"})


def test_services_never_call_hooks_but_through_the_facade() -> None:
    calls = re.compile(r"\.hook\.\w+\(|\bhook\(")
    for root in ("services", "sdk", "plugins"):
        for path in (REPO / root).rglob("*.py"):
            if path == REPO / "plugins" / "manager.py" or "examples" in path.parts:
                continue
            assert not calls.search(path.read_text()), f"{path.relative_to(REPO)} calls a hook: go through Plugins"


# -- predis plugins --------------------------------------------------------------------------------


def test_predis_plugins_lists_what_is_loaded_from_where_and_what_is_blocked(
    distribution: Callable[..., None], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    distribution("acme-plugins", "2.3", {"echo": ECHO_SOURCE, "next": NEXT_SOURCE})
    monkeypatch.setenv("PREDIS_DISABLE_PLUGINS", "synthetic_origin")
    monkeypatch.setenv("PREDIS_PLUGINS", "next")
    assert cli.main(["plugins", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["sqlite_origin"]["source"] == "built-in" and listed["sqlite_origin"]["distribution"].startswith(
        "predis"
    )
    assert listed["sqlite_origin"]["registers"] == {"predis_register_origins": ["sqlite"]}
    assert listed["adaptation"]["registers"]["predis_register_adaptation_strategies"] == [
        "global",
        "per-tenant-model",
        "per-tenant-threshold",
    ]
    assert listed["next"] == {
        "name": "next",
        "source": "entry point",
        "module": "next_module",
        "distribution": "acme-plugins 2.3",
        "blocked_by": "",
        "hooks": ["predis_prefetch_candidates (trylast)"],
        "registers": {},
    }
    assert listed["echo"]["blocked_by"] == "PREDIS_PLUGINS" and listed["echo"]["distribution"] == "acme-plugins 2.3"
    assert listed["synthetic_origin"]["blocked_by"] == "PREDIS_DISABLE_PLUGINS"

    assert cli.main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^next +next_module \(entry point, acme-plugins 2\.3\)$", text, re.M), text
    assert re.search(r"^ +predis_prefetch_candidates \(trylast\)$", text, re.M), text
    assert re.search(r"^echo +echo_module \(entry point, acme-plugins 2\.3\)  BLOCKED by PREDIS_PLUGINS$", text, re.M)
    assert re.search(r"^ +predis_register_origins: sqlite$", text, re.M), text


def test_predis_plugins_hooks_shows_each_hooks_call_order(
    distribution: Callable[..., None], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    distribution("acme-plugins", "2.3", {"echo": ECHO_SOURCE, "next": NEXT_SOURCE})
    monkeypatch.delenv("PREDIS_PLUGINS", raising=False)
    monkeypatch.delenv("PREDIS_DISABLE_PLUGINS", raising=False)
    assert cli.main(["plugins", "--hooks", "--json"]) == 0
    hooks = {h["name"]: h for h in json.loads(capsys.readouterr().out)}
    assert list(hooks) == list(reference.hooks())
    assert hooks["predis_register_origins"]["calls"][-2:] == ["synthetic_origin", "sqlite_origin"]  # last first
    calls = hooks["predis_register_origins"]["calls"]
    assert calls.index("echo") < calls.index("synthetic_origin")  # registered after the built-ins
    assert hooks["predis_prefetch_candidates"]["calls"] == ["next (trylast)"]
    assert hooks["predis_register_origins"]["summary"] == "Register read-through origins by name."
    assert cli.main(["plugins", "--hooks"]) == 0
    assert "  called in order: next (trylast)\n" in capsys.readouterr().out


def test_predis_plugins_exits_2_with_the_error_when_a_plugin_cannot_load(
    distribution: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    distribution("broken-plugins", "0.1", {"broken": "raise RuntimeError('no config')\n"})
    assert cli.main(["plugins"]) == 2
    assert "predis plugins: plugin 'broken' (broken_module, from broken-plugins 0.1) failed to load: no config" in (
        capsys.readouterr().err
    )


# -- the hooks' contracts: docstrings are the single source, docs/plugins.md has a copy of each -----


def test_every_hookspec_has_a_contract_and_docs_plugins_md_holds_it_verbatim() -> None:
    assert set(reference.hooks()) == {n for n in dir(hookspecs) if n.startswith("predis_")}
    for name, spec in reference.hooks().items():
        doc = spec.__doc__ or ""
        assert len(doc.strip().split("\n\n")) >= 2, f"{name}: a summary line and the contract, please"
    text = (REPO / "docs" / "plugins.md").read_text()
    assert reference.render(text) == text, "run `python -m predis.plugins.reference docs/plugins.md`"


def test_every_hook_has_an_example_in_its_docs_section() -> None:
    text = (REPO / "docs" / "plugins.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)
    for hook in reference.hooks():
        section = next(s for s in sections if s.startswith(f"`{hook}`"))
        blocks = re.findall(r"```python\n(.*?)```", section, re.S)
        assert any(f"def {hook}(" in block for block in blocks), f"{hook}: its section has no example implementing it"
