"""The successor rule: a simple prefetch baseline that a learned prefetcher has to beat.

After each access to key ``k`` it proposes the key that most often followed ``k`` (when that
successor's conditional probability is at least 0.5), or else ``k + d`` for the small key delta
``d`` that most often separates consecutive requests (same threshold). Memory is bounded: a
direct-mapped table of successor rows (a row is replaced when another key hashes to it), each
row holding a few candidates with Space-Saving counts; counts are halved as they grow, so the
rule follows recent traffic.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from predis.services.cache.engine.hashing import mix64

CANDIDATES = 4
MAX_DELTA = 8
MIN_OBSERVATIONS = 2.0
THRESHOLD = 0.5
_HALVE_ROW_AT = 64.0
_HALVE_DELTAS_AT = 4096.0


class SuccessorState(NamedTuple):
    tags: np.ndarray  # uint64[R]: trigger id + 1 of each row, 0 when empty
    ids: np.ndarray  # uint64[R, CANDIDATES]
    counts: np.ndarray  # float64[R, CANDIDATES]
    totals: np.ndarray  # float64[R]
    deltas: np.ndarray  # float64[2 * MAX_DELTA + 1]: counts of next - previous
    delta_total: np.ndarray  # float64[1]


def new_successor_state(rows: int) -> SuccessorState:
    rows = 1 << max(10, (rows - 1).bit_length())
    return SuccessorState(
        tags=np.zeros(rows, dtype=np.uint64),
        ids=np.zeros((rows, CANDIDATES), dtype=np.uint64),
        counts=np.zeros((rows, CANDIDATES), dtype=np.float64),
        totals=np.zeros(rows, dtype=np.float64),
        deltas=np.zeros(2 * MAX_DELTA + 1, dtype=np.float64),
        delta_total=np.zeros(1, dtype=np.float64),
    )


@numba.njit(cache=True, inline="always")
def _row(st: SuccessorState, key: np.uint64) -> int:
    return np.int64(mix64(key) & np.uint64(len(st.tags) - 1))


@numba.njit(cache=True)
def observe(st: SuccessorState, previous: np.uint64, current: np.uint64) -> None:
    """Records that ``current`` was requested right after ``previous``."""
    count_pair(st, previous, current)
    delta = np.int64(current) - np.int64(previous)
    if -MAX_DELTA <= delta <= MAX_DELTA and delta != 0:
        st.deltas[delta + MAX_DELTA] += 1.0
    st.delta_total[0] += 1.0
    if st.delta_total[0] >= _HALVE_DELTAS_AT:
        st.deltas[:] *= 0.5
        st.delta_total[0] *= 0.5


@numba.njit(cache=True)
def count_pair(st: SuccessorState, previous: np.uint64, current: np.uint64) -> None:
    """Counts ``current`` in ``previous``'s row (bounded: Space-Saving over CANDIDATES ids)."""
    r = _row(st, previous)
    if st.tags[r] != previous + np.uint64(1):
        st.tags[r] = previous + np.uint64(1)
        st.counts[r, :] = 0.0
        st.totals[r] = 0.0
    weakest = 0
    for c in range(CANDIDATES):
        if st.counts[r, c] > 0 and st.ids[r, c] == current:
            st.counts[r, c] += 1.0
            break
        if st.counts[r, c] < st.counts[r, weakest]:
            weakest = c
    else:
        # Space-Saving: the newcomer takes the weakest candidate's place and count, plus one.
        st.ids[r, weakest] = current
        st.counts[r, weakest] += 1.0
    st.totals[r] += 1.0
    if st.totals[r] >= _HALVE_ROW_AT:
        st.counts[r, :] *= 0.5
        st.totals[r] *= 0.5


@numba.njit(cache=True)
def propose(st: SuccessorState, current: np.uint64) -> tuple[bool, np.uint64]:
    """The key to prefetch after ``current``, if the rule is confident enough."""
    r = _row(st, current)
    if st.tags[r] == current + np.uint64(1) and st.totals[r] >= MIN_OBSERVATIONS:
        best = 0
        for c in range(1, CANDIDATES):
            if st.counts[r, c] > st.counts[r, best]:
                best = c
        if st.counts[r, best] / st.totals[r] >= THRESHOLD:
            return True, st.ids[r, best]
    if st.delta_total[0] >= MIN_OBSERVATIONS:
        best = 0
        for d in range(1, len(st.deltas)):
            if st.deltas[d] > st.deltas[best]:
                best = d
        if st.deltas[best] / st.delta_total[0] >= THRESHOLD:
            return True, np.uint64(np.int64(current) + best - MAX_DELTA)
    return False, np.uint64(0)
