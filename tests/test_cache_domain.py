"""The cache domain as its front ends call it (gRPC, the prefetch loop, RESP): what a read records
and for whom, what became of each prefetch, and the calls a Redis front end needs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from predis.services.cache.collector import HIT, MISS, PREFETCH_HIT, AccessRing
from predis.services.cache.domain import CacheDomain, Condition, ReadResult, ValueOrigin
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.prefetch_outcomes import PrefetchIssuer, PrefetchOutcome
from predis.services.runtime.errors import FailedPrecondition, InvalidInput, NotBuilt

WALL_START_MS = 1_700_000_000_000


class Clocks:
    """The engine's monotonic clock and the wall clock, which move together unless stepped."""

    def __init__(self) -> None:
        self.mono_ns = 10**12
        self.wall_ns = WALL_START_MS * 1_000_000

    def advance_ms(self, ms: int) -> None:
        self.mono_ns += ms * 1_000_000
        self.wall_ns += ms * 1_000_000


class PageOrigin:
    """Knows every key but ``missing``; keys in ``slow`` wait for ``release``."""

    def __init__(self, slow: frozenset[bytes] = frozenset(), missing: frozenset[bytes] = frozenset()) -> None:
        self.slow, self.missing = slow, missing
        self.release = threading.Event()
        self.calls: list[bytes] = []

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        self.calls.append(key)
        if key in self.slow:
            self.release.wait(10)
        return None if key in self.missing else b"value of " + key

    def close(self) -> None:
        self.release.set()


def make(
    origin: PageOrigin | None = None, memory: int = 1 << 20, clocks: Clocks | None = None, ring: bool = True
) -> CacheDomain:
    clocks = clocks or Clocks()
    engine = Engine(
        EngineConfig(memory_bytes=memory),
        NumpyStorage(),
        clock_ns=lambda: clocks.mono_ns,
        wall_clock_ns=lambda: clocks.wall_ns,
    )
    return CacheDomain(engine, origin, ring=AccessRing(1 << 10) if ring else None)


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def counts(cache: CacheDomain) -> dict[str, int]:
    c = cache.counters("t")
    return {name.removeprefix("prefetches_"): v for name, v in c.items() if name.startswith("prefetches_")}


# -- prefetch outcomes -------------------------------------------------------------------------


async def test_each_prefetch_settles_once_as_used_late_or_wasted() -> None:
    origin = PageOrigin(slow=frozenset({b"slow"}), missing=frozenset({b"gone"}))
    cache = make(origin)
    assert cache.prefetch("t", [b"read", b"deleted", b"gone", b"slow"]) == 4
    await until(lambda: counts(cache)["loaded"] == 2)  # "read" and "deleted"; "gone" had no value
    assert (await cache.get("t", b"read")).source is ValueOrigin.PREFETCH
    assert (await cache.get("t", b"read")).source is ValueOrigin.CACHE  # only the first read is the use
    cache.delete("t", [b"deleted"])
    late = asyncio.create_task(cache.get("t", b"slow"))  # joins the prefetch still loading
    await asyncio.sleep(0.01)
    origin.release.set()
    assert (await late).source is ValueOrigin.ORIGIN
    assert (await cache.get("t", b"slow")).source is ValueOrigin.CACHE  # stored as the read's, not a prefetch's
    c = counts(cache)
    assert (c["issued"], c["loaded"], c["used"], c["late"], c["wasted"]) == (4, 2, 1, 1, 2)
    assert c["issued"] == c["used"] + c["late"] + c["wasted"]  # nothing pending now
    cache.close()


async def test_an_evicted_unread_prefetch_is_wasted_once_the_sweep_sees_it_gone() -> None:
    cache = make(PageOrigin(), memory=64 * 1024)
    cache.prefetch("t", [b"p"])
    await until(lambda: counts(cache)["loaded"] == 1)
    cache.sweep()
    assert counts(cache)["wasted"] == 0  # still held, unread
    for i in range(2000):  # ordinary writes push the prefetched entry out of the small queue
        cache.set("t", b"fill%d" % i, bytes(50))
    assert not cache.cached("t", [b"p"])[0]
    assert counts(cache)["wasted"] == 0  # the engine does not say which keys it evicts...
    cache.sweep()
    assert counts(cache)["wasted"] == 1  # ...the sweep finds it gone
    assert cache.counters("t")["unread_prefetch_bytes"] == 0
    cache.close()


