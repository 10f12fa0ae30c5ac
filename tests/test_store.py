"""Unit tests of the cache store: semantics, TTL, budget, tenant isolation."""

from __future__ import annotations

import pytest

from predis.services.cache.store import ENTRY_OVERHEAD_BYTES, MAX_KEY_BYTES, CacheStore, SetCondition
from predis.services.runtime.errors import InvalidInput, Overloaded


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> CacheStore:
    return CacheStore(memory_budget_bytes=10_000, max_value_bytes=1000, clock=clock)


def test_set_get_delete_exists(store: CacheStore) -> None:
    assert store.set("t", b"k", b"v")
    assert store.get("t", b"k").value == b"v"
    assert store.exists("t", [b"k", b"k", b"other"]) == 2
    assert store.delete("t", [b"k", b"other"]) == 1
    assert store.get("t", b"k").value is None


def test_conditions_follow_redis_nx_xx(store: CacheStore) -> None:
    assert not store.set("t", b"k", b"1", condition=SetCondition.IF_PRESENT)
    assert store.set("t", b"k", b"1", condition=SetCondition.IF_ABSENT)
    assert not store.set("t", b"k", b"2", condition=SetCondition.IF_ABSENT)
    assert store.set("t", b"k", b"3", condition=SetCondition.IF_PRESENT)
    assert store.get("t", b"k").value == b"3"


def test_ttl_expire_persist_like_redis(store: CacheStore, clock: FakeClock) -> None:
    assert store.ttl_ms("t", b"k") == -2
    store.set("t", b"k", b"v")
    assert store.ttl_ms("t", b"k") == -1
    assert store.expire("t", b"k", 1500)
    assert store.ttl_ms("t", b"k") == 1500
    clock.now += 1.0
    assert store.ttl_ms("t", b"k") == 500
    assert store.expire("t", b"k", 0, persist=True)
    assert store.ttl_ms("t", b"k") == -1
    assert not store.expire("t", b"k", 0, persist=True)  # no expiry to remove
    store.set("t", b"k", b"v", ttl_ms=100)
    clock.now += 0.1
    assert store.get("t", b"k").value is None
    assert store.ttl_ms("t", b"k") == -2
    store.set("t", b"k", b"v")
    assert store.expire("t", b"k", -5)  # a non-positive TTL deletes, as in Redis
    assert store.exists("t", [b"k"]) == 0
    assert not store.expire("t", b"missing", 100)


def test_tenants_never_see_each_others_keys(store: CacheStore) -> None:
    store.set("a", b"k", b"from-a")
    store.set("b", b"k", b"from-b")
    assert store.get("a", b"k").value == b"from-a"
    assert store.get("b", b"k").value == b"from-b"
    assert store.flush("a") == 1
    assert store.get("b", b"k").value == b"from-b"
    assert store.delete("a", [b"k"]) == 0
    assert store.counters("b").entries == 1


def test_memory_budget_is_never_exceeded(clock: FakeClock) -> None:
    store = CacheStore(memory_budget_bytes=5 * (100 + 2 + ENTRY_OVERHEAD_BYTES), clock=clock)
    for i in range(50):
        store.set("t", b"k%d" % (i % 10), bytes(100))
        assert store.memory_bytes <= store.memory_budget_bytes
    assert store.entry_count == 5
    assert store.counters("t").evictions > 0


def test_least_recently_used_is_evicted_first(clock: FakeClock) -> None:
    store = CacheStore(memory_budget_bytes=3 * (10 + 2 + ENTRY_OVERHEAD_BYTES), clock=clock)
    for key in (b"k1", b"k2", b"k3"):
        store.set("t", key, bytes(10))
    store.get("t", b"k1")
    store.set("t", b"k4", bytes(10))
    assert store.exists("t", [b"k1", b"k3", b"k4"]) == 3
    assert store.exists("t", [b"k2"]) == 0


@pytest.mark.parametrize(
    ("key", "value", "ttl", "error"),
    [
        (b"", b"v", 0, InvalidInput),
        (b"x" * (MAX_KEY_BYTES + 1), b"v", 0, InvalidInput),
        (b"k", b"x" * 1001, 0, InvalidInput),
        (b"k", b"v", -1, InvalidInput),
    ],
)
def test_bad_writes_are_refused_and_change_nothing(
    store: CacheStore, key: bytes, value: bytes, ttl: int, error: type[Exception]
) -> None:
    store.set("t", b"k", b"before")
    with pytest.raises(error):
        store.set("t", key, value, ttl_ms=ttl)
    assert store.get("t", b"k").value == b"before"
    assert store.entry_count == 1


def test_entry_larger_than_budget_is_overloaded(clock: FakeClock) -> None:
    store = CacheStore(memory_budget_bytes=500, max_value_bytes=1000, clock=clock)
    with pytest.raises(Overloaded):
        store.set("t", b"k", bytes(400))
