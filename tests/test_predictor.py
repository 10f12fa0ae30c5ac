"""The predictor with real ONNX models: loading, scoring, traffic split, swaps under load, shadows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from model_factory import make_model_dir, sklearn_probabilities

import predis
from conftest import BackgroundSuite
from predis.v1 import common_pb2


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("models")
    return {
        "up": make_model_dir(base / "up"),
        "down": make_model_dir(base / "down", flip=True, seed=1),
        "narrow": make_model_dir(base / "narrow", features=2),
    }


@pytest.fixture
def client(suite: BackgroundSuite) -> predis.Client:
    with predis.Client(**suite.client_kwargs()) as c:
        yield c


ROWS = np.array([[2.0, 0, 0, 0], [-2.0, 0, 0, 0], [0.1, 1, 1, 1]], dtype=np.float32)


def test_a_loaded_model_scores_like_onnx_runtime_directly(client: predis.Client, models: dict[str, Path]) -> None:
    info = client.predictor.load_model("v1", str(models["up"]))
    assert info.role == common_pb2.MODEL_ROLE_CHAMPION  # the first model becomes champion
    assert list(info.feature_names) == ["f0", "f1", "f2", "f3"]
    assert info.execution_provider == "CPUExecutionProvider"
    answer = client.predictor.predict(ROWS, routing_key=b"k")
    assert answer.model_version == "v1"
    np.testing.assert_allclose(answer.probabilities, sklearn_probabilities(models["up"], ROWS), rtol=1e-5)
    status = client.predictor.model_status("v1")
    assert status.requests == 1 and status.rows == 3 and status.latency_p99_us > 0


@pytest.mark.parametrize(
    ("version", "path", "error", "needle"),
    [
        ("v2", "/nowhere/at/all", predis.NotFoundError, "does not exist"),
        ("v1", "up", predis.InvalidArgumentError, "already loaded"),
        ("", "up", predis.InvalidArgumentError, "version name is required"),
    ],
)
def test_bad_loads_change_nothing(
    client: predis.Client, models: dict[str, Path], version: str, path: str, error: type, needle: str
) -> None:
    client.predictor.load_model("v1", str(models["up"]))
    with pytest.raises(error, match=needle):
        client.predictor.load_model(version, str(models.get(path, path)))
    assert [m.version for m in client.predictor.list_models()] == ["v1"]


def test_a_corrupt_model_file_is_refused(client: predis.Client, tmp_path: Path, models: dict[str, Path]) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text((models["up"] / "model.json").read_text())
    (broken / "model.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(predis.InvalidArgumentError, match="could not be loaded by ONNX Runtime"):
        client.predictor.load_model("broken", str(broken))
    assert client.predictor.list_models() == []


def test_rows_of_the_wrong_width_are_refused(client: predis.Client, models: dict[str, Path]) -> None:
    client.predictor.load_model("v1", str(models["up"]))
    with pytest.raises(predis.InvalidArgumentError, match="takes 4"):
        client.predictor.predict(np.zeros((2, 3)))


def test_traffic_splits_by_a_stable_hash(client: predis.Client, models: dict[str, Path]) -> None:
    client.predictor.load_model("champ", str(models["up"]))
    client.predictor.load_model("chal", str(models["down"]), role="challenger")
    client.predictor.set_traffic({"chal": ("challenger", 0.3)})
    answers = {k: client.predictor.predict(ROWS[:1], routing_key=b"key%d" % k).model_version for k in range(600)}
    share = sum(v == "chal" for v in answers.values()) / len(answers)
    assert 0.24 < share < 0.36
    again = {k: client.predictor.predict(ROWS[:1], routing_key=b"key%d" % k).model_version for k in range(50)}
    assert all(again[k] == answers[k] for k in again)  # a key always lands on the same version
    other = {
        k: client.predictor.predict(ROWS[:1], routing_key=b"key%d" % k, tenant="other").model_version for k in range(50)
    }
    assert any(other[k] != answers[k] for k in other)  # the split hashes the tenant too (named per call here)
    weights = {m.version: m.traffic_weight for m in client.predictor.list_models()}
    assert weights == pytest.approx({"champ": 0.7, "chal": 0.3})
    with pytest.raises(predis.InvalidArgumentError, match="exactly one version must be champion"):
        client.predictor.set_traffic({"champ": ("shadow", 0.0)})
    assert {m.version: m.traffic_weight for m in client.predictor.list_models()} == pytest.approx(weights)


def test_a_grouped_call_routes_each_group_by_its_own_key(
    client: predis.Client, suite: BackgroundSuite, models: dict[str, Path]
) -> None:
    client.predictor.load_model("champ", str(models["up"]))
    client.predictor.load_model("chal", str(models["down"]), role="challenger")
    client.predictor.set_traffic({"chal": ("challenger", 0.3)})
    keys = [b"key%d" % k for k in range(40)]
    alone = {key: client.predictor.predict(ROWS, routing_key=key).model_version for key in keys}
    runs = {v: suite.registry.versions[v].metrics.runs for v in ("champ", "chal")}
    rows = np.concatenate([ROWS] * len(keys))
    answer = client.predictor.predict(rows, groups=[(key, len(ROWS)) for key in keys])
    assert list(answer.group_model_versions) == [alone[key] for key in keys]  # as if called one by one
    expected = np.concatenate(
        [sklearn_probabilities(models["up" if alone[key] == "champ" else "down"], ROWS) for key in keys]
    )
    np.testing.assert_allclose(answer.probabilities, expected, rtol=1e-5)
    assert {v: suite.registry.versions[v].metrics.runs - runs[v] for v in runs} == {"champ": 1, "chal": 1}
    with pytest.raises(predis.InvalidArgumentError, match="do not describe"):
        client.predictor.predict(ROWS, groups=[(b"a", 2), (b"b", 2)])


def test_shadows_score_a_copy_and_answer_nobody(client: predis.Client, models: dict[str, Path]) -> None:
    client.predictor.load_model("champ", str(models["up"]))
    client.predictor.load_model("shadow", str(models["down"]), role="shadow")
    for k in range(20):
        assert client.predictor.predict(ROWS, routing_key=b"%d" % k).model_version == "champ"
    assert client.predictor.model_status("shadow").requests == 20


def test_outcomes_give_each_version_its_precision(client: predis.Client, models: dict[str, Path]) -> None:
    client.predictor.load_model("v1", str(models["up"]))
    used, unused = common_pb2.PREFETCH_OUTCOME_KIND_USED, common_pb2.PREFETCH_OUTCOME_KIND_EVICTED_UNUSED
    outcomes = [common_pb2.PrefetchOutcome(model_version="v1", outcome=o) for o in (used, used, used, unused)]
    outcomes.append(common_pb2.PrefetchOutcome(model_version="gone", outcome=used))
    assert client.predictor.report_outcomes(outcomes) == 4
    assert client.predictor.model_status("v1").precision == pytest.approx(0.75)
    # A late prefetch (read while still loading) was a right guess: it counts for the model.
    late = common_pb2.PrefetchOutcome(model_version="v1", outcome=common_pb2.PREFETCH_OUTCOME_KIND_LATE)
    assert client.predictor.report_outcomes([late] * 4) == 4
    status = client.predictor.model_status("v1")
    assert (status.prefetches_used, status.prefetches_late, status.prefetches_unused) == (3, 4, 1)
    assert status.precision == pytest.approx(7 / 8)


def test_the_champion_cannot_be_unloaded_while_others_serve(client: predis.Client, models: dict[str, Path]) -> None:
    client.predictor.load_model("a", str(models["up"]))
    client.predictor.load_model("b", str(models["down"]), role="shadow")
    with pytest.raises(predis.FailedPreconditionError, match="champion"):
        client.predictor.unload_model("a")
    client.predictor.unload_model("b")
    client.predictor.unload_model("a")
    with pytest.raises(predis.FailedPreconditionError, match="no model is loaded"):
        client.predictor.predict(ROWS)


async def test_a_swap_under_load_fails_and_delays_no_request(suite: BackgroundSuite, models: dict[str, Path]) -> None:
    async with predis.AsyncClient(**suite.client_kwargs()) as client:
        await client.predictor.load_model("old", str(models["up"]))
        seen: list[str] = []
        stop = asyncio.Event()

        async def traffic(worker: int) -> None:
            i = 0
            while not stop.is_set():
                answer = await client.predictor.predict(ROWS, routing_key=b"%d-%d" % (worker, i))
                seen.append(answer.model_version)
                i += 1

        workers = [asyncio.create_task(traffic(w)) for w in range(4)]
        await asyncio.sleep(0.2)
        info = await client.predictor.load_model("new", str(models["down"]), role="champion")
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*workers)  # any failed Predict would raise here
        assert info.role == common_pb2.MODEL_ROLE_CHAMPION
        assert seen[0] == "old" and seen[-1] == "new" and len(seen) > 20
        old = next(m for m in await client.predictor.list_models() if m.version == "old")
        assert old.role == common_pb2.MODEL_ROLE_CHALLENGER and old.traffic_weight == 0.0


async def test_concurrent_calls_share_one_session_run(models: dict[str, Path]) -> None:
    suite = BackgroundSuite(batch_wait_s=0.002).start()
    try:
        await _calls_share_runs(suite, models)
    finally:
        suite.stop()


async def _calls_share_runs(suite: BackgroundSuite, models: dict[str, Path]) -> None:
    async with predis.AsyncClient(**suite.client_kwargs()) as client:
        await client.predictor.load_model("v1", str(models["up"]))
        rng = np.random.default_rng(3)
        batches = [rng.normal(size=(int(rng.integers(1, 9)), 4)).astype(np.float32) for _ in range(64)]
        answers = await asyncio.gather(
            *(client.predictor.predict(rows, routing_key=b"%d" % i) for i, rows in enumerate(batches))
        )
        for rows, answer in zip(batches, answers, strict=True):  # each caller gets its own rows back
            np.testing.assert_allclose(answer.probabilities, sklearn_probabilities(models["up"], rows), rtol=1e-5)
        assert suite.registry.versions["v1"].metrics.runs < len(batches)  # some calls were scored together
        status = await client.predictor.model_status("v1")
        assert status.requests == len(batches) and status.rows == sum(len(b) for b in batches)
        with pytest.raises(predis.InvalidArgumentError, match="features"):  # a bad call fails alone
            await asyncio.gather(client.predictor.predict(np.zeros((2, 3), np.float32)), client.predictor.predict(ROWS))


def test_a_model_whose_card_names_other_features_is_refused_and_nothing_changes(
    suite: BackgroundSuite, client: predis.Client, tmp_path: Path
) -> None:
    from predis.errors import InvalidArgumentError

    suite.registry.features = ("recency", "frequency", "rank", "delta")  # what this predictor's callers send
    right = make_model_dir(tmp_path / "right", names=["recency", "frequency", "rank", "delta"])
    client.predictor.load_model("v1", str(right))
    cases = {
        "other": (["recency", "frequency", "rank", "size"], "lacks delta and names size, which callers do not send"),
        "fewer": (["recency", "frequency", "rank"], "lacks delta"),
        "order": (["frequency", "recency", "rank", "delta"], "position 1 is 'frequency', callers send 'recency'"),
    }
    for name, (names, message) in cases.items():
        with pytest.raises(InvalidArgumentError, match=message):  # same width or not: names decide
            client.predictor.load_model(name, str(make_model_dir(tmp_path / name, names=names)))
    assert [m.version for m in client.predictor.list_models()] == ["v1"]  # nothing changed


def test_the_predictor_takes_the_caches_features_unless_told_otherwise() -> None:
    from predis.services.cache.features import FEATURES
    from predis.services.predictor.settings import PredictorSettings
    from predis.services.runtime.settings import SettingsError

    assert PredictorSettings.from_env({}).features == FEATURES
    assert PredictorSettings.from_env({"PREDIS_PREDICTOR_FEATURES": "any"}).features is None
    assert PredictorSettings.from_env({"PREDIS_PREDICTOR_FEATURES": "a, b"}).features == ("a", "b")
    with pytest.raises(SettingsError, match="PREDIS_PREDICTOR_FEATURES"):
        PredictorSettings.from_env({"PREDIS_PREDICTOR_FEATURES": "a,,a"})
