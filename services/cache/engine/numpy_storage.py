"""The CPU storage backend: blocks, slot table and index in NumPy arrays, kernels in Numba."""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from predis.services.cache.engine.hashing import hash_bytes
from predis.services.cache.engine.slot_index import (
    SlotIndex,
    cell_of,
    grown_slot_index,
    index_bytes_per_entry,
    index_insert,
    index_remove,
    new_slot_index,
)
from predis.services.cache.engine.slot_table import (
    FIRST,
    FREE_SLOT_TOP,
    INFO_COLUMNS,
    KEY_LEN,
    NBLOCKS,
    NIL,
    TENANT,
    VALUE_LEN,
    SlotTable,
    SlotTableStorage,
    grown_slot_table,
    new_slot_table,
    release_chain,
    take_chain,
)
from predis.services.cache.engine.storage import DEFAULT_BLOCK_BYTES, LINK_BYTES, KeyBatch

VALUE_SCRATCH_BYTES = 1 << 16  # GET values up to this long are read in its one compiled call

_NIL = NIL


class Arrays(NamedTuple):
    meta: np.ndarray  # int64[2]
    blocks: np.ndarray  # uint8[B * block_bytes]
    links: np.ndarray  # int32[B]: next block of the chain, -1 at its end
    free_blocks: np.ndarray  # int32[B]: stack
    info: np.ndarray  # int64[N, 5]; TENANT -1 when the slot is free
    free_slots: np.ndarray  # int32[N]: stack


@numba.njit(cache=True, inline="always")
def _key_equals(
    info: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    bs: int,
    slot: int,
    tenant: int,
    data: np.ndarray | bytes,
    off: int,
    length: int,
) -> bool:
    if info[slot, TENANT] != tenant or info[slot, KEY_LEN] != length:
        return False
    block = info[slot, FIRST]
    done = 0
    while done < length:
        take = min(bs, length - done)
        base = block * bs
        for j in range(take):
            if blocks[base + j] != data[off + done + j]:
                return False
        done += take
        block = links[block]
    return True


@numba.njit(cache=True, inline="always")
def _find_into(
    info: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    cell_hashes: np.ndarray,
    cells: np.ndarray,
    bs: int,
    tenant: int,
    hashes: np.ndarray,
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    out: np.ndarray,
) -> None:
    # Three passes over the batch instead of one key at a time: within a pass the iterations are
    # independent, so the CPU overlaps their cache misses (index cell, slot row, first block).
    n = len(hashes)
    first_cell = np.empty(n, dtype=np.int64)
    for i in range(n):
        first_cell[i] = cell_of(cell_hashes, cells, hashes[i], -1)
    candidate = np.full(n, _NIL, dtype=np.int64)
    for i in range(n):
        if first_cell[i] >= 0:
            slot = cells[first_cell[i]]
            if info[slot, TENANT] == tenant and info[slot, KEY_LEN] == lengths[i]:
                candidate[i] = slot
    for i in range(n):
        out[i] = _NIL
        slot = candidate[i]
        if slot >= 0 and _key_equals(info, blocks, links, bs, slot, tenant, data, offsets[i], lengths[i]):
            out[i] = slot
            continue
        if first_cell[i] < 0:
            continue
        # Rare: the first cell with this hash held another key (a collision); walk the rest.
        cell = cell_of(cell_hashes, cells, hashes[i], first_cell[i] + 1)
        while cell >= 0:
            slot = cells[cell]
            if _key_equals(info, blocks, links, bs, slot, tenant, data, offsets[i], lengths[i]):
                out[i] = slot
                break
            cell = cell_of(cell_hashes, cells, hashes[i], cell + 1)


@numba.njit(cache=True)
def _find(
    a: Arrays,
    ix: SlotIndex,
    bs: int,
    tenant: int,
    hashes: np.ndarray,
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    out: np.ndarray,
) -> None:
    # The arrays are read from their tuples once: a field read costs reference counts.
    _find_into(a.info, a.blocks, a.links, ix.hashes, ix.slots, bs, tenant, hashes, data, offsets, lengths, out)


