"""One contract for every storage backend: the engine must behave the same on each.

CuPy runs only where a CUDA device is present; elsewhere its cases are skipped."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest

from predis.services.cache.engine import policy as pol
from predis.services.cache.engine.engine import Condition, Counter, Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.simulate import simulate
from predis.services.cache.engine.slot_table import SlotTableStorage
from predis.services.cache.engine.storage import KeyBatch
from predis.services.runtime.errors import InvalidInput, Overloaded


def _cupy_storage(**kwargs: int) -> object:
    cupy_storage = pytest.importorskip("predis.services.cache.engine.cupy_storage")
    if not cupy_storage.cuda_available():
        pytest.skip("no CUDA device")
    return cupy_storage.CupyStorage(**kwargs)


BACKENDS: dict[str, Callable[..., object]] = {
    "numpy": lambda **kw: NumpyStorage(**kw),
    "cupy": _cupy_storage,
}


WALL_START_MS = 1_700_000_000_000


class FakeClock:
    """The engine's monotonic clock; ``wall`` is a wall clock that moves with it until stepped."""

    def __init__(self) -> None:
        self.now = 10**12
        self.wall_offset_ns = WALL_START_MS * 1_000_000 - self.now

    def __call__(self) -> int:
        return self.now

    def wall(self) -> int:
        return self.now + self.wall_offset_ns

    def advance_ms(self, ms: int) -> None:
        self.now += ms * 1_000_000


