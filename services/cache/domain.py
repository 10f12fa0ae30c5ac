"""The cache domain: the one object every front end of the cache calls (the gRPC servicer, the
learned prefetch loop, the RESP server). Plain Python and asyncio, no gRPC.

It owns the parts a read or a write must keep in step:
- the engine (entries, policy, budget, TTLs), which nobody else reaches;
- the origin fills (``read_through.py``): read-through and prefetch loads, one per key at a time;
- the hint table, whose followers a read prefetches;
- the access event ring and whoever listens to reads (the ring, the shadow, the prefetch loop's
  wake-up), registered with :meth:`CacheDomain.on_read` (:meth:`CacheDomain.on_read_of` for a
  listener that needs only the tenant);
- the prefetch outcomes (``prefetch_outcomes.py``): what became of every prefetch, the one count
  that Stats, the predictor's reports and drift's quality windows read.
- the tenants' rate quotas (``admission.py``): the request rate every front end admits each
  request through (:meth:`CacheDomain.admit`), and the prefetch budget the fills keep to.

Writes win over fills: every write (set, set_many, delete, expire, expire_at, flush) goes through
here, so the fills learn of it before any load that started earlier can land, and such a load
never stores the origin's older value over the newer write (a reader already waiting on it still
gets what the origin said: its read began before the write). Whoever registers with
:meth:`CacheDomain.on_write` (the RESP server's WATCH) hears of the same writes, whichever front
end made them.

Absolute expiry times (``expire_at``, ``expires_at_ms``) are Unix milliseconds over the engine's
monotonic expiry clock through one fixed offset (``UnixExpiryClock``), so a time written reads
back exactly (Redis PEXPIREAT, then PEXPIRETIME).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from predis.plugins.origin import Origin
from predis.services.cache import compiled_read as cr
from predis.services.cache import snapshot
from predis.services.cache.admission import PrefetchBudget, RequestRates
from predis.services.cache.collector import AccessRing, EventBatch
from predis.services.cache.engine.engine import (
    AccessListener,
    BatchRead,
    Condition,
    Engine,
    OneReadListener,
    tell_as_batch,
)
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.hints import HintTable
from predis.services.cache.origin_breaker import OriginBreaker
from predis.services.cache.prefetch_outcomes import PendingPrefetch, PrefetchIssuer, PrefetchOutcome, PrefetchOutcomes
from predis.services.cache.read_through import OriginFills, ReadResult, ValueOrigin, merge_fills
from predis.services.cache.request_durations import CacheDurations
from predis.services.cache.shadow import QualityCounts, ShadowCache
from predis.services.runtime.errors import FailedPrecondition, NotBuilt

__all__ = [
    "CacheDomain",
    "Condition",
    "EngineView",
    "LiveQuality",
    "ReadResult",
    "TenantMemory",
    "UnixExpiryClock",
    "ValueOrigin",
    "WriteListener",
]

SETTLE_CHECKS = 256  # pending prefetches per tenant checked for having left the cache, per call
# A change of the wall clock's offset from the monotonic clock beyond this is a step of the wall
# clock (settimeofday, an NTP step), which UnixExpiryClock follows; NTP's slewing moves both clocks
# alike. The offset is measured between two monotonic reads at most OFFSET_READ_NS apart, so that
# a thread switch between the reads is not taken for a step.
WALL_STEP_NS = 1_000_000
OFFSET_READ_NS = 100_000
# Tries of an absolute expiry call whose engine call the expiry clock's millisecond tick crossed;
# a call lasts microseconds, so a second try almost always lands inside one millisecond, and past
# this many the last one stands (a millisecond off at most, as the engine's own conversion).
TICK_RETRIES = 8

# Hears of writes: the tenant, and the keys written or removed, or None for all of the tenant's.
WriteListener = Callable[[str, Sequence[bytes] | None], None]


class UnixExpiryClock:
    """Unix milliseconds as the engine's expiry clock (monotonic milliseconds) plus one fixed
    offset, taken at the start and again only when the wall clock steps, so an absolute expiry
    time written reads back exactly instead of through the two clocks' offset of each moment
    (which moves by a millisecond between calls as either clock ticks).

    Engine-independent stand-in, until the engine keeps the offset itself: the engine sets and
    reports expiry times relative to its own ``clock_ms()`` read inside each call, so a call is
    repeated when that clock ticked around it (then the engine read the same millisecond as this
    clock did; ``TICK_RETRIES``). With ``Engine.expire_at``/``expires_at_ms`` converting through an
    offset fixed at construction (``self._expires[slot] + offset``, ``unix_ms - offset``, no clock
    read), this class goes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        measured = self._measured_offset_ns()
        self._offset_ns = engine.wall_clock_ns() - engine.clock_ns() if measured is None else measured
        self._offset_ms = self._offset_ns // 1_000_000

    def _measured_offset_ns(self) -> int | None:
        """Wall minus monotonic nanoseconds now; None when no try read both within ``OFFSET_READ_NS``."""
        clock, wall = self._engine.clock_ns, self._engine.wall_clock_ns
        for _ in range(TICK_RETRIES):
            before, at, after = clock(), wall(), clock()
            if after - before <= OFFSET_READ_NS:
                return at - (before + after) // 2
        return None

    def offset_ms(self) -> int:
        """Unix ms minus engine ms; follows a step of the wall clock (``WALL_STEP_NS``)."""
        now = self._measured_offset_ns()
        if now is not None and abs(now - self._offset_ns) > WALL_STEP_NS:
            self._offset_ns, self._offset_ms = now, now // 1_000_000
        return self._offset_ms

    def expires_at_ms(self, tenant: str, key: bytes) -> int:
        """As :meth:`Engine.expires_at_ms`, through the fixed offset."""
        engine, offset = self._engine, self.offset_ms()
        for _ in range(TICK_RETRIES):
            before = engine.clock_ms()
            left = engine.ttl_ms(tenant, key)
            if left < 0:
                return left
            if engine.clock_ms() == before:  # the engine's reading of its clock was ``before``
                break
        return before + left + offset

    def expire_at(self, tenant: str, key: bytes, unix_ms: int) -> bool:
        """As :meth:`Engine.expire_at`, through the fixed offset."""
        if not isinstance(unix_ms, (int, np.integer)) or isinstance(unix_ms, bool):
            return self._engine.expire_at(tenant, key, unix_ms)  # the engine's own refusal
        engine, target = self._engine, int(unix_ms) - self.offset_ms()
        for _ in range(TICK_RETRIES):
            before = engine.clock_ms()
            applied = engine.expire(tenant, key, max(0, target - before))
            if not applied or target <= before or engine.clock_ms() == before:
                break
        return applied


