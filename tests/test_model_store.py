"""The model registry in the data directory: atomic versions, explicit aliases, corrupt or
incompatible models refused with nothing changed, and the champions a starting predictor loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_factory import make_model_dir

from predis.services.cache.features import FEATURES
from predis.services.models.store import CorruptModel, ModelStore, file_digest
from predis.services.runtime.errors import InvalidInput, NotFound


def _commit(store: ModelStore, tenant: str, tmp_path: Path, seed: int = 0, **record: object):  # type: ignore[no-untyped-def]
    staging = store.staging(tenant, f"test-{seed}")
    make_model_dir(staging, names=FEATURES, seed=seed)
    return store.commit(tenant, staging, {"parent_version": "", "trigger": {"kind": "manual"}, **record})


def test_a_committed_version_is_whole_named_by_its_digest_and_champion_of_nothing(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    stored = _commit(store, "", tmp_path, training_window={"first_unix_nano": 1, "last_unix_nano": 2})
    assert stored.path == tmp_path / "models" / "_global" / stored.version
    assert sorted(p.name for p in stored.path.iterdir()) == ["model.json", "model.onnx"]
    record = json.loads((stored.path / "model.json").read_text())["registry"]
    assert record["sha256"] == file_digest(stored.path / "model.onnx")
    assert stored.version == f"_global.1-{record['sha256'][:8]}"
    assert record["training_window"] == {"first_unix_nano": 1, "last_unix_nano": 2}
    assert list((tmp_path / "models" / "_global").glob(".*")) == []  # no staging left
    assert store.champion("") is None and store.champions() == []  # nothing becomes champion by itself
    second = _commit(store, "", tmp_path, seed=1)
    assert second.sequence == 2 and [v.version for v in store.versions("")] == [stored.version, second.version]


def test_aliases_name_the_champions_the_predictor_loads_at_restart(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first, second = _commit(store, "", tmp_path), _commit(store, "", tmp_path, seed=1)
    store.set_aliases("", champion=first.version)
    store.set_aliases("", champion=second.version, previous=first.version)
    tenant = _commit(store, "acme", tmp_path, seed=2)
    store.set_aliases("acme", champion=tenant.version)
    assert store.aliases("") == type(store.aliases(""))(champion=second.version, previous=first.version)
    assert store.tenants() == ["", "acme"]
    assert [(c.tenant, c.version, c.path) for c in store.champions()] == [
        ("", second.version, second.path),
        ("acme", tenant.version, tenant.path),
    ]
    # A champion whose file no longer matches its digest is not offered to a starting predictor.
    (tenant.path / "model.onnx").write_bytes(b"tampered")
    assert [c.version for c in store.champions()] == [second.version]


def test_a_corrupt_model_is_refused_and_the_aliases_do_not_change(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    good, bad = _commit(store, "", tmp_path), _commit(store, "", tmp_path, seed=1)
    store.set_aliases("", champion=good.version)
    before = (tmp_path / "models" / "_global" / "aliases.json").read_bytes()
    model = bad.path / "model.onnx"
    model.write_bytes(model.read_bytes()[:-7] + b"garbage")
    with pytest.raises(CorruptModel, match="does not match its recorded digest"):
        store.verify(bad)
    with pytest.raises(CorruptModel, match="corrupt"):
        store.set_aliases("", champion=bad.version, previous=good.version)
    assert (tmp_path / "models" / "_global" / "aliases.json").read_bytes() == before
    assert store.champion("").version == good.version  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("spoil", "needle"),
    [
        (lambda d: (d / "model.onnx").write_bytes(b"not onnx"), "cannot be loaded"),
        (lambda d: (d / "model.json").write_text(json.dumps({"features": ["f0", "f1"]})), "does not fit the cache"),
        (lambda d: (d / "model.json").write_text("{torn"), "not a readable model card"),
    ],
)
def test_an_incompatible_or_broken_new_model_is_refused_and_nothing_is_written(
    tmp_path: Path,
    spoil,
    needle: str,  # type: ignore[no-untyped-def]
) -> None:
    store = ModelStore(tmp_path)
    staging = store.staging("", "job-x")
    make_model_dir(staging, names=FEATURES)
    spoil(staging)
    with pytest.raises(CorruptModel, match=needle):
        store.commit("", staging, {})
    assert not staging.exists()
    assert store.versions("") == [] and store.aliases("").champion is None


def test_a_writer_stopped_mid_version_leaves_nothing_a_reader_sees(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    kept = _commit(store, "", tmp_path)
    store.set_aliases("", champion=kept.version)
    half = store.staging("", "job-killed")
    (half / "model.onnx").write_bytes(b"half a mod")  # what a killed job leaves
    assert [v.version for v in store.versions("")] == [kept.version]
    assert [c.version for c in store.champions()] == [kept.version]
    assert store.discard_staging() == [half] and not half.exists()


def test_a_torn_aliases_file_is_refused_not_read_as_no_champion(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    good = _commit(store, "acme", tmp_path)
    (tmp_path / "models" / "acme" / "aliases.json").write_text('{"champion": ')
    with pytest.raises(CorruptModel, match="aliases"):
        store.aliases("acme")
    assert store.champions() == []  # skipped with a log line; a predictor start must not fail
    with pytest.raises(CorruptModel, match="name all of"):
        store.set_aliases("acme", champion=good.version)  # it cannot keep what the torn file said
    store.set_aliases("acme", champion=good.version, challenger=None, previous=None)  # a whole one repairs it
    assert store.champion("acme").version == good.version  # type: ignore[union-attr]


def test_bad_names_are_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    for tenant in ("_global", "bad tenant", "a/b"):
        with pytest.raises(InvalidInput):
            store.aliases(tenant)
    with pytest.raises(NotFound, match="not in the model store"):
        store.get("_global.9-deadbeef")
    with pytest.raises(InvalidInput, match="not a model version name"):
        store.get("../escape")
    with pytest.raises(NotFound):
        store.set_aliases("", champion="nope")


def test_adopting_a_model_made_elsewhere_keeps_its_name(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "data")
    source = make_model_dir(tmp_path / "by-hand", names=FEATURES)
    adopted = store.adopt("", "demo-v1", source, {"trigger": {"kind": "adopted"}})
    assert adopted.version == "demo-v1" and adopted.record["adopted_from"] == str(source)
    store.verify(adopted)


def test_pruning_keeps_the_aliased_versions(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    versions = [_commit(store, "", tmp_path, seed=i).version for i in range(5)]
    store.set_aliases("", champion=versions[0], previous=versions[1])
    assert store.prune("", keep=3) == versions[2:4]
    assert [v.version for v in store.versions("")] == [versions[0], versions[1], versions[4]]
