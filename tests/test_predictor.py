"""The predictor with real ONNX models: loading, scoring, traffic split, swaps under load, shadows;
and per-tenant scopes (a tenant's own champion, else the global one), in the registry and over gRPC."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from model_factory import make_model_dir, sklearn_probabilities

import predis
from conftest import BackgroundSuite
from predis.services.predictor.model_files import ModelCard
from predis.services.predictor.registry import ModelRegistry, Role
from predis.services.runtime.errors import FailedPrecondition, InvalidInput
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


# -- scopes: per-tenant models ------------------------------------------------------------------


class _ZeroScorer:
    """Stands in for an ONNX session in the registry's own tests."""

    execution_provider = "CPUExecutionProvider"
    feature_count = 4

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.zeros(len(features), np.float32)


class _CountingOpener:
    """Opens any path as a 4-feature model and remembers which paths it opened."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, path: str) -> tuple[ModelCard, _ZeroScorer]:
        self.opened.append(path)
        return ModelCard(("f0", "f1", "f2", "f3"), {}), _ZeroScorer()


@pytest.fixture
def opener() -> _CountingOpener:
    return _CountingOpener()


@pytest.fixture
def registry(opener: _CountingOpener) -> ModelRegistry:
    return ModelRegistry(opener=opener)  # type: ignore[arg-type]


def answers(registry: ModelRegistry, tenant: str, keys: int = 2000) -> dict[str, float]:
    """Share of ``keys`` routing keys each version answers for ``tenant``."""
    seen = [registry.route(tenant, b"key%d" % k)[0].version for k in range(keys)]
    return {v: seen.count(v) / keys for v in sorted(set(seen))}


def test_a_tenant_with_its_own_champion_gets_it_and_every_other_tenant_the_global_one(registry: ModelRegistry) -> None:
    registry.load("g1", "g1", None)
    acme = registry.load("a1", "a1", None, tenant="acme")
    assert acme.role is Role.CHAMPION and acme.tenant == "acme"  # the first of its scope, beside the global champion
    assert answers(registry, "acme") == {"a1": 1.0}
    assert answers(registry, "default") == {"g1": 1.0}
    assert answers(registry, "never-seen-before") == {"g1": 1.0}  # an unknown tenant: the global scope
    assert [m.version for m in registry.loaded("acme")] == ["a1"]
    assert [m.version for m in registry.loaded("")] == ["g1"]
    assert [m.version for m in registry.loaded()] == ["a1", "g1"]
    registry.unload("a1")  # alone in its scope: the tenant falls back to the global scope
    assert answers(registry, "acme") == {"g1": 1.0}


def test_challenger_shares_are_per_scope(registry: ModelRegistry) -> None:
    registry.load("g1", "g1", None)
    registry.load("g2", "g2", Role.CHALLENGER)
    registry.set_traffic({"g2": (Role.CHALLENGER, 0.5)})
    registry.load("a1", "a1", None, tenant="acme")
    registry.load("a2", "a2", Role.CHALLENGER, tenant="acme")
    scope = registry.set_traffic({"a2": (Role.CHALLENGER, 0.2)}, "acme")
    assert [(m.version, m.traffic_weight) for m in scope] == [("a1", pytest.approx(0.8)), ("a2", 0.2)]
    acme, other = answers(registry, "acme"), answers(registry, "other")
    assert set(acme) == {"a1", "a2"} and 0.17 < acme["a2"] < 0.23  # never a global version
    assert set(other) == {"g1", "g2"} and 0.46 < other["g2"] < 0.54
    assert registry.status("g1").traffic_weight == pytest.approx(0.5)  # untouched by acme's SetTraffic


def test_set_traffic_changes_one_scope_and_keeps_exactly_one_champion_in_it(registry: ModelRegistry) -> None:
    registry.load("g1", "g1", None)
    registry.load("a1", "a1", None, tenant="acme")
    registry.load("a2", "a2", Role.SHADOW, tenant="acme")
    before = [(m.version, m.role, m.traffic_weight) for m in registry.loaded()]
    with pytest.raises(InvalidInput, match="exactly one version must be champion.*tenant 'acme'"):
        registry.set_traffic({"a2": (Role.CHAMPION, 0.0)}, "acme")  # a1 is champion too
    with pytest.raises(InvalidInput, match="'g1' is in the global scope, not the scope of tenant 'acme'"):
        registry.set_traffic({"g1": (Role.CHALLENGER, 0.1), "a1": (Role.CHAMPION, 0.0)}, "acme")
    with pytest.raises(InvalidInput, match="'a2' is in the scope of tenant 'acme'"):
        registry.set_traffic({"a2": (Role.CHAMPION, 0.0)})  # no tenant named: the global scope
    assert [(m.version, m.role, m.traffic_weight) for m in registry.loaded()] == before  # nothing changed


def test_a_rollback_to_a_loaded_version_swaps_the_routing_and_reloads_nothing(
    registry: ModelRegistry, opener: _CountingOpener
) -> None:
    registry.load("g1", "g1", None)
    registry.load("a1", "a1", None, tenant="acme")
    registry.load("a2", "a2", Role.CHAMPION, tenant="acme")  # promoted: a1 stays loaded, as a challenger
    assert registry.status("a1").role is Role.CHALLENGER and answers(registry, "acme") == {"a2": 1.0}
    scorer, opened = registry.status("a1").scorer, list(opener.opened)
    registry.set_traffic({"a1": (Role.CHAMPION, 0.0), "a2": (Role.CHALLENGER, 0.0)}, "acme")
    assert answers(registry, "acme") == {"a1": 1.0}
    assert opener.opened == opened and registry.status("a1").scorer is scorer  # the same session, not reloaded
    assert answers(registry, "other") == {"g1": 1.0}


def test_shadows_are_per_scope(registry: ModelRegistry) -> None:
    registry.load("g1", "g1", None)
    registry.load("gs", "gs", Role.SHADOW)
    registry.load("as", "as", Role.SHADOW, tenant="acme")  # acme has no champion of its own yet
    model, shadows = registry.route("acme", b"k")
    assert model.version == "g1" and [s.version for s in shadows] == ["gs", "as"]  # its shadow watches it
    assert [s.version for s in registry.route("other", b"k")[1]] == ["gs"]  # and nobody else
    registry.load("a1", "a1", Role.CHAMPION, tenant="acme")
    model, shadows = registry.route("acme", b"k")
    assert model.version == "a1" and [s.version for s in shadows] == ["as"]  # the global shadow no longer sees acme


def test_unload_rules_and_version_names_hold_per_scope(registry: ModelRegistry) -> None:
    registry.load("g1", "g1", None)
    registry.load("a1", "a1", None, tenant="acme")
    registry.load("a2", "a2", Role.SHADOW, tenant="acme")
    with pytest.raises(FailedPrecondition, match="'a1' is the champion of the scope of tenant 'acme'"):
        registry.unload("a1")
    with pytest.raises(InvalidInput, match=r"already loaded \(in the scope of tenant 'acme'"):
        registry.load("a2", "elsewhere", None)  # names are unique across scopes
    registry.unload("g1")  # alone in the global scope: acme's versions do not hold it
    assert registry.route("acme", b"k")[0].version == "a1"
    with pytest.raises(FailedPrecondition, match="no model is loaded for tenant 'other'"):
        registry.route("other", b"k")


@pytest.mark.parametrize("tenant", ["has space", "x" * 65, "a/b", "_global", ".."])
def test_bad_tenant_names_are_refused_and_nothing_changes(
    client: predis.Client, models: dict[str, Path], tenant: str
) -> None:
    client.predictor.load_model("v1", str(models["up"]))
    before = [(m.version, m.tenant, m.role) for m in client.predictor.list_models()]
    with pytest.raises(
        predis.InvalidArgumentError, match="reserved" if tenant in ("_global", "..") else "is not valid"
    ):
        client.predictor.load_model("v2", str(models["down"]), tenant=tenant)  # a model that would load
    with pytest.raises(predis.InvalidArgumentError, match="tenant"):
        client.predictor.set_traffic({"v1": ("champion", 0.0)}, tenant=tenant)
    with pytest.raises(predis.InvalidArgumentError, match="tenant"):
        client.predictor.list_models(tenant=tenant)
    assert [(m.version, m.tenant, m.role) for m in client.predictor.list_models()] == before


def test_a_tenants_model_answers_that_tenant_over_grpc(client: predis.Client, models: dict[str, Path]) -> None:
    client.predictor.load_model("global-1", str(models["up"]))
    info = client.predictor.load_model("acme-1", str(models["down"]), tenant="acme")
    assert (info.tenant, info.role) == ("acme", common_pb2.MODEL_ROLE_CHAMPION)
    answer = client.predictor.predict(ROWS, routing_key=b"k", tenant="acme")
    assert answer.model_version == "acme-1"
    np.testing.assert_allclose(answer.probabilities, sklearn_probabilities(models["down"], ROWS), rtol=1e-5)
    for other in ("shop", None):  # another tenant, and the client's own (default) one
        answer = client.predictor.predict(ROWS, routing_key=b"k", tenant=other)
        assert answer.model_version == "global-1"
        np.testing.assert_allclose(answer.probabilities, sklearn_probabilities(models["up"], ROWS), rtol=1e-5)
    assert [(m.version, m.tenant) for m in client.predictor.list_models()] == [("acme-1", "acme"), ("global-1", "")]
    assert [m.version for m in client.predictor.list_models(tenant="acme")] == ["acme-1"]
    assert [m.version for m in client.predictor.list_models(tenant="")] == ["global-1"]
    assert client.predictor.list_models(tenant="shop") == []


def test_a_rollback_over_grpc_is_a_routing_swap_well_under_a_second(
    client: predis.Client, suite: BackgroundSuite, models: dict[str, Path]
) -> None:
    client.predictor.load_model("global-1", str(models["up"]))
    client.predictor.load_model("acme-1", str(models["up"]), tenant="acme")
    client.predictor.load_model("acme-2", str(models["down"]), role="champion", tenant="acme")
    scorers = {v: suite.registry.versions[v].scorer for v in ("acme-1", "acme-2")}
    swaps = {
        "acme-1": (("acme-1", "champion"), ("acme-2", "challenger")),
        "acme-2": (("acme-2", "champion"), ("acme-1", "challenger")),
    }
    took = []
    for i in range(40):
        champion = "acme-1" if i % 2 == 0 else "acme-2"
        started = time.perf_counter()
        scope = client.predictor.set_traffic({v: (role, 0.0) for v, role in swaps[champion]}, tenant="acme")
        took.append(time.perf_counter() - started)
        assert [m.version for m in scope if m.role == common_pb2.MODEL_ROLE_CHAMPION] == [champion]
        assert client.predictor.predict(ROWS, routing_key=b"k%d" % i, tenant="acme").model_version == champion
    assert {v: suite.registry.versions[v].scorer for v in scorers} == scorers  # no session was reopened
    print(
        f"SetTraffic champion swap over loopback: median {np.median(took) * 1e3:.2f} ms, max {max(took) * 1e3:.2f} ms"
    )
    assert max(took) < 0.5
