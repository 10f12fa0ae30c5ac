"""A restarted predictor serves the models it had: the manifest of loaded versions, written after
every change, is read back on start, and every scope's champion is loaded from the model store in
the data directory (the store's champion wins); a torn or foreign manifest, a store folder it cannot
read, or a model that no longer opens, is skipped, never fatal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from model_factory import make_model_dir

from predis.services.models.store import ModelStore, StoredVersion
from predis.services.predictor.manifest import FILE_NAME, LoadedManifest
from predis.services.predictor.model_files import ModelCard, OnnxScorer, open_model_dir
from predis.services.predictor.registry import ModelRegistry, Role
from predis.v1 import common_pb2


def test_a_new_registry_restores_versions_roles_and_traffic(tmp_path: Path) -> None:
    a, b, c = (make_model_dir(tmp_path / n, seed=i) for i, n in enumerate("abc"))
    state = tmp_path / "state"
    first = ModelRegistry(manifest=LoadedManifest(state))
    first.load("v1", str(a), None)
    first.load("v2", str(b), Role.CHALLENGER)
    first.load("v3", str(c), Role.SHADOW)
    first.set_traffic({"v2": (Role.CHALLENGER, 0.25)})
    first.unload("v3")
    again = ModelRegistry(manifest=LoadedManifest(state))
    assert again.restore() == ["v1", "v2"]
    assert [(m.version, m.role, m.traffic_weight) for m in again.loaded()] == [
        ("v1", Role.CHAMPION, 0.75),  # the champion answers what challengers do not take
        ("v2", Role.CHALLENGER, 0.25),
    ]


def test_a_lost_model_or_a_torn_manifest_is_skipped(tmp_path: Path) -> None:
    a, b = make_model_dir(tmp_path / "a"), make_model_dir(tmp_path / "b", seed=1)
    state = tmp_path / "state"
    first = ModelRegistry(manifest=LoadedManifest(state))
    first.load("v1", str(a), None)
    first.load("v2", str(b), Role.SHADOW)
    shutil.rmtree(b)
    again = ModelRegistry(manifest=LoadedManifest(state))
    assert again.restore() == ["v1"]
    (state / FILE_NAME).write_text('{"format": "predis-predictor-manifest/1", "models": [{"vers')
    assert ModelRegistry(manifest=LoadedManifest(state)).restore() == []
    (state / FILE_NAME).write_text('{"format": "something-else", "models": []}')
    assert ModelRegistry(manifest=LoadedManifest(state)).restore() == []
    assert ModelRegistry().restore() == []  # no manifest configured: nothing kept


# -- the model store's champions ----------------------------------------------------------------


def store_model(data: Path, folder: str, version: str, seed: int = 0, flip: bool = False) -> Path:
    return make_model_dir(data / "models" / folder / version, seed=seed, flip=flip)


def set_aliases(data: Path, folder: str, **aliases: str) -> None:
    (data / "models" / folder / "aliases.json").write_text(json.dumps(aliases))


def champions(data: Path) -> list[StoredVersion]:
    """What a starting predictor takes from the store: every scope's champion."""
    return ModelStore(data, features=None).champions()


def test_the_stores_champion_wins_over_the_manifest_and_a_broken_one_is_skipped(tmp_path: Path) -> None:
    data, state = tmp_path / "data", tmp_path / "state"
    g1, a1 = store_model(data, "_global", "g1"), store_model(data, "acme", "a1")
    store_model(data, "acme", "a2")
    set_aliases(data, "_global", champion="g1")
    set_aliases(data, "acme", champion="a2", previous="a1")
    (store_model(data, "broken", "b1") / "model.onnx").write_bytes(b"not onnx")
    set_aliases(data, "broken", champion="b1")
    first = ModelRegistry(manifest=LoadedManifest(state))
    first.load("g1", str(g1), None)
    first.load("a1", str(a1), None, tenant="acme")  # the manifest says a1 is acme's champion
    first.load("x1", str(make_model_dir(tmp_path / "x1")), Role.SHADOW, tenant="acme")
    again = ModelRegistry(manifest=LoadedManifest(state))
    assert again.restore(champions(data)) == ["a1", "g1", "x1", "a2"]  # b1 skipped
    assert [(m.version, m.tenant, m.role) for m in again.loaded()] == [
        ("a1", "acme", Role.CHALLENGER),  # the manifest's champion stays loaded, for a rollback
        ("a2", "acme", Role.CHAMPION),
        ("g1", "", Role.CHAMPION),
        ("x1", "acme", Role.SHADOW),
    ]
    assert ModelRegistry().restore(champions(data)) == ["g1", "a2"]  # no manifest: the store alone


