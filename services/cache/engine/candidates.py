"""Prefetch candidates and their features, computed causally from the access stream.

After each request for a trigger key, the successor table proposes its candidates (the keys that
followed the trigger most often, and the trigger plus the most frequent small key delta) and the
co-access table proposes the keys most often requested 2 to ``COACCESS_WINDOW`` requests after it
(that the successor table did not already propose); each (trigger, candidate) pair gets a row of
features that only uses requests seen so far. Because nothing here depends on what a cache holds,
a whole trace's candidates can be scored in one ONNX batch and a replay can consume the scores;
the cache service computes the same rows online.

Features that measure time do not grow with a trace's length (gaps are capped at ``LONG_AGO``
requests, counts decay), so a model trained on the start of a trace sees the same scale later.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from predis.services.cache.engine.hashing import mix64
from predis.services.cache.engine.successor import (
    CANDIDATES,
    MAX_DELTA,
    SuccessorState,
    count_pair,
    new_successor_state,
    observe,
)
from predis.services.cache.features import FEATURES

COACCESS_WINDOW = 8  # requests after a trigger that count as co-accessed with it (beyond the next)
COACCESS_CANDIDATES = 2  # most co-access candidates per request
PER_REQUEST = CANDIDATES + 1 + COACCESS_CANDIDATES  # most candidate rows per request
_NEVER = 20.0
LONG_AGO = 4096  # requests: longer gaps all read as this long
FREQUENCY_HALF_LIFE = 4096.0  # requests


class KeyStats(NamedTuple):
    """Direct-mapped last-seen position and count per key (bounded; collisions overwrite)."""

    tags: np.ndarray  # uint64[R]: key + 1
    last_seen: np.ndarray  # int64[R]
    counts: np.ndarray  # float64[R]


def new_key_stats(rows: int) -> KeyStats:
    rows = 1 << max(10, (rows - 1).bit_length())
    return KeyStats(np.zeros(rows, np.uint64), np.zeros(rows, np.int64), np.zeros(rows, np.float64))


@numba.njit(cache=True, inline="always")
def _key_row(ks: KeyStats, key: np.uint64) -> int:
    return np.int64(mix64(key ^ np.uint64(0x5BD1E995)) & np.uint64(len(ks.tags) - 1))


@numba.njit(cache=True)
def _key_features(ks: KeyStats, key: np.uint64, now: int) -> tuple[float, float]:
    r = _key_row(ks, key)
    if ks.tags[r] != key + np.uint64(1):
        return _NEVER, 0.0
    age = now - ks.last_seen[r]
    return np.log1p(min(age, LONG_AGO)), np.log1p(ks.counts[r] * np.exp2(-age / FREQUENCY_HALF_LIFE))


@numba.njit(cache=True)
def _last_seen(ks: KeyStats, key: np.uint64) -> int:
    r = _key_row(ks, key)
    return ks.last_seen[r] if ks.tags[r] == key + np.uint64(1) else -1


@numba.njit(cache=True)
def _trigger_features(ks: KeyStats, candidate: np.uint64, trigger_before: int, now: int) -> tuple[float, float]:
    """How long since the trigger was last requested, and whether (how soon) the candidate
    followed it then: both stay meaningful however far into a trace the request is."""
    if trigger_before < 0:
        return _NEVER, _NEVER
    seen = _last_seen(ks, candidate)
    after = np.log1p(min(seen - trigger_before, LONG_AGO)) if seen > trigger_before else _NEVER
    return np.log1p(min(now - trigger_before, LONG_AGO)), after


@numba.njit(cache=True)
def _see(ks: KeyStats, key: np.uint64, now: int) -> None:
    r = _key_row(ks, key)
    if ks.tags[r] != key + np.uint64(1):
        ks.tags[r] = key + np.uint64(1)
        ks.counts[r] = 0.0
    ks.counts[r] = ks.counts[r] * np.exp2(-(now - ks.last_seen[r]) / FREQUENCY_HALF_LIFE) + 1.0
    ks.last_seen[r] = now


@numba.njit(cache=True)
def _history_features(features: np.ndarray, n: int, ks: KeyStats, cid: np.uint64, before: int, now: int) -> None:
    """Columns 6 to 9: what the access history says of the candidate and of its trigger."""
    features[n, 6], features[n, 7] = _key_features(ks, cid, now)
    features[n, 8], features[n, 9] = _trigger_features(ks, cid, before, now)


@numba.njit(cache=True)
def _table_rows(
    table: SuccessorState,
    key: np.uint64,
    limit: int,
    from_coaccess: float,
    now: int,
    before: int,
    ks: KeyStats,
    first: int,
    n: int,
    request: np.ndarray,
    candidate: np.ndarray,
    features: np.ndarray,
) -> int:
    """Rows for up to ``limit`` of the keys ``table`` counts after ``key``, strongest first, that
    are not ``key`` itself nor already proposed for this request (rows ``first``..``n``)."""
    r = np.int64(mix64(key) & np.uint64(len(table.tags) - 1))
    if table.tags[r] != key + np.uint64(1) or table.totals[r] <= 0:
        return n
    order = np.argsort(-table.counts[r])
    added = 0
    for rank in range(CANDIDATES):
        c = order[rank]
        if added == limit or table.counts[r, c] <= 0:
            break
        cid = table.ids[r, c]
        seen = cid == key
        for m in range(first, n):
            seen = seen or candidate[m] == cid
        if seen:
            continue
        request[n] = now
        candidate[n] = cid
        features[n, 0] = table.counts[r, c] / table.totals[r]
        features[n, 1] = table.counts[r, c]
        features[n, 2] = table.totals[r]
        features[n, 3] = rank
        features[n, 4] = 0.0
        features[n, 5] = 0.0
        _history_features(features, n, ks, cid, before, now)
        features[n, 10] = from_coaccess
        n += 1
        added += 1
    return n


@numba.njit(cache=True)
def _extract(
    ids: np.ndarray,
    offset: int,
    previous: np.ndarray,
    st: SuccessorState,
    co: SuccessorState,
    recent: np.ndarray,
    ks: KeyStats,
    request: np.ndarray,
    candidate: np.ndarray,
    features: np.ndarray,
) -> int:
    """Rows for ``ids``, the requests at positions ``offset``...; ``previous`` holds the request
    before them ([key, 1]) or nothing yet ([0, 0]), and is updated; ``recent`` holds the last
    COACCESS_WINDOW requests by position."""
    n = 0
    w = len(recent)
    for j in range(len(ids)):
        i = offset + j
        key = ids[j]
        if previous[1] == 1:
            observe(st, previous[0], key)
        for d in range(2, w + 1):
            if i - d >= 0 and recent[(i - d) % w] != key:
                count_pair(co, recent[(i - d) % w], key)
        recent[i % w] = key
        previous[0], previous[1] = key, 1
        before = _last_seen(ks, key)
        _see(ks, key, i)
        first = n
        n = _table_rows(st, key, CANDIDATES, 0.0, i, before, ks, first, n, request, candidate, features)
        if st.delta_total[0] > 0:
            best = 0
            for d in range(1, len(st.deltas)):
                if st.deltas[d] > st.deltas[best]:
                    best = d
            if st.deltas[best] > 0 and best != MAX_DELTA:
                cid = np.uint64(np.int64(key) + best - MAX_DELTA)
                request[n] = i
                candidate[n] = cid
                features[n, 0:4] = 0.0
                features[n, 4] = 1.0
                features[n, 5] = st.deltas[best] / st.delta_total[0]
                _history_features(features, n, ks, cid, before, i)
                features[n, 10] = 0.0
                n += 1
        n = _table_rows(co, key, COACCESS_CANDIDATES, 1.0, i, before, ks, first, n, request, candidate, features)
    return n


class CandidateRows(NamedTuple):
    request: np.ndarray  # int64: index of the triggering request
    candidate: np.ndarray  # uint64: the proposed key
    features: np.ndarray  # float32[rows, len(FEATURES)]


class CandidateStream:
    """Candidate rows for a trace read in consecutive chunks, with state carried between them."""

    def __init__(self, expected_requests: int) -> None:
        rows = min(2 * max(expected_requests, 1), 1 << 20)
        self._successors, self._keys = new_successor_state(rows), new_key_stats(rows)
        self._coaccess = new_successor_state(rows)
        self._recent = np.zeros(COACCESS_WINDOW, dtype=np.uint64)
        self._previous = np.zeros(2, dtype=np.uint64)
        self.position = 0

    def rows(self, ids: np.ndarray) -> CandidateRows:
        ids = np.ascontiguousarray(ids, dtype=np.uint64)
        request = np.empty(len(ids) * PER_REQUEST, dtype=np.int64)
        candidate = np.empty(len(ids) * PER_REQUEST, dtype=np.uint64)
        features = np.empty((len(ids) * PER_REQUEST, len(FEATURES)), dtype=np.float32)
        n = _extract(
            ids,
            self.position,
            self._previous,
            self._successors,
            self._coaccess,
            self._recent,
            self._keys,
            request,
            candidate,
            features,
        )
        self.position += len(ids)
        return CandidateRows(request[:n], candidate[:n], features[:n])


def candidate_rows(ids: np.ndarray) -> CandidateRows:
    """Every (trigger, candidate) pair of a trace with its features, in request order."""
    return CandidateStream(len(ids)).rows(ids)


def labels(ids: np.ndarray, rows: CandidateRows, horizon: int, lines: np.ndarray | None = None) -> np.ndarray:
    """1 where the candidate is requested within the ``horizon`` requests after its trigger. With
    ``lines`` (a line number per request: requests one client request asked for together), "after"
    means after the trigger's whole line, so the rest of its own request never counts."""
    n = len(ids) + 1
    position = rows.request
    if lines is not None:
        last = np.searchsorted(lines, lines, side="right") - 1  # the last request of each one's line
        position = last[rows.request]
    unique, rank = np.unique(ids, return_inverse=True)
    # One sortable number per request: the key's rank, then the position (both fit in 63 bits).
    order = np.sort(rank.astype(np.int64) * n + np.arange(len(ids), dtype=np.int64))
    where = np.searchsorted(unique, rows.candidate)
    known = (where < len(unique)) & (unique[np.minimum(where, len(unique) - 1)] == rows.candidate)
    query = where.astype(np.int64) * n + position
    nxt = np.searchsorted(order, query, side="right")
    valid = known & (nxt < len(order))
    following = order[np.minimum(nxt, len(order) - 1)]
    same_key = following // n == where
    gap = following % n - position
    return (valid & same_key & (gap <= horizon)).astype(np.int8)
