"""An open-addressing hash index from 64-bit key hashes to slots, compiled with Numba.

Several slots may share a hash (different keys that collide): a lookup walks every cell with the
hash and the caller compares the full key of each candidate slot.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

EMPTY = -1
MAX_LOAD = 0.5


class SlotIndex(NamedTuple):
    hashes: np.ndarray  # uint64[M], M a power of two
    slots: np.ndarray  # int32[M], EMPTY when free
    filled: np.ndarray  # int64[1]: cells in use


def new_slot_index(entries: int) -> SlotIndex:
    cells = 1 << max(4, int(entries / MAX_LOAD).bit_length())
    return SlotIndex(np.zeros(cells, np.uint64), np.full(cells, EMPTY, np.int32), np.zeros(1, np.int64))


def index_bytes_per_entry() -> int:
    """Memory one entry costs in the index at the maximum load factor."""
    return int((8 + 4) / MAX_LOAD)


@numba.njit(cache=True, inline="always")
def index_next(ix: SlotIndex, h: np.uint64, cell: int) -> int:
    """The first cell at or after ``cell`` (in probe order from h's home) holding hash ``h``;
    -1 when there is none. Start with ``cell = -1``; continue with ``cell + 1``."""
    return cell_of(ix.hashes, ix.slots, h, cell)


@numba.njit(cache=True, inline="always")
def cell_of(hashes: np.ndarray, slots: np.ndarray, h: np.uint64, cell: int) -> int:
    """:func:`index_next` on the index's two arrays, for hot loops that read them from the
    index once (each field read from a tuple of arrays pays two reference counts)."""
    mask = len(hashes) - 1
    i = np.int64(h & np.uint64(mask)) if cell < 0 else cell & mask
    while slots[i] != EMPTY:
        if hashes[i] == h:
            return i
        i = (i + 1) & mask
    return -1


@numba.njit(cache=True, inline="always")
def index_insert(ix: SlotIndex, h: np.uint64, slot: int) -> None:
    mask = len(ix.hashes) - 1
    i = np.int64(h & np.uint64(mask))
    while ix.slots[i] != EMPTY:
        i = (i + 1) & mask
    ix.hashes[i] = h
    ix.slots[i] = slot
    ix.filled[0] += 1


@numba.njit(cache=True, inline="always")
def index_remove(ix: SlotIndex, h: np.uint64, slot: int) -> bool:
    """Removes the cell mapping ``h`` to ``slot``; False when there is none."""
    mask = len(ix.hashes) - 1
    i = np.int64(h & np.uint64(mask))
    while ix.slots[i] != EMPTY:
        if ix.hashes[i] == h and ix.slots[i] == slot:
            break
        i = (i + 1) & mask
    else:
        return False
    # Backward-shift deletion: move later cells of the probe run into the hole.
    j = i
    while True:
        j = (j + 1) & mask
        if ix.slots[j] == EMPTY:
            break
        home = np.int64(ix.hashes[j] & np.uint64(mask))
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            ix.hashes[i] = ix.hashes[j]
            ix.slots[i] = ix.slots[j]
            i = j
    ix.slots[i] = EMPTY
    ix.filled[0] -= 1
    return True


@numba.njit(cache=True, inline="always")
def _reinsert_all(old: SlotIndex, new: SlotIndex) -> None:
    for i in range(len(old.slots)):
        if old.slots[i] != EMPTY:
            index_insert(new, old.hashes[i], old.slots[i])


def grown_slot_index(ix: SlotIndex, entries: int) -> SlotIndex:
    """A copy of ``ix`` sized for ``entries``."""
    new = new_slot_index(entries)
    _reinsert_all(ix, new)
    return new
