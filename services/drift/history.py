"""The bounded history of one tenant's signal samples: what a reference window is rebuilt from
when ResetReference names a time range, and what the live window is read from.

A ring of ``capacity`` samples in arrival order (event time, reuse distance, inter-arrival time,
popularity rank, access kind); appending past the capacity forgets the oldest. Signals are kept
as float32 (reuse distance and rank are exact below 2**24; inter-arrival times keep 24 bits, far
finer than any test here can tell): 21 bytes a sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGNALS = ("reuse_distance", "inter_arrival", "popularity_rank")


@dataclass(frozen=True)
class Samples:
    """Samples in arrival order: one array per signal (float64), kinds (int8) and times (ns)."""

    times: np.ndarray
    values: dict[str, np.ndarray]
    kinds: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    def tail(self, n: int) -> Samples:
        return Samples(self.times[-n:], {s: v[-n:] for s, v in self.values.items()}, self.kinds[-n:])


class SignalHistory:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"signal history: the capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._times = np.zeros(capacity, dtype=np.int64)
        self._values = {s: np.zeros(capacity, dtype=np.float32) for s in SIGNALS}
        self._kinds = np.zeros(capacity, dtype=np.int8)
        self._written = 0  # samples ever appended; the next goes to _written % capacity

    def __len__(self) -> int:
        return min(self._written, self.capacity)

    def append(self, times: np.ndarray, values: dict[str, np.ndarray], kinds: np.ndarray) -> None:
        n = len(times)
        if n > self.capacity:  # only the newest fit
            times, kinds = times[-self.capacity :], kinds[-self.capacity :]
            values = {s: v[-self.capacity :] for s, v in values.items()}
            self._written += n - self.capacity
            n = self.capacity
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        pairs: list[tuple[np.ndarray, np.ndarray]] = [(self._times, times), (self._kinds, kinds)]
        pairs.extend((self._values[s], values[s]) for s in SIGNALS)
        for target, source in pairs:
            target[start : start + first] = source[:first]
            target[: n - first] = source[first:]
        self._written += n

    def _order(self, n: int) -> np.ndarray:
        """Ring positions of the newest ``n`` samples, oldest first."""
        return np.arange(self._written - n, self._written) % self.capacity

    def newest(self, n: int) -> Samples:
        """The newest ``n`` samples (fewer if fewer are retained), oldest first."""
        n = min(n, len(self))
        at = self._order(n)
        return Samples(
            self._times[at].copy(),
            {s: self._values[s][at].astype(np.float64) for s in SIGNALS},
            self._kinds[at].copy(),
        )

    def between(self, from_ns: int, to_ns: int) -> Samples:
        """The retained samples whose event time is in [from_ns, to_ns], in arrival order."""
        everything = self.newest(len(self))
        keep = (everything.times >= from_ns) & (everything.times <= to_ns)
        return Samples(
            everything.times[keep], {s: v[keep] for s, v in everything.values.items()}, everything.kinds[keep]
        )

    def span(self) -> tuple[int, int]:
        """Earliest and latest event time retained ((0, 0) when empty)."""
        if not len(self):
            return 0, 0
        times = self._times[: len(self)]
        return int(times.min()), int(times.max())
