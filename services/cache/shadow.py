"""The cache's own measure of what prefetching gains: a keys-only shadow of plain S3-FIFO.

Beside the real cache, each tenant has a shadow that replays the same reads through the same
compiled S3-FIFO (``engine/policy.py``) at the same capacity and with the same per-entry charges,
but holds only key hashes and is never prefetched into. So every read is counted twice: a hit in
the real cache (with prefetching) and a hit in the shadow (without). Their difference over reads
is the live gain, the label drift detection and automatic rollback watch.

What the shadow assumes, and where it can differ from the real cache without prefetching:
- a miss is followed by a fill (a read-through or the client's SET), so the shadow inserts every
  key it misses; TTL expiries, deletes and flushes are not replayed;
- a key both caches missed is charged the mean charge of the real tenant's entries at that moment
  (the value's size is not known at the read); a key the real cache hit is charged exactly;
- capacity is the tenant's quota, or the whole budget without one: with several tenants sharing
  one budget the real cache may hold less, and the gain reads low;
- keys are told apart by 64-bit hash only (a collision, about 1 in 2^64 per pair, merges two keys).

The shadow is bounded: it grows its arrays as keys arrive, up to ``max_entries`` per tenant, and
past that evicts by its own policy to make room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from predis.services.cache.engine import policy as pol
from predis.services.cache.engine.hashing import hash_many
from predis.services.cache.engine.slot_index import (
    SlotIndex,
    cell_of,
    grown_slot_index,
    index_insert,
    index_remove,
    new_slot_index,
)
from predis.services.cache.engine.storage import KeyBatch

_FIRST_SLOTS = 1024
_EVICT_CHUNK = 64
HELD_HITS = 64  # hits held and replayed together (a compiled call each costs more than the replay)
_HELD_ROOM = 1024  # the most hits held at once: a read with more sampled keys is replayed at once


@numba.njit(cache=True)
def _replay(
    s: pol.PolicyState,
    ix: SlotIndex,
    free_slots: np.ndarray,
    free_top: np.ndarray,
    evicted: np.ndarray,
    key_hashes: np.ndarray,
    key_lengths: np.ndarray,
    found: np.ndarray,
    value_lengths: np.ndarray,
    terms: np.ndarray,
    sample_limit: int,
    counts: np.ndarray,
) -> None:
    """Replays the reads of the sampled keys (those whose hash in ``key_hashes`` has its top 16 bits below
    ``sample_limit``, of 65536) and adds to ``counts`` their number, the real cache's hits among
    them and the shadow's. A miss inserts the key (plain S3-FIFO), charged as the engine charges
    (``terms``: block bytes, bytes per block, bytes per entry, and the charge for a key whose value
    size is unknown, 0 to charge its key alone)."""
    reads = real = hits = 0
    block_bytes, per_block, fixed, unknown = terms[0], terms[1], terms[2], terms[3]
    rows, index_hashes, cells = s.slot, ix.hashes, ix.slots  # read once: see pol.touch_s3fifo
    for i in range(len(key_lengths)):
        h = key_hashes[i]
        if (h >> np.uint64(48)) >= sample_limit:
            continue
        reads += 1
        if found[i]:
            real += 1
        cell = cell_of(index_hashes, cells, h, -1)
        if cell >= 0:
            hits += 1
            pol.touch_s3fifo(rows, cells[cell])
            continue
        if found[i] or unknown == 0:
            value = value_lengths[i] if found[i] else 0
            size = max(1, -(-(key_lengths[i] + value) // block_bytes)) * per_block + fixed
        else:
            size = unknown
        ghost_hit = pol.ghost_take(s, h)
        if not pol.can_admit(s, 0, size):
            continue
        target = pol.capacity_of(s, 0) - size
        if free_top[0] == 0:  # at the entry bound: make room for one more, whatever the bytes say
            target = min(target, pol.used(s, 0) - 1)
        while pol.used(s, 0) > target:
            k = pol.evict_down_to(s, 0, target, evicted)
            if k == 0:
                break
            for j in range(k):
                v = evicted[j]
                index_remove(ix, s.keyhash[v], v)
                free_slots[free_top[0]] = v
                free_top[0] += 1
        if free_top[0] == 0:
            continue
        slot = free_slots[free_top[0] - 1]
        if pol.admit(s, 0, slot, size, h, ghost_hit, False):
            free_top[0] -= 1
            index_insert(ix, h, slot)
    counts[0] += reads
    counts[1] += real
    counts[2] += hits


MISSED = -1  # hold_hits: a sampled key was missed
FULL = -2  # hold_hits: its sampled keys do not fit beside those held


@numba.njit(cache=True)
def hold_hits(
    key_hashes: np.ndarray,
    key_lengths: np.ndarray,
    found: np.ndarray,
    value_lengths: np.ndarray,
    sample_limit: int,
    held_hashes: np.ndarray,
    held_key_lengths: np.ndarray,
    held_value_lengths: np.ndarray,
    held: int,
) -> int:
    """Appends a read's sampled keys (as ``_replay`` picks them) to the ``held`` ones when every
    one of them was found: replaying hits later is replaying them now, since a found key's charge
    is known. The number held after it; ``MISSED`` or ``FULL`` (nothing appended) when not."""
    count = 0
    for i in range(len(key_hashes)):
        if (key_hashes[i] >> np.uint64(48)) < sample_limit:
            if not found[i]:
                return MISSED  # its charge is the tenant's mean charge at this read
            count += 1
    if held + count > len(held_hashes):
        return FULL
    for i in range(len(key_hashes)):
        if (key_hashes[i] >> np.uint64(48)) < sample_limit:
            held_hashes[held] = key_hashes[i]
            held_key_lengths[held] = key_lengths[i]
            held_value_lengths[held] = value_lengths[i]
            held += 1
    return held


@dataclass
class QualityCounts:
    """Reads one tenant made, and how many hit with prefetching (the real cache) and without
    (the shadow)."""

    reads: int = 0
    hits: int = 0
    shadow_hits: int = 0

    @property
    def live_gain(self) -> float:
        """Hit-ratio points (as a fraction) prefetching added over these reads; 0 before any."""
        return (self.hits - self.shadow_hits) / self.reads if self.reads else 0.0

    def minus(self, earlier: QualityCounts) -> QualityCounts:
        return QualityCounts(
            self.reads - earlier.reads, self.hits - earlier.hits, self.shadow_hits - earlier.shadow_hits
        )


@dataclass
class _TenantShadow:
    state: pol.PolicyState
    index: SlotIndex
    free_slots: np.ndarray
    free_top: np.ndarray
    sample_limit: int = 1 << 16  # of 65536: the share of keys this tenant's shadow replays
    counts: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.int64))  # reads, hits, shadow hits

    @property
    def sample_rate(self) -> float:
        return self.sample_limit / (1 << 16)


class _OneRead:
    """One read's arrays, refilled for each one-key read the shadow replays (``_replay`` keeps none)."""

    def __init__(self) -> None:
        self.hashes = np.zeros(1, dtype=np.uint64)
        self.key_lengths = np.zeros(1, dtype=np.int64)
        self.found = np.zeros(1, dtype=np.bool_)
        self.value_lengths = np.zeros(1, dtype=np.uint32)


