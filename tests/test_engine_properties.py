"""Property tests: random sequences of calls over several tenants, the engine against a small
reference model of the cache's semantics (a dict with TTLs). With room for everything the two
agree on every answer; with a small budget every answer is one the model allows (a value may be
gone, evicted, but is never stale or another key's), and the budget is never exceeded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predis.services.cache.engine.engine import Condition, Engine, EngineConfig
from predis.services.cache.engine.hashing import has_repeats
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import KeyBatch

TENANTS = ("a", "b", "c")
KEYS = tuple(b"k%d" % i for i in range(12))

tenants = st.sampled_from(TENANTS)
keys = st.sampled_from(KEYS)
ttls = st.sampled_from([0, 0, 5, 50, 1000])
conditions = st.sampled_from(list(Condition))


def values(max_size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=0, max_size=max_size)


def operations(max_value: int) -> st.SearchStrategy[tuple[object, ...]]:
    return st.one_of(
        st.tuples(st.just("set"), tenants, keys, values(max_value), ttls, conditions),
        st.tuples(st.just("get"), tenants, keys),
        st.tuples(st.just("delete"), tenants, st.lists(keys, min_size=1, max_size=3)),
        st.tuples(st.just("expire"), tenants, keys, st.sampled_from([-1, 0, 5, 100])),
        st.tuples(st.just("persist"), tenants, keys),
        st.tuples(st.just("ttl"), tenants, keys),
        st.tuples(
            st.just("batch_set"),
            tenants,
            st.lists(st.tuples(keys, values(max_value)), min_size=1, max_size=4, unique_by=lambda kv: kv[0]),
            ttls,
        ),
        st.tuples(st.just("batch_get"), tenants, st.lists(keys, min_size=1, max_size=4)),
        st.tuples(st.just("advance"), st.sampled_from([1, 10, 60, 2000])),
        st.tuples(st.just("flush"), tenants),
    )


@dataclass
class Reference:
    """What a cache must answer: a dict per tenant of value and absolute expiry (ms; 0 = never)."""

    now_ms: int = 1_000_000
    data: dict[tuple[str, bytes], tuple[bytes, int]] = field(default_factory=dict)

    def live(self, tenant: str, key: bytes) -> tuple[bytes, int] | None:
        entry = self.data.get((tenant, key))
        if entry is not None and entry[1] and entry[1] <= self.now_ms:
            del self.data[(tenant, key)]
            return None
        return entry

    def ttl(self, tenant: str, key: bytes) -> int:
        entry = self.live(tenant, key)
        if entry is None:
            return -2
        return -1 if entry[1] == 0 else entry[1] - self.now_ms


def run(ops: list[tuple[object, ...]], memory_bytes: int, exact: bool) -> None:
    ref = Reference()
    engine = Engine(EngineConfig(memory_bytes=memory_bytes), NumpyStorage(), clock_ns=lambda: ref.now_ms * 1_000_000)

    def agree(tenant: str, key: bytes, got: bytes | None) -> None:
        """Checks a read: exact, or (when entries may be evicted) the value or nothing."""
        entry = ref.live(tenant, key)
        want = None if entry is None else entry[0]
        if exact or got is not None:
            assert got == want, (tenant, key, got, want)
        elif want is not None:
            del ref.data[(tenant, key)]  # evicted: the model forgets it too

    for op in ops:
        kind = op[0]
        if kind == "set":
            _, tenant, key, value, ttl, condition = op
            present = ref.live(tenant, key) is not None
            stored = engine.set(tenant, key, value, ttl, condition)
            should = {Condition.ALWAYS: True, Condition.IF_ABSENT: not present, Condition.IF_PRESENT: present}
            if exact:
                assert stored == should[condition], op
            if stored:
                ref.data[(tenant, key)] = (value, ref.now_ms + ttl if ttl else 0)
            elif not exact and should[condition]:
                ref.data.pop((tenant, key), None)  # declined, or the key was evicted: it may be gone
        elif kind == "get":
            _, tenant, key = op
            agree(tenant, key, engine.get(tenant, key)[0])
        elif kind == "delete":
            _, tenant, names = op
            unique = list(dict.fromkeys(names))
            removed = engine.delete(tenant, unique)
            there = sum(ref.live(tenant, k) is not None for k in unique)
            assert removed == there if exact else removed <= there
            for k in unique:
                ref.data.pop((tenant, k), None)
        elif kind in ("expire", "persist"):
            _, tenant, key, *rest = op
            entry = ref.live(tenant, key)
            applied = engine.expire(tenant, key, rest[0] if rest else 0, persist=kind == "persist")
            if entry is None or (not exact and not applied and kind == "expire"):
                assert not applied or not exact
                ref.data.pop((tenant, key), None)
                continue
            if kind == "persist":
                assert applied == (entry[1] != 0) or not exact
                ref.data[(tenant, key)] = (entry[0], 0)
            elif rest[0] <= 0:
                assert applied
                del ref.data[(tenant, key)]
            else:
                assert applied
                ref.data[(tenant, key)] = (entry[0], ref.now_ms + rest[0])
        elif kind == "ttl":
            _, tenant, key = op
            got, want = engine.ttl_ms(tenant, key), ref.ttl(tenant, key)
            if exact or got != -2:
                assert got == want, op
            elif want != -2:
                del ref.data[(tenant, key)]
        elif kind == "batch_set":
            _, tenant, pairs, ttl = op
            stored = engine.set_many(
                tenant, KeyBatch.of([k for k, _ in pairs]), KeyBatch.of([v for _, v in pairs]), ttl
            )
            for (k, v), ok in zip(pairs, stored.tolist(), strict=True):
                assert ok or not exact
                if ok:
                    ref.data[(tenant, k)] = (v, ref.now_ms + ttl if ttl else 0)
                else:
                    ref.data.pop((tenant, k), None)
        elif kind == "batch_get":
            _, tenant, names = op
            read = engine.get_many(tenant, KeyBatch.of(list(names)))
            start = 0
            for i, k in enumerate(names):
                length = int(read.lengths[i])
                got = bytes(read.values[start : start + length]) if read.found[i] else None
                start += length if read.found[i] else 0
                agree(tenant, k, got)
        elif kind == "advance":
            ref.now_ms += op[1]
        elif kind == "flush":
            _, tenant = op
            engine.flush(tenant)
            for k in [k for k in ref.data if k[0] == tenant]:
                del ref.data[k]
        assert engine.memory_bytes <= engine.config.memory_bytes  # the budget holds after every call


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations(max_value=64), min_size=1, max_size=60))
def test_with_room_for_everything_every_answer_agrees(ops: list[tuple[object, ...]]) -> None:
    run(ops, memory_bytes=8 << 20, exact=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations(max_value=6000), min_size=1, max_size=60))
def test_under_memory_pressure_answers_are_allowed_and_the_budget_holds(ops: list[tuple[object, ...]]) -> None:
    run(ops, memory_bytes=64 * 1024, exact=False)


@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 5000)), min_size=2, max_size=200))
def test_a_batchs_charges_are_each_entrys_charge(lengths: list[tuple[int, int]]) -> None:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    keys, values = (np.array(column, dtype=np.int64) for column in zip(*lengths, strict=True))
    assert engine.charges(keys, values).tolist() == [engine.charge_of(int(k), int(v)) for k, v in lengths]


@given(st.lists(st.integers(0, 40), max_size=150))
def test_repeated_hashes_are_found_in_short_and_long_batches(values: list[int]) -> None:
    hashes = np.array(values, dtype=np.uint64)
    assert has_repeats(hashes) == (len(set(values)) != len(values))


def one_key_operations(max_value: int) -> st.SearchStrategy[tuple[object, ...]]:
    return st.one_of(
        st.tuples(st.just("set"), tenants, keys, values(max_value), ttls, conditions, st.booleans()),
        st.tuples(st.just("get"), tenants, keys),
        st.tuples(st.just("prefetch"), tenants, keys, values(max_value)),
        st.tuples(st.just("advance"), st.sampled_from([1, 10, 60, 2000])),
    )


def _state(engine: Engine) -> tuple[object, ...]:
    policy = engine._policy
    return (
        engine._counters.tolist(),
        engine.memory_bytes,
        engine._ttl_entries,
        engine._expires.tolist(),
        policy.slot.tolist(),
        policy.tenant.tolist(),
        sorted((t, k) for t in TENANTS for k in engine.keys(t)),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(one_key_operations(max_value=3000), min_size=1, max_size=60), st.sampled_from(["s3fifo", "lru"]))
def test_one_key_calls_leave_the_state_their_batch_forms_leave(ops: list[tuple[object, ...]], policy: str) -> None:
    """GET's and SET's one-key paths (a write in place found and written in one call, a hit and
    its counts in one call) against get_many and set_many of one key: the same answers, and the
    same counters, expiries, policy rows and keys after every call, under a small budget too."""
    now = [1_000_000]
    config = EngineConfig(memory_bytes=64 * 1024, policy=policy)
    one, batch = (Engine(config, NumpyStorage(), clock_ns=lambda: now[0] * 1_000_000) for _ in range(2))
    for op in ops:
        kind = op[0]
        if kind == "set":
            _, tenant, key, value, ttl, condition, keep_ttl = op
            keep_ttl = keep_ttl and not ttl
            assert one.set(tenant, key, value, ttl, condition, keep_ttl) == bool(
                batch.set_many(tenant, KeyBatch.of([key]), KeyBatch.of([value]), ttl, condition, keep_ttl=keep_ttl)[0]
            )
        elif kind == "get":
            _, tenant, key = op
            read = batch.get_many(tenant, KeyBatch.of([key]))
            value = bytes(read.values) if read.found[0] else None
            assert one.get(tenant, key) == (value, bool(read.prefetched[0]))
        elif kind == "prefetch":
            _, tenant, key, value = op
            assert one.insert_prefetched(tenant, key, value) == batch.insert_prefetched(tenant, key, value)
        else:
            now[0] += op[1]
        assert _state(one) == _state(batch), op


def _set_many_without_the_in_place_call(
    engine: Engine, tenant: str, keys: KeyBatch, values: KeyBatch, ttl_ms: int, keep_ttl: bool
) -> np.ndarray:
    """``set_many``'s way for a batch that is not written in place first (a condition, a prefetch)."""
    charges = engine.validate(keys, values, ttl_ms)
    t = engine.tenant_id(tenant)
    hashes = engine.storage.hashes(t, keys)
    found = engine.storage.find(t, keys, hashes)
    return engine._set_found(t, keys, values, hashes, found, charges, ttl_ms, Condition.ALWAYS, False, keep_ttl)


