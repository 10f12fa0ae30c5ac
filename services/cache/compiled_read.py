"""A batch read of the cache and its recording in one compiled call, for a front end that calls it
from its own compiled code (RESP's run of GETs and its MGET: ``resp/compiled_gets.py``).

What :meth:`CacheDomain.get_many_now` does from Python in six compiled calls and the NumPy between
them (the storage's hash, find and read, the S3-FIFO touch and the counters, the event ring's
append, the shadow's hold of hits), :func:`read_recorded` does in one, composing each layer's own
kernel. The domain hands out what it takes (``CacheDomain.compiled_read_state``) only where that
is the whole of the read: S3-FIFO over CPU storage, no hints, no read listeners but the ring and
the shadow; and the kernel answers ``FALLBACK``, having changed nothing, where it would not be:
a key that expired (the engine drops it), a miss that reads through the origin, a key too long.
The caller then reads the keys the ordinary way. What stays in Python after it (a read of keys a
prefetch had loaded, a read the shadow must replay now) the domain finishes in
``CacheDomain.compiled_read_done`` from the rows the kernel leaves in ``out_rows``.
"""

from __future__ import annotations

import numba
import numpy as np

from predis.services.cache.collector import append_batch
from predis.services.cache.engine.engine import MAX_KEY_BYTES, read_counted_s3fifo
from predis.services.cache.engine.numpy_storage import find_read_batch
from predis.services.cache.shadow import MISSED, hold_hits

DONE, FALLBACK = 0, 1
NOT_HELD = -3  # no shadow to hold the read's hits
# Rows of ``out_rows``: where each key lies in the read's bytes, and what the read found.
OFFSETS, LENGTHS, FOUND, PREFETCHED, VALUE_LENGTHS = range(5)
_ROWS = 5


def scratch_rows(keys: int) -> tuple[np.ndarray, np.ndarray]:
    """The arrays :func:`read_recorded` leaves a read of up to ``keys`` keys in (rows above, and
    the keys' hashes)."""
    return np.zeros((_ROWS, keys), dtype=np.int64), np.zeros(keys, dtype=np.uint64)


@numba.njit(cache=True)
def read_recorded(
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    reads_through: bool,
    time_ns: int,
    out_rows: np.ndarray,
    out_hashes: np.ndarray,
    # the engine's (Engine.compiled_read_arrays)
    t: int,
    now_ms: int,
    info: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    cell_hashes: np.ndarray,
    cells: np.ndarray,
    bs: int,
    expires: np.ndarray,
    slot_rows: np.ndarray,
    counters: np.ndarray,
    # the event ring's (AccessRing.compiled_append_arrays), when ring_on
    ring_on: bool,
    ring_state: np.ndarray,
    ring_events: np.ndarray,
    ring_keys: np.ndarray,
    # the shadow's (ShadowCache.compiled_hold_arrays), when shadow_on
    shadow_on: bool,
    hold: bool,
    sample_limit: int,
    held_hashes: np.ndarray,
    held_key_lengths: np.ndarray,
    held_value_lengths: np.ndarray,
    held: int,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Reads the keys of ``data`` at ``offsets`` (``lengths`` each; none empty or reserved; a key
    named twice is read twice, as ``Engine.get_many`` reads it) and records the read as
    ``Engine.get_many`` and its listeners do. Answers DONE or
    FALLBACK (nothing changed); the values packed, their lengths and the found mask; how many
    hits a prefetch had loaded; and the shadow's ``hold_hits`` answer (the hits held after it, or
    ``MISSED``/``_FULL``: the caller has the shadow observe the read; ``NOT_HELD`` without a
    shadow). ``out_rows`` and ``out_hashes`` keep the read for what the caller finishes."""
    n = len(lengths)
    nothing, no_lengths, empty = np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.bool_)
    if n > out_rows.shape[1]:
        return FALLBACK, nothing, no_lengths, empty, 0, NOT_HELD
    for i in range(n):
        if lengths[i] > MAX_KEY_BYTES:  # the engine's refusal: the ordinary read gives it
            return FALLBACK, nothing, no_lengths, empty, 0, NOT_HELD
    hashes, slots, values, vlens, expired = find_read_batch(
        info, blocks, links, cell_hashes, cells, bs, t, data, offsets, lengths, expires, now_ms
    )
    if expired:  # find_read_batch changed nothing; the engine drops expired entries
        return FALLBACK, nothing, no_lengths, empty, 0, NOT_HELD
    if reads_through:
        for i in range(n):
            if slots[i] < 0:  # a miss the origin fills: the domain's fills run in Python
                return FALLBACK, nothing, no_lengths, empty, 0, NOT_HELD
    found, prefetched, _, prefetched_hits = read_counted_s3fifo(slot_rows, counters, t, slots)
    if ring_on:
        append_batch(ring_state, ring_events, ring_keys, t, data, offsets, lengths, found, prefetched, vlens, time_ns)
    held_after = NOT_HELD
    if shadow_on:
        held_after = MISSED
        if hold:
            held_after = hold_hits(
                hashes, lengths, found, vlens, sample_limit, held_hashes, held_key_lengths, held_value_lengths, held
            )
    for i in range(n):
        out_rows[OFFSETS, i] = offsets[i]
        out_rows[LENGTHS, i] = lengths[i]
        out_rows[FOUND, i] = found[i]
        out_rows[PREFETCHED, i] = prefetched[i]
        out_rows[VALUE_LENGTHS, i] = vlens[i]
        out_hashes[i] = hashes[i]
    return DONE, values, vlens, found, prefetched_hits, held_after
