"""The access collector: a bounded ring of access events held in arrays.

The engine appends one batch per read (a compiled copy, no per-key Python object); readers (the
exporter, each StreamAccessEvents call) keep their own cursor. When the ring is full the oldest
events are overwritten; a reader that falls behind learns how many it lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from predis.services.cache.engine.storage import KeyBatch

# Columns of the event table: one row per event, so an append writes one row, not six arrays.
TENANT, KIND, TIME, SIZE, KEY_START, KEY_LEN = range(6)
_COLUMNS = 6
# The state array: events appended so far, key bytes appended so far.
_HEAD, _KEY_HEAD = 0, 1
HIT, MISS, PREFETCH_HIT = 1, 2, 3  # the values of predis.v1.AccessKind


@numba.njit(cache=True, inline="always")
def _copy_wrapped(key_buf: np.ndarray, at: int, data: np.ndarray, src: int, n: int) -> None:
    kb = len(key_buf)
    start = at & (kb - 1)
    first = min(n, kb - start)
    key_buf[start : start + first] = data[src : src + first]
    if n > first:
        key_buf[: n - first] = data[src + first : src + n]


@numba.njit(cache=True)
def append_batch(
    state: np.ndarray,
    events: np.ndarray,
    key_buf: np.ndarray,
    tenant: int,
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    found: np.ndarray,
    prefetched: np.ndarray,
    sizes: np.ndarray,
    now: int,
) -> None:
    # Sizes are powers of two: masks instead of modulo keep this loop at a few ns per event.
    ring_mask, kb = len(events) - 1, len(key_buf)
    head, key_head = state[_HEAD], state[_KEY_HEAD]
    n = len(lengths)
    contiguous = True
    for i in range(1, n):
        if offsets[i] != offsets[i - 1] + lengths[i - 1]:
            contiguous = False
            break
    for i in range(n):
        row = (head + i) & ring_mask
        length = min(lengths[i], kb)
        events[row, TENANT] = tenant
        events[row, KIND] = PREFETCH_HIT if prefetched[i] else (HIT if found[i] else MISS)
        events[row, TIME] = now
        events[row, SIZE] = sizes[i]
        events[row, KEY_LEN] = length
        if contiguous:
            events[row, KEY_START] = key_head + offsets[i] - offsets[0]
        else:
            events[row, KEY_START] = key_head
            _copy_wrapped(key_buf, key_head, data, offsets[i], length)
            key_head += length
    if contiguous and n:
        # A batch's keys arrive back to back: one copy (two where the buffer wraps) for all.
        total = offsets[n - 1] + lengths[n - 1] - offsets[0]
        if total <= kb:
            _copy_wrapped(key_buf, key_head, data, offsets[0], total)
        else:
            # Longer than the whole buffer: only the newest bytes survive; older events read as lost.
            skip = total - kb
            _copy_wrapped(key_buf, key_head + skip, data, offsets[0] + skip, kb)
        key_head += total
    state[_HEAD] = head + n
    state[_KEY_HEAD] = key_head


@numba.njit(cache=True)
def _append_rows(
    state: np.ndarray, events: np.ndarray, key_buf: np.ndarray, rows: np.ndarray, data: np.ndarray, lengths: np.ndarray
) -> None:
    """One event per row of ``rows`` (tenant, kind, time, size), its key the next ``lengths[i]``
    bytes of ``data``: single reads held back, written in one call. A key longer than the whole
    key buffer keeps its newest bytes only and reads as lost, as in ``append_batch``."""
    kb = len(key_buf)
    head, key_head = state[_HEAD], state[_KEY_HEAD]
    src = 0
    for i in range(len(rows)):
        n = lengths[i]
        row = (head + i) & (len(events) - 1)
        events[row, TENANT] = rows[i, 0]
        events[row, KIND] = rows[i, 1]
        events[row, TIME] = rows[i, 2]
        events[row, SIZE] = rows[i, 3]
        events[row, KEY_LEN] = min(n, kb)
        events[row, KEY_START] = key_head
        skip = max(0, n - kb)
        for j in range(skip, n):
            key_buf[(key_head + j) & (kb - 1)] = data[src + j]
        key_head += n
        src += n
    state[_HEAD] = head + len(rows)
    state[_KEY_HEAD] = key_head


@dataclass(frozen=True)
class EventBatch:
    """Events read from the ring, oldest first."""

    tenants: np.ndarray
    kinds: np.ndarray
    times: np.ndarray
    sizes: np.ndarray
    keys: list[bytes]
    dropped: int  # events the reader lost since its cursor


class AccessRing:
    """Room for ``capacity`` events and, on average, ``key_bytes_per_event`` bytes of key each
    (both rounded up to powers of two)."""

    def __init__(self, capacity: int = 1 << 16, key_bytes_per_event: int = 64, held_reads: int = 64) -> None:
        if capacity < 1:
            raise ValueError("the access ring needs room for at least one event")
        capacity = 1 << (capacity - 1).bit_length()
        key_bytes_per_event = 1 << (key_bytes_per_event - 1).bit_length()
        self.capacity = capacity
        self._state = np.zeros(2, dtype=np.int64)
        self._events = np.zeros((capacity, _COLUMNS), dtype=np.int64)
        self._key_buf = np.zeros(capacity * key_bytes_per_event, dtype=np.uint8)
        # Single reads (append_one) are held here, up to held_reads, and written together: one
        # compiled call per read would cost more than the read's own lookup. Anything that looks
        # at the ring (head, read, a batch append) writes them first, so no reader can tell.
        self._held_reads = max(1, held_reads)
        self._held_rows: list[int] = []  # tenant, kind, time, size of each, one after another
        self._held_keys: list[bytes] = []
        one = np.zeros(1, np.bool_)
        self.append(0, KeyBatch.of([b"warm-up"]), one, one, np.zeros(1, np.uint32), 0)  # compile now
        self.append_one(0, b"warm-up", 0, False, False, 0, 0)
        self._write_held()
        self._state[:] = 0

    @property
    def head(self) -> int:
        """Events appended since the ring was made (a reader's cursor starts here to see new ones)."""
        if self._held_rows:
            self._write_held()
        return int(self._state[_HEAD])

    def append(
        self,
        tenant: int,
        keys: KeyBatch,
        found: np.ndarray,
        prefetched: np.ndarray,
        sizes: np.ndarray,
        time_ns: int,
        _hashes: np.ndarray | None = None,
    ) -> None:
        """Records one read of ``keys``: hit where ``found``, prefetch hit where ``prefetched``, else miss."""
        if self._held_rows:
            self._write_held()  # in the order they came
        append_batch(
            self._state,
            self._events,
            self._key_buf,
            tenant,
            keys.data,
            keys.offsets,
            keys.lengths,
            found,
            prefetched,
            sizes,
            time_ns,
        )

    def compiled_append_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What ``append_batch`` takes before the tenant, for a compiled caller that appends a read in
        the same call as it reads (``compiled_read.py``); single reads held back are written
        first, so that they stay before it."""
        if self._held_rows:
            self._write_held()
        return self._state, self._events, self._key_buf

    def append_one(
        self, tenant: int, key: bytes, _hash: int, found: bool, prefetched: bool, size: int, time_ns: int
    ) -> None:
        """:meth:`append` of one key's read (a ``OneReadListener``)."""
        self._held_rows += (tenant, PREFETCH_HIT if prefetched else (HIT if found else MISS), time_ns, size)
        self._held_keys.append(key)
        if len(self._held_keys) >= self._held_reads:
            self._write_held()

    def _write_held(self) -> None:
        rows, keys = self._held_rows, self._held_keys
        if not rows:
            return
        self._held_rows, self._held_keys = [], []
        lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        data = np.frombuffer(b"".join(keys), dtype=np.uint8)
        table = np.array(rows, dtype=np.int64).reshape(-1, 4)  # from a flat list: a third of the cost of tuples
        _append_rows(self._state, self._events, self._key_buf, table, data, lengths)

    def read(self, cursor: int, limit: int, tenant: int | None = None) -> tuple[EventBatch, int]:
        """Up to ``limit`` events after ``cursor`` (of ``tenant`` only, when given) and the new cursor."""
        head, key_head = self.head, int(self._state[_KEY_HEAD])
        oldest = max(cursor, head - self.capacity)
        seqs = np.arange(oldest, min(head, oldest + limit), dtype=np.int64)
        rows = self._events[seqs & (self.capacity - 1)]
        # An event whose key bytes were overwritten by newer keys is lost as well.
        intact = rows[:, KEY_START] >= key_head - len(self._key_buf)
        dropped = (oldest - cursor) + int((~intact).sum())
        rows = rows[intact]
        if tenant is not None:
            rows = rows[rows[:, TENANT] == tenant]
        kb = len(self._key_buf)
        keys = []
        for start, length in zip(rows[:, KEY_START].tolist(), rows[:, KEY_LEN].tolist(), strict=True):
            at = start % kb
            end = at + length
            if end <= kb:
                keys.append(self._key_buf[at:end].tobytes())
            else:
                keys.append(self._key_buf[at:].tobytes() + self._key_buf[: end - kb].tobytes())
        batch = EventBatch(rows[:, TENANT], rows[:, KIND], rows[:, TIME], rows[:, SIZE], keys, dropped)
        return batch, int(seqs[-1]) + 1 if len(seqs) else oldest
