"""The bookkeeping both storage backends keep in host memory: the slot table, the stacks of free
slots and free blocks, and the links that chain an entry's blocks. Backends differ in where the
bytes and the index live, not in how slots and blocks are handed out, so both hand out the same
slot and block numbers for the same calls."""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from predis.services.cache.engine.hashing import hash_many
from predis.services.cache.engine.storage import KeyBatch

# Columns of the slot table.
TENANT, KEY_LEN, VALUE_LEN, FIRST, NBLOCKS = range(5)
INFO_COLUMNS = 5
# SlotTable.meta
FREE_BLOCK_TOP, FREE_SLOT_TOP = range(2)
NIL = -1


class SlotTable(NamedTuple):
    meta: np.ndarray  # int64[2]: tops of the free-block and free-slot stacks
    links: np.ndarray  # int32[B]: next block of a chain, -1 at its end
    free_blocks: np.ndarray  # int32[B]: stack
    info: np.ndarray  # int64[N, 5]; TENANT -1 when the slot is free
    free_slots: np.ndarray  # int32[N]: stack


def new_slot_table(slots: int, blocks: int) -> SlotTable:
    info = np.zeros((slots, INFO_COLUMNS), dtype=np.int64)
    info[:, TENANT] = NIL
    return SlotTable(
        meta=np.array([blocks, slots], dtype=np.int64),
        links=np.full(blocks, NIL, dtype=np.int32),
        free_blocks=np.arange(blocks - 1, -1, -1, dtype=np.int32),
        info=info,
        free_slots=np.arange(slots - 1, -1, -1, dtype=np.int32),
    )


def grown_slot_table(old: SlotTable, slots: int, blocks: int) -> SlotTable:
    """A copy of ``old`` with ``slots`` slots and ``blocks`` blocks; the new ids go on top of the
    free stacks (the lowest new id is popped first)."""
    n, b = len(old.info), len(old.links)
    new = new_slot_table(slots, blocks)
    new.links[:b] = old.links
    new.info[:n] = old.info
    fb, fs = int(old.meta[FREE_BLOCK_TOP]), int(old.meta[FREE_SLOT_TOP])
    new.free_blocks[:fb] = old.free_blocks[:fb]
    new.free_blocks[fb : fb + blocks - b] = np.arange(blocks - 1, b - 1, -1, dtype=np.int32)
    new.free_slots[:fs] = old.free_slots[:fs]
    new.free_slots[fs : fs + slots - n] = np.arange(slots - 1, n - 1, -1, dtype=np.int32)
    new.meta[FREE_BLOCK_TOP], new.meta[FREE_SLOT_TOP] = fb + blocks - b, fs + slots - n
    return new


@numba.njit(cache=True)
def take_chain(meta: np.ndarray, links: np.ndarray, free_blocks: np.ndarray, n: int) -> int:
    """Pops ``n`` free blocks, links them into a chain and returns its first block."""
    first = NIL
    for _ in range(n):
        top = meta[FREE_BLOCK_TOP] - 1
        meta[FREE_BLOCK_TOP] = top
        block = free_blocks[top]
        links[block] = first
        first = block
    return first


@numba.njit(cache=True)
def release_chain(meta: np.ndarray, links: np.ndarray, free_blocks: np.ndarray, first: int) -> None:
    """Pushes every block of the chain at ``first`` back on the free stack."""
    block = first
    while block != NIL:
        nxt = links[block]
        top = meta[FREE_BLOCK_TOP]
        free_blocks[top] = block
        meta[FREE_BLOCK_TOP] = top + 1
        block = nxt


class SlotTableStorage:
    """What both storage backends answer from their host slot table alone: capacities, lengths,
    owners and key hashes. A backend exposes its table as ``_table`` (anything with the fields
    ``meta``, ``links`` and ``info``) and each slot's key hash in ``_hashes``."""

    block_bytes: int
    _hashes: np.ndarray

    @property
    def _table(self) -> SlotTable:
        raise NotImplementedError

    def bytes_per_slot(self) -> int:
        raise NotImplementedError

    def bytes_per_block(self) -> int:
        raise NotImplementedError

    def find(self, tenant: int, keys: KeyBatch, hashes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def read(self, slots: np.ndarray) -> tuple[bytes, np.ndarray]:
        raise NotImplementedError

    @property
    def slot_capacity(self) -> int:
        return len(self._table.info)

    @property
    def block_capacity(self) -> int:
        return len(self._table.links)

    @property
    def free_slot_count(self) -> int:
        return int(self._table.meta[FREE_SLOT_TOP])

    @property
    def free_block_count(self) -> int:
        return int(self._table.meta[FREE_BLOCK_TOP])

    @property
    def allocated_bytes(self) -> int:
        return self.slot_capacity * self.bytes_per_slot() + self.block_capacity * self.bytes_per_block()

    def hashes(self, tenant: int, keys: KeyBatch) -> np.ndarray:
        # On the host for every backend, so a key hashes alike wherever it is stored.
        return hash_many(keys.data, keys.offsets, keys.lengths, tenant)

    def find_read_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int] | None:
        return None  # a backend whose find_read is numpy_storage's says otherwise

    def find_read(
        self, tenant: int, keys: KeyBatch, expires: np.ndarray, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray, bytes, np.ndarray, int]:
        # The three calls it stands for; a backend may fuse them (NumpyStorage does).
        hashes = self.hashes(tenant, keys)
        slots = self.find(tenant, keys, hashes)
        deadline = np.where(slots >= 0, expires[np.maximum(slots, 0)], 0)
        expired = (deadline != 0) & (deadline <= now_ms)
        values, lengths = self.read(np.where(expired, NIL, slots))
        return hashes, slots, values, lengths, int(expired.sum())

    def value_length(self, slots: np.ndarray) -> np.ndarray:
        return self._table.info[np.asarray(slots), VALUE_LEN]

    def blocks_of(self, slots: np.ndarray) -> np.ndarray:
        return self._table.info[np.asarray(slots), NBLOCKS]

    def slots_of_tenant(self, tenant: int) -> np.ndarray:
        return np.flatnonzero(self._table.info[:, TENANT] == tenant).astype(np.int32)

    def hash_of(self, slots: np.ndarray) -> np.ndarray:
        return self._hashes[np.asarray(slots)]
