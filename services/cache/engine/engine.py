"""The cache engine: tenants, memory budget and TTLs over a storage backend and an eviction
policy. Plain Python and compiled kernels; no gRPC, no asyncio. What became of prefetches is not
counted here but in the cache domain (``prefetch_outcomes.py``); the engine only marks prefetched
entries for the policy and charges the bytes they hold unread.

Memory. Each entry is charged what it really holds: its blocks (key and value share a chain of
fixed-size blocks, the last one partly empty) plus a fixed per-entry cost for the slot table,
index cells and policy metadata. The sum of charges never exceeds the budget; neither does the
memory the backend has allocated, which grows in steps as entries arrive.

Tenants. Every tenant has its own eviction queues: a tenant's writes only ever evict its own
entries. A tenant's quota (or, without one, the whole budget) is the capacity of its queues. When
the budget is full and the writing tenant holds nothing to evict, the write is refused.

Time. Expiry times are kept in milliseconds of ``clock_ns`` (monotonic by default), so a step of
the wall clock never expires or revives entries. Absolute times (:meth:`Engine.expire_at`,
:meth:`Engine.expires_at_ms`) are Unix milliseconds of ``wall_clock_ns``, converted at the call
through the two clocks' offset at that moment: a wall-clock step after the call does not move
the expiry, as a relative TTL would not move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numba
import numpy as np

from predis.services.cache.engine import batch_policy as bp
from predis.services.cache.engine import policy as pol
from predis.services.cache.engine.hashing import has_repeats
from predis.services.cache.engine.storage import DEFAULT_BLOCK_BYTES, KeyBatch, Storage, blocks_needed, length_range
from predis.services.runtime.errors import InvalidInput, Overloaded

MAX_KEY_BYTES = 64 * 1024
MAX_EXPIRY_MS = (1 << 63) - 1  # as Redis: an expiry time is a signed 64-bit count of milliseconds
_EVICT_CHUNK = 256
_GROWTH = 1.5


class Condition(Enum):
    ALWAYS = "always"
    IF_ABSENT = "if_absent"
    IF_PRESENT = "if_present"


class Counter:
    """Columns of the per-tenant counter table."""

    HITS, MISSES, EVICTIONS, ORIGIN_FETCHES, ORIGIN_ERRORS, ENTRIES, MEMORY, EXPIRED = range(8)
    PREFETCH_BYTES = 8  # bytes held now by prefetched entries nobody has read yet
    COUNT = 9


@dataclass(frozen=True)
class EngineConfig:
    """
    Attributes:
        memory_bytes: the budget for entries and the memory that holds them.
        max_value_bytes: largest value accepted.
        max_batch_keys: most keys one batch call may name.
        policy: ``s3fifo`` (default) or ``lru``.
        block_bytes: block size of the value store.
        tenant_quota_bytes: default quota of every tenant; 0 lets a tenant use the whole budget.
        tenant_quotas: quotas of named tenants, overriding the default.
    """

    memory_bytes: int
    max_value_bytes: int = 1024 * 1024
    max_batch_keys: int = 100_000
    policy: str = "s3fifo"
    block_bytes: int = DEFAULT_BLOCK_BYTES
    tenant_quota_bytes: int = 0
    tenant_quotas: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.policy not in pol.POLICIES:
            raise ValueError(f"policy {self.policy!r} is not one of {', '.join(pol.POLICIES)}")
        if self.memory_bytes < 64 * 1024:
            raise ValueError("memory budget must be at least 64 KiB")


# Slotted, not frozen: a frozen dataclass's __init__ costs three times as much, and one is made per batch read.
@dataclass(slots=True)
class BatchRead:
    """The answer to a batch read, values packed in key order."""

    values: bytes
    lengths: np.ndarray  # uint32 per key (0 where not found)
    found: np.ndarray  # bool per key
    prefetched: np.ndarray  # bool per key: found because a prefetch loaded it
    hits: int  # keys found (``found.sum()``)
    prefetched_hits: int  # of those, found because a prefetch loaded them (``prefetched.sum()``)


@dataclass(frozen=True)
class TenantView:
    name: str
    quota_bytes: int
    counters: dict[str, int]


# Called with (tenant, keys, found, prefetched, value lengths, time in ns) after every read. Set
# by the engine's one owner: the cache domain (or a test or benchmark of the engine alone).
# (tenant id, keys, found, prefetched, value lengths, time in ns, the keys' hashes as the storage
# computed them: listeners that index keys reuse them instead of hashing again on the read path)
AccessListener = Callable[[int, KeyBatch, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray], None]
# The same of a read of one key (GET's), in scalars: (tenant id, key, its hash, found, prefetched,
# value length, time in ns). Building one-key arrays for a listener costs more than the read.
OneReadListener = Callable[[int, bytes, int, bool, bool, int, int], None]


class Engine:
    """A cache engine over ``storage``. Not thread-safe: one caller at a time (the event loop)."""

    def __init__(
        self,
        config: EngineConfig,
        storage: Storage,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self.storage = storage
        self.clock_ns = clock_ns
        self.wall_clock_ns = wall_clock_ns
        self.policy_name = config.policy
        self._policy = pol.new_policy_state(pol.POLICIES[config.policy], storage.slot_capacity, 4, large_to_main=True)
        self._expires = np.zeros(storage.slot_capacity, dtype=np.int64)  # monotonic ms; 0 = never
        self._ttl_entries = 0
        self._tenants: dict[str, int] = {}
        self._names: list[str] = []
        self._counters = np.zeros((4, Counter.COUNT), dtype=np.int64)
        self.memory_bytes = 0
        self.listener: AccessListener | None = None
        # Hears one-key reads instead of ``listener`` when set (its owner sets both).
        self.one_listener: OneReadListener | None = None
        self._evicted = np.empty(_EVICT_CHUNK, dtype=np.int32)
        fixed = storage.bytes_per_slot() + 8 + pol.bytes_per_slot()  # the expiry's 8 bytes
        self._charge_terms = (storage.block_bytes, storage.bytes_per_block(), fixed)

    # -- tenants -----------------------------------------------------------------------------

    def tenant_id(self, name: str) -> int:
        t = self._tenants.get(name)
        if t is not None:
            return t
        t = len(self._names)
        if t >= len(self._counters):
            size = 2 * len(self._counters)
            self._policy = pol.grow_policy_state(self._policy, len(self._policy.slot), size)
            counters = np.zeros((size, Counter.COUNT), dtype=np.int64)
            counters[:t] = self._counters
            self._counters = counters
        self._tenants[name] = t
        self._names.append(name)
        self._policy.tenant[t, pol.CAPACITY] = self.quota_of(name) or self.config.memory_bytes
        return t

    def tenant_names(self) -> list[str]:
        """Every tenant the engine has seen, in the order they came."""
        return list(self._names)

    def dump(self, tenant: str) -> tuple[list[bytes], bytes, np.ndarray, np.ndarray]:
        """Every live entry of ``tenant`` without touching the policy (for snapshots): keys,
        values (one blob and their lengths), and milliseconds left to live (-1: no expiry)."""
        t = self.tenant_id(tenant)
        slots = self.storage.slots_of_tenant(t)
        now = self.clock_ms()
        expires = self._expires[slots]
        live = (expires == 0) | (expires > now)
        slots, expires = slots[live], expires[live]
        values, lengths = self.storage.read(slots)
        keys = [self.storage.key_of(int(s)) for s in slots]
        return keys, values, lengths, np.where(expires == 0, -1, expires - now)

    def tenant_name(self, tenant: int) -> str:
        return self._names[tenant]

    def quota_of(self, name: str) -> int:
        return int(self.config.tenant_quotas.get(name, self.config.tenant_quota_bytes))

    def capacity_of(self, tenant: int) -> int:
        """Bytes ``tenant``'s queues may hold: its quota, or the whole budget without one."""
        # pol.capacity_of's column, read here: the shadow asks on every read, and a call into a
        # compiled function costs more than the read of one number.
        return int(self._policy.tenant[tenant, pol.CAPACITY])

    def mean_charge(self, tenant: int) -> int:
        """Mean bytes charged per entry ``tenant`` holds now; 0 when it holds none."""
        entries = int(self._counters[tenant, Counter.ENTRIES])
        if not entries:
            return 0
        return self._used(tenant) // entries

    def charge_terms(self) -> tuple[int, int, int]:
        """How an entry is charged against the budget: (block bytes, bytes per block, bytes per
        entry); an entry of key and value lengths k and v costs
        ``max(1, ceil((k + v) / block bytes)) * bytes per block + bytes per entry``."""
        return self._charge_terms

    def tenant_view(self, name: str) -> TenantView:
        row = self._counters[self.tenant_id(name)]
        names = [n for n in dir(Counter) if n.isupper() and n != "COUNT"]
        return TenantView(name, self.quota_of(name), {n.lower(): int(row[getattr(Counter, n)]) for n in names})

    def counter(self, name: str, counter: int) -> int:
        """One of ``name``'s counters (a column of :class:`Counter`)."""
        return int(self._counters[self.tenant_id(name), counter])

    def count(self, name: str, counter: int, amount: int = 1) -> None:
        self._counters[self.tenant_id(name), counter] += amount

    @property
    def entry_count(self) -> int:
        return int(self._counters[:, Counter.ENTRIES].sum())

    @property
    def allocated_bytes(self) -> int:
        return self.storage.allocated_bytes + len(self._expires) * (8 + pol.bytes_per_slot())

    # -- validation --------------------------------------------------------------------------

    def validate(self, keys: KeyBatch, values: KeyBatch | None = None, ttl_ms: int = 0) -> np.ndarray | None:
        """Raises for a batch that must not be stored; changes nothing. Answers the entries'
        charges (None without values)."""
        self.check_batch_size(len(keys))
        _check_keys(keys)
        self.check_ttl(ttl_ms, allow_nonpositive=False)
        if values is None:
            return None
        if len(values) != len(keys):
            raise InvalidInput(f"{len(keys)} keys but {len(values)} values; send one value per key")
        if len(keys) == 1:  # one entry: scalars, not a compiled call's arrays
            longest = int(values.lengths[0])
            charges = np.array([self.charge_of(int(keys.lengths[0]), longest)], dtype=np.int64)
            largest = int(charges[0])
        else:
            charges, longest, largest = _charges_of(keys.lengths, values.lengths, *self.charge_terms())
        if longest > self.config.max_value_bytes:
            raise InvalidInput(
                f"a value of {longest} bytes is larger than the maximum of {self.config.max_value_bytes} bytes "
                "(PREDIS_CACHE_MAX_VALUE_BYTES); nothing was stored"
            )
        if largest > self.config.memory_bytes // 4:
            raise Overloaded(
                f"an entry costing {largest} bytes is more than a quarter of the cache's memory "
                f"budget of {self.config.memory_bytes} bytes"
            )
        return charges

    def check_ttl(self, ttl_ms: int, allow_nonpositive: bool) -> None:
        """Refuses a TTL the cache cannot keep, before anything changes. The limit is Redis's:
        the expiry time, now plus ``ttl_ms`` in milliseconds, must fit a signed 64-bit integer."""
        if not isinstance(ttl_ms, (int, np.integer)) or isinstance(ttl_ms, bool):
            raise InvalidInput(f"ttl_ms must be an integer number of milliseconds, not {type(ttl_ms).__name__}")
        if ttl_ms == 0:  # no expiry: always kept (and no clock to read)
            return
        if ttl_ms < 0 and not allow_nonpositive:
            raise InvalidInput(f"ttl_ms must be 0 (no expiry) or positive, not {ttl_ms}")
        largest = MAX_EXPIRY_MS - self.clock_ms()
        if ttl_ms > largest:
            raise InvalidInput(
                f"ttl_ms {ttl_ms} is too large: the expiry must fit a signed 64-bit count of milliseconds, as in "
                f"Redis (at most {largest} now); nothing was changed"
            )

    def check_batch_size(self, count: int) -> None:
        if count > self.config.max_batch_keys:
            raise InvalidInput(
                f"a batch of {count} keys is more than the {self.config.max_batch_keys} one call may name "
                "(PREDIS_CACHE_MAX_BATCH_KEYS); split it; nothing was changed"
            )

    def clock_ms(self) -> int:
        """Now on the clock expiry times are kept in."""
        return self.clock_ns() // 1_000_000

    def wall_clock_ms(self) -> int:
        """Now in Unix milliseconds, for absolute expiry times."""
        return self.wall_clock_ns() // 1_000_000

    # -- reads -------------------------------------------------------------------------------

    def get_many(self, tenant: str, keys: KeyBatch) -> BatchRead:
        """Reads keys: counts hits and misses, refreshes the policy, drops expired entries."""
        self.check_batch_size(len(keys))
        _check_keys(keys)
        t = self.tenant_id(tenant)
        # Without entries that expire no deadline can pass: 0 spares reading the clock.
        now = self.clock_ms() if self._ttl_entries else 0
        hashes, slots, values, lengths, expired = self.storage.find_read(t, keys, self._expires, now)
        if expired:
            slots = self._drop_expired(t, slots, now)
        if self.policy_name == "s3fifo":
            found, prefetched, hits, prefetched_hits = read_counted_s3fifo(self._policy.slot, self._counters, t, slots)
        else:
            found, prefetched, hits, prefetched_hits, first_read = bp.read_found(self._policy, slots)
            row = self._counters[t]
            if first_read:  # first reads: these bytes no longer count as unused prefetches
                row[Counter.PREFETCH_BYTES] -= first_read
            row[Counter.HITS] += hits
            row[Counter.MISSES] += len(slots) - hits
        if self.listener is not None:
            self.listener(t, keys, found, prefetched, lengths, time.time_ns(), hashes)
        return BatchRead(values, lengths, found, prefetched, hits, prefetched_hits)

    def compiled_read_arrays(self, tenant: str) -> tuple[object, ...] | None:
        """What ``compiled_read.read_recorded`` takes of this engine for a batch read of
        ``tenant``'s keys (its :meth:`get_many` in the caller's compiled call): the tenant's id,
        the clock (0 without entries that expire), the storage's arrays, the expiries, the
        policy's rows and the counters. None where that read is not compiled: a policy other
        than S3-FIFO, a storage whose reads are not CPU code, a tenant with nothing read or
        written yet; :meth:`get_many` reads those. Read afresh for each read (growing replaces
        the arrays)."""
        t = self._tenants.get(tenant)
        if t is None or self.policy_name != "s3fifo":
            return None
        storage = self.storage.find_read_arrays()
        if storage is None:
            return None
        return (
            t,
            self.clock_ms() if self._ttl_entries else 0,
            *storage,
            self._expires,
            self._policy.slot,
            self._counters,
        )

    def get(self, tenant: str, key: bytes) -> tuple[bytes | None, bool]:
        """The value (None on a miss) and whether a prefetch had loaded it: :meth:`get_many` of
        one key, in scalars and two compiled calls (find and read, touch) instead of six, since
        GET's read is most of what a GET costs."""
        _check_key(key)
        t = self.tenant_id(tenant)
        slot, h, value = self.storage.find_read_one(t, key)
        if slot >= 0 and self._ttl_entries:
            slot = self._drop_expired_one(t, slot)
        counters = self._counters  # indexed [t, column]: a row's view would cost as much again
        prefetched = False
        if slot >= 0:
            if self.policy_name == "s3fifo":
                prefetched = _hit_counted_s3fifo(self._policy.slot, counters, t, slot)
            else:
                prefetched = bp.read_hit(self._policy, slot)
                if prefetched:  # a first read: these bytes no longer count as an unused prefetch
                    counters[t, Counter.PREFETCH_BYTES] -= int(self._policy.slot[slot, pol.SIZE])
                counters[t, Counter.HITS] += 1
        else:
            value = None  # absent, or expired just now
            counters[t, Counter.MISSES] += 1
        if self.one_listener is not None:
            self.one_listener(t, key, h, slot >= 0, prefetched, len(value) if value else 0, time.time_ns())
        elif self.listener is not None:
            tell_as_batch(self.listener, t, key, h, slot >= 0, prefetched, len(value) if value else 0, time.time_ns())
        return value, prefetched

    def exists(self, tenant: str, keys: Sequence[bytes]) -> int:
        """How many of ``keys`` are cached; a key named twice counts twice (as Redis EXISTS)."""
        return int(self.exists_mask(tenant, KeyBatch.of(list(keys))).sum())

    def exists_mask(self, tenant: str, keys: KeyBatch) -> np.ndarray:
        """Whether each key is cached, without counting a read or refreshing the policy."""
        _check_keys(keys)
        t = self.tenant_id(tenant)
        return self._drop_expired(t, self.storage.find(t, keys, self.storage.hashes(t, keys))) >= 0

    def ttl_ms(self, tenant: str, key: bytes) -> int:
        """Milliseconds ``key`` has left; -1 when it has no expiry, -2 when it is not cached."""
        slot = self._find_one(tenant, key)
        if slot < 0:
            return -2
        expires = int(self._expires[slot])
        return -1 if expires == 0 else max(0, expires - self.clock_ms())

    def expires_at_ms(self, tenant: str, key: bytes) -> int:
        """When ``key`` expires in Unix milliseconds; -1 when it has no expiry, -2 when it is not
        cached (Redis PEXPIRETIME)."""
        left = self.ttl_ms(tenant, key)
        return left if left < 0 else self.wall_clock_ms() + left

    def peek(self, tenant: str, key: bytes) -> bytes | None:
        """The cached value, read without counting a read, refreshing the policy or telling the
        listener (for read-modify-write commands); None when not cached."""
        slot = self._find_one(tenant, key)
        return self.storage.read_one(slot) if slot >= 0 else None

    def keys(self, tenant: str) -> list[bytes]:
        """Every live (unexpired) key of ``tenant``, in no particular order."""
        slots = self._live_slots(self.tenant_id(tenant))
        return [self.storage.key_of(int(s)) for s in slots]

    def key_count(self, tenant: str) -> int:
        """How many live (unexpired) keys ``tenant`` holds: ``len(keys(tenant))``, without the keys."""
        return len(self._live_slots(self.tenant_id(tenant)))

    # -- writes ------------------------------------------------------------------------------

    def set_many(
        self,
        tenant: str,
        keys: KeyBatch,
        values: KeyBatch,
        ttl_ms: int = 0,
        condition: Condition = Condition.ALWAYS,
        prefetch: bool = False,
        keep_ttl: bool = False,
    ) -> np.ndarray:
        """Stores values (validated first, all or nothing); returns a bool per key: stored or not
        (a condition not met, or S3-FIFO declining an entry too large for its small queue).
        ``keep_ttl``: an overwritten entry keeps its expiry (Redis KEEPTTL); a new one has none."""
        charges = self.validate(keys, values, ttl_ms)
        assert charges is not None
        if keep_ttl and ttl_ms:
            raise InvalidInput("keep_ttl keeps the expiry a key has; it cannot be combined with a ttl_ms")
        t = self.tenant_id(tenant)
        hashes = self.storage.hashes(t, keys)
        if len(keys) > 1 and has_repeats(hashes) and len({keys.item(i) for i in range(len(keys))}) != len(keys):
            raise InvalidInput("a key appears twice in one batch; send each key once")
        if condition is Condition.ALWAYS and not prefetch and len(keys) > 1:
            # The common batch (MSET, a pipeline's SETs): live entries whose new values fit their
            # blocks are found and written in one compiled call, the rest as below.
            needed = int(charges.sum())
            if needed > int(self._policy.tenant[t, pol.CAPACITY]):
                raise Overloaded(self._no_room_message(t, needed))
            now = self.clock_ms() if self._ttl_entries or ttl_ms else 0
            found, replaced = self.storage.find_replace(t, keys, hashes, values, self._expires, now)
            written, expires = np.flatnonzero(replaced), now + ttl_ms if ttl_ms else 0
            if len(written) == len(keys):
                self._rewrote_many(t, found, charges, expires, keep_ttl)
                return replaced
            if len(written):
                self._rewrote_many(t, found[written], charges[written], expires, keep_ttl)
                rest = np.flatnonzero(~replaced)
                replaced[rest] = self._set_found(
                    t, keys.pick(rest), values.pick(rest), hashes[rest], found[rest], charges[rest], ttl_ms,
                    condition, prefetch, keep_ttl,
                )  # fmt: skip
                return replaced
        else:
            found = self.storage.find(t, keys, hashes)
        return self._set_found(t, keys, values, hashes, found, charges, ttl_ms, condition, prefetch, keep_ttl)

    def _set_found(
        self,
        t: int,
        keys: KeyBatch,
        values: KeyBatch,
        hashes: np.ndarray,
        found: np.ndarray,
        charges: np.ndarray,
        ttl_ms: int,
        condition: Condition,
        prefetch: bool,
        keep_ttl: bool,
    ) -> np.ndarray:
        """:meth:`set_many`'s writes of a validated batch whose keys were found at ``found``."""
        slots = self._drop_expired(t, found)
        if len(keys) == 1:
            stored_one = self._set_one(
                t, int(slots[0]), keys.item(0), values.item(0), int(hashes[0]), int(charges[0]), ttl_ms, condition,
                prefetch, keep_ttl,
            )  # fmt: skip
            return np.array([stored_one])
        present = slots >= 0
        wanted = np.ones(len(keys), dtype=np.bool_)
        if condition is Condition.IF_ABSENT or prefetch:
            wanted &= ~present
        elif condition is Condition.IF_PRESENT:
            wanted &= present
        # More than the tenant can hold at all (its quota, or the budget) is refused before any
        # entry changes, not declined one by one after the overwrites removed the old values.
        needed = int(charges[wanted].sum())
        if needed > int(self._policy.tenant[t, pol.CAPACITY]):
            raise Overloaded(self._no_room_message(t, needed))
        stored = np.zeros(len(keys), dtype=np.bool_)
        expires = self.clock_ms() + ttl_ms if ttl_ms else 0
        overwritten = np.flatnonzero(wanted & present)
        if len(overwritten):
            # Values that fit their entry's charge are rewritten in place, together; a larger one
            # leaves its entry and enters anew. All the old entries of those go before any enters:
            # an entry's insert may evict, and must not evict a key of this batch still to be written.
            old_sizes = self._policy.slot[slots[overwritten], pol.SIZE]
            fits = charges[overwritten] <= old_sizes
            in_place = overwritten[fits]
            if len(in_place):
                picked = values.pick(in_place)
                self._overwrite_in_place(t, slots[in_place], picked, charges[in_place], expires, keep_ttl)
                stored[in_place] = True
            growing = overwritten[~fits]
            if len(growing):
                kept = self._expires[slots[growing]].tolist() if keep_ttl else [expires] * len(growing)
                self._remove(t, slots[growing], evicted=False)
                for i, expiry in zip(growing.tolist(), kept, strict=True):
                    stored[i] = self._insert_one(t, keys.item(i), values.item(i), int(hashes[i]), expiry, False)
        new = np.flatnonzero(wanted & ~present)
        if len(new):
            stored[new] = self._insert_new(t, keys, values, hashes, new, expires, prefetch)
        return stored

    def _overwrite_in_place(
        self, t: int, slots: np.ndarray, values: KeyBatch, charges: np.ndarray, expires: int, keep_ttl: bool
    ) -> None:
        """:meth:`_overwrite` of entries (distinct) whose new values are charged no more than the
        old: values, policy, counts and expiries each in one step, nothing evicted."""
        self.storage.replace_values(slots, values)
        self._rewrote_many(t, slots, charges, expires, keep_ttl)

    def _rewrote_many(self, t: int, slots: np.ndarray, charges: np.ndarray, expires: int, keep_ttl: bool) -> None:
        """:meth:`_rewrote` of entries (distinct) just written in place."""
        unread, grown = bp.rewritten_many(self._policy, slots, charges)
        row = self._counters[t]
        if unread:
            row[Counter.PREFETCH_BYTES] -= unread  # now ordinary entries
        row[Counter.MEMORY] += grown
        self.memory_bytes += grown
        if not keep_ttl and (expires or self._ttl_entries):
            self._ttl_entries += int(expires != 0) * len(slots) - int((self._expires[slots] != 0).sum())
            self._expires[slots] = expires

    def _set_one(
        self,
        t: int,
        slot: int,
        key: bytes,
        value: bytes,
        key_hash: int,
        charge: int,
        ttl_ms: int,
        condition: Condition,
        prefetch: bool,
        keep_ttl: bool,
    ) -> bool:
        """``set_many``'s decisions for one key (SET's write) found at ``slot``, in scalars:
        NumPy's masks and reductions cost more than the write of one entry."""
        present = slot >= 0
        if condition is Condition.IF_ABSENT or prefetch:
            wanted = not present
        elif condition is Condition.IF_PRESENT:
            wanted = present
        else:
            wanted = True
        if not wanted:
            return False
        if charge > self.capacity_of(t):
            raise Overloaded(self._no_room_message(t, charge))
        expires = self.clock_ms() + ttl_ms if ttl_ms else 0
        if present:
            kept = int(self._expires[slot]) if keep_ttl else expires
            return self._overwrite(t, slot, key, value, key_hash, kept, charge)
        return self._insert_one(t, key, value, key_hash, expires, prefetch)

    def set(
        self,
        tenant: str,
        key: bytes,
        value: bytes,
        ttl_ms: int = 0,
        condition: Condition = Condition.ALWAYS,
        keep_ttl: bool = False,
    ) -> bool:
        """:meth:`set_many` of one key, validated alike, without building batches (SET's write)."""
        key_length, value_length = len(key), len(value)
        block_bytes, per_block, fixed = self._charge_terms  # charge_of's arithmetic, written out (SET's cost)
        charge = max(1, -(-(key_length + value_length) // block_bytes)) * per_block + fixed
        config = self.config
        if (
            not 0 < key_length <= MAX_KEY_BYTES
            or value_length > config.max_value_bytes
            or charge > config.memory_bytes // 4
            or (keep_ttl and ttl_ms)
        ):  # refused: the batch path raises its error
            return bool(
                self.set_many(tenant, KeyBatch.of([key]), KeyBatch.of([value]), ttl_ms, condition, keep_ttl=keep_ttl)[0]
            )
        if ttl_ms.__class__ is not int or ttl_ms:  # an int 0 (no expiry, most SETs) needs no check
            self.check_ttl(ttl_ms, allow_nonpositive=False)
        t = self.tenant_id(tenant)
        if condition is Condition.ALWAYS and charge <= self._policy.tenant[t, pol.CAPACITY]:  # capacity_of's
            # The common overwrite: a live entry whose new value fits its blocks is written
            # where it is, found and written in one call; anything else takes _set_one's way.
            now = self.clock_ms() if self._ttl_entries or ttl_ms else 0
            slot, key_hash, replaced = self.storage.find_replace_one(t, key, value, self._expires, now)
            if replaced:
                self._rewrote(t, slot, charge, None if keep_ttl else (now + ttl_ms if ttl_ms else 0))
                return True
        else:
            slot, key_hash = self.storage.find_one(t, key)
        if slot >= 0 and self._ttl_entries:
            slot = self._drop_expired_one(t, slot)
        return self._set_one(t, slot, key, value, key_hash, charge, ttl_ms, condition, False, keep_ttl)

    def insert_prefetched(self, tenant: str, key: bytes, value: bytes) -> bool:
        """Stores a prefetched value at low priority if the key is absent."""
        return bool(self.set_many(tenant, KeyBatch.of([key]), KeyBatch.of([value]), prefetch=True)[0])

    def delete(self, tenant: str, keys: Sequence[bytes]) -> int:
        """Removes keys; answers how many distinct keys were cached (as Redis DEL: a key named
        twice counts once)."""
        batch = KeyBatch.of(list(keys))
        _check_keys(batch)
        t = self.tenant_id(tenant)
        slots = self._drop_expired(t, self.storage.find(t, batch, self.storage.hashes(t, batch)))
        live = np.unique(slots[slots >= 0])
        self._remove(t, live, evicted=False)
        return len(live)

    def expire_at(self, tenant: str, key: bytes, unix_ms: int) -> bool:
        """Makes ``key`` expire at ``unix_ms`` (Unix milliseconds, Redis PEXPIREAT); a time not in
        the future removes it. False when the key is not cached."""
        if not isinstance(unix_ms, (int, np.integer)) or isinstance(unix_ms, bool):
            raise InvalidInput(f"unix_ms must be an integer number of milliseconds, not {type(unix_ms).__name__}")
        return self.expire(tenant, key, max(0, int(unix_ms) - self.wall_clock_ms()))

    def expire(self, tenant: str, key: bytes, ttl_ms: int, persist: bool = False) -> bool:
        self.check_ttl(ttl_ms, allow_nonpositive=True)
        slot = self._find_one(tenant, key)
        if slot < 0:
            return False
        t = self.tenant_id(tenant)
        if persist:
            had = self._expires[slot] != 0
            self._set_expiry(slot, 0)
            return bool(had)
        if ttl_ms <= 0:
            self._remove(t, np.array([slot], dtype=np.int32), evicted=False)
            return True
        self._set_expiry(slot, self.clock_ms() + ttl_ms)
        return True

    def flush(self, tenant: str) -> int:
        t = self.tenant_id(tenant)
        slots = self.storage.slots_of_tenant(t)
        self._remove(t, slots, evicted=False)
        return len(slots)

    def sweep_expired(self) -> int:
        """Removes every expired entry (active expiry); returns how many."""
        if not self._ttl_entries:
            return 0
        now = self.clock_ms()
        doomed = np.flatnonzero((self._expires != 0) & (self._expires <= now)).astype(np.int32)
        for t in np.unique(self._policy.slot[doomed, pol.OWNER]):
            mine = doomed[self._policy.slot[doomed, pol.OWNER] == t]
            self._counters[t, Counter.EXPIRED] += len(mine)
            self._remove(int(t), mine, evicted=False)
        return len(doomed)

    # -- internals ---------------------------------------------------------------------------

    def charges(self, key_lengths: np.ndarray, value_lengths: np.ndarray) -> np.ndarray:
        """Bytes entries of these key and value lengths are charged against the budget."""
        if len(key_lengths) == 1:  # one entry: the arithmetic in scalars, not 1-element arrays
            return np.array([self.charge_of(int(key_lengths[0]), int(value_lengths[0]))], dtype=np.int64)
        key_lengths = np.asarray(key_lengths, dtype=np.int64)
        return _charges_of(key_lengths, np.asarray(value_lengths, dtype=np.int64), *self.charge_terms())[0]

    def charge_of(self, key_length: int, value_length: int) -> int:
        """``charges`` of one entry (``blocks_needed``'s arithmetic)."""
        block_bytes, per_block, fixed = self.charge_terms()
        return max(1, -(-(key_length + value_length) // block_bytes)) * per_block + fixed

    def _find_one(self, tenant: str, key: bytes) -> int:
        _check_key(key)
        t = self.tenant_id(tenant)
        slot, _ = self.storage.find_one(t, key)
        return self._drop_expired_one(t, slot) if slot >= 0 and self._ttl_entries else slot

    def _live_slots(self, t: int) -> np.ndarray:
        """``t``'s slots whose entries have not expired (expired ones stay for the sweep)."""
        slots = self.storage.slots_of_tenant(t)
        if not self._ttl_entries:
            return slots
        expires = self._expires[slots]
        return slots[(expires == 0) | (expires > self.clock_ms())]

    def _set_expiry(self, slot: int, expires: int) -> None:
        self._ttl_entries += int(expires != 0) - int(self._expires[slot] != 0)
        self._expires[slot] = expires

    def _drop_expired_one(self, t: int, slot: int) -> int:
        """:meth:`_drop_expired` of one live slot: -1 when it had expired (and is removed now)."""
        expires = int(self._expires[slot])
        if expires == 0 or expires > self.clock_ms():
            return slot
        self._counters[t, Counter.EXPIRED] += 1
        self._remove(t, np.array([slot], dtype=np.int32), evicted=False)
        return -1

    def _drop_expired(self, t: int, slots: np.ndarray, now_ms: int | None = None) -> np.ndarray:
        """``slots`` with expired entries removed from the cache and replaced by -1 (lazy expiry);
        expired as of ``now_ms`` when given (the moment a read already judged them at)."""
        if not self._ttl_entries:
            return slots
        found = slots >= 0
        expires = np.where(found, self._expires[np.maximum(slots, 0)], 0)
        expired = (expires != 0) & (expires <= (self.clock_ms() if now_ms is None else now_ms))
        if not expired.any():
            return slots
        doomed = np.unique(slots[expired])
        self._counters[t, Counter.EXPIRED] += len(doomed)
        self._remove(t, doomed, evicted=False)
        return np.where(expired, -1, slots).astype(np.int32)

    def _remove(self, t: int, slots: np.ndarray, evicted: bool) -> None:
        """Takes slots out of the cache (policy, storage, counters)."""
        if not len(slots):
            return
        slots = np.asarray(slots, dtype=np.int32)
        charges = bp.charges_of(self._policy, slots)
        unused = bp.prefetched_flags(self._policy, slots)
        if not evicted:
            bp.forget_many(self._policy, slots)
        row = self._counters[t]
        row[Counter.ENTRIES] -= len(slots)
        row[Counter.MEMORY] -= int(charges.sum())
        row[Counter.PREFETCH_BYTES] -= int(charges[unused].sum())
        if evicted:
            row[Counter.EVICTIONS] += len(slots)
        self.memory_bytes -= int(charges.sum())
        self._ttl_entries -= int((self._expires[slots] != 0).sum())
        self._expires[slots] = 0
        self.storage.erase(slots)

    def _evict(self, t: int, target_used: int) -> int:
        """Evicts ``t``'s entries until its queues hold at most ``target_used`` bytes."""
        freed = 0
        while True:
            n = pol.evict_down_to(self._policy, t, target_used, self._evicted)
            if n == 0:
                return freed
            batch = self._evicted[:n].copy()
            freed += int(bp.charges_of(self._policy, batch).sum())
            self._remove(t, batch, evicted=True)

    def _make_room(self, t: int, charge: int, slots: int, blocks: int) -> None:
        """Evicts ``t``'s entries (only ``t``'s) and grows the backend until entries costing
        ``charge`` bytes, ``slots`` slots and ``blocks`` blocks fit; refuses, changing nothing,
        when even all of ``t``'s entries would not make enough room."""
        used = self._used(t)
        over_budget = max(0, self.memory_bytes + charge - self.config.memory_bytes)
        target = min(int(self._policy.tenant[t, pol.CAPACITY]) - charge, used - over_budget)
        if target < 0:
            raise Overloaded(self._no_room_message(t, charge))
        if used > target:
            self._evict(t, target)
        while not self._reserve(slots, blocks):
            used = int(pol.used(self._policy, t))
            if used == 0:
                raise Overloaded(self._no_room_message(t, charge))
            self._evict(t, used - max(charge, used // 64))

    def _used(self, t: int) -> int:
        """``pol.used``, read from the tenant's row (a compiled call costs more than the sum)."""
        row = self._policy.tenant[t]
        return int(row[pol.BYTES_SMALL] + row[pol.BYTES_MAIN])

    def _no_room_message(self, t: int, charge: int) -> str:
        """Why ``charge`` bytes do not fit: more than the tenant can ever hold, or memory that other
        tenants hold (only then are they named)."""
        others = sum(int(pol.used(self._policy, o)) for o in range(len(self._names)) if o != t)
        capacity = int(self._policy.tenant[t, pol.CAPACITY])
        name = self._names[t]
        if self.quota_of(name) and charge > capacity:
            variable = (
                "PREDIS_CACHE_TENANT_QUOTAS" if name in self.config.tenant_quotas else "PREDIS_CACHE_TENANT_QUOTA_BYTES"
            )
            return (
                f"tenant {name!r} needs {charge} bytes at once but can hold at most {capacity} bytes (its quota, "
                f"{variable}); nothing was stored: send fewer or smaller entries per call, or raise its quota"
            )
        if others == 0 or charge > capacity:
            return (
                f"tenant {name!r} needs {charge} bytes at once but can hold at most {capacity} bytes "
                f"(of the memory budget of {self.config.memory_bytes} bytes, PREDIS_CACHE_MEMORY_BYTES, with what "
                "the cache's tables take); nothing was stored: send fewer or smaller entries per call"
            )
        return (
            f"tenant {self._names[t]!r} needs {charge} bytes but {others} bytes of the cache's memory budget of "
            f"{self.config.memory_bytes} bytes are held by other tenants; give tenants quotas "
            "(PREDIS_CACHE_TENANT_QUOTA_BYTES) that add up to the budget"
        )

    def _reserve(self, slots: int, blocks: int) -> bool:
        """Makes ``slots`` free slots and ``blocks`` free blocks available, growing the backend's
        arrays within the budget. False when only eviction can make room."""
        st = self.storage
        short_slots = max(0, slots - st.free_slot_count)
        short_blocks = max(0, blocks - st.free_block_count)
        if not short_slots and not short_blocks:
            return True
        per_slot = st.bytes_per_slot() + 8 + pol.bytes_per_slot()
        per_block = st.bytes_per_block()
        new_slots = st.slot_capacity + (max(short_slots, int(st.slot_capacity * (_GROWTH - 1))) if short_slots else 0)
        new_blocks = st.block_capacity + (
            max(short_blocks, int(st.block_capacity * (_GROWTH - 1))) if short_blocks else 0
        )
        budget = self.config.memory_bytes
        if new_slots * per_slot + new_blocks * per_block > budget:
            # Grow only by what is missing if a full step does not fit.
            new_slots = st.slot_capacity + short_slots
            new_blocks = st.block_capacity + short_blocks
            if new_slots * per_slot + new_blocks * per_block > budget:
                return False
        st.grow(new_slots, new_blocks)
        if new_slots > len(self._expires):
            self._policy = pol.grow_policy_state(self._policy, new_slots, len(self._policy.tenant))
            expires = np.zeros(new_slots, dtype=np.int64)
            expires[: len(self._expires)] = self._expires
            self._expires = expires
        return True

    def _overwrite(
        self, t: int, slot: int, key: bytes, value: bytes, key_hash: int, expires: int, new_charge: int
    ) -> bool:
        old_charge = int(self._policy.slot[slot, pol.SIZE])
        if new_charge > old_charge:
            # A larger value needs room: store it as a new entry, which evicts like any insert.
            self._remove(t, np.array([slot], dtype=np.int32), evicted=False)
            return self._insert_one(t, key, value, key_hash, expires, False)
        self.storage.replace_value(slot, value)
        self._rewrote(t, slot, new_charge, expires)
        return True

    def _rewrote(self, t: int, slot: int, new_charge: int, expires: int | None) -> None:
        """The policy and the counts of a value just written in place of ``slot``'s, charged no
        more than the old; its expiry set to ``expires`` (None: kept)."""
        if self.policy_name == "s3fifo":
            grown = _rewrote_counted_s3fifo(self._policy.slot, self._policy.tenant, self._counters, t, slot, new_charge)
        else:
            old_charge, unread = bp.rewritten(self._policy, slot, new_charge)
            if unread:  # a prefetched entry nobody read: the touch made it an ordinary entry
                self._counters[t, Counter.PREFETCH_BYTES] -= old_charge
            grown = new_charge - old_charge
            if grown:
                self._counters[t, Counter.MEMORY] += grown
        self.memory_bytes += grown
        if expires is not None and (expires or self._ttl_entries):  # without TTLs every expiry is 0
            self._set_expiry(slot, expires)

    def _insert_one(self, t: int, key: bytes, value: bytes, key_hash: int, expires: int, prefetch: bool) -> bool:
        """:meth:`_insert_new` of one entry, in scalars: the same checks, evictions and counts."""
        charge = self.charge_of(len(key), len(value))
        ghost_hit, admissible = bp.admission_of(self._policy, t, charge, np.uint64(key_hash), prefetch)
        if not admissible:
            return False
        blocks = max(1, -(-(len(key) + len(value)) // self.storage.block_bytes))  # blocks_needed of one
        self._make_room(t, charge, 1, blocks)
        slot = self.storage.insert_one(t, key, key_hash, value)
        if not bp.admit_one(self._policy, t, slot, charge, np.uint64(key_hash), ghost_hit, prefetch):
            self.storage.erase(np.array([slot], dtype=np.int32))
            return False
        row = self._counters[t]
        row[Counter.ENTRIES] += 1
        row[Counter.MEMORY] += charge
        if prefetch:
            row[Counter.PREFETCH_BYTES] += charge
        self.memory_bytes += charge
        if expires:
            self._ttl_entries += 1
            self._expires[slot] = expires
        return True

    def _insert_new(
        self,
        t: int,
        keys: KeyBatch,
        values: KeyBatch,
        hashes: np.ndarray,
        new: np.ndarray,
        expires: int,
        prefetch: bool,
    ) -> np.ndarray:
        stored = np.zeros(len(new), dtype=np.bool_)
        ghost_hits = np.zeros(len(new), dtype=np.bool_) if prefetch else bp.take_ghosts(self._policy, hashes[new])
        charges = self.charges(keys.lengths[new], values.lengths[new])
        admissible = bp.can_admit_many(self._policy, t, charges)
        chosen = new[admissible]
        if not len(chosen):
            return stored
        charges = charges[admissible]
        blocks = blocks_needed(self.storage.block_bytes, keys.lengths[chosen], values.lengths[chosen])
        self._make_room(t, int(charges.sum()), len(chosen), int(np.sum(blocks)))
        sub_keys = KeyBatch(keys.data, keys.offsets[chosen], keys.lengths[chosen])
        sub_values = KeyBatch(values.data, values.offsets[chosen], values.lengths[chosen])
        slots = self.storage.insert(t, sub_keys, hashes[chosen], sub_values)
        admitted = bp.admit_many(self._policy, t, slots, charges, hashes[chosen], ghost_hits[admissible], prefetch)
        declined = slots[~admitted]
        if len(declined):
            self.storage.erase(declined)
        kept = slots[admitted]
        row = self._counters[t]
        row[Counter.ENTRIES] += len(kept)
        row[Counter.MEMORY] += int(charges[admitted].sum())
        if prefetch:
            row[Counter.PREFETCH_BYTES] += int(charges[admitted].sum())
        self.memory_bytes += int(charges[admitted].sum())
        if expires:
            self._ttl_entries += len(kept)
            self._expires[kept] = expires
        stored[np.flatnonzero(admissible)[admitted]] = True
        return stored


def tell_as_batch(
    listener: AccessListener,
    tenant: int,
    key: bytes,
    key_hash: int,
    found: bool,
    prefetched: bool,
    length: int,
    now: int,
) -> None:
    """A one-key read told to a batch listener, in the arrays of a batch of one."""
    listener(
        tenant,
        KeyBatch.of([key]),
        np.array([found]),
        np.array([prefetched]),
        np.array([length], dtype=np.uint32),
        now,
        np.array([key_hash], dtype=np.uint64),
    )


# constants for the compiled functions
_HITS, _MISSES, _PREFETCH_BYTES, _MEMORY = Counter.HITS, Counter.MISSES, Counter.PREFETCH_BYTES, Counter.MEMORY


@numba.njit(cache=True)
def _hit_counted_s3fifo(slot_rows: np.ndarray, counters: np.ndarray, t: int, slot: int) -> bool:
    """A GET's hit under S3-FIFO: the touch (``bp.read_hit``'s) and the engine's counts of it in
    one compiled call, as the counters' two NumPy writes cost about as much as the call. Whether
    a prefetch had loaded the entry (its first read: its bytes no longer count as unused)."""
    prefetched = bp.read_hit_s3fifo(slot_rows, slot)
    if prefetched:  # the touch leaves the charge as it was
        counters[t, _PREFETCH_BYTES] -= slot_rows[slot, pol.SIZE]
    counters[t, _HITS] += 1
    return prefetched


@numba.njit(cache=True)
def read_counted_s3fifo(
    slot_rows: np.ndarray, counters: np.ndarray, t: int, slots: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """:func:`_hit_counted_s3fifo` of a batch read: ``bp.read_found``'s work and the engine's
    counts of it in one compiled call. Whether each key was found, whether a prefetch had
    loaded it, how many were found and how many of those a prefetch had loaded."""
    found, prefetched, hits, prefetched_hits, first_read = bp.read_found_s3fifo(slot_rows, slots)
    counters[t, _PREFETCH_BYTES] -= first_read  # first reads: no longer unused prefetches
    counters[t, _HITS] += hits
    counters[t, _MISSES] += len(slots) - hits
    return found, prefetched, hits, prefetched_hits


@numba.njit(cache=True)
def _rewrote_counted_s3fifo(
    slot_rows: np.ndarray, tenant_rows: np.ndarray, counters: np.ndarray, t: int, slot: int, new_charge: int
) -> int:
    """:meth:`Engine._rewrote`'s policy and counts under S3-FIFO in one compiled call (an
    overwrite's resize and touch, and the counters' writes, cost about one call each from
    Python). How much the entry's charge grew (negative when it shrank)."""
    old_charge, unread = bp.rewritten_s3fifo(slot_rows, tenant_rows, slot, new_charge)
    if unread:  # a prefetched entry nobody read: the touch made it an ordinary entry
        counters[t, _PREFETCH_BYTES] -= old_charge
    counters[t, _MEMORY] += new_charge - old_charge
    return new_charge - old_charge


@numba.njit(cache=True)
def _charges_of(
    key_lengths: np.ndarray, value_lengths: np.ndarray, block_bytes: int, per_block: int, fixed: int
) -> tuple[np.ndarray, int, int]:
    """:meth:`Engine.charge_of` of each entry (``blocks_needed``'s arithmetic), the longest value
    and the largest charge: a batch write's checks in one pass instead of NumPy's four."""
    out = np.empty(len(key_lengths), dtype=np.int64)
    longest = largest = 0
    for i in range(len(key_lengths)):
        out[i] = max(1, (key_lengths[i] + value_lengths[i] + block_bytes - 1) // block_bytes) * per_block + fixed
        longest, largest = max(longest, value_lengths[i]), max(largest, out[i])
    return out, longest, largest


def _check_key(key: bytes) -> None:
    """:func:`_check_keys` of one key, without building a batch for a key that passes."""
    if not 0 < len(key) <= MAX_KEY_BYTES:
        _check_keys(KeyBatch.of([key]))  # raises the batch's message


def _check_keys(keys: KeyBatch) -> None:
    n = len(keys)
    if not n:
        return
    if n == 1:  # the compiled call costs more than the whole check for one key
        shortest = longest = int(keys.lengths[0])
    elif n <= 64:  # a pipeline's run: Python's min and max of the list cost less than a compiled call
        listed = keys.lengths.tolist()
        shortest, longest = min(listed), max(listed)
    else:
        shortest, longest = length_range(keys.lengths)  # NumPy's min and max cost twice as much
    if shortest == 0:
        raise InvalidInput("a key is empty; keys are 1 byte to 64 KiB")
    if longest > MAX_KEY_BYTES:
        raise InvalidInput(f"a key of {longest} bytes is longer than the maximum of {MAX_KEY_BYTES} bytes")


def warm_up(policy: str, storage: Storage) -> None:
    """Runs every compiled kernel once on a scratch engine, so that compilation (or loading the
    on-disk compile cache) happens at start, not during the first calls a client makes."""
    engine = Engine(EngineConfig(memory_bytes=64 * 1024, policy=policy), storage)
    for i in range(400):  # enough to evict and to fill the ghost
        engine.set("warm-up", b"k%d" % i, b"v" * (i % 300), ttl_ms=1 + i % 2)
        engine.get("warm-up", b"k%d" % (i // 2))
    engine.set("warm-up", b"k1", b"longer value" * 30)
    engine.insert_prefetched("warm-up", b"p", b"v")
    engine.get_many("warm-up", KeyBatch.of([b"k1", b"p", b"absent"]))
    engine.set_many("warm-up", KeyBatch.of([b"k1", b"k2", b"new"]), KeyBatch.of([b"v", b"w" * 200, b"x"]))
    engine.exists("warm-up", [b"k1"])
    engine.expire("warm-up", b"k1", 0, persist=True)
    engine.peek("warm-up", b"k3")
    engine.keys("warm-up")
    engine.delete("warm-up", [b"k1", b"k2"])
    engine.sweep_expired()
    engine.flush("warm-up")
