"""What a storage backend does for the engine: hold keys and values by slot and find them.

The engine decides which slots live and die (policy, TTL, tenants, budget); a backend stores the
bytes and the index. Two backends implement this protocol and pass one contract test suite:
``NumpyStorage`` (CPU, default) and ``CupyStorage`` (GPU memory, custom kernels).

Keys and values are stored together in chains of fixed-size blocks, so any freed block serves any
new entry and memory never fragments. Every lookup compares the full key (and tenant), so a hash
collision can never return another key's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numba
import numpy as np

DEFAULT_BLOCK_BYTES = 64
# Per block: the block and its 4-byte link to the next one.
LINK_BYTES = 4


@numba.njit(cache=True)
def _offsets_of(lengths: np.ndarray) -> np.ndarray:
    """Where each item starts when items of ``lengths`` lie back to back (NumPy's cumulative
    sum and the array it shifts into cost several times this compiled loop on a short batch)."""
    out = np.empty(len(lengths), dtype=np.int64)
    start = 0
    for i in range(len(lengths)):
        out[i] = start
        start += lengths[i]
    return out


@numba.njit(cache=True)
def length_range(lengths: np.ndarray) -> tuple[int, int]:
    """The shortest and the longest of ``lengths`` (not empty), in one pass."""
    shortest = longest = lengths[0]
    for length in lengths:
        shortest, longest = min(shortest, length), max(longest, length)
    return shortest, longest


# Slotted, not frozen: a frozen dataclass's __init__ costs three times as much, and one is made per batch read or write.
@dataclass(slots=True)
class KeyBatch:
    """Keys packed as one buffer: key i is ``data[offsets[i]:offsets[i] + lengths[i]]``."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64
    lengths: np.ndarray  # int64

    @classmethod
    def from_blob(cls, blob: bytes, lengths: np.ndarray) -> KeyBatch:
        lengths = lengths.astype(np.int64, copy=False)
        return cls(np.frombuffer(blob, dtype=np.uint8), _offsets_of(lengths), lengths)

    @classmethod
    def of(cls, items: list[bytes]) -> KeyBatch:
        if len(items) == 1:  # the single-key calls (GET, SET) skip the join and the cumulative sum
            key = items[0]
            lengths = np.array([len(key)], dtype=np.int64)
            return cls(np.frombuffer(key, dtype=np.uint8), np.zeros(1, dtype=np.int64), lengths)
        return cls.from_blob(b"".join(items), np.fromiter(map(len, items), dtype=np.int64, count=len(items)))

    def __len__(self) -> int:
        return len(self.lengths)

    def pick(self, indices: np.ndarray) -> KeyBatch:
        """The items at ``indices``, in that order (a view of the same buffer)."""
        return KeyBatch(self.data, self.offsets[indices], self.lengths[indices])

    def item(self, i: int) -> bytes:
        start = int(self.offsets[i])
        return self.data[start : start + int(self.lengths[i])].tobytes()