def test_a_store_champion_already_loaded_is_promoted_without_a_reload(tmp_path: Path) -> None:
    data, state = tmp_path / "data", tmp_path / "state"
    a1, a2 = store_model(data, "acme", "a1"), store_model(data, "acme", "a2", seed=1)
    set_aliases(data, "acme", champion="a1")
    first = ModelRegistry(manifest=LoadedManifest(state))
    first.load("a1", str(a1), None, tenant="acme")
    first.load("a2", str(a2), Role.CHAMPION, tenant="acme")
    opened: list[str] = []

    def opener(path: str) -> tuple[ModelCard, OnnxScorer]:
        opened.append(path)
        return open_model_dir(path)

    again = ModelRegistry(opener=opener, manifest=LoadedManifest(state))
    assert again.restore(champions(data)) == ["a2", "a1"]
    assert opened == [str(a2), str(a1)]  # each opened once
    assert {m.version: m.role for m in again.loaded("acme")} == {"a1": Role.CHAMPION, "a2": Role.CHALLENGER}


def test_a_scope_the_store_cannot_read_is_skipped_and_the_others_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    assert ModelRegistry().restore(champions(data)) == []  # no store yet
    store_model(data, "acme", "a1")
    set_aliases(data, "acme", champion="a1")
    store_model(data, "shop", "s1")
    set_aliases(data, "shop", challenger="s1")  # models, but no champion yet
    store_model(data, "torn", "t1")
    (data / "models" / "torn" / "aliases.json").write_text('{"champ')
    store_model(data, "gone", "g1")
    set_aliases(data, "gone", champion="g0")  # names a version that is not there
    registry = ModelRegistry()
    assert registry.restore(champions(data)) == ["a1"]
    assert [(m.version, m.tenant, m.role) for m in registry.loaded()] == [("a1", "acme", Role.CHAMPION)]
    assert "torn" in caplog.text and "g0" in caplog.text


def test_an_older_manifest_without_scopes_is_read_as_global(tmp_path: Path) -> None:
    a = make_model_dir(tmp_path / "a")
    state = tmp_path / "state"
    state.mkdir()
    entry = {"version": "v1", "path": str(a), "role": "champion", "traffic_weight": 1.0}
    (state / FILE_NAME).write_text(json.dumps({"format": "predis-predictor-manifest/1", "models": [entry]}))
    again = ModelRegistry(manifest=LoadedManifest(state))
    assert again.restore() == ["v1"] and again.status("v1").tenant == ""


# -- a real predictor process, killed and started again -----------------------------------------


def _serve_predictor(data: Path, state: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "PREDIS_DATA_DIR": str(data),
        "PREDIS_PREDICTOR_STATE_DIR": str(state),
        "PREDIS_PREDICTOR_FEATURES": "any",  # the test models name f0..f3
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "predis.services.cli", "serve", "predictor", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=log.open("a"),
        text=True,
        env=env,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip().rsplit(" ", 1)[-1]


def test_a_killed_predictor_reloads_every_tenants_champion_from_the_data_dir(tmp_path: Path) -> None:
    import predis

    data, state, log = tmp_path / "data", tmp_path / "state", tmp_path / "predictor.log"
    store_model(data, "_global", "g1")
    a1 = store_model(data, "acme", "a1", flip=True)
    store_model(data, "acme", "a2", seed=1)
    set_aliases(data, "_global", champion="g1")
    set_aliases(data, "acme", champion="a2", previous="a1")
    (store_model(data, "broken", "b1") / "model.onnx").write_bytes(b"not onnx")
    set_aliases(data, "broken", champion="b1")
    rows = np.zeros((2, 4), np.float32)
    server, address = _serve_predictor(data, state, log)
    try:
        with predis.Client(predictor=address) as client:
            assert {(m.version, m.tenant) for m in client.predictor.list_models()} == {("g1", ""), ("a2", "acme")}
            assert client.predictor.predict(rows, tenant="acme").model_version == "a2"
            assert client.predictor.predict(rows, tenant="broken").model_version == "g1"  # its model did not open
            # A rollback through the predictor: the manifest now says a1, the store still says a2.
            client.predictor.load_model("a1", str(a1), role="challenger", tenant="acme")
            started = time.perf_counter()
            client.predictor.set_traffic({"a1": ("champion", 0.0), "a2": ("challenger", 0.0)}, tenant="acme")
            took = time.perf_counter() - started
            print(f"SetTraffic champion swap, manifest written and fsynced: {took * 1e3:.2f} ms")
            assert client.predictor.predict(rows, tenant="acme").model_version == "a1"
            client.predictor.load_model("gs", str(make_model_dir(tmp_path / "gs")), role="shadow")
        os.kill(server.pid, signal.SIGKILL)  # no graceful shutdown
        server.wait(10)
        server, address = _serve_predictor(data, state, log)
        with predis.Client(predictor=address) as client:
            loaded = {m.version: (m.tenant, m.role) for m in client.predictor.list_models()}
            assert loaded == {
                "g1": ("", common_pb2.MODEL_ROLE_CHAMPION),
                "gs": ("", common_pb2.MODEL_ROLE_SHADOW),  # from the manifest
                "a2": ("acme", common_pb2.MODEL_ROLE_CHAMPION),  # the store's champion wins
                "a1": ("acme", common_pb2.MODEL_ROLE_CHALLENGER),
            }
            assert client.predictor.predict(rows, tenant="acme").model_version == "a2"
            assert client.predictor.predict(rows, tenant="other").model_version == "g1"
        assert "b1" in log.read_text() and took < 1.0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
