"""A restarted predictor serves the models it had: the manifest of loaded versions, written after
every change, is read back on start; a torn or foreign manifest, or a model that no longer opens,
is skipped, never fatal."""

from __future__ import annotations

import shutil
from pathlib import Path

from model_factory import make_model_dir

from predis.services.predictor.manifest import FILE_NAME, LoadedManifest
from predis.services.predictor.registry import ModelRegistry, Role


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