async def test_a_read_through_of_a_key_whose_prefetch_left_unread_settles_it_as_wasted() -> None:
    cache = make(PageOrigin(), memory=64 * 1024)
    cache.prefetch("t", [b"p"])
    await until(lambda: counts(cache)["loaded"] == 1)
    for i in range(2000):
        cache.set("t", b"fill%d" % i, bytes(50))
    assert (await cache.get("t", b"p")).source is ValueOrigin.ORIGIN  # evicted before anyone read it
    assert counts(cache)["wasted"] == 1
    cache.sweep()
    assert counts(cache)["wasted"] == 1  # settled once
    cache.close()


async def test_only_labelled_prefetches_come_back_to_their_issuer() -> None:
    cache = make(PageOrigin(missing=frozenset({b"b"})))
    for prefetch in cache.start_prefetches("t", [b"a", b"b"], PrefetchIssuer.LOOP):
        prefetch.label = ("v1", prefetch.key)
    cache.prefetch("t", [b"c"])  # a client's: counted, not handed back
    await until(lambda: counts(cache)["loaded"] == 2)
    await cache.get("t", b"a")
    await cache.get("t", b"c")
    settled = cache.prefetch_outcomes.take_settled()
    assert sorted((s.prefetch.key, s.outcome) for s in settled) == [
        (b"a", PrefetchOutcome.USED),
        (b"b", PrefetchOutcome.WASTED),
    ]
    assert all(s.prefetch.label == ("v1", s.prefetch.key) for s in settled)
    assert cache.prefetch_outcomes.take_settled() == []
    loop = cache.prefetch_outcomes.counts("t", PrefetchIssuer.LOOP)
    client = cache.prefetch_outcomes.counts("t", PrefetchIssuer.CLIENT)
    assert (loop.issued, loop.used, loop.wasted, client.issued, client.used) == (2, 1, 1, 1, 1)
    cache.close()


async def test_reading_a_hinted_key_prefetches_its_followers_as_hints() -> None:
    cache = make(PageOrigin())
    assert cache.hint("t", "sequence", [b"a", b"b"]) == 1
    await cache.get("t", b"a", skip_origin=True)
    await until(lambda: counts(cache)["loaded"] == 1)
    assert (await cache.get("t", b"b", skip_origin=True)).source is ValueOrigin.PREFETCH
    hinted = cache.prefetch_outcomes.counts("t", PrefetchIssuer.HINT)
    assert (hinted.issued, hinted.used) == (1, 1)
    cache.close()


def test_prefetching_needs_an_origin() -> None:
    cache = make(None)
    with pytest.raises(FailedPrecondition, match="PREDIS_ORIGIN"):
        cache.prefetch("t", [b"k"])
    assert not cache.has_origin


# -- what a read records, and for whom ---------------------------------------------------------


async def test_every_read_is_heard_by_each_listener_and_a_peek_by_none() -> None:
    cache = make(PageOrigin())
    heard: list[tuple[int, list[bool]]] = []
    cache.on_read(lambda t, keys, found, prefetched, lengths, now, hashes: heard.append((len(keys), found.tolist())))
    cursor = cache.event_cursor()
    cache.set("t", b"here", b"v")
    await cache.get("t", b"here")
    await cache.get_many("t", KeyBatch.of([b"here", b"absent"]), skip_origin=True)
    assert cache.peek("t", b"here") == b"v"
    assert cache.exists("t", [b"here", b"here"]) == 2  # as Redis EXISTS: named twice, counted twice
    cache.ttl_ms("t", b"here")
    assert heard == [(1, [True]), (2, [True, False])]
    batch, _ = cache.read_events(cursor, 100, tenant="t")
    assert batch.keys == [b"here", b"here", b"absent"] and batch.kinds.tolist() == [HIT, HIT, MISS]
    c = cache.counters("t")
    assert (c["hits"], c["misses"]) == (2, 1)
    cache.close()


