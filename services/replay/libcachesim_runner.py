"""Replaying a trace through libCacheSim's policies request by request, so that its rows are
scored on exactly the requests Predis's rows are (the evaluation window included)."""

from __future__ import annotations

import numba
import numpy as np

POLICY_NAMES = (
    "LRU",
    "ARC",
    "S3FIFO",
    "Sieve",
    "WTinyLFU",
    "LIRS",
    "LHD",
    "Cacheus",
    "LeCaR",
    "Belady",
    "FIFO",
    "Clock",
)
# Belady needs every request's next access time; it is the optimum for caches that do not prefetch.
ORACLES = ("Belady",)


@numba.njit(cache=True)
def next_access(ids: np.ndarray) -> np.ndarray:
    """For each request, the index of the next request for the same id (-1: never again)."""
    out = np.full(len(ids), -1, dtype=np.int64)
    last: dict[np.uint64, int] = dict()
    for i in range(len(ids) - 1, -1, -1):
        key = ids[i]
        if key in last:
            out[i] = last[key]
        last[key] = i
    return out


def libcachesim_hits(
    ids: np.ndarray, capacity: int, policy: str, eval_from: int = 0
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(hits, misses, hits per 1% of the trace, scored requests per 1%) of libCacheSim's
    ``policy`` on ``ids`` with every object of size 1."""
    import libcachesim as lcs

    if policy not in POLICY_NAMES:
        raise ValueError(f"libCacheSim policy {policy!r} is not one of {', '.join(POLICY_NAMES)}")
    cache = getattr(lcs, policy)(cache_size=capacity)
    request = lcs.Request()
    request.obj_size = 1
    nexts = next_access(ids).tolist() if policy in ORACLES else None
    hits = 0
    hit_flags = np.zeros(len(ids), dtype=np.bool_)
    for i, obj in enumerate(ids.tolist()):
        request.obj_id = obj
        request.clock_time = i
        if nexts is not None:
            # libCacheSim's "never again" is INT64_MAX.
            request.next_access_vtime = nexts[i] if nexts[i] >= 0 else int(np.iinfo(np.int64).max)
        hit = cache.get(request)
        hit_flags[i] = hit
        if i >= eval_from:
            hits += hit
    scored = len(ids) - eval_from
    timeline_hits, timeline_requests = per_percent(hit_flags, eval_from)
    return hits, scored - hits, timeline_hits, timeline_requests


def per_percent(hit_flags: np.ndarray, eval_from: int, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Hits and scored requests in each 1% of the trace (the same buckets as the simulator's)."""
    n = len(hit_flags)
    bucket = (np.arange(n, dtype=np.int64) * points) // max(n, 1)
    scored = np.arange(n) >= eval_from
    hits = np.bincount(bucket, weights=hit_flags & scored, minlength=points).astype(np.int64)
    requests = np.bincount(bucket, weights=scored, minlength=points).astype(np.int64)
    return hits, requests