@numba.njit(cache=True)
def find_read_batch(
    info: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    cell_hashes: np.ndarray,
    cells: np.ndarray,
    bs: int,
    tenant: int,
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    expires: np.ndarray,
    now_ms: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Hashes, finds and reads a batch (``NumpyStorage.find_read``): one compiled call where
    the three cost a call each and NumPy's work between them (the arrays passed one by one, as
    in ``_find_one``)."""
    n = len(lengths)
    hashes = np.empty(n, dtype=np.uint64)
    for i in range(n):
        hashes[i] = hash_bytes(data, offsets[i], lengths[i], tenant)
    slots = np.empty(n, dtype=np.int32)
    _find_into(info, blocks, links, cell_hashes, cells, bs, tenant, hashes, data, offsets, lengths, slots)
    readable = np.empty(n, dtype=np.int32)
    expired = 0
    for i in range(n):
        slot = slots[i]
        readable[i] = slot
        if slot >= 0 and expires[slot] != 0 and expires[slot] <= now_ms:
            readable[i] = _NIL
            expired += 1
    values, value_lengths = _read(info, blocks, links, bs, readable)
    return hashes, slots, values, value_lengths, expired


@numba.njit(cache=True)
def _find_one(
    info: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    index_hashes: np.ndarray,
    index_slots: np.ndarray,
    bs: int,
    tenant: int,
    key: bytes,
) -> tuple[int, np.uint64]:
    """``_find`` of one key, hashed here: GET's lookup in one compiled call (the arrays passed
    one by one: Numba checks a tuple of arrays on every call, at several times the cost)."""
    return _lookup_one(info, blocks, links, index_hashes, index_slots, bs, tenant, key)


@numba.njit(cache=True)
def _find_read_one(
    info: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    index_hashes: np.ndarray,
    index_slots: np.ndarray,
    bs: int,
    tenant: int,
    key: bytes,
    out: np.ndarray,
) -> tuple[int, np.uint64, int]:
    """``_find_one`` and, when found, ``_read_one`` into ``out`` if the value fits it: the slot,
    the hash and the value's length (read when at most ``len(out)``)."""
    slot, h = _lookup_one(info, blocks, links, index_hashes, index_slots, bs, tenant, key)
    if slot < 0:
        return slot, h, 0
    vlen = info[slot, VALUE_LEN]
    if vlen <= len(out):
        _copy_value(blocks, links, bs, info[slot, FIRST], info[slot, KEY_LEN], vlen, out, 0)
    return slot, h, vlen


@numba.njit(cache=True, inline="always")
def _lookup_one(
    info: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    index_hashes: np.ndarray,
    index_slots: np.ndarray,
    bs: int,
    tenant: int,
    key: bytes,
) -> tuple[int, np.uint64]:
    n = len(key)
    h = hash_bytes(key, 0, n, tenant)
    cell = cell_of(index_hashes, index_slots, h, -1)
    while cell >= 0:
        slot = index_slots[cell]
        if _key_equals(info, blocks, links, bs, slot, tenant, key, 0, n):
            return slot, h
        cell = cell_of(index_hashes, index_slots, h, cell + 1)
    return _NIL, h


@numba.njit(cache=True)
def _read_one(info: np.ndarray, blocks: np.ndarray, links: np.ndarray, bs: int, slot: int, out: np.ndarray) -> None:
    """``_read`` of one slot's value into ``out`` (as long as the value)."""
    _copy_value(blocks, links, bs, info[slot, FIRST], info[slot, KEY_LEN], info[slot, VALUE_LEN], out, 0)


@numba.njit(cache=True, inline="always")
def _copy_value(
    blocks: np.ndarray, links: np.ndarray, bs: int, block: int, offset: int, vlen: int, out: np.ndarray, pos: int
) -> None:
    """Copies the ``vlen`` bytes at logical byte ``offset`` of the chain from ``block`` to ``out[pos:]``."""
    while offset >= bs:
        block = links[block]
        offset -= bs
    done = 0
    while done < vlen:
        take = min(bs - offset, vlen - done)
        base = block * bs + offset
        out[pos + done : pos + done + take] = blocks[base : base + take]
        done += take
        offset = 0
        block = links[block]


@numba.njit(cache=True)
def _write_chain(a: Arrays, bs: int, first: int, pos: int, src: np.ndarray, off: int, length: int) -> None:
    """Copies src[off:off+length] into the chain starting at logical byte ``pos``."""
    block = first
    while pos >= bs:
        block = a.links[block]
        pos -= bs
    done = 0
    while done < length:
        take = min(bs - pos, length - done)
        base, at = block * bs + pos, off + done
        for j in range(take):  # a loop, not a slice assignment: Numba checks slices for overlap
            a.blocks[base + j] = src[at + j]
        done += take
        pos = 0
        block = a.links[block]