async def test_a_prefetched_entry_read_shows_as_a_prefetch_hit_event() -> None:
    cache = make(PageOrigin())
    cursor = cache.event_cursor()
    cache.prefetch("t", [b"p"])
    await until(lambda: counts(cache)["loaded"] == 1)
    await cache.get("t", b"p")
    batch, _ = cache.read_events(cursor, 10)
    assert batch.kinds.tolist() == [PREFETCH_HIT]
    cache.close()


def test_a_domain_owns_its_engine() -> None:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    engine.listener = lambda *event: None
    with pytest.raises(ValueError, match="own its engine"):
        CacheDomain(engine)


def test_events_need_the_collector() -> None:
    cache = make(ring=False)
    assert not cache.has_events
    with pytest.raises(NotBuilt, match="PREDIS_CACHE_COLLECTOR_EVENTS"):
        cache.event_cursor()


# -- what a Redis front end calls --------------------------------------------------------------


async def test_get_many_reads_through_in_key_order() -> None:
    cache = make(PageOrigin(missing=frozenset({b"none"})))
    cache.set("t", b"b", b"cached")
    values, lengths, found = await cache.get_many("t", KeyBatch.of([b"a", b"b", b"none"]))
    assert found.tolist() == [True, True, False]
    assert values == b"value of a" + b"cached" and lengths.tolist() == [10, 6, 0]
    cache.close()


def test_set_keeps_the_expiry_when_asked_to() -> None:
    clocks = Clocks()
    cache = make(clocks=clocks)
    cache.set("t", b"k", b"v1", ttl_ms=10_000)
    clocks.advance_ms(4_000)
    assert cache.set("t", b"k", b"v2", keep_ttl=True)
    assert cache.ttl_ms("t", b"k") == 6_000 and cache.peek("t", b"k") == b"v2"
    assert cache.set("t", b"k", b"v3")  # a plain set drops it
    assert cache.ttl_ms("t", b"k") == -1
    assert cache.set("t", b"new", b"v", keep_ttl=True) and cache.ttl_ms("t", b"new") == -1
    with pytest.raises(InvalidInput, match="keep_ttl"):
        cache.set("t", b"k", b"v", ttl_ms=5, keep_ttl=True)


def test_absolute_expiry_is_in_unix_milliseconds() -> None:
    clocks = Clocks()
    cache = make(clocks=clocks)
    cache.set("t", b"k", b"v")
    assert (cache.ttl_ms("t", b"k"), cache.expires_at_ms("t", b"k")) == (-1, -1)
    assert cache.expire_at("t", b"k", WALL_START_MS + 5_000)
    assert (cache.ttl_ms("t", b"k"), cache.expires_at_ms("t", b"k")) == (5_000, WALL_START_MS + 5_000)
    clocks.advance_ms(5_000)
    assert (cache.ttl_ms("t", b"k"), cache.expires_at_ms("t", b"k")) == (-2, -2)
    cache.set("t", b"k", b"v")
    assert cache.expire_at("t", b"k", WALL_START_MS)  # in the past: removed, as Redis PEXPIREAT
    assert cache.peek("t", b"k") is None
    assert not cache.expire_at("t", b"absent", WALL_START_MS + 10**9)


class TickingClocks(Clocks):
    """Clocks that move on by ``step_ns`` at every read of either, the wall clock half a
    millisecond off the monotonic one: the two are never read in the same instant."""

    def __init__(self, step_ns: int) -> None:
        super().__init__()
        self.wall_ns += 500_000
        self.step_ns = step_ns

    def mono(self) -> int:
        self.advance_ns()
        return self.mono_ns

    def wall(self) -> int:
        self.advance_ns()
        return self.wall_ns

    def advance_ns(self) -> None:
        self.mono_ns += self.step_ns
        self.wall_ns += self.step_ns


