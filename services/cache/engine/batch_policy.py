"""Batch forms of the policy's operations, so a batch of keys costs one compiled call."""

from __future__ import annotations

import numba
import numpy as np

from predis.services.cache.engine import policy as pol


@numba.njit(cache=True)
def touch_many(s: pol.PolicyState, slots: np.ndarray) -> None:
    if s.meta[pol.KIND] == pol.S3FIFO:
        # S3-FIFO touches the slot table alone: read it from the state once, not once per slot
        # (a field of the state costs reference counts on every read, more than the touch).
        rows = s.slot
        for i in range(len(slots)):
            pol.touch_s3fifo(rows, slots[i])
        return
    for i in range(len(slots)):
        pol.touch(s, slots[i])


@numba.njit(cache=True)
def prefetched_flags(s: pol.PolicyState, slots: np.ndarray) -> np.ndarray:
    rows = s.slot  # read from the state once (see touch_many)
    out = np.zeros(len(slots), dtype=np.bool_)
    for i in range(len(slots)):
        out[i] = rows[slots[i], pol.PREFETCHED] == 1
    return out


@numba.njit(cache=True)
def read_hits(s: pol.PolicyState, slots: np.ndarray) -> np.ndarray:
    """Whether a prefetch had loaded each slot (read before any is touched), then touches them:
    :func:`prefetched_flags` and :func:`touch_many` in one compiled call."""
    out = prefetched_flags(s, slots)
    touch_many(s, slots)
    return out


