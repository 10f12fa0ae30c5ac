"""The GPU storage backend: values and the hash index in GPU memory, custom CUDA kernels via CuPy.

What lives where, and why:

* On the GPU: the block pool (every key and value byte), the block links, a copy of the three
  slot-table columns a lookup needs (tenant, key length, first block) and the open-addressing hash
  index. Lookups and byte copies are the work that scales with the data, so they run there: one
  thread per key probes the index and compares full keys by walking block chains in device memory.
* On the host: the free-slot and free-block stacks, the whole slot table, every slot's key hash and
  a mirror of the block links. Allocation is sequential bookkeeping that needs answers at once
  (which slot, which blocks); doing it against host mirrors costs no device round trip. The host
  turns each request into a list of byte segments (chain offset, buffer offset, length, never more
  than one block) that a single copy kernel moves in parallel, one thread per byte.

The host mirror follows exactly the same allocation order as ``NumpyStorage``, so both backends
hand out the same slot and block numbers for the same sequence of calls.

The index has ``2 * slots`` cells, at most half live. Erasing turns a cell into a tombstone (a
backward shift is awkward in parallel); when tombstones pass a quarter of the cells the index is
rebuilt from the host's list of live slots, so at least a quarter of the cells always stay empty
and every probe ends. Cells are claimed with ``atomicCAS``, so many keys of one batch may share a
hash. The home cell is ``hash % cells``, which keeps the cell count, and so the memory charged per
slot, exact.

CuPy is imported lazily: without it (or without a CUDA device) this module still imports and
``cuda_available()`` answers False; only constructing ``CupyStorage`` fails.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numba
import numpy as np

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
from predis.services.cache.engine.storage import DEFAULT_BLOCK_BYTES, LINK_BYTES, KeyBatch, blocks_needed

try:
    import cupy as cp
except ImportError:  # the module must still import so that cuda_available() can say no
    cp = None

_NIL = NIL
# Columns of the device slot table: what find_keys reads of a candidate slot.
_DEVICE_COLUMNS = 3
# Rows of a segment plan: byte offset in the block pool, offset in the other buffer, length.
CHAIN, OTHER, LENGTH = range(3)
_CELLS_PER_SLOT = 2
_THREADS = 256

_KERNELS = r"""
#define EMPTY (-1)
#define TOMBSTONE (-2)

extern "C" {

__device__ __forceinline__ long long next_cell(long long cell, long long cells) {
    return cell + 1 == cells ? 0 : cell + 1;
}

// Whether the chain starting at `block` begins with the `length` bytes at `key`.
__device__ bool chain_starts_with(const unsigned char* blocks, const int* links, long long bs, int block,
                                  const unsigned char* key, long long length) {
    long long done = 0;
    while (done < length) {
        const long long take = length - done < bs ? length - done : bs;
        const unsigned char* p = blocks + (long long)block * bs;
        for (long long j = 0; j < take; ++j) {
            if (p[j] != key[done + j]) return false;
        }
        done += take;
        block = links[block];
    }
    return true;
}

// One thread per key: the slot holding (tenant, key), or -1. Only full-key matches count.
__global__ void find_keys(const unsigned long long* cell_hashes, const int* cell_slots, long long cells,
                          const int* slot_meta, const unsigned char* blocks, const int* links, long long bs,
                          int tenant, const unsigned char* data, const long long* offsets,
                          const long long* lengths, const unsigned long long* hashes, long long n, int* out) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const unsigned long long h = hashes[i];
    const long long length = lengths[i];
    const unsigned char* key = data + offsets[i];
    long long cell = (long long)(h % (unsigned long long)cells);
    int found = EMPTY;
    for (;;) {
        const int slot = cell_slots[cell];
        if (slot == EMPTY) break;
        if (slot >= 0 && cell_hashes[cell] == h) {
            const int* meta = slot_meta + 3LL * slot;
            if (meta[0] == tenant && (long long)meta[1] == length &&
                chain_starts_with(blocks, links, bs, meta[2], key, length)) {
                found = slot;
                break;
            }
        }
        cell = next_cell(cell, cells);
    }
    out[i] = found;
}