@pytest.mark.parametrize("step_ns", [1, 20_000, 137_000])  # a call reads the clocks about five times
def test_an_absolute_expiry_reads_back_exactly_while_the_clocks_tick(step_ns: int) -> None:
    clocks = TickingClocks(step_ns)
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage(), clock_ns=clocks.mono, wall_clock_ns=clocks.wall)
    cache = CacheDomain(engine)
    cache.set("t", b"k", b"v")
    off_by_one = 0
    for i in range(300):
        when = WALL_START_MS + 10_000_000 + 7 * i
        assert cache.expire_at("t", b"k", when)
        assert cache.expires_at_ms("t", b"k") == when  # as Redis: PEXPIREAT, then PEXPIRETIME
        off_by_one += engine.expires_at_ms("t", b"k") != when  # the engine's conversion of the moment
    assert cache.ttl_ms("t", b"k") > 0
    if step_ns >= 20_000:
        assert off_by_one, "the clocks tick between reads: the engine's own conversion is off at times"


def test_an_absolute_expiry_call_gives_up_retrying_on_a_clock_that_always_ticks() -> None:
    clocks = TickingClocks(1_000_000)  # a millisecond per read: no call ever fits in one
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage(), clock_ns=clocks.mono, wall_clock_ns=clocks.wall)
    cache = CacheDomain(engine)
    cache.set("t", b"k", b"v")
    assert cache.expire_at("t", b"k", WALL_START_MS + 10_000_000)
    assert abs(cache.expires_at_ms("t", b"k") - (WALL_START_MS + 10_000_000)) <= 20


def test_an_absolute_expiry_reads_back_exactly_on_the_real_clocks() -> None:
    cache = CacheDomain(Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage()))
    cache.set("t", b"a", b"v")
    for i in range(2000):
        when = 33177117420000 + i  # redis-py's test_pexpiretime asks for this one
        assert cache.expire_at("t", b"a", when) and cache.expires_at_ms("t", b"a") == when


def test_a_step_of_the_wall_clock_moves_absolute_times_not_times_to_live() -> None:
    clocks = Clocks()
    cache = make(clocks=clocks)
    cache.set("t", b"k", b"v")
    assert cache.expire_at("t", b"k", WALL_START_MS + 5_000)
    clocks.wall_ns += 60_000 * 1_000_000  # the wall clock is stepped a minute forward
    assert cache.ttl_ms("t", b"k") == 5_000  # expiry runs on the monotonic clock
    assert cache.expires_at_ms("t", b"k") == WALL_START_MS + 65_000
    assert cache.expire_at("t", b"k", WALL_START_MS + 70_000) and cache.ttl_ms("t", b"k") == 10_000


def test_write_listeners_hear_every_write_that_was_made() -> None:
    cache = make()
    heard: list[tuple[str, list[bytes] | None]] = []

    def listener(tenant: str, keys: Sequence[bytes] | None) -> None:
        heard.append((tenant, None if keys is None else list(keys)))

    cache.set("t", b"before", b"v")
    cache.on_write(listener)
    cache.set("t", b"a", b"1")
    cache.set("t", b"a", b"2", condition=Condition.IF_ABSENT)  # not applied: no write
    cache.set_many("t", KeyBatch.of([b"b", b"c"]), KeyBatch.of([b"1", b"2"]))
    cache.set_many("t", KeyBatch.of([b"c", b"d"]), KeyBatch.of([b"1", b"2"]), condition=Condition.IF_ABSENT)
    cache.delete("t", [b"a", b"absent", b"b"])  # only the keys that were cached
    cache.delete("t", [b"absent"])
    cache.expire("t", b"c", 10_000)
    cache.expire("t", b"c", 0, persist=True)
    cache.expire("t", b"c", 0, persist=True)  # had no expiry any more: no write
    cache.expire("t", b"absent", 10_000)
    cache.expire_at("t", b"d", WALL_START_MS + 5_000)
    cache.flush("other")
    assert heard == [
        ("t", [b"a"]),
        ("t", [b"b", b"c"]),
        ("t", [b"d"]),
        ("t", [b"a", b"b"]),
        ("t", [b"c"]),
        ("t", [b"c"]),
        ("t", [b"d"]),
        ("other", None),
    ]
    cache.remove_write_listener(listener)
    cache.set("t", b"a", b"3")
    assert len(heard) == 8


