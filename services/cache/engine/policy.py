"""Eviction policies over slot ids: LRU and S3-FIFO, compiled with Numba.

One implementation serves the cache service (sizes in bytes) and the replay tool (sizes of 1), so
what replay measures is what the service does. The policy knows slots, their sizes and owners
(tenants); it never sees keys or values. Each tenant has its own queues and capacity, so one
tenant's inserts can only evict that tenant's entries.

S3-FIFO follows libCacheSim's ``S3FIFO.c`` (Yang et al., SOSP 2023): a small FIFO of 10% of the
capacity, a main FIFO with a 2-bit clock, and a ghost FIFO of evicted ids sized 90% of the
capacity; new keys enter the small FIFO (or the main one when the ghost remembers them, or while
nothing has been evicted yet and the small FIFO is full); an entry leaving the small FIFO moves to
the main one if it was read at least twice, else its id goes to the ghost. Prefetched entries always
enter the small FIFO (the probationary queue) and leave it without a trace in the ghost unless a
client read them; under LRU they enter at the cold end.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

LRU = 1
S3FIFO = 2
POLICIES = {"lru": LRU, "s3fifo": S3FIFO}

SMALL = 1
MAIN = 2
_NIL = -1
_FREQ_CAP = 100  # frequencies saturate here; S3-FIFO only compares them with 1, 2 and 3

SMALL_RATIO = 0.10
GHOST_RATIO = 0.90
MOVE_TO_MAIN_THRESHOLD = 2

# Columns of PolicyState.slot (one row per slot; rows keep a slot's fields in one cache line).
PREV, NEXT, QUEUE, FREQ, OWNER, SIZE, PREFETCHED = range(7)
_SLOT_COLUMNS = 7
# Columns of PolicyState.tenant. HEAD is the newest entry of a queue, TAIL the oldest.
HEAD_SMALL, HEAD_MAIN, TAIL_SMALL, TAIL_MAIN, BYTES_SMALL, BYTES_MAIN = range(6)
CAPACITY, HAS_EVICTED, GHOST_HEAD, GHOST_TAIL, GHOST_BYTES = range(6, 11)
_TENANT_COLUMNS = 11
# Columns of PolicyState.ghost.
G_PREV, G_NEXT, G_OWNER, G_SIZE = range(4)
# PolicyState.meta. LARGE_TO_MAIN: 0 follows libCacheSim, which never caches an entry as large as
# the small queue; 1 (the service) puts such an entry in the main queue instead of refusing it.
KIND, GHOST_FREE_TOP, LARGE_TO_MAIN = range(3)


class PolicyState(NamedTuple):
    """The arrays the compiled functions work on. Few arrays on purpose: Numba pays for every
    array passed to a function, so fields live in columns of a handful of 2-D arrays."""

    meta: np.ndarray  # int64[3]: KIND, GHOST_FREE_TOP, LARGE_TO_MAIN
    slot: np.ndarray  # int32[N, 7]
    keyhash: np.ndarray  # uint64[N]
    tenant: np.ndarray  # int64[T, 11]
    ghost: np.ndarray  # int64[G, 4]
    ghost_hash: np.ndarray  # uint64[G]
    ghost_free: np.ndarray  # int64[G]: stack of free ghost nodes
    ghost_index_keys: np.ndarray  # uint64[M]
    ghost_index_nodes: np.ndarray  # int64[M]: ghost node, -1 when empty


def _new_tenants(count: int) -> np.ndarray:
    table = np.zeros((count, _TENANT_COLUMNS), dtype=np.int64)
    table[:, [HEAD_SMALL, HEAD_MAIN, TAIL_SMALL, TAIL_MAIN, GHOST_HEAD, GHOST_TAIL]] = _NIL
    return table


def new_policy_state(
    kind: int, slots: int, tenants: int, ghost_nodes: int | None = None, large_to_main: bool = False
) -> PolicyState:
    """Empty state for ``slots`` entries and ``tenants`` tenants (capacities start at 0)."""
    ghosts = max(1, slots if ghost_nodes is None else ghost_nodes)
    cells = 1 << max(4, int(2 * ghosts - 1).bit_length())
    slot = np.zeros((slots, _SLOT_COLUMNS), dtype=np.int32)
    slot[:, [PREV, NEXT]] = _NIL
    ghost = np.zeros((ghosts, 4), dtype=np.int64)
    ghost[:, [G_PREV, G_NEXT]] = _NIL
    return PolicyState(
        meta=np.array([kind, ghosts, int(large_to_main)], dtype=np.int64),
        slot=slot,
        keyhash=np.zeros(slots, dtype=np.uint64),
        tenant=_new_tenants(tenants),
        ghost=ghost,
        ghost_hash=np.zeros(ghosts, dtype=np.uint64),
        ghost_free=np.arange(ghosts - 1, -1, -1, dtype=np.int64),
        ghost_index_keys=np.zeros(cells, dtype=np.uint64),
        ghost_index_nodes=np.full(cells, _NIL, dtype=np.int64),
    )


def grow_policy_state(state: PolicyState, slots: int, tenants: int) -> PolicyState:
    """A copy of ``state`` with room for more slots and tenants; the ghost grows with the slots."""
    n, t, g = len(state.slot), len(state.tenant), len(state.ghost)
    slot = np.zeros((slots, _SLOT_COLUMNS), dtype=np.int32)
    slot[:, [PREV, NEXT]] = _NIL
    slot[:n] = state.slot
    keyhash = np.zeros(slots, dtype=np.uint64)
    keyhash[:n] = state.keyhash
    tenant = _new_tenants(tenants)
    tenant[:t] = state.tenant
    grown = state._replace(slot=slot, keyhash=keyhash, tenant=tenant)
    if slots <= g:
        return grown
    ghost = np.zeros((slots, 4), dtype=np.int64)
    ghost[:, [G_PREV, G_NEXT]] = _NIL
    ghost[:g] = state.ghost
    ghost_hash = np.zeros(slots, dtype=np.uint64)
    ghost_hash[:g] = state.ghost_hash
    top = int(state.meta[GHOST_FREE_TOP])
    ghost_free = np.concatenate([state.ghost_free[:top], np.arange(slots - 1, g - 1, -1)]).astype(np.int64)
    cells = 1 << max(4, int(2 * slots - 1).bit_length())
    meta = state.meta.copy()
    meta[GHOST_FREE_TOP] = len(ghost_free)
    grown = grown._replace(
        meta=meta,
        ghost=ghost,
        ghost_hash=ghost_hash,
        ghost_free=np.concatenate([ghost_free, np.zeros(slots - len(ghost_free), np.int64)]),
        ghost_index_keys=np.zeros(cells, dtype=np.uint64),
        ghost_index_nodes=np.full(cells, _NIL, dtype=np.int64),
    )
    _rebuild_ghost_index(grown)
    return grown


def bytes_per_slot() -> int:
    """Memory the policy holds per slot (the row and the key hash; the ghost adds as much again)."""
    return _SLOT_COLUMNS * 4 + 8 + 4 * 8 + 8 + 8 + 2 * 16


# -- queues ---------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _unlink(s: PolicyState, slot: int) -> None:
    sl, tn = s.slot, s.tenant
    q = sl[slot, QUEUE]
    if q == 0:
        return
    t = sl[slot, OWNER]
    p, n = sl[slot, PREV], sl[slot, NEXT]
    if p != _NIL:
        sl[p, NEXT] = n
    else:
        tn[t, HEAD_SMALL + q - 1] = n
    if n != _NIL:
        sl[n, PREV] = p
    else:
        tn[t, TAIL_SMALL + q - 1] = p
    sl[slot, PREV] = _NIL
    sl[slot, NEXT] = _NIL
    sl[slot, QUEUE] = 0
    tn[t, BYTES_SMALL + q - 1] -= sl[slot, SIZE]


@numba.njit(cache=True, inline="always")
def _push(s: PolicyState, slot: int, t: int, q: int, at_head: bool) -> None:
    sl, tn = s.slot, s.tenant
    head_col, tail_col = HEAD_SMALL + q - 1, TAIL_SMALL + q - 1
    if at_head:
        old = tn[t, head_col]
        sl[slot, PREV] = _NIL
        sl[slot, NEXT] = old
        if old != _NIL:
            sl[old, PREV] = slot
        else:
            tn[t, tail_col] = slot
        tn[t, head_col] = slot
    else:
        old = tn[t, tail_col]
        sl[slot, NEXT] = _NIL
        sl[slot, PREV] = old
        if old != _NIL:
            sl[old, NEXT] = slot
        else:
            tn[t, head_col] = slot
        tn[t, tail_col] = slot
    sl[slot, QUEUE] = q
    sl[slot, OWNER] = t
    tn[t, BYTES_SMALL + q - 1] += sl[slot, SIZE]


# -- ghost ----------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _ghost_cell(keys: np.ndarray, nodes: np.ndarray, h: np.uint64) -> int:
    """The index cell holding ``h``, or -(empty cell where it would go)-1."""
    mask = len(keys) - 1
    i = np.int64(h & np.uint64(mask))
    while True:
        if nodes[i] == _NIL:
            return -i - 1
        if keys[i] == h:
            return i
        i = (i + 1) & mask


@numba.njit(cache=True)
def _ghost_index_delete(keys: np.ndarray, nodes: np.ndarray, cell: int) -> None:
    # Backward-shift deletion keeps linear probing correct without tombstones.
    mask = len(keys) - 1
    i = cell
    j = i
    while True:
        j = (j + 1) & mask
        if nodes[j] == _NIL:
            break
        home = np.int64(keys[j] & np.uint64(mask))
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            keys[i] = keys[j]
            nodes[i] = nodes[j]
            i = j
    nodes[i] = _NIL


@numba.njit(cache=True)
def _ghost_drop(s: PolicyState, node: int) -> None:
    g, tn = s.ghost, s.tenant
    t = g[node, G_OWNER]
    p, n = g[node, G_PREV], g[node, G_NEXT]
    if p != _NIL:
        g[p, G_NEXT] = n
    else:
        tn[t, GHOST_HEAD] = n
    if n != _NIL:
        g[n, G_PREV] = p
    else:
        tn[t, GHOST_TAIL] = p
    tn[t, GHOST_BYTES] -= g[node, G_SIZE]
    cell = _ghost_cell(s.ghost_index_keys, s.ghost_index_nodes, s.ghost_hash[node])
    if cell >= 0:
        _ghost_index_delete(s.ghost_index_keys, s.ghost_index_nodes, cell)
    top = s.meta[GHOST_FREE_TOP]
    s.ghost_free[top] = node
    s.meta[GHOST_FREE_TOP] = top + 1


@numba.njit(cache=True)
def ghost_take(s: PolicyState, h: np.uint64) -> bool:
    """Forgets ``h`` if the ghost remembers it; True when it did (S3-FIFO's "hit on ghost")."""
    cell = _ghost_cell(s.ghost_index_keys, s.ghost_index_nodes, h)
    if cell < 0:
        return False
    _ghost_drop(s, s.ghost_index_nodes[cell])
    return True


@numba.njit(cache=True)
def _ghost_add(s: PolicyState, t: int, h: np.uint64, size: int) -> None:
    g, tn = s.ghost, s.tenant
    ghost_cap = np.int64(tn[t, CAPACITY] * GHOST_RATIO)
    if size > ghost_cap or _ghost_cell(s.ghost_index_keys, s.ghost_index_nodes, h) >= 0:
        return
    while tn[t, GHOST_BYTES] + size > ghost_cap and tn[t, GHOST_TAIL] != _NIL:
        _ghost_drop(s, tn[t, GHOST_TAIL])
    if s.meta[GHOST_FREE_TOP] == 0:
        if tn[t, GHOST_TAIL] == _NIL:
            return
        _ghost_drop(s, tn[t, GHOST_TAIL])
    top = s.meta[GHOST_FREE_TOP] - 1
    s.meta[GHOST_FREE_TOP] = top
    node = s.ghost_free[top]
    s.ghost_hash[node] = h
    g[node, G_SIZE] = size
    g[node, G_OWNER] = t
    g[node, G_PREV] = _NIL
    old = tn[t, GHOST_HEAD]
    g[node, G_NEXT] = old
    if old != _NIL:
        g[old, G_PREV] = node
    else:
        tn[t, GHOST_TAIL] = node
    tn[t, GHOST_HEAD] = node
    tn[t, GHOST_BYTES] += size
    cell = -_ghost_cell(s.ghost_index_keys, s.ghost_index_nodes, h) - 1
    s.ghost_index_keys[cell] = h
    s.ghost_index_nodes[cell] = node


@numba.njit(cache=True)
def _rebuild_ghost_index(s: PolicyState) -> None:
    for t in range(len(s.tenant)):
        node = s.tenant[t, GHOST_HEAD]
        while node != _NIL:
            cell = -_ghost_cell(s.ghost_index_keys, s.ghost_index_nodes, s.ghost_hash[node]) - 1
            s.ghost_index_keys[cell] = s.ghost_hash[node]
            s.ghost_index_nodes[cell] = node
            node = s.ghost[node, G_NEXT]


# -- the policy -----------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def used(s: PolicyState, t: int) -> np.int64:
    return s.tenant[t, BYTES_SMALL] + s.tenant[t, BYTES_MAIN]


@numba.njit(cache=True, inline="always")
def small_capacity(s: PolicyState, t: int) -> np.int64:
    return np.int64(s.tenant[t, CAPACITY] * SMALL_RATIO)


@numba.njit(cache=True, inline="always")
def touch(s: PolicyState, slot: int) -> None:
    """A read hit on ``slot``."""
    sl = s.slot
    sl[slot, PREFETCHED] = 0  # a real read: from now on it is an ordinary entry
    if s.meta[KIND] == LRU:
        t = sl[slot, OWNER]
        _unlink(s, slot)
        _push(s, slot, t, MAIN, True)
    elif sl[slot, FREQ] < _FREQ_CAP:
        sl[slot, FREQ] += 1


@numba.njit(cache=True, inline="always")
def touch_s3fifo(slot_rows: np.ndarray, slot: int) -> None:
    """:func:`touch` under S3-FIFO, given the slot table itself: a hot loop reads ``s.slot`` once
    instead of on every hit (each field read from the state pays two reference counts, about ten
    times the cost of the hit itself)."""
    slot_rows[slot, PREFETCHED] = 0
    if slot_rows[slot, FREQ] < _FREQ_CAP:
        slot_rows[slot, FREQ] += 1


@numba.njit(cache=True, inline="always")
def can_admit(s: PolicyState, t: int, size: int) -> bool:
    """Whether an entry of ``size`` may enter at all (checked before anything is evicted)."""
    if s.meta[KIND] == S3FIFO and s.meta[LARGE_TO_MAIN] == 0:
        return size <= small_capacity(s, t) and size <= s.tenant[t, CAPACITY]
    return size <= s.tenant[t, CAPACITY]


@numba.njit(cache=True)
def _evict_small(s: PolicyState, t: int) -> int:
    sl, tn = s.slot, s.tenant
    while tn[t, TAIL_SMALL] != _NIL:
        slot = tn[t, TAIL_SMALL]
        _unlink(s, slot)
        if sl[slot, FREQ] >= MOVE_TO_MAIN_THRESHOLD:
            sl[slot, FREQ] = 0
            _push(s, slot, t, MAIN, True)
        else:
            # The ghost remembers keys that were asked for; an unread prefetch never was.
            if sl[slot, PREFETCHED] == 0:
                _ghost_add(s, t, s.keyhash[slot], sl[slot, SIZE])
            return slot
    return _NIL


@numba.njit(cache=True)
def _evict_main(s: PolicyState, t: int) -> int:
    sl, tn = s.slot, s.tenant
    while tn[t, TAIL_MAIN] != _NIL:
        slot = tn[t, TAIL_MAIN]
        f = sl[slot, FREQ]
        _unlink(s, slot)
        if f >= 1:
            sl[slot, FREQ] = min(f, 3) - 1
            _push(s, slot, t, MAIN, True)
        else:
            return slot
    return _NIL


@numba.njit(cache=True)
def evict_one(s: PolicyState, t: int) -> int:
    """Removes one of tenant ``t``'s entries from the policy and returns its slot (-1: none)."""
    tn = s.tenant
    if s.meta[KIND] == LRU:
        slot = tn[t, TAIL_MAIN]
        if slot != _NIL:
            _unlink(s, slot)
        return slot
    tn[t, HAS_EVICTED] = 1
    while used(s, t) > 0:
        main_cap = tn[t, CAPACITY] - small_capacity(s, t)
        from_main = tn[t, BYTES_MAIN] > main_cap or tn[t, BYTES_SMALL] == 0
        # The small queue may only move its entries to main; then the loop goes round again.
        slot = _evict_main(s, t) if from_main else _evict_small(s, t)
        if slot != _NIL:
            return slot
    return _NIL


@numba.njit(cache=True)
def evict_down_to(s: PolicyState, t: int, target: int, out: np.ndarray) -> int:
    """Evicts ``t``'s entries until it holds at most ``target``; writes the evicted slots into
    ``out`` and returns how many (stops early when ``out`` is full: call again)."""
    n = 0
    while used(s, t) > target and n < len(out):
        slot = evict_one(s, t)
        if slot == _NIL:
            break
        out[n] = slot
        n += 1
    return n


@numba.njit(cache=True)
def admit(s: PolicyState, t: int, slot: int, size: int, h: np.uint64, ghost_hit: bool, prefetch: bool) -> bool:
    """Inserts a new entry (room must have been made). False when S3-FIFO declines it."""
    sl, tn = s.slot, s.tenant
    sl[slot, SIZE] = size
    sl[slot, FREQ] = 0
    sl[slot, OWNER] = t
    sl[slot, PREFETCHED] = 1 if prefetch else 0
    s.keyhash[slot] = h
    if s.meta[KIND] == LRU:
        _push(s, slot, t, MAIN, not prefetch)
        return True
    if prefetch:
        _push(s, slot, t, SMALL, True)
        return True
    if ghost_hit:
        _push(s, slot, t, MAIN, True)
        return True
    small_cap = small_capacity(s, t)
    if size >= small_cap:
        if s.meta[LARGE_TO_MAIN] == 0:
            return False
        _push(s, slot, t, MAIN, True)
        return True
    if tn[t, HAS_EVICTED] == 0 and tn[t, BYTES_SMALL] >= small_cap:
        _push(s, slot, t, MAIN, True)
    else:
        _push(s, slot, t, SMALL, True)
    return True


@numba.njit(cache=True, inline="always")
def forget(s: PolicyState, slot: int) -> None:
    """Removes an entry that was deleted, expired or replaced (not an eviction: no ghost)."""
    _unlink(s, slot)


@numba.njit(cache=True)
def resize(s: PolicyState, slot: int, new_size: int) -> None:
    """Changes the size charged for an entry in place (an overwrite with a new value)."""
    resize_rows(s.slot, s.tenant, slot, new_size)


@numba.njit(cache=True, inline="always")
def resize_rows(slot_rows: np.ndarray, tenant_rows: np.ndarray, slot: int, new_size: int) -> None:
    """:func:`resize` given the two tables it changes."""
    q = slot_rows[slot, QUEUE]
    if q != 0:
        tenant_rows[slot_rows[slot, OWNER], BYTES_SMALL + q - 1] += new_size - slot_rows[slot, SIZE]
    slot_rows[slot, SIZE] = new_size


@numba.njit(cache=True, inline="always")
def capacity_of(s: PolicyState, t: int) -> np.int64:
    return s.tenant[t, CAPACITY]