@numba.njit(cache=True, inline="always")
def _found_and_flags(slot_rows: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    n = len(slots)
    found = np.empty(n, dtype=np.bool_)
    prefetched = np.zeros(n, dtype=np.bool_)
    hits = prefetched_hits = 0
    for i in range(n):
        slot = slots[i]
        found[i] = slot >= 0
        if slot >= 0:
            hits += 1
            prefetched[i] = slot_rows[slot, pol.PREFETCHED] == 1
            prefetched_hits += prefetched[i]
    return found, prefetched, hits, prefetched_hits


@numba.njit(cache=True)
def read_found_s3fifo(slot_rows: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """:func:`read_found` under S3-FIFO, given the slot table (for compiled callers too)."""
    found, prefetched, hits, prefetched_hits = _found_and_flags(slot_rows, slots)
    first_read = 0
    for i in range(len(slots)):
        slot = slots[i]
        if slot >= 0:
            if slot_rows[slot, pol.PREFETCHED] == 1:  # cleared by the touch: a key named twice counts once
                first_read += slot_rows[slot, pol.SIZE]
            pol.touch_s3fifo(slot_rows, slot)
    return found, prefetched, hits, prefetched_hits, first_read


@numba.njit(cache=True)
def _read_found(s: pol.PolicyState, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    rows = s.slot
    found, prefetched, hits, prefetched_hits = _found_and_flags(rows, slots)
    first_read = 0
    for i in range(len(slots)):
        slot = slots[i]
        if slot >= 0:
            if rows[slot, pol.PREFETCHED] == 1:
                first_read += rows[slot, pol.SIZE]
            pol.touch(s, slot)
    return found, prefetched, hits, prefetched_hits, first_read


def read_found(s: pol.PolicyState, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """A batch read's policy work in one compiled call, given its slots (-1 where not found):
    whether each key was found, whether a prefetch had loaded it (read before any touch), how
    many were found and how many of those a prefetch had loaded, and the charges of the
    prefetched entries read for the first time (each slot once, however often it is named);
    then every found slot is touched."""
    if s.meta[pol.KIND] == pol.S3FIFO:  # the slot table alone, as read_hit
        found, prefetched, hits, prefetched_hits, first_read = read_found_s3fifo(s.slot, slots)
    else:
        found, prefetched, hits, prefetched_hits, first_read = _read_found(s, slots)
    return found, prefetched, int(hits), int(prefetched_hits), int(first_read)


@numba.njit(cache=True)
def read_hit_s3fifo(slot_rows: np.ndarray, slot: int) -> bool:
    """:func:`read_hit` under S3-FIFO, given the slot table (for compiled callers too)."""
    prefetched = slot_rows[slot, pol.PREFETCHED] == 1
    pol.touch_s3fifo(slot_rows, slot)
    return prefetched


def read_hit(s: pol.PolicyState, slot: int) -> bool:
    """:func:`read_hits` of one slot (GET's hit). Under S3-FIFO a touch needs the slot table
    alone, and passing the whole state would cost Numba more than the touch."""
    if s.meta[pol.KIND] == pol.S3FIFO:
        return bool(read_hit_s3fifo(s.slot, slot))
    return bool(read_hits(s, np.array([slot], dtype=np.int32))[0])


@numba.njit(cache=True)
def rewritten_s3fifo(slot_rows: np.ndarray, tenant_rows: np.ndarray, slot: int, new_size: int) -> tuple[int, bool]:
    """:func:`rewritten` under S3-FIFO, given the two tables it changes (the engine calls it from
    its own compiled function, with the counts of the write)."""
    old_size, prefetched = slot_rows[slot, pol.SIZE], slot_rows[slot, pol.PREFETCHED] == 1
    pol.resize_rows(slot_rows, tenant_rows, slot, new_size)
    pol.touch_s3fifo(slot_rows, slot)
    return old_size, prefetched


@numba.njit(cache=True)
def _rewritten(s: pol.PolicyState, slot: int, new_size: int) -> tuple[int, bool]:
    old_size, prefetched = s.slot[slot, pol.SIZE], s.slot[slot, pol.PREFETCHED] == 1
    pol.resize(s, slot, new_size)
    pol.touch(s, slot)
    return old_size, prefetched


def rewritten(s: pol.PolicyState, slot: int, new_size: int) -> tuple[int, bool]:
    """An entry overwritten in place with a value charged ``new_size``: :func:`pol.resize`, then
    :func:`pol.touch`, in one compiled call (under S3-FIFO given the two tables it changes).
    Answers what the engine counts of it: the entry's charge before, and whether a prefetch had
    loaded it and nobody read it (the touch makes it an ordinary entry)."""
    if s.meta[pol.KIND] == pol.S3FIFO:
        return rewritten_s3fifo(s.slot, s.tenant, slot, new_size)  # type: ignore[no-any-return]
    return _rewritten(s, slot, new_size)  # type: ignore[no-any-return]


@numba.njit(cache=True)
def rewritten_many(s: pol.PolicyState, slots: np.ndarray, new_sizes: np.ndarray) -> tuple[int, int]:
    """:func:`rewritten` of each of ``slots`` (distinct), in one compiled call; answers what the
    engine counts of it: the old charges of those a prefetch had loaded and nobody read (now
    ordinary entries), and how much the charges grew in all (negative when they shrank)."""
    unread, grown = 0, 0
    rows = s.slot  # read from the state once (see touch_many)
    s3fifo = s.meta[pol.KIND] == pol.S3FIFO
    tenant_rows = s.tenant
    for i in range(len(slots)):
        slot = slots[i]
        old = rows[slot, pol.SIZE]
        if rows[slot, pol.PREFETCHED] == 1:  # read before the touch clears it
            unread += old
        grown += new_sizes[i] - old
        if s3fifo:
            pol.resize_rows(rows, tenant_rows, slot, new_sizes[i])
            pol.touch_s3fifo(rows, slot)
        else:
            pol.resize(s, slot, new_sizes[i])
            pol.touch(s, slot)
    return unread, grown


@numba.njit(cache=True)
def admission_of(s: pol.PolicyState, t: int, size: int, h: np.uint64, prefetch: bool) -> tuple[bool, bool]:
    """:func:`take_ghosts` and :func:`can_admit_many` of one new entry in one compiled call:
    whether the ghost remembered it (never for a prefetch), and whether it may enter at all."""
    ghost_hit = False
    if not prefetch and s.meta[pol.KIND] == pol.S3FIFO:
        ghost_hit = pol.ghost_take(s, h)
    return ghost_hit, pol.can_admit(s, t, size)


@numba.njit(cache=True)
def admit_one(s: pol.PolicyState, t: int, slot: int, size: int, h: np.uint64, ghost_hit: bool, prefetch: bool) -> bool:
    """:func:`admit_many` of one entry."""
    return pol.admit(s, t, slot, size, h, ghost_hit, prefetch)


@numba.njit(cache=True)
def can_admit_many(s: pol.PolicyState, t: int, sizes: np.ndarray) -> np.ndarray:
    out = np.empty(len(sizes), dtype=np.bool_)
    for i in range(len(sizes)):
        out[i] = pol.can_admit(s, t, sizes[i])
    return out


@numba.njit(cache=True)
def take_ghosts(s: pol.PolicyState, hashes: np.ndarray) -> np.ndarray:
    """S3-FIFO's ghost check for keys about to be inserted; must run before making room, as
    libCacheSim checks the ghost before it evicts."""
    out = np.zeros(len(hashes), dtype=np.bool_)
    if s.meta[pol.KIND] == pol.S3FIFO:
        for i in range(len(hashes)):
            out[i] = pol.ghost_take(s, hashes[i])
    return out


@numba.njit(cache=True)
def admit_many(
    s: pol.PolicyState,
    t: int,
    slots: np.ndarray,
    sizes: np.ndarray,
    hashes: np.ndarray,
    ghost_hits: np.ndarray,
    prefetch: bool,
) -> np.ndarray:
    """Admits new entries; False where S3-FIFO declined one (the caller then erases it)."""
    out = np.zeros(len(slots), dtype=np.bool_)
    for i in range(len(slots)):
        out[i] = pol.admit(s, t, slots[i], sizes[i], hashes[i], ghost_hits[i], prefetch)
    return out


@numba.njit(cache=True)
def forget_many(s: pol.PolicyState, slots: np.ndarray) -> None:
    for i in range(len(slots)):
        pol.forget(s, slots[i])


@numba.njit(cache=True)
def charges_of(s: pol.PolicyState, slots: np.ndarray) -> np.ndarray:
    out = np.empty(len(slots), dtype=np.int64)
    for i in range(len(slots)):
        out[i] = s.slot[slots[i], pol.SIZE]
    return out