@dataclass(frozen=True)
class EngineView:
    """The engine as a whole."""

    memory_budget_bytes: int
    memory_bytes: int
    entries: int
    policy: str
    backend: str


@dataclass(frozen=True)
class TenantMemory:
    """What one tenant holds, against what it may hold (the prefetch loop's memory budget)."""

    capacity_bytes: int  # its quota, or the whole budget without one
    used_bytes: int
    unread_prefetch_bytes: int  # held by prefetched entries nobody has read yet
    cache_used_bytes: int  # all tenants
    cache_budget_bytes: int


@dataclass(frozen=True)
class LiveQuality:
    """The shadow's view of one tenant: reads, hits with and without prefetching."""

    counts: QualityCounts
    shadow_entries: int
    sample_rate: float


class CacheDomain:
    """The cache over ``engine``; misses read through ``origin`` when there is one. Takes
    ownership of ``engine`` (its read listener included) and of ``origin`` (closed by
    :meth:`close`). Not thread-safe: one caller at a time (the event loop)."""

    def __init__(
        self,
        engine: Engine,
        origin: Origin | None = None,
        *,
        ring: AccessRing | None = None,
        shadow: ShadowCache | None = None,
        origin_timeout_s: float = 2.0,
        origin_workers: int = 32,
        prefetch_queue: int = 10_000,
        breaker: OriginBreaker | None = None,
        request_rates: RequestRates | None = None,
        prefetch_budget: PrefetchBudget | None = None,
    ) -> None:
        if engine.listener is not None:
            raise ValueError("this engine already tells another listener of its reads; a domain must own its engine")
        self._engine = engine
        self._ring = ring
        self._shadow = shadow
        self._hints = HintTable()
        self._listeners: list[AccessListener] = []
        self._one_listeners: list[OneReadListener] = []
        self._write_listeners: list[WriteListener] = []
        self._tenant_listeners: list[Callable[[int], None]] = []  # on_read_of's
        self._unix_expiry = UnixExpiryClock(engine)
        self.prefetch_outcomes = PrefetchOutcomes()
        # What the front ends and the origin fills time, once metrics are on (record_durations).
        self.durations: CacheDurations | None = None
        self._request_rates = request_rates
        # Whether any tenant's requests are limited: front ends skip finding the tenant otherwise.
        self.limits_requests = request_rates is not None and request_rates.limits_any
        self._prefetch_budget = prefetch_budget
        self._fills = OriginFills(
            engine,
            origin,
            self.prefetch_outcomes,
            origin_timeout_s,
            origin_workers,
            prefetch_queue,
            breaker,
            prefetch_budget,
        )
        if ring is not None:
            self.on_read(ring.append, ring.append_one)
        if shadow is not None:
            self.on_read(shadow.observe, shadow.observe_one)
        self._own_listeners = len(self._listeners)
        # compiled_read_state's stand-ins for a ring or a shadow this domain has not, and the
        # rows a compiled read leaves for compiled_read_done.
        self._no_ring = (np.zeros(2, dtype=np.int64), np.zeros((1, 6), dtype=np.int64), np.zeros(1, dtype=np.uint8))
        self._no_held = (np.zeros(1, dtype=np.uint64), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.uint32))
        self._read_rows, self._read_hashes = cr.scratch_rows(min(1024, engine.config.max_batch_keys))

    @property
    def has_origin(self) -> bool:
        return self._fills.origin is not None

    @property
    def max_batch_keys(self) -> int:
        """Most keys one batch read or write may name."""
        return self._engine.config.max_batch_keys

    def record_durations(self, durations: CacheDurations) -> None:
        """From now on the front ends time GET and SET, and the fills each origin call, into
        ``durations`` (``request_durations.py``); until then they time nothing."""
        self.durations = durations
        self._fills.durations = durations

    # -- admission ---------------------------------------------------------------------------

    def admit(self, tenant: str) -> None:
        """Counts one data-plane request of ``tenant`` (a gRPC call, a RESP command; a batch is
        one) against its request rate (``admission.py``): ``RateLimited``, an ``Overloaded``, when
        the rate is spent. Front ends call it once per request, before doing anything."""
        if self._request_rates is not None:
            self._request_rates.admit(tenant)

    # -- reads -------------------------------------------------------------------------------

    async def get(self, tenant: str, key: bytes, skip_origin: bool = False) -> ReadResult:
        """Reads ``key``; a miss reads through the origin (unless ``skip_origin``). Every read is
        recorded (counters, event ring, shadow, the prefetch loop's wake-up) and prefetches the
        key's hinted followers."""
        result = self.get_now(tenant, key, skip_origin)
        if result is not None:
            return result
        return await self.fill(tenant, key)

    def get_now(self, tenant: str, key: bytes, skip_origin: bool = False) -> ReadResult | None:
        """:meth:`get` as far as it goes without waiting: the read recorded, and its result; None
        for a miss that reads through the origin, which :meth:`fill` then finishes (a front end
        answering a hit at once, with no coroutine to run, calls the two)."""
        value, prefetched = self._read_one(tenant, key)
        if value is not None:
            return ReadResult(value, ValueOrigin.PREFETCH if prefetched else ValueOrigin.CACHE)
        if skip_origin or not self.has_origin:
            return ReadResult(None, ValueOrigin.NONE)
        return None

    def value_now(self, tenant: str, key: bytes, skip_origin: bool = False) -> tuple[bytes | None, bool]:
        """:meth:`get_now` for a front end that answers with the value alone (RESP's GET): the
        value (None on a miss) and whether the miss reads through the origin, which :meth:`fill`
        then finishes. Recorded as :meth:`get_now` records it, without building its result."""
        value, _ = self._read_one(tenant, key)
        return value, value is None and not skip_origin and self.has_origin

    def _read_one(self, tenant: str, key: bytes) -> tuple[bytes | None, bool]:
        if self.has_origin and self._hints.has(tenant):
            self._prefetch_hinted(tenant, [key])
        value, prefetched = self._engine.get(tenant, key)
        if prefetched:
            self.prefetch_outcomes.read_prefetched(tenant, [key])
        return value, prefetched

    async def fill(self, tenant: str, key: bytes) -> ReadResult:
        """The origin's value for a miss :meth:`get_now` recorded (single-flight, as every fill)."""
        fetched = await self._fills.fetch(tenant, key)
        return ReadResult(fetched, ValueOrigin.ORIGIN if fetched is not None else ValueOrigin.NONE)

    async def get_many(
        self, tenant: str, keys: KeyBatch, skip_origin: bool = False
    ) -> tuple[bytes, np.ndarray, np.ndarray]:
        """Values packed in key order, their lengths and a found mask, recorded as :meth:`get`
        records; misses read through the origin (unless ``skip_origin``)."""
        read, complete = self.get_many_now(tenant, keys, skip_origin)
        if complete:
            return read.values, read.lengths, read.found
        return await self.fill_many(tenant, keys, read)

    def get_many_now(self, tenant: str, keys: KeyBatch, skip_origin: bool = False) -> tuple[BatchRead, bool]:
        """:meth:`get_many` as far as it goes without waiting: the read, recorded, and whether it
        is complete; when misses read through the origin it is not, and :meth:`fill_many` finishes it."""
        if self.has_origin and self._hints.has(tenant):
            self._prefetch_hinted(tenant, _listed(keys))
        read = self._read(tenant, keys)
        return read, skip_origin or not self.has_origin or read.hits == len(keys)

    def compiled_read_state(self, tenant: str) -> tuple[object, ...] | None:
        """What ``compiled_read.read_recorded`` takes after the keys, for a front end that reads a
        batch of ``tenant``'s keys (none empty or reserved, up to 1024 and ``max_batch_keys``) in
        its own compiled call: :meth:`get_many_now` of them, recorded the same (with an origin to
        read through, the kernel leaves a read with a miss to :meth:`get_many_now`). None where
        that call would not be the whole read (a policy or a storage not compiled for it, hints to
        prefetch, a read listener besides the ring, the shadow and :meth:`on_read_of`'s, a tenant
        not read yet). After a read that answers DONE the caller calls :meth:`compiled_read_done`,
        before anything else reads the cache."""
        known = self._own_listeners + len(self._tenant_listeners)
        if len(self._listeners) != known or (self.has_origin and self._hints.has(tenant)):
            return None
        engine = self._engine.compiled_read_arrays(tenant)
        if engine is None:
            return None
        t = engine[0]
        shadow: tuple[object, ...] = (False, False, 0, *self._no_held, 0)
        if self._shadow is not None:
            holding = self._shadow.compiled_hold_arrays(t)  # type: ignore[arg-type]
            if holding is None:
                return None
            shadow = (True, *holding)
        ring = self._ring.compiled_append_arrays() if self._ring is not None else self._no_ring
        return (
            self.has_origin,  # a miss reads through: the kernel declines it
            time.time_ns(),
            self._read_rows,
            self._read_hashes,
            *engine,
            self._ring is not None,
            *ring,
            *shadow,
        )

    def compiled_read_done(self, tenant: str, data: np.ndarray, n: int, prefetched_hits: int, held: int) -> None:
        """Finishes a read of ``n`` keys of ``data`` that ``compiled_read.read_recorded`` answered
        DONE (``held``: its shadow answer): what :meth:`get_many_now` does in Python after the
        engine's read, from the rows the kernel left."""
        rows = self._read_rows
        t = self._engine.tenant_id(tenant)
        if held >= 0:
            self._shadow.held(t, held)  # type: ignore[union-attr]
        elif held != cr.NOT_HELD:  # the shadow replays this read now
            keys = KeyBatch(data, rows[cr.OFFSETS, :n].copy(), rows[cr.LENGTHS, :n].copy())
            self._shadow.observe(  # type: ignore[union-attr]
                t,
                keys,
                rows[cr.FOUND, :n].astype(bool),
                rows[cr.PREFETCHED, :n].astype(bool),
                rows[cr.VALUE_LENGTHS, :n].astype(np.uint32),
                0,
                self._read_hashes[:n].copy(),
            )
        for listener in self._tenant_listeners:
            listener(t)
        if prefetched_hits:
            first_reads = np.flatnonzero(rows[cr.PREFETCHED, :n])
            self.prefetch_outcomes.read_prefetched(
                tenant,
                (data[rows[cr.OFFSETS, i] : rows[cr.OFFSETS, i] + rows[cr.LENGTHS, i]].tobytes() for i in first_reads),
            )

    async def fill_many(self, tenant: str, keys: KeyBatch, read: BatchRead) -> tuple[bytes, np.ndarray, np.ndarray]:
        """:meth:`get_many`'s answer from a read :meth:`get_many_now` left incomplete."""
        missing = np.flatnonzero(~read.found)
        fetched = await asyncio.gather(*(self._fills.fetch(tenant, keys.item(int(i))) for i in missing))
        return merge_fills(read, missing, fetched)

    async def get_each(
        self, tenant: str, keys: list[bytes] | KeyBatch, skip_origin: bool = False, packed: bool = False
    ) -> list[bytes | None | Exception] | BatchRead:
        """:meth:`get` of each of ``keys`` (distinct), in one read of the cache: a pipeline of
        GETs. Recorded as one batch read (the same counters and events, in order); misses read
        through the origin together, and a fill that fails is that key's failure alone, as it
        would be one GET's. Answers each key's value, None for a miss, or the exception its fill
        raised; with ``packed``, the read itself when nothing is read through (every key a hit,
        or no origin to ask), the values left packed for a caller that encodes them together.
        ``keys`` may come packed already (a read of requests, its keys where they lie in it)."""
        batch = keys if isinstance(keys, KeyBatch) else KeyBatch.of(keys)
        if self.has_origin and self._hints.has(tenant):
            self._prefetch_hinted(tenant, keys if isinstance(keys, list) else _listed(batch))
        read = self._read(tenant, batch)
        if packed and (skip_origin or not self.has_origin or read.hits == len(keys)):
            return read
        return await self.fill_each(tenant, batch, read, skip_origin)

    async def fill_each(
        self, tenant: str, batch: KeyBatch, read: BatchRead, skip_origin: bool = False
    ) -> list[bytes | None | Exception]:
        """:meth:`get_each`'s answer from its read of ``batch`` (recorded already): each key's
        value, None for a miss, or the exception its fill raised; misses read through the origin
        unless ``skip_origin``."""
        results: list[bytes | None | Exception] = []
        start = 0
        for end, hit in zip(np.cumsum(read.lengths).tolist(), read.found.tolist(), strict=True):
            results.append(read.values[start:end] if hit else None)
            start = end
        if skip_origin or not self.has_origin or read.hits == len(batch):
            return results
        missing = np.flatnonzero(~read.found).tolist()
        fills = (self._fills.fetch(tenant, batch.item(i)) for i in missing)
        fetched = await asyncio.gather(*fills, return_exceptions=True)
        for i, value in zip(missing, fetched, strict=True):
            if isinstance(value, BaseException) and not isinstance(value, Exception):
                raise value  # a cancel
            results[i] = value
        return results

    def peek(self, tenant: str, key: bytes) -> bytes | None:
        """The cached value without counting a read, touching the policy, recording an event or
        asking the origin (for read-modify-write commands); None when not cached."""
        return self._engine.peek(tenant, key)

    def exists(self, tenant: str, keys: Sequence[bytes]) -> int:
        """How many of ``keys`` are cached, not counted as reads; a key named twice counts twice
        (as Redis EXISTS)."""
        return self._engine.exists(tenant, keys)

    def ttl_ms(self, tenant: str, key: bytes) -> int:
        """Milliseconds ``key`` has left: -2 when not cached, -1 when it has no expiry."""
        return self._engine.ttl_ms(tenant, key)

    def expires_at_ms(self, tenant: str, key: bytes) -> int:
        """When ``key`` expires in Unix milliseconds: -2 when not cached, -1 when it has no expiry.
        Expiry runs on the engine's monotonic clock; this converts through a fixed offset
        (``UnixExpiryClock``), so what :meth:`expire_at` set reads back exactly."""
        return self._unix_expiry.expires_at_ms(tenant, key)

    def keys(self, tenant: str) -> list[bytes]:
        """Every live (unexpired) key of ``tenant``."""
        return self._engine.keys(tenant)

    def key_count(self, tenant: str) -> int:
        """How many live (unexpired) keys ``tenant`` holds."""
        return self._engine.key_count(tenant)

    # -- writes (each wins over the origin loads in flight for its keys) ---------------------

    def set(
        self,
        tenant: str,
        key: bytes,
        value: bytes,
        ttl_ms: int = 0,
        condition: Condition = Condition.ALWAYS,
        keep_ttl: bool = False,
    ) -> bool:
        """Stores ``value``; False when the condition was not met (or the policy declined it).
        ``keep_ttl``: an overwrite keeps the key's expiry (Redis KEEPTTL)."""
        stored = self._engine.set(tenant, key, value, ttl_ms, condition, keep_ttl)
        if stored or condition is Condition.ALWAYS:  # an unconditional write replaced the old value
            self._written(tenant, [key])
            if self._write_listeners:
                self._tell_writes(tenant, [key])
        return stored

    def set_many(
        self,
        tenant: str,
        keys: KeyBatch,
        values: KeyBatch,
        ttl_ms: int = 0,
        condition: Condition = Condition.ALWAYS,
    ) -> np.ndarray:
        """Stores a batch, validated whole first (all or nothing); a bool per key: stored or not."""
        stored = self._engine.set_many(tenant, keys, values, ttl_ms, condition)
        invalidating = self._fills.loads_in_flight(tenant) or self.prefetch_outcomes.has_pending(tenant)
        if invalidating or self._write_listeners:
            written = range(len(keys)) if condition is Condition.ALWAYS else np.flatnonzero(stored).tolist()
            written_keys = [keys.item(i) for i in written]
            if invalidating:
                self._written(tenant, written_keys)
            if self._write_listeners and written_keys:
                self._tell_writes(tenant, written_keys)
        return stored

    def delete(self, tenant: str, keys: Sequence[bytes]) -> int:
        """Removes keys; how many distinct keys were cached (as Redis DEL). Write listeners hear of
        the keys that were cached only."""
        # Which keys are here is only asked for the listeners, and only for more than one key.
        present = self.cached(tenant, keys) if self._write_listeners and len(keys) > 1 else None
        removed = self._engine.delete(tenant, keys)
        self._written(tenant, keys)
        if removed and self._write_listeners:
            self._tell_writes(tenant, keys if present is None else [k for k, p in zip(keys, present, strict=True) if p])
        return removed

    def expire(self, tenant: str, key: bytes, ttl_ms: int, persist: bool = False) -> bool:
        """Gives ``key`` ``ttl_ms`` more to live (0 or less removes it), or with ``persist`` no
        expiry; False when it is not cached (or, with ``persist``, had no expiry)."""
        applied = self._engine.expire(tenant, key, ttl_ms, persist)
        self._expiry_changed(tenant, key, applied)
        return applied

    def expire_at(self, tenant: str, key: bytes, unix_ms: int) -> bool:
        """Makes ``key`` expire at ``unix_ms`` (Unix milliseconds); a time not in the future
        removes it. False when it is not cached. :meth:`expires_at_ms` then answers ``unix_ms``."""
        applied = self._unix_expiry.expire_at(tenant, key, unix_ms)
        self._expiry_changed(tenant, key, applied)
        return applied

    def flush(self, tenant: str) -> int:
        """Removes every entry of ``tenant`` and voids its loads in flight; how many entries.
        Write listeners hear ``(tenant, None)``."""
        removed = self._engine.flush(tenant)
        self._fills.invalidate_tenant(tenant)
        self.prefetch_outcomes.flushed(tenant)
        if self._write_listeners:
            self._tell_writes(tenant, None)
        return removed

    # -- prefetching and hints ---------------------------------------------------------------

    def prefetch(self, tenant: str, keys: Sequence[bytes]) -> int:
        """Loads keys neither cached nor loading in the background, at low priority; how many
        were queued. Needs an origin."""
        if not self.has_origin:
            raise FailedPrecondition("prefetching needs an origin to load from; start the cache with PREDIS_ORIGIN")
        self._engine.check_batch_size(len(keys))
        return len(self._fills.prefetch(tenant, list(keys), PrefetchIssuer.CLIENT))

    def start_prefetches(
        self, tenant: str, keys: Sequence[bytes], issuer: PrefetchIssuer = PrefetchIssuer.LOOP
    ) -> list[PendingPrefetch]:
        """As :meth:`prefetch` for an issuer that follows its prefetches: the ones started, which
        it may label (their outcomes come back from ``prefetch_outcomes.take_settled``)."""
        return self._fills.prefetch(tenant, keys, issuer)

    def hint(self, tenant: str, kind: str, keys: Sequence[bytes]) -> int:
        """Records a ``group`` or ``sequence`` hint; how many links it added."""
        return self._hints.add(tenant, kind, keys)

    def cached(self, tenant: str, keys: Sequence[bytes]) -> np.ndarray:
        """Whether each key is cached, not counted as a read."""
        return self._engine.exists_mask(tenant, KeyBatch.of(list(keys)))

    def is_loading(self, tenant: str, key: bytes) -> bool:
        """Whether an origin load of ``key`` is in flight."""
        return self._fills.is_loading(tenant, key)

    def settle_departed_prefetches(self, tenant: str, limit: int = SETTLE_CHECKS) -> int:
        """Settles as wasted the oldest pending prefetches whose entries left the cache unread
        (evicted or expired: the engine does not say which keys it drops); how many."""
        oldest = self.prefetch_outcomes.oldest_pending(tenant, limit)
        if not oldest:
            return 0
        present = self.cached(tenant, [p.key for p in oldest])
        settled = 0
        for prefetch, here in zip(oldest, present.tolist(), strict=True):
            if not here and not self._fills.is_loading(tenant, prefetch.key):
                settled += self.prefetch_outcomes.settle(prefetch, PrefetchOutcome.WASTED)
        return settled

    # -- listeners and events ----------------------------------------------------------------

    def on_read(self, listener: AccessListener, one: OneReadListener | None = None) -> None:
        """Makes ``listener`` hear every read (tenant id, keys, found, prefetched, value lengths,
        time in ns, the keys' hashes), after the listeners registered before it; ``one``, when
        given, hears the reads of one key instead, in scalars (tenant id, key, its hash, found,
        prefetched, value length, time in ns); without it ``listener`` hears them too. Listeners run
        on the read path: they must be quick and must not raise."""
        self._listeners.append(listener)
        self._one_listeners.append(one if one is not None else functools.partial(tell_as_batch, listener))
        self._engine.listener = listener if len(self._listeners) == 1 else self._tell_listeners
        self._engine.one_listener = self._one_listeners[0] if len(self._one_listeners) == 1 else self._tell_one

    def on_read_of(self, listener: Callable[[int], None]) -> None:
        """:meth:`on_read` for a listener that needs only whose read it was (the tenant id: the
        prefetch loop's wake-up). Such a listener leaves a front end's compiled reads compiled
        (:meth:`compiled_read_done` tells it); any other read listener sends them the ordinary way."""
        self._tenant_listeners.append(listener)
        self.on_read(lambda tenant, *_: listener(tenant), lambda tenant, *_: listener(tenant))

    def on_write(self, listener: WriteListener) -> None:
        """Makes ``listener`` hear of every write from any front end, after it is made: the tenant
        and the keys it set, removed or gave another expiry (a conditional set or expiry that
        was not applied, and a delete of a key not cached, are no writes), or the tenant and None
        when the tenant was flushed. Loads from the origin and evictions are not writes. Listeners
        run on the write path: they must be quick and must not raise. Without listeners writes
        do no work for them."""
        self._write_listeners.append(listener)

    def remove_write_listener(self, listener: WriteListener) -> None:
        """Stops telling ``listener`` of writes (registered with :meth:`on_write`)."""
        self._write_listeners.remove(listener)

    @property
    def has_events(self) -> bool:
        """Whether reads are kept in the event ring (the collector is on)."""
        return self._ring is not None

    @property
    def ring(self) -> AccessRing | None:
        """The event ring, for readers with their own cursor (exporter, segment recorder)."""
        return self._ring

    def event_cursor(self) -> int:
        """A cursor from which :meth:`read_events` gives only events recorded after this call."""
        return self._events().head

    def read_events(self, cursor: int, limit: int, tenant: str | None = None) -> tuple[EventBatch, int]:
        """Up to ``limit`` events after ``cursor`` (of ``tenant`` only, when given) and the next cursor."""
        t = None if tenant is None else self._engine.tenant_id(tenant)
        return self._events().read(cursor, limit, tenant=t)

    def tenant_name(self, tenant: int) -> str:
        """The name of the tenant an event's tenant id stands for."""
        return self._engine.tenant_name(tenant)

    def tenants(self) -> list[str]:
        """Every tenant the cache has seen since it started, in the order they came."""
        return self._engine.tenant_names()

    # -- what it holds -----------------------------------------------------------------------

    def counters(self, tenant: str) -> dict[str, int]:
        """``tenant``'s counters: reads, entries and memory, expiry and eviction, origin calls,
        and its prefetches in prefetch_outcomes.py's meanings (every issuer together), with the
        keys its prefetches skipped over its prefetch budget (``prefetches_over_budget``)."""
        view = self._engine.tenant_view(tenant)
        c = view.counters
        outcomes = self.prefetch_outcomes.counts(tenant)
        return {
            "hits": c["hits"],
            "misses": c["misses"],
            "entries": c["entries"],
            "memory_bytes": c["memory"],
            "quota_bytes": view.quota_bytes,
            "evictions": c["evictions"],
            "expired": c["expired"],
            "origin_fetches": c["origin_fetches"],
            "origin_errors": c["origin_errors"],
            "unread_prefetch_bytes": c["prefetch_bytes"],
            "prefetches_issued": outcomes.issued,
            "prefetches_loaded": outcomes.loaded,
            "prefetches_used": outcomes.used,
            "prefetches_late": outcomes.late,
            "prefetches_wasted": outcomes.wasted,
            "prefetches_over_budget": self._prefetch_budget.over_budget[tenant] if self._prefetch_budget else 0,
        }

    def engine_view(self) -> EngineView:
        e = self._engine
        return EngineView(e.config.memory_bytes, e.memory_bytes, e.entry_count, e.policy_name, e.storage.name)

    def memory(self, tenant: str) -> TenantMemory:
        e = self._engine
        c = e.tenant_view(tenant).counters
        capacity = e.quota_of(tenant) or e.config.memory_bytes
        return TenantMemory(capacity, c["memory"], c["prefetch_bytes"], e.memory_bytes, e.config.memory_bytes)

    def quality(self, tenant: str) -> LiveQuality | None:
        """The shadow's counts for ``tenant``; None when the shadow is off."""
        if self._shadow is None:
            return None
        t = self._engine.tenant_id(tenant)
        return LiveQuality(self._shadow.counts(t), self._shadow.entries(t), self._shadow.sample_rate(t))

    @property
    def shadow(self) -> ShadowCache | None:
        """The keys-only shadow, for the quality windows sent to drift."""
        return self._shadow

    # -- upkeep ------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Active expiry, and pending prefetches whose entries left unread settle as wasted;
        answers how many entries expired."""
        removed = self._engine.sweep_expired()
        for tenant in self.prefetch_outcomes.tenants_pending():
            self.settle_departed_prefetches(tenant)
        return removed

    def capture_snapshot(self, now_unix_ms: int | None = None) -> snapshot.Snapshot:
        """Every live entry with its expiry as a wall-clock time (snapshot.py)."""
        return snapshot.capture(self._engine, now_unix_ms)

    def close(self) -> None:
        """Stops the origin's workers and closes the origin."""
        self._fills.close()

    # -- internals ---------------------------------------------------------------------------

    def _read(self, tenant: str, keys: KeyBatch) -> BatchRead:
        read = self._engine.get_many(tenant, keys)
        if read.prefetched_hits:
            first_reads = (keys.item(int(i)) for i in np.flatnonzero(read.prefetched))
            self.prefetch_outcomes.read_prefetched(tenant, first_reads)
        return read

    def _prefetch_hinted(self, tenant: str, keys: Sequence[bytes]) -> None:
        if self.has_origin:
            followers = self._hints.followers(tenant, keys)
            if followers:
                self._fills.prefetch(tenant, followers, PrefetchIssuer.HINT)

    def _written(self, tenant: str, keys: Sequence[bytes]) -> None:
        """``keys`` were just written or removed: loads in flight for them must not store, and
        prefetched entries of them that nobody read were wasted."""
        self._fills.invalidate(tenant, keys)
        self.prefetch_outcomes.left_unread(tenant, keys)

    def _expiry_changed(self, tenant: str, key: bytes, applied: bool) -> None:
        self._fills.invalidate(tenant, [key])
        if self.prefetch_outcomes.has_pending(tenant) and not self.cached(tenant, [key])[0]:
            self.prefetch_outcomes.left_unread(tenant, [key])  # the expiry removed it
        if applied and self._write_listeners:
            self._tell_writes(tenant, [key])

    def _tell_writes(self, tenant: str, keys: Sequence[bytes] | None) -> None:
        for listener in list(self._write_listeners):  # a listener may remove itself
            listener(tenant, keys)

    def _tell_listeners(
        self,
        tenant: int,
        keys: KeyBatch,
        found: np.ndarray,
        prefetched: np.ndarray,
        lengths: np.ndarray,
        now: int,
        hashes: np.ndarray,
    ) -> None:
        for listener in self._listeners:
            listener(tenant, keys, found, prefetched, lengths, now, hashes)

    def _tell_one(
        self, tenant: int, key: bytes, key_hash: int, found: bool, prefetched: bool, length: int, now: int
    ) -> None:
        for listener in self._one_listeners:
            listener(tenant, key, key_hash, found, prefetched, length, now)

    def _events(self) -> AccessRing:
        if self._ring is None:
            raise NotBuilt("the access collector is off in this cache (PREDIS_CACHE_COLLECTOR_EVENTS=0)")
        return self._ring


def _listed(keys: KeyBatch) -> list[bytes]:
    """Each key of a batch as bytes (for the hints, which look keys up one by one)."""
    return [keys.item(i) for i in range(len(keys))]
