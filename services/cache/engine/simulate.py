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
from predis.services.cache.engine.successor import SuccessorState, new_successor_state, observe, propose

TIMELINE_POINTS = 100
HITS, MISSES, PREFETCHES, PREFETCH_USED, SETTLED_USED, SETTLED_UNUSED = range(6)
# The live threshold's state (a float64 array, so the compiled loop can update it): the same rule
# as the cache's ThresholdTuner (services/cache/prefetcher.py).
THRESHOLD, TARGET, LOWEST, HIGHEST, WINDOW, STEP, LIVE, EPOCH, ENROLLED, READS, INITIAL = range(11)
# Replay-only policies: S3-FIFO plus a prefetch rule, or plus proposals a model made beforehand.
PREFETCHING = {"successor": "s3fifo", "learned": "s3fifo"}
NO_PREFETCH, RULE, PROPOSALS = range(3)


@dataclass(frozen=True)
class SimulationResult:
    requests: int  # requests scored (from eval_from on)
    hits: int
    misses: int
    timeline_hits: np.ndarray  # hits per 1% of the whole trace
    timeline_requests: np.ndarray  # scored requests per 1% of the whole trace
    prefetches: int = 0  # keys loaded by prefetching (each an origin fetch)
    prefetch_used: int = 0  # hits on entries a prefetch loaded, before any other hit
    final_threshold: float | None = None  # where a live threshold ended

    @property
    def origin_fetches(self) -> int:
        return self.misses + self.prefetches

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class LiveThreshold:
    """Scores of each request's proposals and the tuner's settings (the cache's defaults)."""

    scores: np.ndarray  # float32[n, k], best first; below any threshold where there is no proposal
    initial: float
    target: float = 0.6
    lowest: float = 0.05
    highest: float = 0.95
    window: int = 64
    step: float = 0.05


@numba.njit(cache=True)
def _lookup(ix: SlotIndex, h: np.uint64) -> int:
    cell = index_next(ix, h, -1)
    return -1 if cell < 0 else ix.slots[cell]


@numba.njit(cache=True)
def _insert(
    s: pol.PolicyState,
    ix: SlotIndex,
    free_slots: np.ndarray,
    free_top: np.ndarray,
    evicted: np.ndarray,
    h: np.uint64,
    size: int,
    ghost_hit: bool,
    prefetch: bool,
    counts: np.ndarray,
    epochs: np.ndarray,
    epoch: int,
) -> None:
    """Makes room and admits a new entry (the policy may decline it); counts the evicted unread
    prefetches of the cohort ``epoch`` (``epochs`` holds each slot's cohort, -1 for none)."""
    if not pol.can_admit(s, 0, size):
        return
    target = pol.capacity_of(s, 0) - size
    while pol.used(s, 0) > target:
        k = pol.evict_down_to(s, 0, target, evicted)
        if k == 0:
            break
        for j in range(k):
            v = evicted[j]
            if s.slot[v, pol.PREFETCHED] == 1 and epochs[v] == epoch:
                counts[SETTLED_UNUSED] += 1
            index_remove(ix, s.keyhash[v], v)
            free_slots[free_top[0]] = v
            free_top[0] += 1
    slot = free_slots[free_top[0] - 1]
    if pol.admit(s, 0, slot, size, h, ghost_hit, prefetch):
        free_top[0] -= 1
        index_insert(ix, h, slot)
        epochs[slot] = -1  # _run enrolls prefetches in the tuner's cohort


