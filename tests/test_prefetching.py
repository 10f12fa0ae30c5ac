"""Learned prefetching end to end: a model trained by ``predis train``'s code, served by the real
predictor, called by the cache's background loop over gRPC, prefetching through an origin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from model_factory import make_model_dir

import predis
from conftest import BackgroundSuite
from predis.plugins import Plugins, build_plugin_manager, hookimpl
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.threshold import ThresholdTuner, TunerSettings
from predis.services.cache.key_ids import KeyIds
from predis.services.cache.prefetcher import PrefetchSettings, RateBudget
from predis.services.replay.traces import Trace
from predis.services.retrainer.training import TrainingOptions, train

VALUE_BYTES = 100
MEMORY = 96 * 1024  # about 280 entries of the 1,200 keys below
THINK_S = 0.004  # a pause between a client's reads, as a user's session has


def sessions(requests: int, seed: int) -> np.ndarray:
    """Reads in sessions: one of 300 sessions picked at random, then its 4 pages in order."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, 300, requests // 4 + 1)
    return (picks[:, None] * 10 + np.arange(4)).ravel()[:requests].astype(np.uint64)


def key_of(obj: int) -> bytes:
    return b"page:%d" % obj


class PageOrigin:
    """An origin that knows every page: its value is derived from the key."""

    def __init__(self) -> None:
        self.fetches = 0

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        self.fetches += 1
        return (key * VALUE_BYTES)[:VALUE_BYTES]

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prefetch-model") / "sessions"
    train([Trace("sessions", sessions(20_000, seed=1))], out, TrainingOptions(train_fraction=1.0))
    return out


@pytest.fixture
def suite() -> Iterator[BackgroundSuite]:
    settings = PrefetchSettings(memory_share=0.25)
    running = BackgroundSuite(origin=PageOrigin(), memory_bytes=MEMORY, prefetch=settings).start()
    yield running
    running.stop()


def replay(suite: BackgroundSuite, tenant: str, ids: np.ndarray, think_s: float = THINK_S) -> None:
    config = predis.ClientConfig(tenant=tenant)
    with predis.Client(suite.addresses["cache"], config=config) as client:
        for obj in ids.tolist():
            assert client.get(key_of(obj)) == (key_of(obj) * VALUE_BYTES)[:VALUE_BYTES]
            time.sleep(think_s)


def stats(suite: BackgroundSuite, tenant: str) -> predis.v1.cache_pb2.StatsResponse:
    with predis.Client(suite.addresses["cache"], config=predis.ClientConfig(tenant=tenant)) as client:
        return client.stats()