class ShadowCache:
    """Keys-only plain S3-FIFO per tenant. ``capacity_of(tenant)`` gives the real tenant's
    capacity in bytes, ``charge_terms`` the engine's (block bytes, bytes per block, bytes per
    entry), so that both caches charge an entry the same and ``mean_charge(tenant)`` the mean charge of the
    real tenant's entries now (0 when it holds none), for keys whose value size is unknown."""

    def __init__(
        self,
        capacity_of: Callable[[int], int],
        charge_terms: tuple[int, int, int],
        mean_charge: Callable[[int], int],
        max_entries: int = 1 << 20,
        sample_entries: int = 32_768,
        held_hits: int = HELD_HITS,
    ) -> None:
        """``sample_entries``: a tenant whose capacity holds more entries than this (at the charge
        of its first read's keys) has a sampled shadow, SHARDS-style (Waldspurger et al., FAST
        2015): only the keys in a fixed hash range of ``sample_entries / entries`` of them (a power
        of two, at least 1/64) are replayed, at that share of the capacity, and the hits counted are
        theirs, in both caches. A large cache's shadow then costs a small share of a read.
        ``held_hits``: how many sampled hits wait to be replayed together (0: each read as it comes)."""
        if max_entries < 1 or sample_entries < 1:
            raise ValueError("the shadow cache needs room for at least one entry")
        if not 0 <= held_hits <= _HELD_ROOM:
            raise ValueError(f"held_hits must be 0 to {_HELD_ROOM}")
        self.sample_entries = sample_entries
        self.capacity_of = capacity_of
        self._terms = np.array([*charge_terms, 0], dtype=np.int64)
        self.mean_charge = mean_charge
        self.max_entries = max_entries
        self._tenants: dict[int, _TenantShadow] = {}
        self._evicted = np.empty(_EVICT_CHUNK, dtype=np.int32)
        self._one = _OneRead()
        # One tenant's sampled hits not replayed yet, in order: a hit needs no mean charge, so
        # replaying them together later is replaying them one by one now. Anything that reads
        # the shadow, a miss and another tenant's read replay them first.
        self.held_hits = held_hits
        self._held_tenant = -1
        self._held = 0
        self._held_hashes = np.zeros(_HELD_ROOM, dtype=np.uint64)
        self._held_key_lengths = np.zeros(_HELD_ROOM, dtype=np.int64)
        self._held_value_lengths = np.zeros(_HELD_ROOM, dtype=np.uint32)
        self._held_found = np.ones(_HELD_ROOM, dtype=np.bool_)

    def observe(
        self,
        tenant: int,
        keys: KeyBatch,
        found: np.ndarray,
        prefetched: np.ndarray,
        lengths: np.ndarray,
        _: int,
        hashes: np.ndarray | None = None,
    ) -> None:
        """One read as the engine records it (an ``AccessListener``); ``hashes`` are the engine's
        own of the keys (computed here when not given)."""
        n = len(keys)
        if not n:
            return
        if self._held and tenant != self._held_tenant:
            self._replay_held()
        shadow = self._tenants.get(tenant) or self._new(tenant, int((keys.lengths + lengths).mean()))
        if hashes is None:
            hashes = hash_many(keys.data, keys.offsets, keys.lengths, tenant)
        held = self._hold(shadow, hashes, keys.lengths, found, lengths) if self.held_hits else MISSED
        if held == FULL and self._held:
            self._replay_held()
            held = self._hold(shadow, hashes, keys.lengths, found, lengths)
        if held >= 0:
            self.held(tenant, held)
            return
        # A sampled key missed (charged the tenant's mean charge now), more than the room, or no holding.
        self._replay_held()
        # One key: no NumPy reduction; more: count_nonzero, a third of the cost of ndarray.all().
        all_found = bool(found[0]) if n == 1 else np.count_nonzero(found) == n
        self._replay(shadow, tenant, n, all_found, hashes, keys.lengths, found, lengths)

    def _hold(
        self, shadow: _TenantShadow, hashes: np.ndarray, key_lengths: np.ndarray, found: np.ndarray, lengths: np.ndarray
    ) -> int:
        return hold_hits(
            hashes,
            key_lengths,
            found,
            lengths,
            shadow.sample_limit,
            self._held_hashes,
            self._held_key_lengths,
            self._held_value_lengths,
            self._held,
        )

    def compiled_hold_arrays(self, tenant: int) -> tuple[bool, int, np.ndarray, np.ndarray, np.ndarray, int] | None:
        """What ``hold_hits`` takes for a read of ``tenant``'s, for a compiled caller that holds the
        read's hits in the same call as it reads them (``compiled_read.py``): whether hits are
        held at all, the tenant's sample limit, the held arrays and how many they hold. Hits held
        for another tenant are replayed first, as :meth:`observe` would. None before the
        tenant's first read (:meth:`observe` sizes its sample from it). The caller then tells
        :meth:`held` what ``hold_hits`` answered, or :meth:`observe` the read when it did not hold it."""
        shadow = self._tenants.get(tenant)
        if shadow is None:
            return None
        if self._held and tenant != self._held_tenant:
            self._replay_held()
        return (
            self.held_hits > 0,
            shadow.sample_limit,
            self._held_hashes,
            self._held_key_lengths,
            self._held_value_lengths,
            self._held,
        )

    def held(self, tenant: int, held: int) -> None:
        """A compiled caller's ``hold_hits`` held a read of ``tenant``'s: ``held`` hits wait now (as
        :meth:`observe` goes on after it holds)."""
        self._held_tenant = tenant
        self._held = held
        if held >= self.held_hits:
            self._replay_held()

    def observe_one(
        self, tenant: int, key: bytes, key_hash: int, found: bool, _prefetched: bool, length: int, _: int
    ) -> None:
        """:meth:`observe` of one key's read (a ``OneReadListener``). A key outside its tenant's
        sample costs a comparison; a hit inside is held, written in place from Python (a compiled call
        costs more); a miss is replayed from scratch arrays kept for it."""
        shadow = self._tenants.get(tenant) or self._new(tenant, len(key) + length)
        if key_hash >> 48 >= shadow.sample_limit:
            return
        held = self._held
        if found and self.held_hits and (tenant == self._held_tenant or not held):
            self._held_tenant = tenant
            self._held_hashes[held] = key_hash
            self._held_key_lengths[held] = len(key)
            self._held_value_lengths[held] = length
            self._held = held = held + 1
            if held >= self.held_hits:
                self._replay_held()
            return
        if held:
            self._replay_held()
        one = self._one
        one.hashes[0], one.key_lengths[0], one.found[0], one.value_lengths[0] = key_hash, len(key), found, length
        self._replay(shadow, tenant, 1, found, one.hashes, one.key_lengths, one.found, one.value_lengths)

    def _replay(
        self,
        shadow: _TenantShadow,
        tenant: int,
        n: int,
        all_found: bool,
        hashes: np.ndarray,
        key_lengths: np.ndarray,
        found: np.ndarray,
        value_lengths: np.ndarray,
    ) -> None:
        self._make_room(shadow, n)
        self._terms[3] = 0 if all_found else self.mean_charge(tenant)
        shadow.state.tenant[0, pol.CAPACITY] = int(self.capacity_of(tenant) * shadow.sample_rate)
        _replay(
            shadow.state,
            shadow.index,
            shadow.free_slots,
            shadow.free_top,
            self._evicted,
            hashes,
            key_lengths,
            found,
            value_lengths,
            self._terms,
            shadow.sample_limit,
            shadow.counts,
        )

    def _replay_held(self) -> None:
        n = self._held
        if not n:
            return
        self._held = 0
        tenant = self._held_tenant
        self._replay(
            self._tenants[tenant],
            tenant,
            n,
            True,
            self._held_hashes[:n],
            self._held_key_lengths[:n],
            self._held_found[:n],
            self._held_value_lengths[:n],
        )

    def counts(self, tenant: int) -> QualityCounts:
        """Cumulative counts since start (zeros for a tenant with no reads yet)."""
        self._replay_held()
        shadow = self._tenants.get(tenant)
        return QualityCounts() if shadow is None else QualityCounts(*(int(c) for c in shadow.counts))

    def sample_rate(self, tenant: int) -> float:
        """Share of the tenant's keys its shadow replays (1.0 before its first read)."""
        shadow = self._tenants.get(tenant)
        return 1.0 if shadow is None else shadow.sample_rate

    def tenants(self) -> list[int]:
        return sorted(self._tenants)

    def entries(self, tenant: int) -> int:
        self._replay_held()
        shadow = self._tenants.get(tenant)
        return 0 if shadow is None else len(shadow.free_slots) - int(shadow.free_top[0])

    def _new(self, tenant: int, size: int) -> _TenantShadow:
        """The tenant's shadow, sampled for entries of ``size`` bytes of key and value (its first read's)."""
        block_bytes, per_block, fixed, _ = (int(t) for t in self._terms)
        entries = self.capacity_of(tenant) // (max(1, -(-size // block_bytes)) * per_block + fixed)
        limit = 1 << 16
        while limit > 1 << 10 and entries * limit >> 16 > self.sample_entries:
            limit >>= 1  # halve the sample until it fits (at least 1/64 of the keys)
        slots = min(_FIRST_SLOTS, self.max_entries)
        shadow = _TenantShadow(
            state=pol.new_policy_state(pol.S3FIFO, slots, 1, large_to_main=True),
            index=new_slot_index(slots),
            free_slots=np.arange(slots - 1, -1, -1, dtype=np.int32),
            free_top=np.array([slots], dtype=np.int64),
            sample_limit=limit,
        )
        self._tenants[tenant] = shadow
        return shadow

    def _make_room(self, shadow: _TenantShadow, wanted: int) -> None:
        """Grows the arrays (doubling, up to max_entries) so ``wanted`` inserts find free slots."""
        have = len(shadow.free_slots)
        if int(shadow.free_top[0]) >= wanted or have >= self.max_entries:
            return
        size = have
        while size - have + int(shadow.free_top[0]) < wanted and size < self.max_entries:
            size = min(2 * size, self.max_entries)
        shadow.state = pol.grow_policy_state(shadow.state, size, 1)
        shadow.index = grown_slot_index(shadow.index, size)
        top = int(shadow.free_top[0])
        free = np.empty(size, dtype=np.int32)
        free[: size - have] = np.arange(size - 1, have - 1, -1, dtype=np.int32)
        free[size - have : size - have + top] = shadow.free_slots[:top]
        shadow.free_slots = free
        shadow.free_top[0] = size - have + top


def warm_up() -> None:
    """Replays a few reads on a scratch shadow, so that its kernel compiles (or loads from
    Numba's on-disk cache) when the cache starts, not on the first read a client makes."""
    capacity = 64 * 1024
    shadow = ShadowCache(lambda _: capacity, (64, 64, 64), lambda _: 128, max_entries=64)
    keys = KeyBatch.of([b"k%d" % (i % 150) for i in range(400)])  # enough to evict and to fill the ghost
    n = len(keys)
    shadow.observe(0, keys, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), np.full(n, 10, dtype=np.uint32), 0)
    shadow.observe_one(0, b"k0", int(hash_many(keys.data, keys.offsets, keys.lengths, 0)[0]), True, False, 10, 0)
    shadow.counts(0)  # the held hit replayed
    found = np.ones(n, dtype=bool)
    shadow.observe(0, keys, found, found, np.full(n, 10, dtype=np.uint32), 0)  # hits: held, then replayed
    shadow.counts(0)