class Storage(Protocol):
    """A slot-addressed store of (tenant, key, value) with an exact-match index."""

    name: str
    block_bytes: int

    @property
    def slot_capacity(self) -> int: ...

    @property
    def block_capacity(self) -> int: ...

    @property
    def free_slot_count(self) -> int: ...

    @property
    def free_block_count(self) -> int: ...

    @property
    def allocated_bytes(self) -> int:
        """Memory held by the backend's arrays, used or not."""
        ...

    def bytes_per_slot(self) -> int:
        """Memory one more slot costs in the backend (metadata and index)."""
        ...

    def bytes_per_block(self) -> int:
        """Memory one more block costs in the backend (the block, its link, its free-stack cell)."""
        ...

    def grow(self, slots: int, blocks: int) -> None:
        """Makes room for at least ``slots`` slots and ``blocks`` blocks in all."""
        ...

    def hashes(self, tenant: int, keys: KeyBatch) -> np.ndarray:
        """uint64 hash per key in ``tenant``'s namespace (the same on every backend)."""
        ...

    def find(self, tenant: int, keys: KeyBatch, hashes: np.ndarray) -> np.ndarray:
        """int32 slot per key, -1 where the tenant has no such key."""
        ...

    def find_one(self, tenant: int, key: bytes) -> tuple[int, int]:
        """``find`` of one key with its ``hashes``: its slot (-1 when absent) and its hash."""
        ...

    def insert(self, tenant: int, keys: KeyBatch, hashes: np.ndarray, values: KeyBatch) -> np.ndarray:
        """Stores new entries (keys not present); returns their slots. Needs free slots and blocks."""
        ...

    def insert_one(self, tenant: int, key: bytes, key_hash: int, value: bytes) -> int:
        """``insert`` of one entry; its slot."""
        ...

    def replace_value(self, slot: int, value: bytes) -> None:
        """Overwrites the value of a live slot (enough free blocks must exist for growth)."""
        ...

    def find_replace_one(
        self, tenant: int, key: bytes, value: bytes, expires: np.ndarray, now_ms: int
    ) -> tuple[int, int, bool]:
        """``find_one`` and, when the key is found, its entry live (``expires``, engine
        milliseconds, 0 for never, after ``now_ms``) and ``value`` needs no more blocks than the
        entry holds, ``replace_value``: the slot (-1 when absent), the hash, and whether it
        wrote. Otherwise nothing changes, and the engine decides (drop the expired entry, or
        store the larger value as a new entry)."""
        ...

    def find_replace(
        self, tenant: int, keys: KeyBatch, hashes: np.ndarray, values: KeyBatch, expires: np.ndarray, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`find_replace_one` of a batch of distinct keys, their ``hashes`` given: the slots
        (``find``'s) and a mask of the entries it wrote."""
        ...

    def replace_values(self, slots: np.ndarray, values: KeyBatch) -> None:
        """``replace_value`` of each of ``slots`` (distinct) with the value at its place in ``values``."""
        ...

    def erase(self, slots: np.ndarray) -> None:
        """Frees the slots' blocks, removes them from the index and frees the slots."""
        ...

    def read(self, slots: np.ndarray) -> tuple[bytes, np.ndarray]:
        """Values of ``slots`` packed back to back, and their uint32 lengths (0 where slot < 0)."""
        ...

    def read_one(self, slot: int) -> bytes:
        """The value of a live slot."""
        ...

    def find_read_one(self, tenant: int, key: bytes) -> tuple[int, int, bytes | None]:
        """``find_one`` and ``read_one`` of a GET: the slot (-1 when absent), the hash, the value
        (None when absent)."""
        ...

    def find_read_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int] | None:
        """What ``numpy_storage._find_read`` takes before the tenant (the slot table, the index,
        the block size), for a compiled caller that reads in the same call as it records the
        read; None where reads are not CPU-compiled code (CuPy's). Read afresh for each call:
        a ``grow`` replaces them."""
        ...

    def find_read(
        self, tenant: int, keys: KeyBatch, expires: np.ndarray, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray, bytes, np.ndarray, int]:
        """``hashes``, ``find`` and ``read`` of a batch read in one call: the hashes, the slots,
        the values and their lengths, and how many keys were found expired. A slot whose
        ``expires`` (engine milliseconds, 0 for never) is at or before ``now_ms`` is returned
        as found but its value is not read (length 0): the engine decides what expiry does."""
        ...

    def key_of(self, slot: int) -> bytes: ...

    def value_length(self, slots: np.ndarray) -> np.ndarray: ...

    def blocks_of(self, slots: np.ndarray) -> np.ndarray: ...

    def slots_of_tenant(self, tenant: int) -> np.ndarray: ...

    def hash_of(self, slots: np.ndarray) -> np.ndarray: ...


def blocks_needed(block_bytes: int, key_len: np.ndarray | int, value_len: np.ndarray | int) -> np.ndarray | int:
    """Blocks an entry of these lengths occupies (key and value share the chain; at least one)."""
    total = np.asarray(key_len) + np.asarray(value_len)
    return np.maximum(1, -(-total // block_bytes))
