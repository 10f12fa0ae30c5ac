"""Read-through and prefetch: single flight, origin errors and timeouts that poison nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.read_through import ReadThroughCache, ValueOrigin
from predis.services.runtime.errors import TimedOut, Unavailable


class CountingOrigin:
    def __init__(self, value: bytes | None = b"from-origin", fail: bool = False, delay_s: float = 0.0) -> None:
        self.value = value
        self.fail = fail
        self.delay_s = delay_s
        self.calls = 0
        self.release = threading.Event()
        self.lock = threading.Lock()

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        with self.lock:
            self.calls += 1
        if self.delay_s:
            self.release.wait(self.delay_s)
        if self.fail:
            raise ConnectionError("database is down")
        return self.value

    def close(self) -> None:
        pass


def make(origin: CountingOrigin, timeout_s: float = 2.0) -> ReadThroughCache:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    return ReadThroughCache(engine, origin, origin_timeout_s=timeout_s)


def counters(cache: ReadThroughCache) -> dict[str, int]:
    return cache.engine.tenant_view("t").counters


async def test_concurrent_misses_make_one_origin_call() -> None:
    origin = CountingOrigin(delay_s=0.2)
    cache = make(origin)
    results = await asyncio.gather(*(cache.get("t", b"k") for _ in range(50)))
    assert origin.calls == 1
    assert {r.value for r in results} == {b"from-origin"}
    assert (await cache.get("t", b"k")).source is ValueOrigin.CACHE
    assert counters(cache)["origin_fetches"] == 1
    cache.close()


async def test_origin_error_reaches_every_caller_and_caches_nothing() -> None:
    origin = CountingOrigin(fail=True, delay_s=0.1)
    cache = make(origin)
    results = await asyncio.gather(*(cache.get("t", b"k") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, Unavailable) and "database is down" in str(r) for r in results)
    assert origin.calls == 1
    assert cache.engine.entry_count == 0
    origin.fail = False
    assert (await cache.get("t", b"k")).value == b"from-origin"  # nothing poisoned: next call retries
    assert counters(cache)["origin_errors"] == 1
    cache.close()


async def test_slow_origin_times_out_cleanly() -> None:
    origin = CountingOrigin(delay_s=5.0)
    cache = make(origin, timeout_s=0.1)
    with pytest.raises(TimedOut):
        await cache.get("t", b"k")
    origin.release.set()
    assert cache.engine.entry_count == 0
    cache.close()


async def test_origin_without_the_key_is_a_miss_not_an_error() -> None:
    cache = make(CountingOrigin(value=None))
    result = await cache.get("t", b"k")
    assert result.value is None and result.source is ValueOrigin.NONE
    cache.close()


async def test_skip_origin_does_not_call_it() -> None:
    origin = CountingOrigin()
    cache = make(origin)
    assert (await cache.get("t", b"k", skip_origin=True)).value is None
    assert origin.calls == 0
    cache.close()


async def test_batch_reads_fill_misses_from_the_origin_in_order() -> None:
    cache = make(CountingOrigin())
    cache.engine.set("t", b"b", b"cached")
    values, lengths, found = await cache.get_many("t", KeyBatch.of([b"a", b"b", b"c"]))
    assert found.tolist() == [True, True, True]
    assert values == b"from-origin" + b"cached" + b"from-origin"
    assert lengths.tolist() == [11, 6, 11]
    cache.close()


async def test_prefetch_loads_in_the_background_at_low_priority() -> None:
    origin = CountingOrigin()
    cache = make(origin)
    cache.engine.set("t", b"present", b"x")
    assert cache.prefetch("t", [b"p1", b"p2", b"present"]) == 2
    assert cache.prefetch("t", [b"p1"]) == 0  # already being loaded
    for _ in range(100):
        if cache.engine.entry_count == 3:
            break
        await asyncio.sleep(0.01)
    result = await cache.get("t", b"p1")
    assert result.source is ValueOrigin.PREFETCH
    assert counters(cache)["prefetches"] == 2
    assert counters(cache)["prefetch_hits"] == 1
    cache.close()


async def test_reading_a_hinted_key_prefetches_its_followers_in_batches_too() -> None:
    cache = make(CountingOrigin())
    cache.hints.add("t", "sequence", [b"a", b"b"])
    cache.hints.add("t", "group", [b"x", b"y"])
    await cache.get_many("t", KeyBatch.of([b"a", b"x"]), skip_origin=True)
    for _ in range(100):
        if counters(cache)["prefetches"] == 2:
            break
        await asyncio.sleep(0.01)
    assert (await cache.get("t", b"b", skip_origin=True)).source is ValueOrigin.PREFETCH
    assert (await cache.get("t", b"y", skip_origin=True)).source is ValueOrigin.PREFETCH
    cache.close()


def with_breaker(origin: CountingOrigin, failures: int, open_s: float, now: list[float]) -> ReadThroughCache:
    """A cache whose origin breaker reads the time from ``now[0]``."""
    from predis.services.cache.origin_breaker import OriginBreaker

    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    return ReadThroughCache(engine, origin, breaker=OriginBreaker(failures, open_s, clock=lambda: now[0]))


async def test_a_failing_origin_opens_the_breaker_and_misses_skip_it() -> None:
    now = [0.0]
    origin = CountingOrigin(fail=True)
    cache = with_breaker(origin, 3, 2.0, now)
    engine = cache.engine
    for i in range(3):
        with pytest.raises(Unavailable, match="database is down"):
            await cache.get("t", b"k%d" % i)
    assert cache.breaker.state == "open" and origin.calls == 3
    with pytest.raises(Unavailable, match="3 times in a row, so misses skip it for 2.0s"):
        await cache.get("t", b"other")
    assert origin.calls == 3  # refused without calling the origin
    now[0] = 2.5  # half-open: one trial goes through
    origin.fail = False
    assert (await cache.get("t", b"other")).value == b"from-origin"
    assert cache.breaker.state == "closed" and origin.calls == 4
    assert engine.entry_count == 1  # only the value that was really fetched
    cache.close()


async def test_a_failed_trial_opens_the_breaker_again() -> None:
    now = [0.0]
    origin = CountingOrigin(fail=True)
    cache = with_breaker(origin, 1, 1.0, now)
    with pytest.raises(Unavailable):
        await cache.get("t", b"a")
    now[0] = 1.5
    with pytest.raises(Unavailable, match="database is down"):  # the trial reached the origin...
        await cache.get("t", b"b")
    with pytest.raises(Unavailable, match="skip it"):  # ...failed, and the breaker is open again
        await cache.get("t", b"c")
    assert origin.calls == 2 and cache.breaker.times_opened == 2
    cache.close()


def test_every_origin_worker_starts_with_the_cache() -> None:
    import time

    cache = make(CountingOrigin())
    try:
        # Started at once (each waits for the others), not as bursts of misses first need them,
        # so the cache's memory is what it will stay from the start.
        deadline = time.monotonic() + 10
        while len(cache._pool._threads) < 32 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(cache._pool._threads) == 32
    finally:
        cache.close()
