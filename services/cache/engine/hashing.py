"""64-bit hashing of keys, compiled with Numba. Hashes only pick index buckets: every lookup
still compares the full key, so a collision can never return another key's value."""

from __future__ import annotations

import numba
import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PRIME = np.uint64(0x100000001B3)
_OFFSET = np.uint64(0xCBF29CE484222325)


@numba.njit(cache=True, inline="always")
def mix64(x: np.uint64) -> np.uint64:
    """splitmix64's finaliser: a bijection on 64-bit integers (distinct ids never collide)."""
    x = np.uint64(x)
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True)
def hash_bytes(data: np.ndarray, start: int, length: int, tenant: int) -> np.uint64:
    """Hash of ``data[start:start+length]`` in ``tenant``'s namespace (FNV-1a, then mixed)."""
    h = _OFFSET ^ mix64(np.uint64(tenant) + _GOLDEN)
    for i in range(start, start + length):
        h = (h ^ np.uint64(data[i])) * _PRIME
    return mix64(h ^ np.uint64(length))


@numba.njit(cache=True)
def hash_many(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, tenant: int) -> np.ndarray:
    out = np.empty(len(lengths), dtype=np.uint64)
    for i in range(len(lengths)):
        out[i] = hash_bytes(data, offsets[i], lengths[i], tenant)
    return out


@numba.njit(cache=True)
def hash_id(obj_id: np.uint64, tenant: int) -> np.uint64:
    """Hash of an integer object id (the replay tool's keys); distinct ids never collide."""
    return mix64(np.uint64(obj_id) ^ mix64(np.uint64(tenant) + _GOLDEN))


@numba.njit(cache=True)
def has_repeats(hashes: np.ndarray) -> bool:
    """Whether any hash appears twice: each pair compared on a short batch (a pipeline's run),
    a sorted copy on a longer one (NumPy's unique costs several times either)."""
    n = len(hashes)
    if n <= 64:
        for i in range(n):
            for j in range(i + 1, n):
                if hashes[i] == hashes[j]:
                    return True
        return False
    ordered = np.sort(hashes)
    return bool((ordered[1:] == ordered[:-1]).any())
