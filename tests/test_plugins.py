"""Plugins: built-ins, throwaway plugins, allow/deny lists, typos, and a real installed package."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest

import predis
from predis.plugins import PluginError, Plugins, build_plugin_manager, hookimpl, hookspecs

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