@pytest.fixture(params=[pytest.param("numpy"), pytest.param("cupy", marks=pytest.mark.gpu)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(backend: str, clock: FakeClock) -> Callable[..., Engine]:
    def build(memory: int = 1 << 20, **config: object) -> Engine:
        storage = BACKENDS[backend](slots=16, blocks=64)
        engine_config = EngineConfig(memory_bytes=memory, **config)  # type: ignore[arg-type]
        return Engine(engine_config, storage, clock_ns=clock, wall_clock_ns=clock.wall)

    return build


def test_set_get_delete_exists(make: Callable[..., Engine]) -> None:
    e = make()
    assert e.set("t", b"k", b"v")
    assert e.get("t", b"k") == (b"v", False)
    assert e.exists("t", [b"k", b"k", b"nope"]) == 2
    assert e.delete("t", [b"k", b"nope"]) == 1
    assert e.get("t", b"k") == (None, False)
    assert e.set("t", b"empty", b"")
    assert e.get("t", b"empty") == (b"", False)


def test_values_of_every_size_round_trip(make: Callable[..., Engine]) -> None:
    e = make(memory=8 << 20)
    rng = np.random.default_rng(0)
    values = {b"k%d" % n: rng.bytes(n) for n in (0, 1, 63, 64, 65, 127, 128, 1000, 65_536, 1024 * 1024)}
    for key, value in values.items():
        assert e.set("t", key, value)
    for key, value in values.items():
        assert e.get("t", key)[0] == value
    long_key = bytes(range(256)) * 256
    assert e.set("t", long_key, b"long key")
    assert e.get("t", long_key)[0] == b"long key"


def test_overwrite_shrinks_and_grows_in_place(make: Callable[..., Engine]) -> None:
    e = make()
    e.set("t", b"k", b"a" * 500)
    e.set("t", b"k", b"b" * 3)
    assert e.get("t", b"k")[0] == b"bbb"
    e.set("t", b"k", b"c" * 2000)
    assert e.get("t", b"k")[0] == b"c" * 2000
    assert e.entry_count == 1


def test_hash_collisions_never_return_another_keys_value(
    make: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    e = make()
    monkeypatch.setattr(e.storage, "hashes", lambda tenant, keys: np.full(len(keys), 42, dtype=np.uint64))
    # A batch read hashes inside the backend's fused find_read; its parts hash through
    # storage.hashes (the fused lookup's walk past a colliding hash is checked below).
    monkeypatch.setattr(e.storage, "find_read", functools.partial(SlotTableStorage.find_read, e.storage))

    # The batch paths, which hash through storage.hashes (one-key reads and writes hash in find_one).
    def value(tenant: str, key: bytes) -> bytes | None:
        read = e.get_many(tenant, KeyBatch.of([key]))
        return read.values if read.found[0] else None

    def store(tenant: str, key: bytes, value: bytes) -> None:
        assert e.set_many(tenant, KeyBatch.of([key]), KeyBatch.of([value])).tolist() == [True]

    keys = [b"alpha", b"beta", b"gamma", b"alphb", b"a"]
    for key in keys:
        store("t", key, b"value of " + key)
    store("u", b"alpha", b"other tenant")
    for key in keys:
        assert value("t", key) == b"value of " + key
    assert value("t", b"delta") is None
    assert e.delete("t", [b"beta"]) == 1
    assert [value("t", k) for k in keys] == [b"value of " + k if k != b"beta" else None for k in keys]
    assert value("u", b"alpha") == b"other tenant"


def test_lookups_that_hash_keys_themselves_walk_past_keys_with_their_hash() -> None:
    """GET's one-key lookup (``find_one``) and a batch read's fused ``find_read`` hash the keys
    themselves: entries stored under the same hash, of another key or another tenant, are
    passed over, as the batch ``find`` passes them."""
    storage = NumpyStorage(64, 256)
    alpha = KeyBatch.of([b"alpha"])
    h = storage.hashes(0, alpha)
    storage.insert(0, KeyBatch.of([b"alphb"]), h, KeyBatch.of([b"impostor"]))  # another key, alpha's hash
    storage.insert(1, alpha, h, KeyBatch.of([b"other tenant"]))  # the same hash and key, another tenant
    [slot] = storage.insert(0, alpha, h, KeyBatch.of([b"value of alpha"]))
    assert storage.find_one(0, b"alpha") == (int(slot), int(h[0]))
    assert storage.read_one(int(slot)) == b"value of alpha"
    assert storage.find_one(0, b"alphc")[0] == -1
    assert int(storage.find(0, alpha, h)[0]) == int(slot)
    never = np.zeros(storage.slot_capacity, dtype=np.int64)
    hashes, slots, values, lengths, expired = storage.find_read(0, KeyBatch.of([b"alphc", b"alpha"]), never, 5)
    assert hashes[1] == h[0] and slots.tolist() == [-1, int(slot)] and expired == 0
    assert values == b"value of alpha" and lengths.tolist() == [0, 14]
    deadlines = never.copy()
    deadlines[slot] = 5  # due at now: found, reported expired, not read
    _, slots, values, lengths, expired = storage.find_read(0, alpha, deadlines, 5)
    assert slots.tolist() == [int(slot)] and (values, lengths.tolist(), expired) == (b"", [0], 1)


def test_memory_budget_is_never_exceeded(make: Callable[..., Engine]) -> None:
    budget = 256 * 1024
    e = make(memory=budget)
    rng = np.random.default_rng(1)
    for _i in range(3000):
        size = int(rng.choice([10, 100, 1000, 5000]))
        e.set("t", b"key%d" % rng.integers(0, 2000), bytes(size))
        assert e.memory_bytes <= budget
        assert e.allocated_bytes <= budget
    view = e.tenant_view("t").counters
    assert view["evictions"] > 0
    assert view["memory"] == e.memory_bytes


@pytest.mark.parametrize(
    ("key", "value", "ttl", "error", "needle"),
    [
        (b"", b"v", 0, InvalidInput, "empty"),
        (b"x" * (64 * 1024 + 1), b"v", 0, InvalidInput, "longer than the maximum"),
        (b"k", b"x" * (1024 * 1024 + 1), 0, InvalidInput, "larger than the maximum"),
        (b"k", b"v", -1, InvalidInput, "ttl_ms"),
    ],
)
def test_bad_writes_change_nothing(
    make: Callable[..., Engine], key: bytes, value: bytes, ttl: int, error: type[Exception], needle: str
) -> None:
    e = make(memory=8 << 20)
    e.set("t", b"k", b"before")
    with pytest.raises(error, match=needle):
        e.set("t", key, value, ttl_ms=ttl)
    assert e.get("t", b"k")[0] == b"before"
    assert e.entry_count == 1


def test_batch_set_is_all_or_nothing(make: Callable[..., Engine]) -> None:
    e = make()
    keys = KeyBatch.of([b"a", b"b", b""])
    with pytest.raises(InvalidInput):
        e.set_many("t", keys, KeyBatch.of([b"1", b"2", b"3"]))
    assert e.entry_count == 0
    with pytest.raises(InvalidInput, match="twice"):
        e.set_many("t", KeyBatch.of([b"a", b"a"]), KeyBatch.of([b"1", b"2"]))
    stored = e.set_many("t", KeyBatch.of([b"a", b"b"]), KeyBatch.of([b"1", b"22"]))
    assert stored.tolist() == [True, True]
    read = e.get_many("t", KeyBatch.of([b"b", b"zz", b"a"]))
    assert read.found.tolist() == [True, False, True]
    assert read.values == b"221" and read.lengths.tolist() == [2, 0, 1]


def test_a_batch_whose_larger_value_evicts_keys_of_the_same_batch_writes_every_key(
    make: Callable[..., Engine],
) -> None:
    # A full cache; a batch rewrites the newest key with a value that needs room (evicting the
    # oldest entries) and each older key with a smaller one. Every key of the batch must read
    # back its new value or be absent (evicted): never another key's bytes or a broken entry.
    def full() -> tuple[Engine, list[bytes]]:
        e = make(memory=64 * 1024)
        for i in range(900):
            e.set("t", b"k%03d" % i, b"v" * 100)
        return e, [k for k in (b"k%03d" % i for i in range(900)) if e.peek("t", k) is not None]

    _, live = full()
    for victim in live[:-1:4]:
        e, _ = full()
        grow, small = live[-1], [victim, *(k for k in live[:3] if k != victim)]
        values = {grow: b"G" * 700, **{k: k * 5 for k in small}}
        stored = e.set_many("t", KeyBatch.of(list(values)), KeyBatch.of(list(values.values())))
        assert stored.all()
        for key, value in values.items():
            assert e.peek("t", key) in (value, None), (victim, key)
        assert e.peek("t", grow) == b"G" * 700
        assert e.memory_bytes <= e.config.memory_bytes


def test_conditions_follow_redis_nx_xx(make: Callable[..., Engine]) -> None:
    e = make()
    assert not e.set("t", b"k", b"1", condition=Condition.IF_PRESENT)
    assert e.set("t", b"k", b"1", condition=Condition.IF_ABSENT)
    assert not e.set("t", b"k", b"2", condition=Condition.IF_ABSENT)
    assert e.set("t", b"k", b"3", condition=Condition.IF_PRESENT)
    assert e.get("t", b"k")[0] == b"3"


def test_ttl_lazy_and_active_expiry(make: Callable[..., Engine], clock: FakeClock) -> None:
    e = make()
    assert e.ttl_ms("t", b"k") == -2
    e.set("t", b"k", b"v")
    assert e.ttl_ms("t", b"k") == -1
    assert e.expire("t", b"k", 1500)
    clock.advance_ms(1000)
    assert e.ttl_ms("t", b"k") == 500
    assert e.expire("t", b"k", 0, persist=True)
    assert e.ttl_ms("t", b"k") == -1
    e.set("t", b"short", b"v", ttl_ms=100)
    clock.advance_ms(100)
    assert e.get("t", b"short")[0] is None  # lazy: found expired on access
    for i in range(10):
        e.set("t", b"e%d" % i, b"v", ttl_ms=50)
    clock.advance_ms(60)
    assert e.sweep_expired() == 10  # active: removed without being accessed
    assert e.entry_count == 1
    assert e.expire("t", b"k", -5)  # a non-positive TTL deletes, as in Redis
    assert e.entry_count == 0
    assert e.tenant_view("t").counters["expired"] == 11


@pytest.mark.parametrize("policy", ["s3fifo", "lru"])
def test_a_batch_read_counts_expires_and_uncharges_as_its_keys_one_by_one(
    make: Callable[..., Engine], clock: FakeClock, policy: str
) -> None:
    e = make(policy=policy)
    e.set("t", b"live", b"value")
    e.set("t", b"due", b"soon", ttl_ms=100)
    e.set("t", b"later", b"stays", ttl_ms=10_000)
    e.insert_prefetched("t", b"loaded", b"ahead")
    unread = e.tenant_view("t").counters["prefetch_bytes"]
    clock.advance_ms(100)
    names = [b"live", b"due", b"nothing", b"loaded", b"later", b"loaded", b"due"]
    read = e.get_many("t", KeyBatch.of(names))
    assert read.found.tolist() == [True, False, False, True, True, True, False]
    assert read.prefetched.tolist() == [False, False, False, True, False, True, False]
    assert read.lengths.tolist() == [5, 0, 0, 5, 5, 5, 0]
    assert read.values == b"valueaheadstaysahead" and (read.hits, read.prefetched_hits) == (4, 2)
    counters = e.tenant_view("t").counters
    assert (counters["hits"], counters["misses"], counters["expired"]) == (4, 3, 1)  # "due" expired once
    assert counters["prefetch_bytes"] == 0 < unread  # the prefetch's bytes, uncharged once
    assert e.entry_count == 3 and e.ttl_ms("t", b"due") == -2
    assert e.get_many("t", KeyBatch.of([b"loaded"])).prefetched.tolist() == [False]  # read: ordinary now


def test_set_can_keep_the_expiry_an_overwritten_key_has(make: Callable[..., Engine], clock: FakeClock) -> None:
    e = make()
    e.set("t", b"k", b"short", ttl_ms=1000)
    clock.advance_ms(400)
    assert e.set("t", b"k", b"a longer value than before" * 4, keep_ttl=True)  # grows: stored anew
    assert e.ttl_ms("t", b"k") == 600
    assert e.set_many("t", KeyBatch.of([b"k", b"new"]), KeyBatch.of([b"v", b"v"]), keep_ttl=True).all()
    assert (e.ttl_ms("t", b"k"), e.ttl_ms("t", b"new")) == (600, -1)  # a new key has none to keep
    assert e.set("t", b"k", b"v")
    assert e.ttl_ms("t", b"k") == -1
    with pytest.raises(InvalidInput, match="keep_ttl"):
        e.set("t", b"k", b"v", ttl_ms=10, keep_ttl=True)


def test_absolute_expiry_converts_unix_milliseconds_to_the_engine_clock(
    make: Callable[..., Engine], clock: FakeClock
) -> None:
    e = make()
    e.set("t", b"k", b"v")
    assert (e.expires_at_ms("t", b"k"), e.expires_at_ms("t", b"absent")) == (-1, -2)
    assert e.expire_at("t", b"k", WALL_START_MS + 2500)
    assert (e.ttl_ms("t", b"k"), e.expires_at_ms("t", b"k")) == (2500, WALL_START_MS + 2500)
    clock.wall_offset_ns += 3_600_000 * 1_000_000  # the wall clock is stepped an hour ahead...
    clock.advance_ms(2000)
    assert e.ttl_ms("t", b"k") == 500  # ...expiry runs on the engine clock: 500 ms still left
    assert e.expires_at_ms("t", b"k") == e.wall_clock_ms() + 500
    clock.advance_ms(500)
    assert e.peek("t", b"k") is None
    e.set("t", b"k", b"v")
    assert e.expire_at("t", b"k", e.wall_clock_ms() - 1)  # in the past: removed, as Redis PEXPIREAT
    assert e.peek("t", b"k") is None and not e.expire_at("t", b"k", e.wall_clock_ms() + 10)
    with pytest.raises(InvalidInput):
        e.expire_at("t", b"k", 1.5)  # type: ignore[arg-type]


def test_peek_reads_without_counting_touching_or_telling(make: Callable[..., Engine], clock: FakeClock) -> None:
    e = make()
    heard: list[object] = []
    e.listener = lambda *event: heard.append(event)
    e.insert_prefetched("t", b"p", b"prefetched")
    e.set("t", b"brief", b"v", ttl_ms=10)
    assert e.peek("t", b"p") == b"prefetched" and e.peek("t", b"absent") is None
    counters = e.tenant_view("t").counters
    assert (counters["hits"], counters["misses"], heard) == (0, 0, [])
    assert e.get_many("t", KeyBatch.of([b"p"])).prefetched.tolist() == [True]  # still an unread prefetch
    clock.advance_ms(10)
    assert e.peek("t", b"brief") is None  # expired


def test_keys_are_the_live_keys_of_one_tenant(make: Callable[..., Engine], clock: FakeClock) -> None:
    e = make()
    e.set_many("a", KeyBatch.of([b"k%d" % i for i in range(50)]), KeyBatch.of([b"v"] * 50))
    e.set("a", b"brief", b"v", ttl_ms=5)
    e.set("b", b"other", b"v")
    assert sorted(e.keys("a")) == sorted([b"k%d" % i for i in range(50)] + [b"brief"])
    assert e.key_count("a") == 51
    clock.advance_ms(5)
    assert b"brief" not in e.keys("a") and e.key_count("a") == 50
    assert e.keys("b") == [b"other"] and e.keys("nobody") == []


def test_delete_counts_distinct_keys_and_exists_counts_each_naming(make: Callable[..., Engine]) -> None:
    e = make()
    e.set("t", b"a", b"v")
    assert e.exists("t", [b"a", b"a", b"b"]) == 2  # as Redis EXISTS
    assert e.delete("t", [b"a", b"a", b"b"]) == 1  # as Redis DEL
    assert e.exists("t", [b"a"]) == 0


def test_tenants_cannot_read_list_or_evict_each_other(make: Callable[..., Engine]) -> None:
    e = make(memory=512 * 1024, tenant_quotas={"a": 200 * 1024, "b": 200 * 1024})
    e.set("b", b"keep", b"b's value")
    for i in range(5000):
        e.set("a", b"k%d" % i, bytes(100))
    assert e.get("b", b"keep")[0] == b"b's value"
    assert e.tenant_view("a").counters["memory"] <= 200 * 1024
    assert e.get("a", b"keep")[0] is None
    assert e.flush("a") > 0
    assert e.get("b", b"keep")[0] == b"b's value"
    assert e.tenant_view("b").counters["evictions"] == 0


def test_a_tenant_never_evicts_another_even_without_quotas(make: Callable[..., Engine]) -> None:
    e = make(memory=128 * 1024)
    i = 0
    while e.tenant_view("a").counters["evictions"] == 0:  # "a" fills the whole budget
        e.set("a", b"k%d" % i, bytes(200))
        i += 1
    before = e.tenant_view("a").counters["entries"]
    with pytest.raises(Overloaded, match="held by other tenants"):
        e.set("b", b"big", bytes(20_000))
    assert e.get("b", b"big")[0] is None
    for j in range(500):  # small writes fit in what is free, then evict only b's own entries
        e.set("b", b"k%d" % j, bytes(200))
    assert e.tenant_view("a").counters["entries"] == before


def test_prefetched_entries_are_marked_until_read_and_their_bytes_charged(make: Callable[..., Engine]) -> None:
    e = make(memory=64 * 1024)
    assert e.insert_prefetched("t", b"used", b"v")
    assert not e.insert_prefetched("t", b"used", b"again")  # present: not prefetched twice
    held = e.tenant_view("t").counters["prefetch_bytes"]
    assert held == e.tenant_view("t").counters["memory"] > 0
    assert e.get_many("t", KeyBatch.of([b"used", b"used"])).prefetched.tolist() == [True, True]
    assert e.tenant_view("t").counters["prefetch_bytes"] == 0  # read: no longer an unused prefetch
    assert e.get("t", b"used") == (b"v", False)  # a real read made it ordinary
    e.insert_prefetched("t", b"unused", b"v")
    e.insert_prefetched("t", b"overwritten", b"v")
    assert e.tenant_view("t").counters["prefetch_bytes"] == 2 * held
    e.set("t", b"overwritten", b"w")
    assert e.tenant_view("t").counters["prefetch_bytes"] == held
    for i in range(2000):
        e.set("t", b"fill%d" % i, bytes(50))
    assert not e.exists_mask("t", KeyBatch.of([b"unused"]))[0]  # evicted unread: its bytes no longer held
    assert e.tenant_view("t").counters["prefetch_bytes"] == 0


@pytest.mark.parametrize("policy", ["lru", "s3fifo"])
def test_the_engine_decides_exactly_as_replay_does(make: Callable[..., Engine], policy: str) -> None:
    ids = (np.random.default_rng(5).zipf(1.2, 20_000) % 2_000).astype(np.uint64)
    e = make(memory=4 << 20, policy=policy)
    t = e.tenant_id("t")
    entries = 200  # 10% and 90% of it are whole entries, so byte rounding matches unit sizes
    charge = int(e.charges(np.array([8]), np.array([1]))[0])
    e._policy.tenant[t, pol.CAPACITY] = entries * charge
    hits = 0
    for obj in ids.tolist():
        key = obj.to_bytes(8, "little")
        if e.get("t", key)[0] is None:
            e.set("t", key, b"v")
        else:
            hits += 1
    assert hits == simulate(ids, entries, policy).hits
    assert e.tenant_view("t").counters["hits"] == hits
    assert Counter.HITS == 0
