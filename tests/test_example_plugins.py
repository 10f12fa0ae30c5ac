"""The example plugin distribution in plugins/examples: each plugin from its source module, then the
distribution installed with pip and found by Predis's own loading (its entry points), with its
origin serving a real cache on loopback, its prefetch source filling that cache and its adaptation
strategy training a model."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import predis
from conftest import BackgroundSuite
from predis.plugins import PluginError, Plugins, build_plugin_manager
from predis.services.cache.prefetcher import PrefetchSettings
from predis.services.retrainer.adaptation import AdaptationRequest
from predis.services.retrainer.training import TrainingOptions, TrainingWindow

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "plugins" / "examples"
PACKAGE = "predis_example_plugins"
PLUGINS = {"files_origin", "next_pages", "recent_traffic"}


def _forget_the_package() -> None:
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ModuleType]]:
    """Imports the example's modules from plugins/examples (not installed)."""
    _forget_the_package()
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    _forget_the_package()


def session_ids(sessions: int = 2000, length: int = 5, seed: int = 0) -> np.ndarray:
    """Requests in short runs of consecutive ids: traffic a model can learn."""
    starts = np.random.default_rng(seed).integers(0, 500, sessions) * 100
    return (starts[:, None] + np.arange(length)).ravel().astype(np.uint64)


# -- each plugin, registered from its module ---------------------------------------------------------