@numba.njit(cache=True)
def _insert(
    a: Arrays,
    ix: SlotIndex,
    bs: int,
    tenant: int,
    hashes: np.ndarray,
    kdata: np.ndarray,
    koffs: np.ndarray,
    klens: np.ndarray,
    vdata: np.ndarray,
    voffs: np.ndarray,
    vlens: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(len(hashes)):
        top = a.meta[FREE_SLOT_TOP] - 1
        a.meta[FREE_SLOT_TOP] = top
        slot = a.free_slots[top]
        n = max(1, (klens[i] + vlens[i] + bs - 1) // bs)
        first = take_chain(a.meta, a.links, a.free_blocks, n)
        _write_chain(a, bs, first, 0, kdata, koffs[i], klens[i])
        _write_chain(a, bs, first, klens[i], vdata, voffs[i], vlens[i])
        a.info[slot, TENANT] = tenant
        a.info[slot, KEY_LEN] = klens[i]
        a.info[slot, VALUE_LEN] = vlens[i]
        a.info[slot, FIRST] = first
        a.info[slot, NBLOCKS] = n
        index_insert(ix, hashes[i], slot)
        out[i] = slot


@numba.njit(cache=True)
def _insert_one(
    meta: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    free_blocks: np.ndarray,
    info: np.ndarray,
    free_slots: np.ndarray,
    index_hashes: np.ndarray,
    index_slots: np.ndarray,
    index_filled: np.ndarray,
    bs: int,
    tenant: int,
    h: np.uint64,
    key: np.ndarray,
    value: np.ndarray,
) -> int:
    """``_insert`` of one entry (the arrays passed one by one, as ``_find_one``'s); its slot."""
    out = np.empty(1, dtype=np.int32)
    hashes = np.empty(1, dtype=np.uint64)
    hashes[0] = h
    zero = np.zeros(1, dtype=np.int64)
    _insert(
        Arrays(meta, blocks, links, free_blocks, info, free_slots),
        SlotIndex(index_hashes, index_slots, index_filled),
        bs,
        tenant,
        hashes,
        key,
        zero,
        np.full(1, len(key), dtype=np.int64),
        value,
        zero,
        np.full(1, len(value), dtype=np.int64),
        out,
    )
    return out[0]


@numba.njit(cache=True)
def _replace_value(a: Arrays, bs: int, slot: int, value: np.ndarray) -> None:
    klen = a.info[slot, KEY_LEN]
    need = max(1, (klen + len(value) + bs - 1) // bs)
    have = a.info[slot, NBLOCKS]
    if need > have:
        # Extend the chain at its end.
        last = a.info[slot, FIRST]
        while a.links[last] != _NIL:
            last = a.links[last]
        a.links[last] = take_chain(a.meta, a.links, a.free_blocks, need - have)
    elif need < have:
        last = a.info[slot, FIRST]
        for _ in range(need - 1):
            last = a.links[last]
        release_chain(a.meta, a.links, a.free_blocks, a.links[last])
        a.links[last] = _NIL
    a.info[slot, NBLOCKS] = need
    a.info[slot, VALUE_LEN] = len(value)
    _write_chain(a, bs, a.info[slot, FIRST], klen, value, 0, len(value))


@numba.njit(cache=True)
def _replace_value_flat(
    meta: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    free_blocks: np.ndarray,
    info: np.ndarray,
    free_slots: np.ndarray,
    bs: int,
    slot: int,
    value: np.ndarray,
) -> None:
    """``_replace_value`` given the arrays one by one (a tuple of them costs Numba's dispatch more)."""
    _replace_value(Arrays(meta, blocks, links, free_blocks, info, free_slots), bs, slot, value)


@numba.njit(cache=True, inline="always")
def _live_and_fits(info: np.ndarray, bs: int, slot: int, value_length: int, expires: np.ndarray, now_ms: int) -> bool:
    """Whether ``slot`` holds an entry not expired at ``now_ms`` whose blocks hold a value of
    ``value_length`` bytes (what a write in place needs)."""
    if slot < 0 or (expires[slot] != 0 and expires[slot] <= now_ms):
        return False
    return max(1, (info[slot, KEY_LEN] + value_length + bs - 1) // bs) <= info[slot, NBLOCKS]  # type: ignore[no-any-return]


@numba.njit(cache=True)
def _find_replace_one(
    meta: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    free_blocks: np.ndarray,
    info: np.ndarray,
    free_slots: np.ndarray,
    index_hashes: np.ndarray,
    index_slots: np.ndarray,
    bs: int,
    tenant: int,
    key: bytes,
    value: bytes,
    expires: np.ndarray,
    now_ms: int,
) -> tuple[int, np.uint64, bool]:
    """``NumpyStorage.find_replace_one``: the lookup and, when the entry is live and the value
    fits the blocks it holds, the write, in one compiled call (SET's overwrite)."""
    slot, h = _lookup_one(info, blocks, links, index_hashes, index_slots, bs, tenant, key)
    if not _live_and_fits(info, bs, slot, len(value), expires, now_ms):
        return slot, h, False
    a = Arrays(meta, blocks, links, free_blocks, info, free_slots)
    _replace_value(a, bs, slot, np.frombuffer(value, dtype=np.uint8))
    return slot, h, True


@numba.njit(cache=True)
def _find_replace(
    meta: np.ndarray,
    blocks: np.ndarray,
    links: np.ndarray,
    free_blocks: np.ndarray,
    info: np.ndarray,
    free_slots: np.ndarray,
    index_hashes: np.ndarray,
    index_slots: np.ndarray,
    bs: int,
    tenant: int,
    hashes: np.ndarray,
    kdata: np.ndarray,
    koffs: np.ndarray,
    klens: np.ndarray,
    vdata: np.ndarray,
    voffs: np.ndarray,
    vlens: np.ndarray,
    expires: np.ndarray,
    now_ms: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``NumpyStorage.find_replace``: :func:`_find_replace_one` of a batch of distinct keys."""
    n = len(hashes)
    slots = np.empty(n, dtype=np.int32)
    _find_into(info, blocks, links, index_hashes, index_slots, bs, tenant, hashes, kdata, koffs, klens, slots)
    replaced = np.zeros(n, dtype=np.bool_)
    a = Arrays(meta, blocks, links, free_blocks, info, free_slots)
    for i in range(n):
        slot = slots[i]
        if not _live_and_fits(info, bs, slot, vlens[i], expires, now_ms):
            continue
        _replace_value(a, bs, slot, vdata[voffs[i] : voffs[i] + vlens[i]])
        replaced[i] = True
    return slots, replaced


@numba.njit(cache=True)
def _replace_values(
    a: Arrays, bs: int, slots: np.ndarray, data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray
) -> None:
    for i in range(len(slots)):
        _replace_value(a, bs, slots[i], data[offsets[i] : offsets[i] + lengths[i]])


@numba.njit(cache=True)
def _erase(a: Arrays, ix: SlotIndex, hashes: np.ndarray, slots: np.ndarray) -> None:
    for i in range(len(slots)):
        slot = slots[i]
        if slot < 0 or a.info[slot, TENANT] < 0:
            continue
        index_remove(ix, hashes[i], slot)
        release_chain(a.meta, a.links, a.free_blocks, a.info[slot, FIRST])
        a.info[slot, TENANT] = _NIL
        top = a.meta[FREE_SLOT_TOP]
        a.free_slots[top] = slot
        a.meta[FREE_SLOT_TOP] = top + 1


@numba.njit(cache=True)
def _read(
    info: np.ndarray, blocks: np.ndarray, links: np.ndarray, bs: int, slots: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``slots`` back to back (none for a slot < 0) and each one's length."""
    n = len(slots)
    # Pass 1 reads every slot row (independent misses the CPU overlaps); pass 2 copies.
    lengths = np.empty(n, dtype=np.uint32)
    first = np.empty(n, dtype=np.int64)
    skip = np.empty(n, dtype=np.int64)
    total = 0
    for i in range(n):
        slot = slots[i]
        if slot < 0:
            lengths[i] = 0
            continue
        lengths[i] = info[slot, VALUE_LEN]
        first[i] = info[slot, FIRST]
        skip[i] = info[slot, KEY_LEN]
        total += lengths[i]
    out = np.empty(total, dtype=np.uint8)
    pos = 0
    for i in range(n):
        vlen = lengths[i]
        if vlen == 0:
            continue
        _copy_value(blocks, links, bs, first[i], skip[i], vlen, out, pos)
        pos += vlen
    return out, lengths


@numba.njit(cache=True)
def _read_key(a: Arrays, bs: int, slot: int, out: np.ndarray) -> None:
    length = a.info[slot, KEY_LEN]
    block = a.info[slot, FIRST]
    done = 0
    while done < length:
        take = min(bs, length - done)
        out[done : done + take] = a.blocks[block * bs : block * bs + take]
        done += take
        block = a.links[block]


def _arrays(table: SlotTable, blocks: np.ndarray) -> Arrays:
    return Arrays(table.meta, blocks, table.links, table.free_blocks, table.info, table.free_slots)


def _slot_table_of(a: Arrays) -> SlotTable:
    return SlotTable(a.meta, a.links, a.free_blocks, a.info, a.free_slots)


class NumpyStorage(SlotTableStorage):
    """Storage in host memory. Not thread-safe: the engine serialises calls."""

    name = "numpy"

    def __init__(self, slots: int = 1024, blocks: int = 4096, block_bytes: int = DEFAULT_BLOCK_BYTES) -> None:
        self.block_bytes = block_bytes
        self._a = _arrays(new_slot_table(slots, blocks), np.zeros(blocks * block_bytes, dtype=np.uint8))
        self._index = new_slot_index(slots)
        self._hashes = np.zeros(slots, dtype=np.uint64)  # each slot's key hash, to remove it from the index
        # find_read_one's values land here first: one compiled call finds and copies a GET's value.
        self._value_scratch = np.empty(VALUE_SCRATCH_BYTES, dtype=np.uint8)
        self._value_view = self._value_scratch.data  # sliced for the copy out: cheaper than NumPy's slice

    # -- capacity ----------------------------------------------------------------------------

    @property
    def _table(self) -> SlotTable:
        return self._a  # type: ignore[return-value]

    def bytes_per_slot(self) -> int:
        return INFO_COLUMNS * 8 + 4 + 8 + index_bytes_per_entry()

    def bytes_per_block(self) -> int:
        return self.block_bytes + LINK_BYTES + 4  # the block, its link, its free-stack cell

    def grow(self, slots: int, blocks: int) -> None:
        old = self._a
        n, b = len(old.info), len(old.links)
        slots, blocks = max(slots, n), max(blocks, b)
        if slots == n and blocks == b:
            return
        pool = np.zeros(blocks * self.block_bytes, dtype=np.uint8)
        pool[: len(old.blocks)] = old.blocks
        self._a = _arrays(grown_slot_table(_slot_table_of(old), slots, blocks), pool)
        if slots > n:
            self._index = grown_slot_index(self._index, slots)
            hashes = np.zeros(slots, dtype=np.uint64)
            hashes[:n] = self._hashes
            self._hashes = hashes

    # -- keys and values ---------------------------------------------------------------------

    def find(self, tenant: int, keys: KeyBatch, hashes: np.ndarray) -> np.ndarray:
        out = np.empty(len(keys), dtype=np.int32)
        _find(self._a, self._index, self.block_bytes, tenant, hashes, keys.data, keys.offsets, keys.lengths, out)
        return out

    def find_read_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        a, ix = self._a, self._index
        return a.info, a.blocks, a.links, ix.hashes, ix.slots, self.block_bytes

    def find_read(
        self, tenant: int, keys: KeyBatch, expires: np.ndarray, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray, bytes, np.ndarray, int]:
        a, ix = self._a, self._index
        hashes, slots, values, lengths, expired = find_read_batch(
            a.info,
            a.blocks,
            a.links,
            ix.hashes,
            ix.slots,
            self.block_bytes,
            tenant,
            keys.data,
            keys.offsets,
            keys.lengths,
            expires,
            now_ms,
        )
        return hashes, slots, values.tobytes(), lengths, int(expired)

    def find_one(self, tenant: int, key: bytes) -> tuple[int, int]:
        a, ix = self._a, self._index
        slot, h = _find_one(a.info, a.blocks, a.links, ix.hashes, ix.slots, self.block_bytes, tenant, key)
        return slot, h

    def insert(self, tenant: int, keys: KeyBatch, hashes: np.ndarray, values: KeyBatch) -> np.ndarray:
        out = np.empty(len(keys), dtype=np.int32)
        _insert(
            self._a,
            self._index,
            self.block_bytes,
            tenant,
            hashes,
            keys.data,
            keys.offsets,
            keys.lengths,
            values.data,
            values.offsets,
            values.lengths,
            out,
        )
        self._hashes[out] = hashes
        return out

    def insert_one(self, tenant: int, key: bytes, key_hash: int, value: bytes) -> int:
        a, ix = self._a, self._index
        slot = _insert_one(
            a.meta,
            a.blocks,
            a.links,
            a.free_blocks,
            a.info,
            a.free_slots,
            ix.hashes,
            ix.slots,
            ix.filled,
            self.block_bytes,
            tenant,
            np.uint64(key_hash),
            np.frombuffer(key, dtype=np.uint8),
            np.frombuffer(value, dtype=np.uint8),
        )
        self._hashes[slot] = key_hash
        return int(slot)

    def replace_value(self, slot: int, value: bytes) -> None:
        a = self._a
        _replace_value_flat(
            a.meta,
            a.blocks,
            a.links,
            a.free_blocks,
            a.info,
            a.free_slots,
            self.block_bytes,
            slot,
            np.frombuffer(value, dtype=np.uint8),
        )

    def find_replace_one(
        self, tenant: int, key: bytes, value: bytes, expires: np.ndarray, now_ms: int
    ) -> tuple[int, int, bool]:
        a, ix = self._a, self._index
        if type(value) is not bytes:  # one compiled specialisation (SETRANGE and APPEND build bytearrays)
            value = bytes(value)
        slot, h, replaced = _find_replace_one(
            a.meta,
            a.blocks,
            a.links,
            a.free_blocks,
            a.info,
            a.free_slots,
            ix.hashes,
            ix.slots,
            self.block_bytes,
            tenant,
            key,
            value,
            expires,
            now_ms,
        )
        return slot, h, replaced

    def find_replace(
        self, tenant: int, keys: KeyBatch, hashes: np.ndarray, values: KeyBatch, expires: np.ndarray, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        a, ix = self._a, self._index
        return _find_replace(  # type: ignore[no-any-return]
            a.meta,
            a.blocks,
            a.links,
            a.free_blocks,
            a.info,
            a.free_slots,
            ix.hashes,
            ix.slots,
            self.block_bytes,
            tenant,
            hashes,
            keys.data,
            keys.offsets,
            keys.lengths,
            values.data,
            values.offsets,
            values.lengths,
            expires,
            now_ms,
        )

    def replace_values(self, slots: np.ndarray, values: KeyBatch) -> None:
        _replace_values(
            self._a, self.block_bytes, np.asarray(slots, dtype=np.int32), values.data, values.offsets, values.lengths
        )

    def erase(self, slots: np.ndarray) -> None:
        slots = np.asarray(slots, dtype=np.int32)
        _erase(self._a, self._index, self._hashes[np.maximum(slots, 0)], slots)

    def read(self, slots: np.ndarray) -> tuple[bytes, np.ndarray]:
        a = self._a
        out, lengths = _read(a.info, a.blocks, a.links, self.block_bytes, np.asarray(slots, dtype=np.int32))
        return out.tobytes(), lengths

    def find_read_one(self, tenant: int, key: bytes) -> tuple[int, int, bytes | None]:
        a, ix, out = self._a, self._index, self._value_scratch
        slot, h, n = _find_read_one(a.info, a.blocks, a.links, ix.hashes, ix.slots, self.block_bytes, tenant, key, out)
        if slot < 0:
            return slot, h, None
        return slot, h, self._value_view[:n].tobytes() if n <= len(out) else self.read_one(slot)

    def read_one(self, slot: int) -> bytes:
        a = self._a
        out = np.empty(a.info[slot, VALUE_LEN], dtype=np.uint8)
        _read_one(a.info, a.blocks, a.links, self.block_bytes, slot, out)
        return out.tobytes()

    def key_of(self, slot: int) -> bytes:
        out = np.empty(int(self._a.info[slot, KEY_LEN]), dtype=np.uint8)
        _read_key(self._a, self.block_bytes, slot, out)
        return out.tobytes()