@numba.njit(cache=True)
def _tune(tuner: np.ndarray, counts: np.ndarray) -> None:
    """Once all WINDOW prefetches of the current cohort have settled: below target, raise the cut
    a step; well above it (target + 0.1), lower it half a step; then start a new cohort. After
    50 x WINDOW reads with the cohort not yet full, lower it half a step (not below the starting
    cut) and start anew."""
    tuner[READS] += 1
    if tuner[READS] >= 50 * tuner[WINDOW] and tuner[ENROLLED] < tuner[WINDOW]:
        floor = min(tuner[INITIAL], tuner[THRESHOLD])
        tuner[THRESHOLD] = max(floor, tuner[THRESHOLD] - tuner[STEP] / 2)
        _next_cohort(tuner, counts)
        return
    settled = counts[SETTLED_USED] + counts[SETTLED_UNUSED]
    if settled < tuner[WINDOW]:
        return
    precision = counts[SETTLED_USED] / settled
    if precision < tuner[TARGET]:
        tuner[THRESHOLD] = min(tuner[HIGHEST], tuner[THRESHOLD] + tuner[STEP])
    elif precision > tuner[TARGET] + 0.1:
        tuner[THRESHOLD] = max(tuner[LOWEST], tuner[THRESHOLD] - tuner[STEP] / 2)
    _next_cohort(tuner, counts)


@numba.njit(cache=True, inline="always")
def _next_cohort(tuner: np.ndarray, counts: np.ndarray) -> None:
    tuner[EPOCH] += 1
    tuner[ENROLLED] = 0
    tuner[READS] = 0
    counts[SETTLED_USED] = 0
    counts[SETTLED_UNUSED] = 0


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
    successors: SuccessorState,
    mode: int,
    proposals: np.ndarray,
    proposal_counts: np.ndarray,
    proposal_scores: np.ndarray,
    tuner: np.ndarray,
    per_request: int,
) -> None:
    n = len(ids)
    free_top = np.array([len(free_slots)], dtype=np.int64)
    epochs = np.full(len(s.slot), -1, dtype=np.int64)  # the tuner cohort each prefetched slot is in
    evicted = np.empty(64, dtype=np.int32)
    for i in range(n):
        epoch = int(tuner[EPOCH])
        h = hash_id(ids[i], 0)
        slot = _lookup(ix, h)
        bucket = (i * len(timeline_hits)) // n
        scored = i >= eval_from
        if scored:
            timeline_reqs[bucket] += 1
        if slot >= 0:
            if scored:
                counts[HITS] += 1
                timeline_hits[bucket] += 1
                if s.slot[slot, pol.PREFETCHED] == 1:
                    counts[PREFETCH_USED] += 1
            if s.slot[slot, pol.PREFETCHED] == 1 and epochs[slot] == epoch:
                counts[SETTLED_USED] += 1
            pol.touch(s, slot)
        else:
            if scored:
                counts[MISSES] += 1
            ghost_hit = s.meta[pol.KIND] == pol.S3FIFO and pol.ghost_take(s, h)
            _insert(s, ix, free_slots, free_top, evicted, h, sizes[i], ghost_hit, False, counts, epochs, epoch)
        if mode == NO_PREFETCH:
            continue
        if mode == RULE:
            if i > 0:
                observe(successors, ids[i - 1], ids[i])
            found, candidate = propose(successors, ids[i])
            proposals[0, 0] = candidate
            wanted = 1 if found and candidate != ids[i] else 0
            row = 0
        elif tuner[LIVE] == 1.0:
            _tune(tuner, counts)
            epoch = int(tuner[EPOCH])
            wanted = 0
            while wanted < proposals.shape[1] and proposal_scores[i, wanted] >= tuner[THRESHOLD]:
                wanted += 1
            row = i
        else:
            wanted = proposal_counts[i]
            row = i
        started = 0
        for p in range(wanted):
            if started == per_request:
                break
            ch = hash_id(proposals[row, p], 0)
            # Like the cache: a proposal already cached is skipped and does not use up the read's share.
            if _lookup(ix, ch) < 0:
                started += 1
                _insert(s, ix, free_slots, free_top, evicted, ch, sizes[i], False, True, counts, epochs, epoch)
                if tuner[LIVE] == 1.0 and tuner[ENROLLED] < tuner[WINDOW]:
                    enrolled = _lookup(ix, ch)
                    if enrolled >= 0:
                        epochs[enrolled] = epoch
                        tuner[ENROLLED] += 1
                if scored:
                    counts[PREFETCHES] += 1


