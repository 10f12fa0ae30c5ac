"""Replaying a trace of integer object ids through the policy, entirely compiled.

This is the replay tool's fast path. It drives the same policy functions as the engine
(``policy.touch``, ``ghost_take``, ``can_admit``, ``evict_down_to``, ``admit``), with an index
keyed by the ids' hashes, which are distinct for distinct ids, so no key bytes are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from predis.services.cache.engine import policy as pol
from predis.services.cache.engine.hashing import hash_id
from predis.services.cache.engine.slot_index import SlotIndex, index_insert, index_next, index_remove, new_slot_index

TIMELINE_POINTS = 100


@dataclass(frozen=True)
class SimulationResult:
    requests: int  # requests scored (from eval_from on)
    hits: int
    misses: int
    timeline_hits: np.ndarray  # hits per 1% of the whole trace
    timeline_requests: np.ndarray  # scored requests per 1% of the whole trace

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0


@numba.njit(cache=True)
def _lookup(ix: SlotIndex, h: np.uint64) -> int:
    cell = index_next(ix, h, -1)
    return -1 if cell < 0 else ix.slots[cell]


@numba.njit(cache=True)
def _run(
    ids: np.ndarray,
    sizes: np.ndarray,
    s: pol.PolicyState,
    ix: SlotIndex,
    free_slots: np.ndarray,
    eval_from: int,
    counts: np.ndarray,
    timeline_hits: np.ndarray,
    timeline_reqs: np.ndarray,
) -> None:
    n = len(ids)
    free_top = len(free_slots)
    evicted = np.empty(64, dtype=np.int32)
    for i in range(n):
        h = hash_id(ids[i], 0)
        size = sizes[i]
        slot = _lookup(ix, h)
        bucket = (i * len(timeline_hits)) // n
        scored = i >= eval_from
        if scored:
            timeline_reqs[bucket] += 1
        if slot >= 0:
            pol.touch(s, slot)
            if scored:
                counts[0] += 1
                timeline_hits[bucket] += 1
            continue
        if scored:
            counts[1] += 1
        ghost_hit = s.meta[pol.KIND] == pol.S3FIFO and pol.ghost_take(s, h)
        if not pol.can_admit(s, 0, size):
            continue
        target = pol.capacity_of(s, 0) - size
        while pol.used(s, 0) > target:
            k = pol.evict_down_to(s, 0, target, evicted)
            if k == 0:
                break
            for j in range(k):
                v = evicted[j]
                index_remove(ix, s.keyhash[v], v)
                free_slots[free_top] = v
                free_top += 1
        free_top -= 1
        slot = free_slots[free_top]
        if pol.admit(s, 0, slot, size, h, ghost_hit, False):
            index_insert(ix, h, slot)
        else:
            free_top += 1


def simulate(
    ids: np.ndarray, capacity: int, policy: str, sizes: np.ndarray | None = None, eval_from: int = 0
) -> SimulationResult:
    """Replays ``ids`` (uint64) through ``policy`` with ``capacity`` units (objects when every
    size is 1); counts hits and misses from request ``eval_from`` on, the cache warmed by the
    requests before it."""
    ids = np.ascontiguousarray(ids, dtype=np.uint64)
    sizes = np.ones(len(ids), dtype=np.int64) if sizes is None else np.ascontiguousarray(sizes, dtype=np.int64)
    slots = int(min(capacity, len(ids))) + 1
    state = pol.new_policy_state(pol.POLICIES[policy], slots, 1, ghost_nodes=slots)
    state.tenant[0, pol.CAPACITY] = capacity
    ix = new_slot_index(slots)
    free_slots = np.arange(slots - 1, -1, -1, dtype=np.int32)
    counts = np.zeros(2, dtype=np.int64)
    timeline_hits = np.zeros(TIMELINE_POINTS, dtype=np.int64)
    timeline_reqs = np.zeros(TIMELINE_POINTS, dtype=np.int64)
    _run(ids, sizes, state, ix, free_slots, eval_from, counts, timeline_hits, timeline_reqs)
    hits, misses = int(counts[0]), int(counts[1])
    return SimulationResult(hits + misses, hits, misses, timeline_hits, timeline_reqs)
