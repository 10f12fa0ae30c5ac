"""The cache's live quality: the keys-only S3-FIFO shadow beside the real cache, and the access
segments the cache writes for retraining."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from predis.aio import AsyncClient
from predis.config import ClientConfig
from predis.services.cache import server as cache_server
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.segments import read_segments
from predis.services.cache.settings import CacheSettings
from predis.services.cache.shadow import ShadowCache
from predis.services.drift import server as drift_server
from predis.services.drift.observer import StreamObserver
from predis.services.runtime.settings import ServerSettings, SettingsError


def engine_with_shadow(memory: int = 1 << 20, max_entries: int = 1 << 20) -> tuple[Engine, ShadowCache]:
    engine = Engine(EngineConfig(memory_bytes=memory), NumpyStorage())
    shadow = ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge, max_entries)
    engine.listener = shadow.observe
    return engine, shadow


def zipf_keys(n: int, universe: int, seed: int = 0) -> list[int]:
    return (np.random.default_rng(seed).zipf(1.2, n) % universe).tolist()


def test_without_prefetching_the_shadow_hits_what_the_cache_hits() -> None:
    engine, shadow = engine_with_shadow()
    sizes = np.random.default_rng(1).integers(10, 400, 20_000)
    for k in zipf_keys(20_000, 20_000):
        key = b"k%d" % k
        if engine.get("a", key)[0] is None:
            engine.set("a", key, b"x" * int(sizes[k]))  # the fill a read-through makes
    counts = shadow.counts(engine.tenant_id("a"))
    assert counts.reads == 20_000
    assert counts.hits == engine.tenant_view("a").counters["hits"]
    # Same policy, capacity and charges; the real cache must also fit its tables in the budget, so
    # it can hold a little less (here a 1 MiB budget, 0.1 point): they agree to within 0.2 point.
    assert abs(counts.live_gain) < 0.002
    assert 0 < shadow.entries(engine.tenant_id("a")) <= counts.reads


def test_a_right_prefetch_is_a_gain_the_shadow_does_not_have() -> None:
    engine, shadow = engine_with_shadow()
    for k in range(500):  # a scan: nothing repeats, so only prefetching can hit
        key = b"k%d" % k
        engine.insert_prefetched("a", b"k%d" % (k + 1), b"v")
        if engine.get("a", key)[0] is None:
            engine.set("a", key, b"v")
    counts = shadow.counts(engine.tenant_id("a"))
    assert counts.shadow_hits == 0
    assert counts.hits == 499  # every key but the first was prefetched by its predecessor
    assert counts.live_gain == pytest.approx(499 / 500)


def test_tenants_have_their_own_shadows() -> None:
    engine, shadow = engine_with_shadow()
    for _ in range(3):
        engine.get("a", b"same")
        engine.set("a", b"same", b"v")
    engine.get("b", b"same")
    assert shadow.counts(engine.tenant_id("a")).shadow_hits == 2
    assert shadow.counts(engine.tenant_id("b")).shadow_hits == 0


def test_the_shadow_stays_within_its_entry_bound() -> None:
    engine, shadow = engine_with_shadow(max_entries=100)
    for k in range(5_000):
        engine.get("a", b"k%d" % k)
    assert shadow.entries(engine.tenant_id("a")) <= 100
    for _ in range(3):
        engine.get("a", b"k4999")
    assert shadow.counts(engine.tenant_id("a")).shadow_hits == 3  # the newest key is still held


def test_bad_switch_values_name_the_setting() -> None:
    with pytest.raises(SettingsError, match="PREDIS_CACHE_SHADOW"):
        CacheSettings.from_env({"PREDIS_CACHE_SHADOW": "maybe"})


async def test_a_served_cache_reports_its_gain_and_writes_segments(tmp_path: Path) -> None:
    settings = CacheSettings.from_env(
        {
            "PREDIS_ORIGIN": "synthetic:?value_size=50",
            "PREDIS_DATA_DIR": str(tmp_path),
            "PREDIS_SEGMENT_ROWS": "150",
            "PREDIS_CACHE_MEMORY_BYTES": str(4 << 20),
        },
        listen="127.0.0.1:0",
    )
    deps = cache_server.build_deps(settings, None)
    running = await cache_server.create_server(settings.server, deps, None)
    deps.start_background()
    keys = [b"user:%d" % (k % 40) for k in range(400)]
    try:
        async with AsyncClient(f"127.0.0.1:{running.port}", config=ClientConfig(tenant="shop")) as client:
            for key in keys:
                await client.get(key)
            quality = (await client.stats()).quality
            await asyncio.sleep(0.5)  # the recorder writes full segments as it goes
            written_while_serving = len(list((tmp_path / "segments" / "shop").glob("*.arrow")))
    finally:
        await running.stop(0.5)
        await deps.close()
    assert quality.enabled and quality.reads == 400
    assert quality.hits == quality.shadow_hits == 360  # 40 first reads miss in both; no prefetching here
    assert quality.live_gain == 0.0 and quality.shadow_entries == 40
    assert written_while_serving >= 1  # full segments are written while it serves, not only at the end
    table = read_segments(tmp_path / "segments", "shop")  # closing wrote the rest
    assert table.column("key").to_pylist() == keys
    assert table.column("kind").to_pylist() == [2] * 40 + [1] * 360


async def test_the_cache_sends_its_quality_windows_to_the_drift_service() -> None:
    observer = StreamObserver()
    drift = await drift_server.create_server(ServerSettings(listen="127.0.0.1:0"), observer, None)
    settings = CacheSettings.from_env(
        {
            "PREDIS_ORIGIN": "synthetic:?value_size=50",
            "PREDIS_DRIFT_ADDRESS": f"127.0.0.1:{drift.port}",
            "PREDIS_CACHE_MEMORY_BYTES": str(4 << 20),  # a small cache: its shadow replays every key
        },
        listen="127.0.0.1:0",
    )
    deps = cache_server.build_deps(settings, None)
    assert deps.exporter is not None
    deps.exporter.idle_s = 0.02
    running = await cache_server.create_server(settings.server, deps, None)
    try:
        async with AsyncClient(f"127.0.0.1:{running.port}", config=ClientConfig(tenant="shop")) as client:
            for k in range(300):
                await client.get(b"item:%d" % (k % 30))
        for _ in range(100):
            if observer.events_observed >= 300:
                break
            await asyncio.sleep(0.05)
    finally:
        await running.stop(0.5)
        await deps.close()
        await drift.stop(0.5)
    assert observer.events_observed == 300
    assert observer.windows_observed >= 1  # one per export batch that followed reads


def test_a_large_cache_has_a_sampled_shadow_whose_gain_still_agrees() -> None:
    engine = Engine(EngineConfig(memory_bytes=4 << 20), NumpyStorage())
    shadow = ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge, sample_entries=2048)
    engine.listener = shadow.observe
    keys = zipf_keys(60_000, 100_000, seed=3)
    for k in keys:
        key = b"k%d" % k
        if engine.get("a", key)[0] is None:
            engine.set("a", key, b"x" * 100)
    t = engine.tenant_id("a")
    counts = shadow.counts(t)
    assert shadow.sample_rate(t) in (1 / 4, 1 / 8, 1 / 16)  # about 2,048 of the cache's entries
    assert 0 < counts.reads < len(keys)  # the reads of a fixed hash range of the keys
    # No prefetching: the shadow at that share of the capacity hits what the cache hits on them.
    assert abs(counts.live_gain) < 0.02
    assert 0 < shadow.entries(t) <= 2 * 2048


@pytest.mark.parametrize("sample_entries", [32_768, 2048])
def test_one_key_reads_replay_as_batches_of_one_do(sample_entries: int) -> None:
    """GET's reads reach the shadow in scalars (``observe_one``): the counts and the entries
    kept are those of the same reads told as batches of one, sampled or not."""
    counts = []
    for one_key in (False, True):
        engine = Engine(EngineConfig(memory_bytes=4 << 20), NumpyStorage())
        shadow = ShadowCache(
            engine.capacity_of, engine.charge_terms(), engine.mean_charge, sample_entries=sample_entries
        )
        if one_key:
            engine.one_listener = shadow.observe_one
        else:
            engine.listener = shadow.observe
        for k in zipf_keys(30_000, 60_000, seed=5):
            key = b"k%d" % k
            if engine.get("a", key)[0] is None:
                engine.set("a", key, b"x" * (k % 300))
        t = engine.tenant_id("a")
        counts.append((shadow.counts(t), shadow.entries(t), shadow.sample_rate(t)))
    assert counts[0] == counts[1]
    assert counts[1][0].reads > 0


def test_held_hits_are_replayed_before_anything_reads_or_changes_the_shadow() -> None:
    """``observe_one`` holds one tenant's hits (``HELD_HITS``) and replays them together: with two
    tenants interleaved, misses between, batches and counts read midway, the shadow counts and
    keeps what the same reads told as batches of one give."""
    results = []
    for one_key in (False, True):
        engine = Engine(EngineConfig(memory_bytes=256 << 10), NumpyStorage())  # evicting
        shadow = ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge, sample_entries=2048)
        if one_key:
            engine.one_listener = shadow.observe_one
        engine.listener = shadow.observe
        seen = []
        for i, k in enumerate(zipf_keys(20_000, 5_000, seed=9)):
            tenant = "a" if (i // 500) % 3 else "b"  # runs of one tenant, so that hits are held
            key = b"k%d" % k
            if i % 97 == 0:  # a batch read between the one-key reads
                engine.get_many(tenant, KeyBatch.of([key, b"other%d" % i]))
            elif engine.get(tenant, key)[0] is None:
                engine.set(tenant, key, b"x" * (k % 200))
            if i % 1500 == 0:
                seen.append(shadow.counts(engine.tenant_id(tenant)))
        ts = [engine.tenant_id(name) for name in ("a", "b")]
        results.append((seen, [(shadow.counts(t), shadow.entries(t)) for t in ts]))
    assert results[0] == results[1]
    assert results[1][1][0][0].reads > 0 and results[1][1][1][0].reads > 0


@pytest.mark.parametrize("sample_entries", [32_768, 2048])
def test_batch_reads_held_replay_as_reads_replayed_at_once(sample_entries: int) -> None:
    """A batch read whose sampled keys were all found is held with the one-key hits and replayed
    with them later (``held_hits``; 0 holds none): with batches of 1 to 1,500 keys (past the room
    held, so some are replayed at once), misses, one-key reads, keys written before they are read
    and two tenants interleaved, and counts read midway, the shadow counts and keeps what
    replaying each read at once gives."""
    results = []
    for held_hits in (0, 64):
        engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())  # evicting
        shadow = ShadowCache(
            engine.capacity_of,
            engine.charge_terms(),
            engine.mean_charge,
            sample_entries=sample_entries,
            held_hits=held_hits,
        )
        engine.listener = shadow.observe
        engine.one_listener = shadow.observe_one
        rng = np.random.default_rng(11)
        keys = zipf_keys(40_000, 8_000, seed=13)
        seen = []
        i = 0
        while i < len(keys):
            tenant = "a" if (i // 3000) % 3 else "b"
            size = int(rng.choice([1, 2, 16, 100, 1500]))
            batch = [b"k%d" % k for k in dict.fromkeys(keys[i : i + size])]
            i += size
            read = engine.get_many(tenant, KeyBatch.of(batch))
            missed = [key for key, hit in zip(batch, read.found.tolist(), strict=True) if not hit]
            for key in missed:
                engine.set(tenant, key, b"x" * (len(key) * 7 % 200))
            if missed:
                engine.get(tenant, missed[0])  # a one-key hit
            # Written before any read: a hit the shadow misses, charged by its value's length.
            engine.set(tenant, b"k%d" % keys[i % len(keys)], b"y" * (i % 500))
            if i % 10 == 0:
                seen.append(shadow.counts(engine.tenant_id(tenant)))
        ts = [engine.tenant_id(name) for name in ("a", "b")]
        results.append((seen, [(shadow.counts(t), shadow.entries(t), shadow.sample_rate(t)) for t in ts]))
    assert results[0] == results[1]
    assert all(counts.reads > 0 and counts.shadow_hits > 0 for counts, _, _ in results[1][1])


def test_held_hits_must_fit_the_room_held() -> None:
    with pytest.raises(ValueError, match="held_hits"):
        ShadowCache(lambda _: 1 << 20, (64, 64, 64), lambda _: 128, held_hits=-1)
    with pytest.raises(ValueError, match="held_hits"):
        ShadowCache(lambda _: 1 << 20, (64, 64, 64), lambda _: 128, held_hits=4096)
