"""A run of GETs or an MGET answered in one compiled call (resp/compiled_gets.py over cache/compiled_read.py) leaves
the cache exactly as the ordinary read does: the same replies, counters, access events, shadow
counts and prefetch outcomes, on random workloads of two tenants with evictions, expiries,
prefetched entries, sampled shadows and single GETs between the runs."""

from __future__ import annotations

import random

import numpy as np
import pytest

from predis.services.cache.collector import AccessRing
from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.prefetch_outcomes import PrefetchIssuer
from predis.services.cache.shadow import ShadowCache
from predis.services.resp.compiled_gets import answer_get_run, answer_mget
from predis.services.resp.replies import BULK_NULLS, bulk_array, bulk_strings

TENANTS = ("alpha", "beta")


class Clock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns


def _domain(clock: Clock, policy: str = "s3fifo", ring: bool = True, shadow: bool = True) -> CacheDomain:
    engine = Engine(EngineConfig(memory_bytes=64 * 1024, policy=policy), NumpyStorage(), clock_ns=clock)
    shadow_cache = (
        ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge, sample_entries=40)
        if shadow
        else None
    )
    domain = CacheDomain(engine, ring=AccessRing(1 << 16) if ring else None, shadow=shadow_cache)
    heard: list[int] = []
    domain.on_read_of(heard.append)  # as the prefetch loop's wake-up listens
    _HEARD[id(domain)] = heard
    return domain


_HEARD: dict[int, list[int]] = {}  # each domain's reads, as on_read_of heard them


def _frames(keys: list[bytes]) -> bytes:
    return b"".join(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key) for key in keys)


def _compiled(domain: CacheDomain, tenant: str, keys: list[bytes], resp3: bool) -> bytes | None:
    """What CommandTable.compiled_get_run does with the domain; None when it answered nothing."""
    state = domain.compiled_read_state(tenant)
    if state is None:
        return None
    data = np.frombuffer(_frames(keys), dtype=np.uint8)
    out, n, _, _, prefetched_hits, held = answer_get_run(data, 64, BULK_NULLS[resp3], state)
    if not n:
        return None
    assert n == len(keys)
    domain.compiled_read_done(tenant, data, n, prefetched_hits, held)
    return out.tobytes()


def _compiled_mget(domain: CacheDomain, tenant: str, keys: list[bytes], resp3: bool) -> bytes | None:
    """What CommandTable.compiled_mget does with the domain; None when it answered nothing."""
    state = domain.compiled_read_state(tenant)
    if state is None:
        return None
    frame = b"*%d\r\n$4\r\nMGET\r\n" % (len(keys) + 1) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)
    data = np.frombuffer(frame, dtype=np.uint8)
    out, n, commands, argv_bytes, prefetched_hits, held = answer_mget(data, BULK_NULLS[resp3], state)
    if not n:
        return None
    assert (n, commands, argv_bytes) == (len(keys), 1, 4 + sum(map(len, keys)))
    domain.compiled_read_done(tenant, data, n, prefetched_hits, held)
    return out.tobytes()


def _ordinary(domain: CacheDomain, tenant: str, keys: list[bytes], resp3: bool, array: bool = False) -> bytes:
    read, complete = domain.get_many_now(tenant, KeyBatch.of(keys))
    assert complete
    return (bulk_array if array else bulk_strings)(read.values, read.lengths, read.found, resp3)


def _events(domain: CacheDomain) -> list[tuple[int, int, int, bytes]]:
    ring = domain._ring
    assert ring is not None
    batch, _ = ring.read(0, ring.capacity)
    assert batch.dropped == 0
    return list(zip(batch.tenants.tolist(), batch.kinds.tolist(), batch.sizes.tolist(), batch.keys, strict=True))