batch_operations = st.one_of(
    st.tuples(
        st.just("batch_set"),
        tenants,
        st.lists(st.tuples(keys, values(3000)), min_size=2, max_size=5, unique_by=lambda kv: kv[0]),
        ttls,
        st.booleans(),
    ),
    st.tuples(st.just("get"), tenants, keys),
    st.tuples(st.just("prefetch"), tenants, keys, values(3000)),
    st.tuples(st.just("advance"), st.sampled_from([1, 10, 60, 2000])),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(batch_operations, min_size=1, max_size=40), st.sampled_from(["s3fifo", "lru"]))
def test_a_batch_written_in_place_first_ends_as_the_general_way_ends(
    ops: list[tuple[object, ...]], policy: str
) -> None:
    """A batch of SETs (MSET, a pipeline's run) writes the entries that fit in place in one call
    and the rest the general way: the same answers and the same state as the general way alone."""
    now = [1_000_000]
    config = EngineConfig(memory_bytes=64 * 1024, policy=policy)
    fast, general = (Engine(config, NumpyStorage(), clock_ns=lambda: now[0] * 1_000_000) for _ in range(2))
    for op in ops:
        kind = op[0]
        if kind == "batch_set":
            _, tenant, pairs, ttl, keep_ttl = op
            keep_ttl = keep_ttl and not ttl
            names, data = KeyBatch.of([k for k, _ in pairs]), KeyBatch.of([v for _, v in pairs])
            want = _set_many_without_the_in_place_call(general, tenant, names, data, ttl, keep_ttl)
            assert fast.set_many(tenant, names, data, ttl, keep_ttl=keep_ttl).tolist() == want.tolist()
        elif kind == "get":
            _, tenant, key = op
            assert fast.get(tenant, key) == general.get(tenant, key)
        elif kind == "prefetch":
            _, tenant, key, value = op
            assert fast.insert_prefetched(tenant, key, value) == general.insert_prefetched(tenant, key, value)
        else:
            now[0] += op[1]
        assert _state(fast) == _state(general), op
