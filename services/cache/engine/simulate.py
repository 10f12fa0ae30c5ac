"""Replaying a trace of integer object ids through the policy, entirely compiled.

This is the replay tool's fast path. It drives the same policy functions as the engine
(``policy.touch``, ``ghost_take``, ``can_admit``, ``evict_down_to``, ``admit``), with an index
keyed by the ids' hashes, which are distinct for distinct ids, so no key bytes are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from predis.services.cache.engine import policy as pol
from predis.services.cache.engine.hashing import hash_id
from predis.services.cache.engine.slot_index import SlotIndex, index_insert, index_next, index_remove, new_slot_index
from predis.services.cache.engine.successor import SuccessorState, new_successor_state, observe, propose
from predis.services.cache.engine.threshold import (
    THRESHOLD,
    TunerSettings,
    new_tuner_state,
    tuner_enroll,
    tuner_reads,
    tuner_record,
)

TIMELINE_POINTS = 100
HITS, MISSES, PREFETCHES, PREFETCH_USED = range(4)
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
    """Scores of each request's proposals, the cut to start at and the tuner's settings (the
    cache's defaults unless given)."""

    scores: np.ndarray  # float32[n, k], best first; below any threshold where there is no proposal
    initial: float
    settings: TunerSettings = field(default_factory=TunerSettings)


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
    tuner: np.ndarray,
    cohorts: np.ndarray,
) -> bool:
    """Makes room and admits a new entry (the policy may decline it: False); an evicted unread
    prefetch settles as wrong in the tuner (``cohorts`` holds each slot's cohort, -1 for none)."""
    if not pol.can_admit(s, 0, size):
        return False
    target = pol.capacity_of(s, 0) - size
    while pol.used(s, 0) > target:
        k = pol.evict_down_to(s, 0, target, evicted)
        if k == 0:
            break
        for j in range(k):
            v = evicted[j]
            if s.slot[v, pol.PREFETCHED] == 1 and cohorts[v] >= 0:
                tuner_record(tuner, False, cohorts[v])
            index_remove(ix, s.keyhash[v], v)
            free_slots[free_top[0]] = v
            free_top[0] += 1
    slot = free_slots[free_top[0] - 1]
    if not pol.admit(s, 0, slot, size, h, ghost_hit, prefetch):
        return False
    free_top[0] -= 1
    index_insert(ix, h, slot)
    cohorts[slot] = -1  # _run enrolls prefetches in the tuner's cohort
    return True


@numba.njit(cache=True)
def _prefetch(
    s: pol.PolicyState,
    ix: SlotIndex,
    free_slots: np.ndarray,
    free_top: np.ndarray,
    evicted: np.ndarray,
    keys: np.ndarray,
    wanted: int,
    size: int,
    per_request: int,
    tuner: np.ndarray,
    live: bool,
    cohorts: np.ndarray,
) -> int:
    """Starts up to ``per_request`` of the first ``wanted`` keys; returns how many were loaded."""
    started = 0
    for p in range(wanted):
        if started == per_request:
            break
        ch = hash_id(keys[p], 0)
        # Like the cache: a proposal already cached is skipped and does not use up the read's share.
        if _lookup(ix, ch) >= 0:
            continue
        started += 1
        if _insert(s, ix, free_slots, free_top, evicted, ch, size, False, True, tuner, cohorts) and live:
            cohorts[_lookup(ix, ch)] = tuner_enroll(tuner)
    return started