def test_files_origin_reads_files_and_never_outside_its_folder(
    source: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    pm = build_plugin_manager({})
    pm.register(source("files_origin"), name="files_origin")
    facade = Plugins(pm)
    (tmp_path / "values" / "acme").mkdir(parents=True)
    (tmp_path / "values" / "page:1").write_bytes(b"shared")
    (tmp_path / "values" / "user%2F7").write_bytes(b"seven")
    (tmp_path / "values" / "acme" / "page:1").write_bytes(b"acme's")
    (tmp_path / "secret").write_bytes(b"outside")
    shared = facade.make_origin(f"files://{tmp_path / 'values'}")
    assert shared.fetch("acme", b"page:1") == shared.fetch("other", b"page:1") == b"shared"
    assert shared.fetch("t", b"user/7") == b"seven"  # percent-encoded: no folder named user
    assert shared.fetch("t", b"missing") is None
    assert shared.fetch("t", b"acme") is None  # a folder is not a value
    for escape in (b"..", b".", b"", b"../secret", b"/etc/passwd"):
        assert shared.fetch("t", escape) is None
    per_tenant = facade.make_origin(f"files://{tmp_path / 'values'}?tenant_dirs=true")
    assert per_tenant.fetch("acme", b"page:1") == b"acme's"
    assert per_tenant.fetch("other", b"page:1") is None
    assert per_tenant.fetch("..", b"secret") is None
    per_tenant.close()
    for url, message in [
        ("files:", "say which folder"),
        (f"files://{tmp_path / 'nowhere'}", "is not a folder"),
        (f"files://{tmp_path}?tenant_dirs=maybe", "not true or false"),
        (f"files://{tmp_path}?tenant_dir=true", "unknown option"),
    ]:
        with pytest.raises(PluginError, match=message):
            facade.make_origin(url)


def test_next_pages_proposes_the_following_numbered_keys(source: Callable[[str], ModuleType]) -> None:
    module = source("next_pages")
    pm = build_plugin_manager({})
    pm.register(module, name="next_pages")
    facade = Plugins(pm)
    assert facade.has_prefetch_candidates()
    assert facade.prefetch_candidates("t", b"page:7") == [b"page:8"]
    assert facade.prefetch_candidates("t", b"item007") == [b"item008"]  # the width is kept
    assert facade.prefetch_candidates("t", b"page:99") == [b"page:100"]
    assert facade.prefetch_candidates("t", b"7") == [b"8"]
    assert facade.prefetch_candidates("t", b"page:7/details") == []
    assert facade.prefetch_candidates("t", b"\xffbinary") == []
    two = module.NextPages.from_env({"PREDIS_NEXT_PAGES": "2", "PREDIS_NEXT_PAGES_PREFIXES": "page:, chapter-"})
    assert two.after(b"chapter-9") == [b"chapter-10", b"chapter-11"]
    assert two.after(b"item7") == []  # not one of the prefixes
    assert module.NextPages.from_env({"PREDIS_NEXT_PAGES": "0"}).after(b"page:1") == []
    with pytest.raises(ValueError, match="PREDIS_NEXT_PAGES"):
        module.NextPages.from_env({"PREDIS_NEXT_PAGES": "-1"})


def test_recent_traffic_scopes_like_per_tenant_model_and_keeps_the_newest_requests(
    source: Callable[[str], ModuleType],
) -> None:
    module = source("recent_traffic")
    pm = build_plugin_manager({})
    pm.register(module, name="recent_traffic")
    strategy = Plugins(pm).adaptation_strategies()["recent-traffic"]
    assert strategy.scope("acme", 10, 10) == "acme"
    assert strategy.scope("acme", 9, 10) == ""  # too little data: the global model
    assert strategy.scope("", 10**6, 10) == ""
    window = TrainingWindow(np.arange(10, dtype=np.uint64), np.arange(10) // 2, {"tenant": "acme"})
    newest = module.newest(window, 0.3)
    assert newest.ids.tolist() == [7, 8, 9] and newest.lines.tolist() == [3, 4, 4]
    assert newest.info == {"tenant": "acme", "recent_share": 0.3}
    assert module.newest(window, 1.0).ids.tolist() == list(range(10))
    assert module.recent_share({}) == 0.5
    for bad in ("0", "1.5", "half"):
        with pytest.raises(ValueError, match="PREDIS_RECENT_TRAFFIC_SHARE"):
            module.recent_share({"PREDIS_RECENT_TRAFFIC_SHARE": bad})


# -- the distribution, installed -------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plugins/examples installed with pip into a folder of its own (a copy is built: the build
    leaves nothing in the checkout, and the .venv is not changed)."""
    tmp = tmp_path_factory.mktemp("example")
    copy = shutil.copytree(EXAMPLES, tmp / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps"]
    subprocess.run([*pip, "--target", str(target), str(copy)], check=True, timeout=300)
    return target


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The installed distribution on sys.path, as if pip had installed it into this environment."""
    _forget_the_package()
    monkeypatch.syspath_prepend(str(site))
    yield site
    _forget_the_package()


def wait_until(count: Callable[[], int], at_least: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while count() < at_least:
        assert time.monotonic() < deadline, f"timed out waiting for {at_least}"
        time.sleep(0.02)


def test_the_installed_distribution_is_loaded_by_its_entry_points(installed: Path) -> None:
    pm = build_plugin_manager({})
    assert {name for name, plugin in pm.list_name_plugin() if plugin is not None} >= PLUGINS
    found = {pm.get_name(plugin): f"{dist.project_name} {dist.version}" for plugin, dist in pm.list_plugin_distinfo()}
    assert {name: found[name] for name in PLUGINS} == dict.fromkeys(PLUGINS, "predis-example-plugins 0.1.0")
    for name in PLUGINS:
        assert Path(pm.get_plugin(name).__file__).is_relative_to(installed)  # imported from the install
    only_origin = build_plugin_manager({"PREDIS_PLUGINS": "files_origin"})
    assert only_origin.is_blocked("next_pages") and only_origin.is_blocked("recent_traffic")
    assert "recent-traffic" not in Plugins(only_origin).adaptation_strategies()
    no_pages = build_plugin_manager({"PREDIS_DISABLE_PLUGINS": "next_pages"})
    assert no_pages.is_blocked("next_pages") and not Plugins(no_pages).has_prefetch_candidates()


def test_a_cache_on_loopback_reads_through_the_files_origin_and_prefetches_the_next_pages(
    installed: Path, tmp_path: Path
) -> None:
    facade = Plugins(build_plugin_manager({}))
    root = tmp_path / "values"
    (root / "default").mkdir(parents=True)
    for n in range(1, 42):
        (root / "default" / f"chapter:{n}").write_bytes(b"text of chapter %d" % n)
    origin = facade.make_origin(f"files://{root}?tenant_dirs=true")
    suite = BackgroundSuite(origin=origin, prefetch=PrefetchSettings(), app_candidates=facade.prefetch_candidates)
    suite.start()
    try:
        with predis.Client(suite.addresses["cache"]) as client:
            assert client.get(b"chapter:404") is None  # no such file: not found, not an error

            def prefetched(key: bytes) -> int:  # 1 once the cache holds key, without reading it
                assert suite.cache is not None
                domain = suite.cache
                return int(suite.call(lambda: bool(domain.cached("default", [key])[0])))

            assert client.get(b"chapter:1") == b"text of chapter 1"  # a miss: read through the origin
            for n in range(2, 41):  # each read's next chapter is prefetched: every later read is a hit
                wait_until(lambda n=n: prefetched(b"chapter:%d" % n), 1)  # type: ignore[misc]
                assert client.get(b"chapter:%d" % n) == b"text of chapter %d" % n
            wait_until(lambda: client.stats().prefetcher.prefetches_used, 39)
            stats = client.stats()
        assert (stats.tenant.hits, stats.tenant.misses) == (39, 2)  # the misses: chapter:404 and chapter:1
        with predis.Client(suite.addresses["cache"], config=predis.ClientConfig(tenant="acme")) as acme:
            assert acme.get(b"chapter:1") is None  # its own folder, which does not exist
    finally:
        suite.stop()


def test_the_recent_traffic_strategy_trains_a_model_on_the_newest_half(installed: Path, tmp_path: Path) -> None:
    from predis.services.cache.engine.candidates import candidate_rows
    from predis.services.predictor.model_files import open_model_dir

    strategy = Plugins(build_plugin_manager({})).adaptation_strategies()["recent-traffic"]
    ids = session_ids()
    window = TrainingWindow(ids, None, {"tenant": "acme"})
    options = TrainingOptions(model="logistic")
    card = strategy.build(AdaptationRequest("acme", [window], tmp_path / "acme", options, None))
    assert card["adaptation"] == "recent-traffic"
    [trained] = card["training_windows"]  # type: ignore[misc]
    assert (trained["tenant"], trained["recent_share"], trained["requests"]) == ("acme", 0.5, len(ids) // 2)
    assert json.loads((tmp_path / "acme" / "model.json").read_text())["adaptation"] == "recent-traffic"
    _, scorer = open_model_dir(str(tmp_path / "acme"))
    scores = scorer.score(candidate_rows(session_ids(seed=1)[:500]).features)
    assert len(scores) and np.all((scores >= 0) & (scores <= 1))


def test_predis_plugins_lists_the_installed_distribution_in_a_fresh_process(installed: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed), "PREDIS_DISABLE_PLUGINS": "next_pages"}
    env.pop("PREDIS_PLUGINS", None)
    result = subprocess.run(
        [sys.executable, "-m", "predis.services.cli", "plugins"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    where = "(entry point, predis-example-plugins 0.1.0)"
    assert f"files_origin      {PACKAGE}.files_origin {where}" in lines
    assert "                  predis_register_origins: files" in lines
    assert f"recent_traffic    {PACKAGE}.recent_traffic {where}" in lines
    assert "                  predis_register_adaptation_strategies: recent-traffic" in lines
    assert f"next_pages        {PACKAGE}.next_pages {where}  BLOCKED by PREDIS_DISABLE_PLUGINS" in lines