// One thread per entry: claims the first empty cell from the hash's home. atomicCAS lets entries
// with equal hashes race for cells; each wins a different one.
__global__ void index_insert(unsigned long long* cell_hashes, int* cell_slots, long long cells,
                             const unsigned long long* hashes, const int* slots, long long n) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const unsigned long long h = hashes[i];
    long long cell = (long long)(h % (unsigned long long)cells);
    while (atomicCAS(&cell_slots[cell], EMPTY, slots[i]) != EMPTY) {
        cell = next_cell(cell, cells);
    }
    cell_hashes[cell] = h;
}

// One thread per erased slot (distinct slots): turns its cell into a tombstone. Other threads only
// ever change other slots' cells, and only to TOMBSTONE, so concurrent probes stay correct.
__global__ void index_remove(int* cell_slots, long long cells, const unsigned long long* hashes,
                             const int* slots, long long n) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int slot = slots[i];
    long long cell = (long long)(hashes[i] % (unsigned long long)cells);
    for (;;) {
        const int s = cell_slots[cell];
        if (s == slot) {
            cell_slots[cell] = TOMBSTONE;
            return;
        }
        if (s == EMPTY) return;
        cell = next_cell(cell, cells);
    }
}

// `width` threads per segment, one per byte: dst[dst_off[s] + j] = src[src_off[s] + j] for j < lengths[s].
__global__ void copy_segments(const unsigned char* src, unsigned char* dst, const long long* src_off,
                              const long long* dst_off, const long long* lengths, long long segments,
                              long long width) {
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long s = t / width;
    if (s >= segments) return;
    const long long j = t - s * width;
    if (j < lengths[s]) dst[dst_off[s] + j] = src[src_off[s] + j];
}

}
"""


class _Kernels(NamedTuple):
    find_keys: Any
    index_insert: Any
    index_remove: Any
    copy_segments: Any


@functools.cache
def _kernels() -> _Kernels:
    module = cp.RawModule(code=_KERNELS)
    return _Kernels(*(module.get_function(name) for name in _Kernels._fields))


def _launch(kernel: Any, threads: int, args: tuple[Any, ...]) -> None:
    if threads > 0:
        kernel(((threads + _THREADS - 1) // _THREADS,), (_THREADS,), args)


def cuda_available() -> bool:
    """Whether CuPy is installed and sees at least one CUDA device; never raises."""
    if cp is None:
        return False
    try:
        return int(cp.cuda.runtime.getDeviceCount()) > 0
    except Exception:  # no driver, a driver too old for the runtime, no device
        return False


# -- host bookkeeping (Numba) ----------------------------------------------------------------


@numba.njit(cache=True)
def _chain_segments(
    links: np.ndarray, bs: int, first: int, pos: int, length: int, other: int, segs: np.ndarray, k: int
) -> int:
    """Appends to ``segs`` (from column ``k``) the pieces of bytes ``[pos, pos + length)`` of the
    chain at ``first``, paired with ``other + done`` in a flat buffer; returns the new count."""
    block = first
    while pos >= bs:
        block = links[block]
        pos -= bs
    done = 0
    while done < length:
        take = min(bs - pos, length - done)
        segs[CHAIN, k] = block * bs + pos
        segs[OTHER, k] = other + done
        segs[LENGTH, k] = take
        k += 1
        done += take
        pos = 0
        block = links[block]
    return k


@numba.njit(cache=True)
def _plan_insert(
    h: SlotTable,
    bs: int,
    tenant: int,
    koffs: np.ndarray,
    klens: np.ndarray,
    voffs: np.ndarray,
    vlens: np.ndarray,
    out: np.ndarray,
    taken: np.ndarray,
    segs: np.ndarray,
) -> int:
    """Allocates a slot and a chain per entry (as NumpyStorage does), records the chains' blocks in
    ``taken`` and the bytes to write in ``segs``; returns the number of segments."""
    t = 0
    k = 0
    for i in range(len(klens)):
        top = h.meta[FREE_SLOT_TOP] - 1
        h.meta[FREE_SLOT_TOP] = top
        slot = h.free_slots[top]
        n = max(1, (klens[i] + vlens[i] + bs - 1) // bs)
        first = take_chain(h.meta, h.links, h.free_blocks, n)
        block = first
        for _ in range(n):
            taken[t] = block
            t += 1
            block = h.links[block]
        h.info[slot, TENANT] = tenant
        h.info[slot, KEY_LEN] = klens[i]
        h.info[slot, VALUE_LEN] = vlens[i]
        h.info[slot, FIRST] = first
        h.info[slot, NBLOCKS] = n
        k = _chain_segments(h.links, bs, first, 0, klens[i], koffs[i], segs, k)
        k = _chain_segments(h.links, bs, first, klens[i], vlens[i], voffs[i], segs, k)
        out[i] = slot
    return k


@numba.njit(cache=True)
def _plan_replace(h: SlotTable, bs: int, slot: int, vlen: int, chain: np.ndarray, segs: np.ndarray) -> int:
    """Resizes the slot's chain for a value of ``vlen`` bytes (as NumpyStorage does), lists the
    chain's blocks in ``chain`` and the value's pieces in ``segs``; returns the number of segments."""
    klen = h.info[slot, KEY_LEN]
    need = max(1, (klen + vlen + bs - 1) // bs)
    have = h.info[slot, NBLOCKS]
    if need > have:
        # Extend the chain at its end.
        last = h.info[slot, FIRST]
        while h.links[last] != _NIL:
            last = h.links[last]
        h.links[last] = take_chain(h.meta, h.links, h.free_blocks, need - have)
    elif need < have:
        last = h.info[slot, FIRST]
        for _ in range(need - 1):
            last = h.links[last]
        release_chain(h.meta, h.links, h.free_blocks, h.links[last])
        h.links[last] = _NIL
    h.info[slot, NBLOCKS] = need
    h.info[slot, VALUE_LEN] = vlen
    block = h.info[slot, FIRST]
    for j in range(need):
        chain[j] = block
        block = h.links[block]
    return _chain_segments(h.links, bs, h.info[slot, FIRST], klen, vlen, 0, segs, 0)


@numba.njit(cache=True)
def _erase_host(h: SlotTable, slots: np.ndarray, erased: np.ndarray) -> int:
    """Frees live slots and their chains (each once); lists them in ``erased``; returns how many."""
    m = 0
    for i in range(len(slots)):
        slot = slots[i]
        if slot < 0 or h.info[slot, TENANT] < 0:
            continue
        release_chain(h.meta, h.links, h.free_blocks, h.info[slot, FIRST])
        h.info[slot, TENANT] = _NIL
        top = h.meta[FREE_SLOT_TOP]
        h.free_slots[top] = slot
        h.meta[FREE_SLOT_TOP] = top + 1
        erased[m] = slot
        m += 1
    return m


@numba.njit(cache=True)
def _plan_read(h: SlotTable, bs: int, slots: np.ndarray, lengths: np.ndarray, segs: np.ndarray) -> int:
    """The pieces of the slots' values, packed back to back in slot order; returns their number."""
    pos = 0
    k = 0
    for i in range(len(slots)):
        slot = slots[i]
        if slot < 0:
            lengths[i] = 0
            continue
        vlen = h.info[slot, VALUE_LEN]
        lengths[i] = vlen
        k = _chain_segments(h.links, bs, h.info[slot, FIRST], h.info[slot, KEY_LEN], vlen, pos, segs, k)
        pos += vlen
    return k