@numba.njit(cache=True)
def _run(
    ids: np.ndarray,
    sizes: np.ndarray,
    line_last: np.ndarray,
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
    live: bool,
    per_request: int,
    pending_keys: np.ndarray,
) -> None:
    """``line_last[i]``: request i ends its line (a request of several keys is a line of
    requests); prefetches proposed while serving a line start once the whole line is served, so a
    prefetch can never be a hit for keys its own request asked for."""
    n = len(ids)
    free_top = np.array([len(free_slots)], dtype=np.int64)
    cohorts = np.full(len(s.slot), -1, dtype=np.int64)  # the tuner cohort each prefetched slot is in
    evicted = np.empty(64, dtype=np.int32)
    pending_wanted = np.zeros(len(pending_keys), dtype=np.int64)
    pending = 0
    for i in range(n):
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
            if s.slot[slot, pol.PREFETCHED] == 1 and cohorts[slot] >= 0:
                tuner_record(tuner, True, cohorts[slot])
                cohorts[slot] = -1
            pol.touch(s, slot)
        else:
            if scored:
                counts[MISSES] += 1
            ghost_hit = s.meta[pol.KIND] == pol.S3FIFO and pol.ghost_take(s, h)
            _insert(s, ix, free_slots, free_top, evicted, h, sizes[i], ghost_hit, False, tuner, cohorts)
        if mode == NO_PREFETCH:
            continue
        wanted = 0
        if mode == RULE:
            if i > 0:
                observe(successors, ids[i - 1], ids[i])
            found, candidate = propose(successors, ids[i])
            if found and candidate != ids[i]:
                pending_keys[pending, 0] = candidate
                wanted = 1
        else:
            if live:
                tuner_reads(tuner, 1)
                while wanted < proposals.shape[1] and proposal_scores[i, wanted] >= tuner[THRESHOLD]:
                    wanted += 1
            else:
                wanted = proposal_counts[i]
            pending_keys[pending, :wanted] = proposals[i, :wanted]
        pending_wanted[pending] = wanted
        pending += 1
        if not line_last[i]:
            continue
        for r in range(pending):
            started = _prefetch(
                s,
                ix,
                free_slots,
                free_top,
                evicted,
                pending_keys[r],
                pending_wanted[r],
                sizes[i],
                per_request,
                tuner,
                live,
                cohorts,
            )
            if scored:
                counts[PREFETCHES] += started
        pending = 0


def line_ends(lines: np.ndarray | None, n: int) -> np.ndarray:
    """True where a request is the last of its line (every request, when there are no lines)."""
    if lines is None:
        return np.ones(n, dtype=np.bool_)
    last = np.ones(n, dtype=np.bool_)
    last[:-1] = lines[1:] != lines[:-1]
    return last


def simulate(
    ids: np.ndarray,
    capacity: int,
    policy: str,
    sizes: np.ndarray | None = None,
    eval_from: int = 0,
    proposals: tuple[np.ndarray, np.ndarray] | None = None,
    live: LiveThreshold | None = None,
    per_request: int = 2,
    lines: np.ndarray | None = None,
) -> SimulationResult:
    """Replays ``ids`` (uint64) through ``policy`` with ``capacity`` units (objects when every
    size is 1); counts hits and misses from request ``eval_from`` on, the cache warmed by the
    requests before it. ``policy`` is an eviction policy (``lru``, ``s3fifo``) or a prefetching
    one: ``successor`` (S3-FIFO plus the successor rule) or ``learned`` (S3-FIFO plus
    ``proposals``: keys to prefetch after each request, ``(keys[n, k], counts[n])``). With
    ``live``, the learned policy instead takes each request's proposals whose score
    (``live.scores[n, k]``, best first) reaches a threshold tuned as the replay goes, with the
    cache's own tuner (``engine/threshold.py``): ``counts`` is then ignored. Either way, proposals
    already cached are skipped and at most ``per_request`` prefetches start per request (the
    cache's ``PREDIS_PREFETCH_PER_READ``). ``lines`` (non-decreasing, one per request) groups
    requests that one client request asked for together: their prefetches start after the last."""
    ids = np.ascontiguousarray(ids, dtype=np.uint64)
    sizes = np.ones(len(ids), dtype=np.int64) if sizes is None else np.ascontiguousarray(sizes, dtype=np.int64)
    eviction = PREFETCHING.get(policy, policy)
    if eviction not in pol.POLICIES:
        known = ", ".join([*pol.POLICIES, *PREFETCHING])
        raise ValueError(f"policy {policy!r} is not one of {known}")
    if lines is not None and len(lines) != len(ids):
        raise ValueError("lines must give one line number per request")
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
    counts = np.zeros(4, dtype=np.int64)
    is_live = live is not None and mode == PROPOSALS
    tuner, scores = new_tuner_state(TunerSettings(), 1.0), np.zeros((1, 1), dtype=np.float32)
    if live is not None and mode == PROPOSALS:
        tuner, scores = new_tuner_state(live.settings, live.initial), np.ascontiguousarray(live.scores, np.float32)
    last = line_ends(lines, len(ids))
    longest = int(np.diff(np.flatnonzero(np.concatenate(([True], last)))).max()) if len(ids) else 1
    pending_keys = np.zeros((longest, keys.shape[1]), dtype=np.uint64)
    timeline_hits = np.zeros(TIMELINE_POINTS, dtype=np.int64)
    timeline_reqs = np.zeros(TIMELINE_POINTS, dtype=np.int64)
    successors = new_successor_state(min(2 * len(ids), 1 << 20) if mode == RULE else 1)
    _run(
        ids,
        sizes,
        last,
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
        is_live,
        per_request,
        pending_keys,
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
        float(tuner[THRESHOLD]) if is_live else None,
    )
