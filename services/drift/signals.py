"""What the drift detectors watch, computed from one tenant's access events in order.

- reuse distance: how many distinct other keys were requested since this key's previous request
  (LRU stack distance: a request hits an LRU cache of more entries than that). Exact, with a
  Fenwick tree over the times of each key's latest request, for every key requested again within
  ``horizon`` requests; one not requested for more than that may be forgotten when the tree is
  compacted (every horizon or more requests), and is after three horizons; a forgotten key's
  request counts as a first one (None).
- inter-arrival time: nanoseconds since the key's previous request (None the first time, and for a
  forgotten key).
- popularity rank: the key's rank (0 = most requested) among the keys of the last ``horizon``
  requests, by their request counts there, read at the moment of the request (a second Fenwick
  tree, over counts, makes it O(log horizon)).

Memory is bounded by ``horizon``: keys older than it are forgotten when the tree is compacted.
The work is one Numba kernel over a batch (the cache exports up to 1,000 events a batch); keys
enter it as 64-bit ids (Python's hash of the key bytes, or a trace's object ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numba import types
from numba.typed import Dict


@numba.njit(cache=True, inline="always")
def _add(tree: np.ndarray, position: int, delta: int) -> None:
    i = position + 1
    size = len(tree) - 1
    while i <= size:
        tree[i] += delta
        i += i & -i


@numba.njit(cache=True, inline="always")
def _prefix(tree: np.ndarray, end: int) -> int:
    """Sum over positions [0, end)."""
    total = 0
    i = end
    while i > 0:
        total += tree[i]
        i -= i & -i
    return total


@numba.njit(cache=True)
def _compact(state: np.ndarray, tree: np.ndarray, key_at: np.ndarray, time_at: np.ndarray, last: Dict) -> None:
    """Keeps the keys requested within the horizon, renumbered in order, and forgets the rest."""
    horizon = len(key_at) // 2
    end = state[0]
    cutoff = end - horizon
    kept = 0
    for p in range(end):
        key = key_at[p]
        if key not in last or last[key] != p:
            continue  # not this key's latest request
        if p < cutoff:
            del last[key]
            continue
        key_at[kept] = key
        time_at[kept] = time_at[p]
        last[key] = kept
        kept += 1
    tree[:] = 0
    for p in range(kept):
        _add(tree, p, 1)
    state[0] = kept


@numba.njit(cache=True)
def _observe(
    ids: np.ndarray,
    times: np.ndarray,
    state: np.ndarray,
    tree: np.ndarray,
    key_at: np.ndarray,
    time_at: np.ndarray,
    last: Dict,
    recent: np.ndarray,
    counts: Dict,
    by_count: np.ndarray,
    distance: np.ndarray,
    gap: np.ndarray,
    rank: np.ndarray,
) -> None:
    """One batch through the signals. ``state``: next position, keys alive in the tree, requests
    seen (the ring ``recent`` of the last horizon keys is indexed by it), distinct recent keys."""
    horizon = len(recent)
    capacity = len(key_at)
    for i in range(len(ids)):
        key, now = ids[i], times[i]
        if state[0] == capacity:
            _compact(state, tree, key_at, time_at, last)
            state[1] = state[0]
        position = state[0]
        if key in last:
            previous = last[key]
            distance[i] = state[1] - _prefix(tree, previous + 1)
            gap[i] = now - time_at[previous]
            _add(tree, previous, -1)
            state[1] -= 1
        else:
            distance[i] = np.nan
            gap[i] = np.nan
        _add(tree, position, 1)
        state[1] += 1
        key_at[position] = key
        time_at[position] = now
        last[key] = position
        state[0] = position + 1
        # Popularity over the last `horizon` requests: count this one in, the oldest out.
        seen = state[2]
        slot = seen % horizon
        if seen >= horizon:
            old = recent[slot]
            c = counts[old]
            _add(by_count, c, -1)
            if c == 1:
                del counts[old]
                state[3] -= 1
            else:
                counts[old] = c - 1
                _add(by_count, c - 1, 1)
        recent[slot] = key
        state[2] = seen + 1
        c = 0
        if key in counts:
            c = counts[key]
            _add(by_count, c, -1)
        else:
            state[3] += 1
        counts[key] = c + 1
        _add(by_count, c + 1, 1)
        rank[i] = state[3] - _prefix(by_count, c + 2)  # keys requested more often


@dataclass(frozen=True)
class Signals:
    reuse_distance: int | None
    inter_arrival_ns: int | None
    popularity_rank: int


@dataclass(frozen=True)
class SignalBatch:
    """The signals of a batch of requests, one entry a request: NaN where the single-request
    form says None (a first or forgotten key)."""

    reuse_distance: np.ndarray  # float64
    inter_arrival_ns: np.ndarray  # float64
    popularity_rank: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.popularity_rank)


def key_ids(keys: Sequence[bytes]) -> np.ndarray:
    """64-bit ids of keys for :meth:`StreamSignals.observe_ids`: Python's hash of the bytes (a
    collision among the keys of one horizon, at 2**-64 a pair, would merge two keys' signals)."""
    return np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))


class StreamSignals:
    """Signals of one tenant's stream: ``observe`` one request at a time, or ``observe_ids`` a
    batch, in order."""

    def __init__(self, horizon: int = 1 << 16) -> None:
        if horizon < 2:
            raise ValueError(f"signals: the horizon must be at least 2 requests, got {horizon}")
        self.horizon = horizon
        capacity = 2 * horizon  # positions; compacted when full
        self._state = np.zeros(4, dtype=np.int64)
        self._tree = np.zeros(capacity + 1, dtype=np.int64)
        self._key_at = np.zeros(capacity, dtype=np.int64)
        self._time_at = np.zeros(capacity, dtype=np.int64)
        self._last = Dict.empty(key_type=types.int64, value_type=types.int64)
        self._recent = np.zeros(horizon, dtype=np.int64)
        self._counts = Dict.empty(key_type=types.int64, value_type=types.int64)
        self._by_count = np.zeros(horizon + 2, dtype=np.int64)  # position c: keys requested c times

    def observe_ids(self, ids: np.ndarray, times_ns: np.ndarray) -> SignalBatch:
        """The signals of a batch of requests for the keys ``ids`` (see :func:`key_ids`) at
        ``times_ns``, in order."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        times = np.ascontiguousarray(times_ns, dtype=np.int64)
        if len(ids) != len(times):
            raise ValueError(f"signals: {len(ids)} keys but {len(times)} times")
        n = len(ids)
        out = SignalBatch(np.empty(n), np.empty(n), np.empty(n, dtype=np.int64))
        _observe(
            ids,
            times,
            self._state,
            self._tree,
            self._key_at,
            self._time_at,
            self._last,
            self._recent,
            self._counts,
            self._by_count,
            out.reuse_distance,
            out.inter_arrival_ns,
            out.popularity_rank,
        )
        return out

    def observe(self, key: bytes, time_ns: int) -> Signals:
        batch = self.observe_ids(key_ids([key]), np.array([time_ns], dtype=np.int64))
        distance, gap = float(batch.reuse_distance[0]), float(batch.inter_arrival_ns[0])
        return Signals(
            None if np.isnan(distance) else int(distance),
            None if np.isnan(gap) else int(gap),
            int(batch.popularity_rank[0]),
        )