def wait_for(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_learned_prefetching_raises_the_hit_ratio(suite: BackgroundSuite, model_dir: Path) -> None:
    ids = sessions(1200, seed=2)
    replay(suite, "plain", ids)  # no model loaded yet: plain S3-FIFO
    plain = stats(suite, "plain")
    assert plain.prefetcher.enabled and plain.prefetcher.state == "no model loaded"
    assert plain.tenant.prefetches == 0
    with predis.Client(suite.addresses["cache"], config=predis.ClientConfig(tenant="plain")) as client:
        client.flush()  # a tenant only evicts its own entries: give the memory back
    with predis.Client(**suite.client_kwargs()) as client:
        client.predictor.load_model("v1", str(model_dir))
    replay(suite, "learned", ids)
    learned = stats(suite, "learned")
    p = learned.prefetcher
    assert p.state == "active"
    assert p.prefetches_started > 100 and p.prefetches_used > 0
    assert learned.tenant.hit_ratio >= plain.tenant.hit_ratio + 0.15, (plain.tenant, learned.tenant)
    # The loop reports what happened to each prefetch; the predictor keeps precision per version.
    with predis.Client(**suite.client_kwargs()) as client:
        wait_for(lambda: client.predictor.model_status("v1").prefetches_used > 0)
        status = client.predictor.model_status("v1")
    assert status.requests > 0 and status.prefetches_used + status.prefetches_unused > 0


def test_without_a_model_the_cache_is_exactly_s3fifo(suite: BackgroundSuite) -> None:
    ids = sessions(1500, seed=3)
    replay(suite, "t", ids, think_s=0)
    served = stats(suite, "t").tenant
    twin = Engine(EngineConfig(memory_bytes=MEMORY), NumpyStorage())
    for obj in ids.tolist():  # what a cache with no prefetcher does: read, and on a miss store
        if twin.get("t", key_of(obj))[0] is None:
            twin.set("t", key_of(obj), (key_of(obj) * VALUE_BYTES)[:VALUE_BYTES])
    expected = twin.tenant_view("t").counters
    assert (served.hits, served.misses, served.prefetches) == (expected["hits"], expected["misses"], 0)


def test_reads_go_on_through_a_predictor_outage_and_prefetching_resumes(
    suite: BackgroundSuite, model_dir: Path
) -> None:
    with predis.Client(**suite.client_kwargs()) as client:
        client.predictor.load_model("v1", str(model_dir))
    ids = sessions(2400, seed=5)
    replay(suite, "t", ids[:400])
    before = stats(suite, "t").prefetcher.prefetches_started
    assert before > 0
    suite.stop_predictor()
    started = time.perf_counter()
    replay(suite, "t", ids[400:1200])  # every read answers (replay checks each value)
    down = stats(suite, "t")
    assert down.prefetcher.state.startswith("predictor unreachable")
    assert not down.predictor.reachable
    assert time.perf_counter() - started < 800 * (THINK_S + 0.05)  # no read waited on the predictor
    during = down.prefetcher.prefetches_started
    suite.restart_predictor()
    # The loop retries after its back-off (up to 10 s after a long outage) and only on new reads:
    # keep reading until it is back.
    deadline = time.monotonic() + 30
    more = iter(np.array_split(sessions(8000, seed=6), 40))
    while stats(suite, "t").prefetcher.state != "active":
        assert time.monotonic() < deadline, stats(suite, "t").prefetcher.state
        replay(suite, "t", next(more))
    replay(suite, "t", ids[1200:])
    after = stats(suite, "t").prefetcher.prefetches_started
    assert after > during + 50  # prefetching came back with the predictor


class SlowSecondPages(PageOrigin):
    """Once ``slow`` is set, the second page of every session takes half a second to load."""

    slow = False

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        if self.slow and key.endswith(b"1"):
            time.sleep(0.5)
        return super().fetch(tenant, key)


def test_a_prefetch_read_while_loading_is_late_and_counts_as_a_right_guess(model_dir: Path) -> None:
    origin = SlowSecondPages()
    running = BackgroundSuite(origin=origin, memory_bytes=MEMORY, prefetch=PrefetchSettings(memory_share=0.25)).start()
    try:
        with predis.Client(**running.client_kwargs()) as client:
            client.predictor.load_model("v1", str(model_dir))
        replay(running, "t", sessions(1200, seed=2))  # the loop learns the sessions' order
        origin.slow = True
        with predis.Client(running.addresses["cache"], config=predis.ClientConfig(tenant="t")) as client:
            for session in range(0, 3000, 200):
                client.get(key_of(session))  # the trigger: the loop prefetches the second page...
                time.sleep(0.05)
                client.get(key_of(session + 1))  # ...which is still loading: this read joins it
            wait_for(lambda: client.stats().prefetcher.prefetches_late >= 3)
            p = client.stats().prefetcher
        with predis.Client(**running.client_kwargs()) as client:  # reported to the predictor as late
            wait_for(lambda: client.predictor.model_status("v1").prefetches_late >= 3)
        settled = p.prefetches_used + p.prefetches_late + p.prefetches_unused
        assert p.prefetches_late <= p.prefetches_started - p.prefetches_used  # not a hit...
        assert p.recent_precision > p.prefetches_used / settled  # ...but a right guess
    finally:
        running.stop()


class DetailPagesPlugin:
    """An application that knows a page's details are read right after it."""

    @hookimpl
    def predis_prefetch_candidates(self, key: bytes) -> list[bytes]:
        return [] if key.endswith(b"/details") else [key + b"/details"]


class BrokenPlugin:
    @hookimpl
    def predis_prefetch_candidates(self, tenant: str, key: bytes) -> object:
        return "not a list of keys"


def test_plugins_add_application_candidates_without_a_model() -> None:
    pm = build_plugin_manager({})
    pm.register(DetailPagesPlugin())
    pm.register(BrokenPlugin())  # its answers are refused and logged; the good plugin still counts
    facade = Plugins(pm)
    assert facade.has_prefetch_candidates()
    running = BackgroundSuite(
        origin=PageOrigin(), memory_bytes=MEMORY, prefetch=PrefetchSettings(), app_candidates=facade.prefetch_candidates
    ).start()
    try:
        config = predis.ClientConfig(tenant="app")
        with predis.Client(running.addresses["cache"], config=config) as client:
            for page in range(50):
                client.get(b"page:%d" % page)
                time.sleep(THINK_S)
                assert client.get(b"page:%d/details" % page) is not None
            wait_for(lambda: client.stats().prefetcher.prefetches_used >= 40)
            answer = client.stats()
        assert answer.prefetcher.prefetches_started >= 40  # with no model loaded: plugins' keys are not scored
        assert answer.tenant.hits >= 40  # the details were already there when asked for
    finally:
        running.stop()


def test_a_model_that_takes_other_features_is_reported_and_changes_nothing(
    suite: BackgroundSuite, tmp_path: Path
) -> None:
    narrow = make_model_dir(tmp_path / "narrow", features=2)
    with predis.Client(**suite.client_kwargs()) as client:
        client.predictor.load_model("narrow", str(narrow))
    ids = sessions(400, seed=7)
    replay(suite, "t", ids, think_s=0.001)  # every read still answers
    state = stats(suite, "t").prefetcher.state
    assert state.startswith("predictor refused the call: INVALID_ARGUMENT"), state
    assert "takes 2" in state and stats(suite, "t").tenant.prefetches == 0


def test_key_ids_keep_numbers_and_map_back() -> None:
    ids = KeyIds(max_keys=2)
    assert ids.id_of(b"1234") == 1234 and ids.key_of(1235) == b"1235"
    page = ids.id_of(b"page:41")
    assert ids.key_of(page + 1) == b"page:42"  # the next index under the same prefix
    assert ids.id_of(b"page:41") == page
    opaque = ids.id_of(b"\x00\xffbinary")
    assert opaque >= 1 << 63 and ids.key_of(opaque) == b"\x00\xffbinary"
    assert ids.key_of(opaque + 1) is None  # an opaque key has no neighbours
    assert ids.id_of(b"item007") != 7  # leading zeros would not print back the same
    ids.id_of(b"x")
    ids.id_of(b"y")  # bounded: the oldest opaque key is forgotten
    assert ids.key_of(opaque) is None


def test_the_threshold_follows_the_precision_of_whole_cohorts() -> None:
    tuner = ThresholdTuner(TunerSettings(target=0.6, lowest=0.1, window=10), initial=0.5)
    cohort = [tuner.enroll() for _ in range(12)]
    assert cohort == [0] * 10 + [-1, -1]  # the first 10 prefetches at this cut are judged
    for member in cohort[:9]:
        tuner.record(False, member)
    tuner.record(True, -1)  # not in the cohort: shown in recent precision, not judged
    assert tuner.threshold == 0.5  # one member is still out
    tuner.record(False, cohort[9])
    assert tuner.threshold == pytest.approx(0.55)  # too many unused: ask for more confidence
    tuner.record(False, 0)  # a late outcome of the old cohort moves nothing
    for _ in range(2):
        for member in [tuner.enroll() for _ in range(10)]:
            tuner.record(True, member)
    assert tuner.threshold == pytest.approx(0.5)  # well above target: loosen by half steps
    assert tuner.recent_precision == pytest.approx(21 / 32)
    tuner.record(False, -1)
    for _ in range(2):
        for member in [tuner.enroll() for _ in range(10)]:
            tuner.record(False, member)
    assert tuner.threshold == pytest.approx(0.6)
    tuner.enroll()
    tuner.reads(tuner.idle_reads)  # a cut that lets (almost) nothing through is lowered...
    assert tuner.threshold == pytest.approx(0.575) and tuner.enroll() == tuner.epoch
    for _ in range(10):
        tuner.reads(tuner.idle_reads)
    assert tuner.threshold == pytest.approx(0.5)  # ...but not below where it started


def test_the_origin_budget_grants_at_most_its_rate() -> None:
    budget = RateBudget(rate=100)
    assert budget.take(150) == 100
    assert budget.take(10) <= 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("precision_target", 1.0), ("initial_threshold", 0.0), ("memory_share", 1.5), ("per_trigger", 0)],
)
def test_bad_prefetch_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError):
        PrefetchSettings(**{field: value})
