"""Read-through and prefetch through the cache domain: single flight, origin errors and timeouts
that poison nothing, and writes that win over loads already in flight."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

import predis
from conftest import BackgroundSuite
from predis.plugins.origin import Origin
from predis.services.cache.domain import CacheDomain, Condition, ReadResult, ValueOrigin
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.origin_breaker import OriginBreaker
from predis.services.cache.prefetch_outcomes import PrefetchOutcomes
from predis.services.cache.read_through import OriginFills
from predis.services.runtime.errors import TimedOut, Unavailable
from predis.v1 import cache_pb2


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


def make(origin: Origin, timeout_s: float = 2.0) -> CacheDomain:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    return CacheDomain(engine, origin, origin_timeout_s=timeout_s)


def counters(cache: CacheDomain) -> dict[str, int]:
    return cache.counters("t")


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
    assert cache.key_count("t") == 0
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
    assert cache.key_count("t") == 0
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
    cache.set("t", b"b", b"cached")
    values, lengths, found = await cache.get_many("t", KeyBatch.of([b"a", b"b", b"c"]))
    assert found.tolist() == [True, True, True]
    assert values == b"from-origin" + b"cached" + b"from-origin"
    assert lengths.tolist() == [11, 6, 11]
    cache.close()


async def test_prefetch_loads_in_the_background_at_low_priority() -> None:
    origin = CountingOrigin()
    cache = make(origin)
    cache.set("t", b"present", b"x")
    assert cache.prefetch("t", [b"p1", b"p2", b"present"]) == 2
    assert cache.prefetch("t", [b"p1"]) == 0  # already being loaded
    for _ in range(100):
        if cache.key_count("t") == 3:
            break
        await asyncio.sleep(0.01)
    result = await cache.get("t", b"p1")
    assert result.source is ValueOrigin.PREFETCH
    assert counters(cache)["prefetches_loaded"] == 2
    assert counters(cache)["prefetches_used"] == 1
    cache.close()


async def test_reading_a_hinted_key_prefetches_its_followers_in_batches_too() -> None:
    cache = make(CountingOrigin())
    cache.hint("t", "sequence", [b"a", b"b"])
    cache.hint("t", "group", [b"x", b"y"])
    await cache.get_many("t", KeyBatch.of([b"a", b"x"]), skip_origin=True)
    for _ in range(100):
        if counters(cache)["prefetches_loaded"] == 2:
            break
        await asyncio.sleep(0.01)
    assert (await cache.get("t", b"b", skip_origin=True)).source is ValueOrigin.PREFETCH
    assert (await cache.get("t", b"y", skip_origin=True)).source is ValueOrigin.PREFETCH
    cache.close()


def with_breaker(origin: CountingOrigin, breaker: OriginBreaker) -> CacheDomain:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    return CacheDomain(engine, origin, breaker=breaker)


def breaker_at(now: list[float], failures: int, open_s: float) -> OriginBreaker:
    """An origin breaker that reads the time from ``now[0]``."""
    return OriginBreaker(failures, open_s, clock=lambda: now[0])


async def test_a_failing_origin_opens_the_breaker_and_misses_skip_it() -> None:
    now = [0.0]
    origin = CountingOrigin(fail=True)
    breaker = breaker_at(now, 3, 2.0)
    cache = with_breaker(origin, breaker)
    for i in range(3):
        with pytest.raises(Unavailable, match="database is down"):
            await cache.get("t", b"k%d" % i)
    assert breaker.state == "open" and origin.calls == 3
    with pytest.raises(Unavailable, match="3 times in a row, so misses skip it for 2.0s"):
        await cache.get("t", b"other")
    assert origin.calls == 3  # refused without calling the origin
    now[0] = 2.5  # half-open: one trial goes through
    origin.fail = False
    assert (await cache.get("t", b"other")).value == b"from-origin"
    assert breaker.state == "closed" and origin.calls == 4
    assert cache.key_count("t") == 1  # only the value that was really fetched
    cache.close()


async def test_a_failed_trial_opens_the_breaker_again() -> None:
    now = [0.0]
    origin = CountingOrigin(fail=True)
    breaker = breaker_at(now, 1, 1.0)
    cache = with_breaker(origin, breaker)
    with pytest.raises(Unavailable):
        await cache.get("t", b"a")
    now[0] = 1.5
    with pytest.raises(Unavailable, match="database is down"):  # the trial reached the origin...
        await cache.get("t", b"b")
    with pytest.raises(Unavailable, match="skip it"):  # ...failed, and the breaker is open again
        await cache.get("t", b"c")
    assert origin.calls == 2 and breaker.times_opened == 2
    cache.close()


def test_every_origin_worker_starts_with_the_cache() -> None:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    fills = OriginFills(engine, CountingOrigin(), PrefetchOutcomes())
    try:
        # Started at once (each waits for the others), not as bursts of misses first need them,
        # so the cache's memory is what it will stay from the start.
        deadline = time.monotonic() + 10
        while len(fills._pool._threads) < 32 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(fills._pool._threads) == 32
    finally:
        fills.close()


# -- writes win over fills ---------------------------------------------------------------------


class GatedOrigin:
    """An origin whose fetches wait until ``release`` is set; counts the calls that reached it."""

    def __init__(self, value: bytes = b"old") -> None:
        self.value = value
        self.release = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        with self.lock:
            self.calls += 1
        self.release.wait(10)
        return self.value

    def close(self) -> None:
        self.release.set()


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


WRITES: dict[str, Callable[[CacheDomain], object]] = {
    "set": lambda c: c.set("t", b"k", b"new"),
    "set if absent": lambda c: c.set("t", b"k", b"new", condition=Condition.IF_ABSENT),
    "set_many": lambda c: c.set_many("t", KeyBatch.of([b"k"]), KeyBatch.of([b"new"])),
    "delete": lambda c: c.delete("t", [b"k"]),
    "expire": lambda c: c.expire("t", b"k", 0),
    "expire_at": lambda c: c.expire_at("t", b"k", 0),
    "flush": lambda c: c.flush("t"),
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_wins_over_a_read_through_that_started_before_it(write: str) -> None:
    origin = GatedOrigin(b"old")
    cache = make(origin)
    reader = asyncio.create_task(cache.get("t", b"k"))
    await until(lambda: origin.calls == 1)  # the fill is at the origin
    WRITES[write](cache)
    origin.release.set()
    # The reader's read began before the write: the origin's answer is a right answer for it...
    assert await reader == ReadResult(b"old", ValueOrigin.ORIGIN)
    # ...but the cache keeps what the write left, never the older value.
    expected = b"new" if write.startswith("set") else None
    assert cache.peek("t", b"k") == expected
    assert origin.calls == 1
    cache.close()


async def test_a_read_after_a_delete_starts_a_fresh_load_instead_of_joining_the_stale_one() -> None:
    origin = GatedOrigin(b"old")
    cache = make(origin)
    first = asyncio.create_task(cache.get("t", b"k"))
    await until(lambda: origin.calls == 1)
    cache.delete("t", [b"k"])  # say the application changed the row, then invalidated the key
    origin.value = b"changed"
    second = asyncio.create_task(cache.get("t", b"k"))
    await until(lambda: origin.calls == 2)  # its own load, not the one from before the delete
    origin.release.set()
    assert (await first).value == b"changed" and (await second).value == b"changed"
    assert cache.peek("t", b"k") == b"changed"
    cache.close()


async def test_a_flush_voids_every_load_of_the_tenant_and_only_of_the_tenant() -> None:
    origin = GatedOrigin(b"old")
    cache = make(origin)
    readers = [asyncio.create_task(cache.get(t, k)) for t, k in (("t", b"a"), ("t", b"b"), ("u", b"a"))]
    await until(lambda: origin.calls == 3)
    assert cache.flush("t") == 0
    origin.release.set()
    assert [(await r).value for r in readers] == [b"old"] * 3
    assert (cache.peek("t", b"a"), cache.peek("t", b"b"), cache.peek("u", b"a")) == (None, None, b"old")
    cache.close()


async def test_a_set_wins_over_a_prefetch_in_flight_and_the_prefetch_is_wasted() -> None:
    origin = GatedOrigin(b"old")
    cache = make(origin)
    assert cache.prefetch("t", [b"k"]) == 1
    await until(lambda: origin.calls == 1)
    cache.set("t", b"k", b"new")
    origin.release.set()
    await until(lambda: not cache.is_loading("t", b"k"))
    await asyncio.sleep(0.01)  # the load's task finishes after it stops counting as loading
    assert cache.peek("t", b"k") == b"new"
    c = cache.counters("t")
    assert (c["prefetches_issued"], c["prefetches_loaded"], c["prefetches_wasted"]) == (1, 0, 1)
    cache.close()


def test_a_set_through_the_grpc_front_end_wins_over_a_read_through_in_flight() -> None:
    origin = GatedOrigin(b"old")
    suite = BackgroundSuite(origin=origin).start()
    try:
        with predis.Client(suite.addresses["cache"]) as reader, predis.Client(suite.addresses["cache"]) as writer:
            with ThreadPoolExecutor(1) as pool:
                reading = pool.submit(reader.get, b"k")
                deadline = time.monotonic() + 5
                while origin.calls == 0:
                    assert time.monotonic() < deadline, "the read never reached the origin"
                    time.sleep(0.005)
                assert writer.set(b"k", b"new")
                origin.release.set()
                assert reading.result(10) == b"old"  # its read began before the Set
            answer = writer.lookup(b"k")
            assert (answer.value, answer.source) == (b"new", cache_pb2.VALUE_SOURCE_CACHE)
            assert origin.calls == 1
    finally:
        suite.stop()


def test_a_delete_through_the_grpc_front_end_voids_a_prefetch_in_flight() -> None:
    origin = GatedOrigin(b"old")
    suite = BackgroundSuite(origin=origin).start()
    try:
        with predis.Client(suite.addresses["cache"]) as client:
            assert client.prefetch(b"k") == 1
            deadline = time.monotonic() + 5
            while origin.calls == 0:
                assert time.monotonic() < deadline, "the prefetch never reached the origin"
                time.sleep(0.005)
            assert client.delete(b"k") == 0
            origin.release.set()
            while client.stats().tenant.prefetches_unused == 0:
                assert time.monotonic() < deadline + 5, "the prefetch never settled"
                time.sleep(0.01)
            assert client.get(b"k", skip_origin=True) is None  # the value from before the delete was dropped
            assert client.stats().tenant.prefetches == 0  # it never loaded
    finally:
        suite.stop()