def simulate(
    ids: np.ndarray,
    capacity: int,
    policy: str,
    sizes: np.ndarray | None = None,
    eval_from: int = 0,
    proposals: tuple[np.ndarray, np.ndarray] | None = None,
    live: LiveThreshold | None = None,
    per_request: int = 2,
) -> SimulationResult:
    """Replays ``ids`` (uint64) through ``policy`` with ``capacity`` units (objects when every
    size is 1); counts hits and misses from request ``eval_from`` on, the cache warmed by the
    requests before it. ``policy`` is an eviction policy (``lru``, ``s3fifo``) or a prefetching
    one: ``successor`` (S3-FIFO plus the successor rule) or ``learned`` (S3-FIFO plus
    ``proposals``: keys to prefetch after each request, ``(keys[n, k], counts[n])``). With
    ``live``, the learned policy instead takes each request's proposals whose score
    (``live.scores[n, k]``, best first) reaches a threshold tuned as the replay goes, as the
    cache's prefetcher tunes it: ``counts`` is then ignored. Either way, proposals already cached
    are skipped and at most ``per_request`` prefetches start per request (the cache's
    ``PREDIS_PREFETCH_PER_READ``)."""
    ids = np.ascontiguousarray(ids, dtype=np.uint64)
    sizes = np.ones(len(ids), dtype=np.int64) if sizes is None else np.ascontiguousarray(sizes, dtype=np.int64)
    eviction = PREFETCHING.get(policy, policy)
    if eviction not in pol.POLICIES:
        known = ", ".join([*pol.POLICIES, *PREFETCHING])
        raise ValueError(f"policy {policy!r} is not one of {known}")
    mode = {"successor": RULE, "learned": PROPOSALS}.get(policy, NO_PREFETCH)
    if mode == PROPOSALS:
        if proposals is None or len(proposals[1]) != len(ids):
            raise ValueError("the learned policy needs proposals for every request (a model's scores)")
        keys, wanted = proposals
    else:
        keys, wanted = np.zeros((1, 1), dtype=np.uint64), np.zeros(1, dtype=np.int8)
    slots = int(min(capacity, len(ids))) + 1
    state = pol.new_policy_state(pol.POLICIES[eviction], slots, 1, ghost_nodes=slots)
    state.tenant[0, pol.CAPACITY] = capacity
    ix = new_slot_index(slots)
    free_slots = np.arange(slots - 1, -1, -1, dtype=np.int32)
    counts = np.zeros(6, dtype=np.int64)
    tuner = np.zeros(11, dtype=np.float64)
    scores = np.zeros((1, 1), dtype=np.float32)
    if live is not None and mode == PROPOSALS:
        scores = np.ascontiguousarray(live.scores, dtype=np.float32)
        tuner[[THRESHOLD, TARGET, LOWEST, HIGHEST, WINDOW, STEP, LIVE, INITIAL]] = (
            live.initial,
            live.target,
            live.lowest,
            live.highest,
            live.window,
            live.step,
            1.0,
            live.initial,
        )
    timeline_hits = np.zeros(TIMELINE_POINTS, dtype=np.int64)
    timeline_reqs = np.zeros(TIMELINE_POINTS, dtype=np.int64)
    successors = new_successor_state(min(2 * len(ids), 1 << 20) if mode == RULE else 1)
    _run(
        ids,
        sizes,
        state,
        ix,
        free_slots,
        eval_from,
        counts,
        timeline_hits,
        timeline_reqs,
        successors,
        mode,
        keys,
        wanted,
        scores,
        tuner,
        per_request,
    )
    hits, misses = int(counts[HITS]), int(counts[MISSES])
    return SimulationResult(
        hits + misses,
        hits,
        misses,
        timeline_hits,
        timeline_reqs,
        int(counts[PREFETCHES]),
        int(counts[PREFETCH_USED]),
        float(tuner[THRESHOLD]) if tuner[LIVE] else None,
    )
