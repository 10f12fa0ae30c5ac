"""Eviction policies against libCacheSim, request by request, on the trace the repo ships."""

from __future__ import annotations

from pathlib import Path

import libcachesim as lcs
import numpy as np
import pytest

from predis.services.cache.engine import policy as pol
from predis.services.cache.engine.simulate import simulate
from predis.services.replay.traces import read_trace

SHIPPED = Path(__file__).resolve().parent.parent / "services" / "replay" / "data" / "cache2k-web07.trace.xz"
LIBCACHESIM = {"lru": lcs.LRU, "s3fifo": lcs.S3FIFO}


def libcachesim_hits(ids: np.ndarray, capacity: int, policy: str) -> int:
    cache = LIBCACHESIM[policy](cache_size=capacity)
    request = lcs.Request()
    request.obj_size = 1
    hits = 0
    for obj_id in ids.tolist():
        request.obj_id = obj_id
        hits += cache.get(request)
    return hits


@pytest.fixture(scope="module")
def shipped_ids() -> np.ndarray:
    return read_trace(SHIPPED).ids


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.1])
def test_lru_equals_libcachesim_exactly(shipped_ids: np.ndarray, fraction: float) -> None:
    capacity = int(fraction * len(np.unique(shipped_ids)))
    assert simulate(shipped_ids, capacity, "lru").hits == libcachesim_hits(shipped_ids, capacity, "lru")


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.1])
def test_s3fifo_within_half_a_point_of_libcachesim(shipped_ids: np.ndarray, fraction: float) -> None:
    capacity = int(fraction * len(np.unique(shipped_ids)))
    ours = simulate(shipped_ids, capacity, "s3fifo").hit_ratio
    theirs = libcachesim_hits(shipped_ids, capacity, "s3fifo") / len(shipped_ids)
    assert abs(ours - theirs) <= 0.005


@pytest.mark.parametrize("policy", ["lru", "s3fifo"])
@pytest.mark.parametrize("capacity", [20, 97, 400])
def test_policies_match_libcachesim_on_skewed_random_traffic(policy: str, capacity: int) -> None:
    ids = (np.random.default_rng(capacity).zipf(1.3, 30_000) % 3_000).astype(np.uint64)
    assert simulate(ids, capacity, policy).hits == libcachesim_hits(ids, capacity, policy)


def test_evaluation_window_scores_only_the_requests_after_it(shipped_ids: np.ndarray) -> None:
    full = simulate(shipped_ids, 500, "s3fifo")
    tail = simulate(shipped_ids, 500, "s3fifo", eval_from=30_000)
    assert tail.requests == len(shipped_ids) - 30_000
    assert tail.hits == int(full.timeline_hits.sum()) - _hits_before(shipped_ids, 30_000)
    assert int(tail.timeline_requests.sum()) == tail.requests


def _hits_before(ids: np.ndarray, n: int) -> int:
    return simulate(ids[:n], 500, "s3fifo").hits


def _fill(kind: int, capacity: int) -> pol.PolicyState:
    state = pol.new_policy_state(kind, 16, 1)
    state.tenant[0, pol.CAPACITY] = capacity
    return state


def test_lru_puts_an_unused_prefetch_first_in_line() -> None:
    state = _fill(pol.LRU, 30)
    for slot in range(3):
        assert pol.admit(state, 0, slot, 1, np.uint64(slot + 1), False, False)
    assert pol.admit(state, 0, 3, 1, np.uint64(99), False, True)
    out = np.empty(1, dtype=np.int32)
    assert pol.evict_down_to(state, 0, pol.used(state, 0) - 1, out) == 1
    assert out[0] == 3


def test_s3fifo_keeps_prefetches_on_probation_and_out_of_the_ghost() -> None:
    state = _fill(pol.S3FIFO, 30)
    for slot in range(3):  # read twice: promoted to main when they leave the small queue
        assert pol.admit(state, 0, slot, 1, np.uint64(slot + 1), False, False)
        pol.touch(state, slot)
        pol.touch(state, slot)
    assert pol.admit(state, 0, 3, 1, np.uint64(99), False, True)
    assert state.slot[3, pol.QUEUE] == pol.SMALL
    out = np.empty(1, dtype=np.int32)
    assert pol.evict_down_to(state, 0, pol.used(state, 0) - 1, out) == 1
    assert out[0] == 3
    assert not pol.ghost_take(state, np.uint64(99))


def test_s3fifo_a_read_prefetch_is_an_ordinary_entry() -> None:
    state = _fill(pol.S3FIFO, 30)
    assert pol.admit(state, 0, 0, 1, np.uint64(7), False, True)
    pol.touch(state, 0)
    out = np.empty(1, dtype=np.int32)
    assert pol.evict_down_to(state, 0, 0, out) == 1
    assert pol.ghost_take(state, np.uint64(7))  # read once, then evicted: remembered


def test_tenants_only_ever_evict_their_own_entries() -> None:
    state = pol.new_policy_state(pol.S3FIFO, 16, 2)
    state.tenant[:, pol.CAPACITY] = 40
    for slot in range(4):
        pol.admit(state, slot % 2, slot, 1, np.uint64(slot + 1), False, False)
    out = np.empty(8, dtype=np.int32)
    n = pol.evict_down_to(state, 1, 0, out)
    assert sorted(out[:n].tolist()) == [1, 3]
    assert pol.used(state, 0) == 2