def test_keys_and_key_count_are_the_live_keys_of_one_tenant() -> None:
    clocks = Clocks()
    cache = make(clocks=clocks)
    cache.set_many("t", KeyBatch.of([b"a", b"b"]), KeyBatch.of([b"1", b"2"]))
    cache.set("t", b"brief", b"x", ttl_ms=10)
    cache.set("other", b"c", b"3")
    assert sorted(cache.keys("t")) == [b"a", b"b", b"brief"] and cache.key_count("t") == 3
    clocks.advance_ms(10)
    assert sorted(cache.keys("t")) == [b"a", b"b"] and cache.key_count("t") == 2
    assert cache.delete("t", [b"a", b"a", b"absent"]) == 1  # as Redis DEL: distinct keys removed
    assert cache.flush("t") >= 1 and cache.keys("t") == [] and cache.keys("other") == [b"c"]


def test_set_many_is_all_or_nothing_and_answers_per_key() -> None:
    cache = make()
    cache.set("t", b"a", b"old")
    stored = cache.set_many("t", KeyBatch.of([b"a", b"b"]), KeyBatch.of([b"1", b"2"]), condition=Condition.IF_ABSENT)
    assert stored.tolist() == [False, True]
    with pytest.raises(InvalidInput):
        cache.set_many("t", KeyBatch.of([b"c", b""]), KeyBatch.of([b"1", b"2"]))
    assert cache.exists("t", [b"c"]) == 0


def test_counters_give_what_an_info_command_shows() -> None:
    cache = make()
    cache.set("t", b"k", b"v", ttl_ms=5)
    counters = cache.counters("t")
    for name in (
        "hits",
        "misses",
        "entries",
        "memory_bytes",
        "evictions",
        "expired",
        "prefetches_issued",
        "prefetches_used",
        "prefetches_late",
        "prefetches_wasted",
    ):
        assert isinstance(counters[name], int), name
    assert counters["entries"] == 1 and counters["memory_bytes"] > 0
    view = cache.engine_view()
    assert (view.entries, view.policy, view.backend) == (1, "s3fifo", "numpy")
    assert cache.memory("t").used_bytes == counters["memory_bytes"]


async def test_value_now_answers_and_records_as_get_now_does() -> None:
    """``value_now`` (RESP's GET): the value and whether a miss reads through, the read recorded
    as ``get_now`` records it (counters, events, a prefetch's first read)."""
    origin = PageOrigin(missing=frozenset({b"nowhere"}))
    pair = [make(origin), make(origin)]
    for cache in pair:
        cache.set("t", b"held", b"v")
        assert cache.prefetch("t", [b"early"]) == 1
        await until(lambda cache=cache: counts(cache)["loaded"] == 1)
    by_value, by_result = pair
    assert by_value.value_now("t", b"held") == (b"v", False)
    assert by_result.get_now("t", b"held") == ReadResult(b"v", ValueOrigin.CACHE)
    assert by_value.value_now("t", b"early") == (b"value of early", False)
    assert by_result.get_now("t", b"early") == ReadResult(b"value of early", ValueOrigin.PREFETCH)
    assert by_value.value_now("t", b"absent", skip_origin=True) == (None, False)
    assert by_result.get_now("t", b"absent", skip_origin=True) == ReadResult(None, ValueOrigin.NONE)
    assert by_value.value_now("t", b"absent") == (None, True)  # reads through: fill finishes it
    assert by_result.get_now("t", b"absent") is None
    assert (await by_value.fill("t", b"absent")).value == (await by_result.fill("t", b"absent")).value
    assert make().value_now("t", b"absent") == (None, False)  # no origin to ask
    assert by_value.counters("t") == by_result.counters("t")
    events = [cache.read_events(0, 100)[0] for cache in pair]
    assert (events[0].kinds.tolist(), events[0].keys) == (events[1].kinds.tolist(), events[1].keys)
    assert PREFETCH_HIT in events[0].kinds.tolist() and MISS in events[0].kinds.tolist()
    for cache in pair:
        cache.close()
