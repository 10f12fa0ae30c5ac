"""What the drift detectors watch, computed from one tenant's access events in order.

- reuse distance: how many distinct other keys were requested since this key's previous request
  (LRU stack distance: a request hits an LRU cache of more entries than that). Exact, with a
  Fenwick tree over the times of each key's latest request, for every key requested again within
  ``horizon`` requests; one not requested for more than that may be forgotten when the tree is
  compacted (every horizon or more requests), and is after three horizons; a forgotten key's
  request counts as a first one (None).
- inter-arrival time: nanoseconds since the key's previous request (None the first time).
- popularity rank: the key's rank (0 = most requested) among the keys of the last ``horizon``
  requests, by their request counts there, read at the moment of the request (a second Fenwick
  tree, over counts, makes it O(log horizon)).

Memory is bounded by ``horizon``: keys older than it are forgotten when the tree is compacted.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np


class _Fenwick:
    """Counts over positions 0..size-1: add at a position, sum of a prefix, both O(log size)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.tree = np.zeros(size + 1, dtype=np.int64)

    def add(self, position: int, delta: int) -> None:
        i = position + 1
        while i <= self.size:
            self.tree[i] += delta
            i += i & -i

    def prefix(self, end: int) -> int:
        """Sum over positions [0, end)."""
        total = 0
        i = end
        while i > 0:
            total += int(self.tree[i])
            i -= i & -i
        return total


@dataclass(frozen=True)
class Signals:
    reuse_distance: int | None
    inter_arrival_ns: int | None
    popularity_rank: int


class StreamSignals:
    """Signals of one tenant's stream; ``observe`` one request at a time, in order."""

    def __init__(self, horizon: int = 1 << 16) -> None:
        if horizon < 2:
            raise ValueError(f"signals: the horizon must be at least 2 requests, got {horizon}")
        self.horizon = horizon
        self._capacity = 2 * horizon  # positions; compacted when full
        self._tree = _Fenwick(self._capacity)
        self._position: dict[bytes, int] = {}  # key -> position of its latest request
        self._time_ns: dict[bytes, int] = {}
        self._next = 0
        self._recent: collections.deque[bytes] = collections.deque()  # the last `horizon` keys
        self._counts: dict[bytes, int] = {}
        self._by_count = _Fenwick(horizon + 1)  # position c: how many keys were requested c times

    def observe(self, key: bytes, time_ns: int) -> Signals:
        if self._next == self._capacity:
            self._compact()
        previous = self._position.get(key)
        distance = None
        if previous is not None:
            distance = self._tree.prefix(self._next) - self._tree.prefix(previous + 1)
            self._tree.add(previous, -1)
        self._tree.add(self._next, 1)
        self._position[key] = self._next
        self._next += 1
        last = self._time_ns.get(key)
        self._time_ns[key] = time_ns
        rank = self._count(key)
        return Signals(distance, None if last is None else time_ns - last, rank)

    def _count(self, key: bytes) -> int:
        self._recent.append(key)
        self._recount(key, +1)
        if len(self._recent) > self.horizon:
            self._recount(self._recent.popleft(), -1)
        mine = self._counts[key]
        return len(self._counts) - self._by_count.prefix(mine + 1)  # keys requested more often

    def _recount(self, key: bytes, delta: int) -> None:
        old = self._counts.get(key, 0)
        if old:
            self._by_count.add(old, -1)
        new = old + delta
        if new:
            self._counts[key] = new
            self._by_count.add(new, 1)
        else:
            del self._counts[key]

    def _compact(self) -> None:
        # Keep the keys requested within the horizon, renumbered in order, and forget the rest.
        cutoff = self._next - self.horizon
        kept = sorted((p, k) for k, p in self._position.items() if p >= cutoff)
        self._tree = _Fenwick(self._capacity)
        self._position = {}
        for new, (_, key) in enumerate(kept):
            self._position[key] = new
            self._tree.add(new, 1)
        self._time_ns = {k: t for k, t in self._time_ns.items() if k in self._position}
        self._next = len(kept)