# -- the backend -----------------------------------------------------------------------------


class CupyStorage(SlotTableStorage):
    """Storage in GPU memory, indexed on the GPU; bookkeeping mirrored on the host.

    Not thread-safe: the engine serialises calls. All device work runs on CuPy's current stream,
    so kernels see each other's writes in call order without explicit synchronisation; results
    come back through one device-to-host copy per ``find``, ``read`` and ``key_of``.
    """

    name = "cupy"

    def __init__(self, slots: int = 1024, blocks: int = 4096, block_bytes: int = DEFAULT_BLOCK_BYTES) -> None:
        if not cuda_available():
            raise RuntimeError("the cupy storage backend needs CuPy and a CUDA device (pip install 'predis[gpu]')")
        self.block_bytes = block_bytes
        self._k = _kernels()
        self._h = new_slot_table(slots, blocks)
        self._hashes = np.zeros(slots, dtype=np.uint64)  # each slot's key hash, to find its index cell
        self._blocks = cp.zeros(blocks * block_bytes, dtype=cp.uint8)
        self._links = cp.full(blocks, _NIL, dtype=cp.int32)
        self._slot_meta = cp.full((slots, _DEVICE_COLUMNS), _NIL, dtype=cp.int32)
        self._rebuild_index()

    # -- capacity ----------------------------------------------------------------------------

    @property
    def _table(self) -> SlotTable:
        return self._h

    def bytes_per_slot(self) -> int:
        host = INFO_COLUMNS * 8 + 8 + 4  # slot table, hash, free-stack cell
        device = _DEVICE_COLUMNS * 4 + _CELLS_PER_SLOT * (8 + 4)  # slot table copy, index cells
        return host + device

    def bytes_per_block(self) -> int:
        # The block and its link on the device; the link's mirror and a free-stack cell on the host.
        return self.block_bytes + LINK_BYTES + LINK_BYTES + 4

    def grow(self, slots: int, blocks: int) -> None:
        old = self._h
        n, b = len(old.info), len(old.links)
        slots, blocks = max(slots, n), max(blocks, b)
        if slots == n and blocks == b:
            return
        self._h = grown_slot_table(old, slots, blocks)
        if blocks > b:
            pool = cp.zeros(blocks * self.block_bytes, dtype=cp.uint8)
            pool[: self._blocks.size] = self._blocks
            links = cp.full(blocks, _NIL, dtype=cp.int32)
            links[:b] = self._links
            self._blocks, self._links = pool, links
        if slots > n:
            hashes = np.zeros(slots, dtype=np.uint64)
            hashes[:n] = self._hashes
            self._hashes = hashes
            meta = cp.full((slots, _DEVICE_COLUMNS), _NIL, dtype=cp.int32)
            meta[:n] = self._slot_meta
            self._slot_meta = meta
            self._rebuild_index()

    # -- keys and values ---------------------------------------------------------------------

    def find(self, tenant: int, keys: KeyBatch, hashes: np.ndarray) -> np.ndarray:
        n = len(keys)
        if n == 0:
            return np.empty(0, dtype=np.int32)
        # Offsets, lengths and hashes travel as one upload.
        rows = np.empty((3, n), dtype=np.int64)
        rows[0] = keys.offsets
        rows[1] = keys.lengths
        rows[2] = np.asarray(hashes, dtype=np.uint64).view(np.int64)
        d_rows = cp.asarray(rows)
        data = cp.asarray(np.ascontiguousarray(keys.data, dtype=np.uint8))
        out = cp.empty(n, dtype=cp.int32)
        index = (self._cell_hashes, self._cell_slots, np.int64(self._cells))
        pool = (self._slot_meta, self._blocks, self._links, np.int64(self.block_bytes))
        batch = (np.int32(tenant), data, d_rows[0], d_rows[1], d_rows[2], np.int64(n), out)
        _launch(self._k.find_keys, n, (*index, *pool, *batch))
        return out.get()

    def find_read_one(self, tenant: int, key: bytes) -> tuple[int, int, bytes | None]:
        slot, h = self.find_one(tenant, key)
        return slot, h, self.read_one(slot) if slot >= 0 else None

    def find_replace_one(
        self, tenant: int, key: bytes, value: bytes, expires: np.ndarray, now_ms: int
    ) -> tuple[int, int, bool]:
        # Composed: on a device, a fused kernel would save launches, not the transfers.
        slot, h = self.find_one(tenant, key)
        if slot < 0 or 0 != int(expires[slot]) <= now_ms:
            return slot, h, False
        need = blocks_needed(self.block_bytes, len(key), len(value))
        if need > int(self._h.info[slot, NBLOCKS]):  # the host's table of slots
            return slot, h, False
        self.replace_value(slot, value)
        return slot, h, True

    def find_replace(
        self, tenant: int, keys: KeyBatch, hashes: np.ndarray, values: KeyBatch, expires: np.ndarray, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        slots = self.find(tenant, keys, hashes)
        found = slots >= 0
        safe = np.maximum(slots, 0)
        live = found & ((expires[safe] == 0) | (expires[safe] > now_ms))
        need = blocks_needed(self.block_bytes, keys.lengths, values.lengths)
        replaced = live & (need <= self._h.info[safe, NBLOCKS])  # the host's table of slots
        chosen = np.flatnonzero(replaced)
        if len(chosen):
            self.replace_values(slots[chosen], values.pick(chosen))
        return slots, replaced

    def find_one(self, tenant: int, key: bytes) -> tuple[int, int]:
        # The batch path of one key: a kernel launch costs more than the batch's set-up.
        batch = KeyBatch.of([key])
        hashes = self.hashes(tenant, batch)
        return int(self.find(tenant, batch, hashes)[0]), int(hashes[0])

    def insert(self, tenant: int, keys: KeyBatch, hashes: np.ndarray, values: KeyBatch) -> np.ndarray:
        n = len(keys)
        out = np.empty(n, dtype=np.int32)
        if n == 0:
            return out
        bs = self.block_bytes
        klens = np.asarray(keys.lengths, dtype=np.int64)
        vlens = np.asarray(values.lengths, dtype=np.int64)
        kdata = np.ascontiguousarray(keys.data, dtype=np.uint8)
        vdata = np.ascontiguousarray(values.data, dtype=np.uint8)
        # Keys and values are copied from one buffer: keys first, values after them.
        source = np.concatenate([kdata, vdata])
        voffs = np.asarray(values.offsets, dtype=np.int64) + len(kdata)
        taken = np.empty(int(np.sum(blocks_needed(bs, klens, vlens))), dtype=np.int32)
        segs = np.empty((3, int(np.sum(klens // bs + vlens // bs + 3))), dtype=np.int64)
        k = _plan_insert(
            self._h, bs, tenant, np.asarray(keys.offsets, dtype=np.int64), klens, voffs, vlens, out, taken, segs
        )
        hashes = np.asarray(hashes, dtype=np.uint64)
        self._hashes[out] = hashes
        self._links[cp.asarray(taken)] = cp.asarray(self._h.links[taken])
        meta = np.empty((n, _DEVICE_COLUMNS), dtype=np.int32)
        meta[:, 0] = tenant
        meta[:, 1] = klens
        meta[:, 2] = self._h.info[out, FIRST]
        d_out = cp.asarray(out)
        self._slot_meta[d_out] = cp.asarray(meta)
        self._write(source, segs[:, :k])
        self._index_add(cp.asarray(np.ascontiguousarray(hashes)), d_out, n)
        return out

    def insert_one(self, tenant: int, key: bytes, key_hash: int, value: bytes) -> int:
        hashes = np.array([key_hash], dtype=np.uint64)
        return int(self.insert(tenant, KeyBatch.of([key]), hashes, KeyBatch.of([value]))[0])

    def replace_value(self, slot: int, value: bytes) -> None:
        bs = self.block_bytes
        data = np.frombuffer(value, dtype=np.uint8)
        chain = np.empty(int(blocks_needed(bs, int(self._h.info[slot, KEY_LEN]), len(data))), dtype=np.int32)
        segs = np.empty((3, len(data) // bs + 2), dtype=np.int64)
        k = _plan_replace(self._h, bs, slot, len(data), chain, segs)
        # The first block never changes, so the device slot table stays valid; the links may.
        self._links[cp.asarray(chain)] = cp.asarray(self._h.links[chain])
        self._write(data, segs[:, :k])

    def replace_values(self, slots: np.ndarray, values: KeyBatch) -> None:
        for i, slot in enumerate(slots.tolist()):
            self.replace_value(slot, values.item(i))

    def erase(self, slots: np.ndarray) -> None:
        slots = np.asarray(slots, dtype=np.int32)
        erased = np.empty(len(slots), dtype=np.int32)
        m = _erase_host(self._h, slots, erased)
        if m == 0:
            return
        erased = erased[:m]
        args = (self._cell_slots, np.int64(self._cells), cp.asarray(self._hashes[erased]), cp.asarray(erased))
        _launch(self._k.index_remove, m, (*args, np.int64(m)))
        self._tombstones += m
        if self._tombstones > self._cells // 4:
            self._rebuild_index()

    def read(self, slots: np.ndarray) -> tuple[bytes, np.ndarray]:
        slots = np.asarray(slots, dtype=np.int32)
        lengths = np.empty(len(slots), dtype=np.uint32)
        value_lengths = self._h.info[slots[slots >= 0], VALUE_LEN]
        segs = np.empty((3, int(np.sum(value_lengths // self.block_bytes + 2))), dtype=np.int64)
        k = _plan_read(self._h, self.block_bytes, slots, lengths, segs)
        return self._gather(int(value_lengths.sum()), segs[:, :k]), lengths

    def read_one(self, slot: int) -> bytes:
        return self.read(np.array([slot], dtype=np.int32))[0]

    def key_of(self, slot: int) -> bytes:
        length = int(self._h.info[slot, KEY_LEN])
        segs = np.empty((3, length // self.block_bytes + 2), dtype=np.int64)
        k = _chain_segments(self._h.links, self.block_bytes, int(self._h.info[slot, FIRST]), 0, length, 0, segs, 0)
        return self._gather(length, segs[:, :k])

    # -- device helpers ----------------------------------------------------------------------

    def _copy(self, src: Any, dst: Any, src_off: Any, dst_off: Any, lengths: Any, segments: int) -> None:
        width = self.block_bytes  # no segment is longer than a block
        args = (src, dst, src_off, dst_off, lengths, np.int64(segments), np.int64(width))
        _launch(self._k.copy_segments, segments * width, args)

    def _write(self, source: np.ndarray, segs: np.ndarray) -> None:
        """Copies the planned pieces of the host buffer ``source`` into the block pool."""
        if segs.shape[1] == 0:
            return
        d_segs = cp.asarray(np.ascontiguousarray(segs))
        d_source = cp.asarray(source)
        self._copy(d_source, self._blocks, d_segs[OTHER], d_segs[CHAIN], d_segs[LENGTH], segs.shape[1])

    def _gather(self, total: int, segs: np.ndarray) -> bytes:
        """The planned pieces of the block pool, packed into ``total`` bytes on the host."""
        if total == 0:
            return b""
        out = cp.empty(total, dtype=cp.uint8)
        d_segs = cp.asarray(np.ascontiguousarray(segs))
        self._copy(self._blocks, out, d_segs[CHAIN], d_segs[OTHER], d_segs[LENGTH], segs.shape[1])
        return out.get().tobytes()

    def _index_add(self, d_hashes: Any, d_slots: Any, n: int) -> None:
        args = (self._cell_hashes, self._cell_slots, np.int64(self._cells), d_hashes, d_slots, np.int64(n))
        _launch(self._k.index_insert, n, args)

    def _rebuild_index(self) -> None:
        """A fresh index (sized for the slot capacity) holding every live slot; no tombstones."""
        self._cells = _CELLS_PER_SLOT * max(1, self.slot_capacity)
        self._cell_hashes = cp.zeros(self._cells, dtype=cp.uint64)
        self._cell_slots = cp.full(self._cells, _NIL, dtype=cp.int32)
        self._tombstones = 0
        live = np.flatnonzero(self._h.info[:, TENANT] >= 0).astype(np.int32)
        if len(live):
            self._index_add(cp.asarray(self._hashes[live]), cp.asarray(live), len(live))