def _state(domain: CacheDomain) -> dict[str, object]:
    engine = domain._engine
    state: dict[str, object] = {
        "counters": engine._counters.tolist(),
        "entries": engine.entry_count,
        "heard": _HEARD[id(domain)],
    }
    for tenant in TENANTS:
        state[tenant] = vars(domain.prefetch_outcomes.counts(tenant))
    if domain._shadow is not None:
        for t in domain._shadow.tenants():
            state[f"shadow {t}"] = (vars(domain._shadow.counts(t)), domain._shadow.entries(t))
    if domain._ring is not None:
        state["events"] = _events(domain)
    return state


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("ring", "shadow"), [(True, True), (True, False), (False, True)])
def test_a_compiled_run_of_gets_reads_and_records_as_the_ordinary_read(seed: int, ring: bool, shadow: bool) -> None:
    rnd = random.Random(seed)
    clock = Clock()
    compiled, ordinary = _domain(clock, ring=ring, shadow=shadow), _domain(clock, ring=ring, shadow=shadow)
    keys = [b"key:%d" % i for i in range(400)]
    answered = fell_back = 0
    for step in range(600):
        tenant = rnd.choice(TENANTS)
        action = rnd.random()
        if action < 0.25:  # writes, some of them expiring
            chosen = rnd.sample(keys, rnd.randint(1, 20))
            values = [b"v" * rnd.randint(1, 300) for _ in chosen]
            ttl = rnd.choice([0, 0, 0, 50, 400])
            for domain in (compiled, ordinary):
                domain.set_many(tenant, KeyBatch.of(chosen), KeyBatch.of(values), ttl_ms=ttl)
        elif action < 0.32:  # a prefetch loaded
            key, value = rnd.choice(keys), b"p" * rnd.randint(1, 50)
            for domain in (compiled, ordinary):
                pending = domain.prefetch_outcomes.issue(tenant, key, PrefetchIssuer.CLIENT)
                if domain._engine.insert_prefetched(tenant, key, value):
                    domain.prefetch_outcomes.loaded(pending)
        elif action < 0.40:  # a single GET between runs (the ring and the shadow hold those)
            key = rnd.choice(keys)
            assert compiled.value_now(tenant, key) == ordinary.value_now(tenant, key)
        elif action < 0.55:  # an MGET, a key named twice now and then
            chosen = [rnd.choice(keys) for _ in range(rnd.randint(1, 150))]
            resp3 = rnd.random() < 0.5
            reply = _compiled_mget(compiled, tenant, chosen, resp3)
            if reply is None:
                fell_back += 1
                reply = _ordinary(compiled, tenant, chosen, resp3, array=True)
            else:
                answered += 1
            assert reply == _ordinary(ordinary, tenant, chosen, resp3, array=True), step
        else:  # a run of distinct GETs
            chosen = rnd.sample(keys, rnd.randint(2, 24))
            resp3 = rnd.random() < 0.5
            reply = _compiled(compiled, tenant, chosen, resp3)
            if reply is None:  # the connection's ordinary way
                fell_back += 1
                reply = _ordinary(compiled, tenant, chosen, resp3)
            else:
                answered += 1
            assert reply == _ordinary(ordinary, tenant, chosen, resp3), step
        clock.ns += rnd.randint(0, 30) * 1_000_000
        if step % 50 == 0:
            assert _state(compiled) == _state(ordinary), step
    assert _state(compiled) == _state(ordinary)
    assert answered > 200 and fell_back > 0  # both ways were taken (expired keys take the ordinary one)


def test_a_run_is_left_to_the_ordinary_read_where_one_compiled_call_is_not_all_of_it() -> None:
    clock = Clock()
    domain = _domain(clock)
    assert domain.compiled_read_state("new") is None  # a tenant never read: its shadow is sized by that read
    domain.set_many("t", KeyBatch.of([b"a", b"b"]), KeyBatch.of([b"1", b"2"]))
    domain.get_many_now("t", KeyBatch.of([b"a"]))
    assert domain.compiled_read_state("t") is not None
    domain.on_read(lambda *_: None)  # a listener the kernel does not know of
    assert domain.compiled_read_state("t") is None
    lru = _domain(clock, policy="lru")
    lru.set_many("t", KeyBatch.of([b"a"]), KeyBatch.of([b"1"]))
    lru.get_many_now("t", KeyBatch.of([b"a"]))
    assert lru.compiled_read_state("t") is None


def test_an_expired_key_or_a_key_too_long_leaves_the_run_to_the_ordinary_read_untouched() -> None:
    clock = Clock()
    domain = _domain(clock)
    domain.set_many("t", KeyBatch.of([b"a", b"b"]), KeyBatch.of([b"1", b"2"]), ttl_ms=10)
    domain.get_many_now("t", KeyBatch.of([b"a"]))
    clock.ns += 20_000_000
    before = _state(domain)
    assert _compiled(domain, "t", [b"a", b"b"], False) is None
    assert _compiled(domain, "t", [b"a", b"x" * (64 * 1024 + 1)], False) is None
    assert _state(domain) == before
    assert _ordinary(domain, "t", [b"a", b"b"], False) == b"$-1\r\n$-1\r\n"  # the engine drops them
