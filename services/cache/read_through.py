"""The origin side of read-through: loads of missing keys from the origin, one call per key at a
time (single flight), stored as they land, unless a write to the key came after they started.

Plain Python and asyncio, no gRPC. The origin is any :class:`predis.plugins.Origin`; blocking
origins run in a bounded worker pool so a slow origin never blocks the event loop. The cache
domain (``domain.py``) is the only caller: it reads the engine first and asks here for what is
missing, and it tells this layer about every write.

Writes win over fills. A fill (a read-through or a prefetch) takes the origin's value as of when
it asked; a write to the key after that (set, delete, expire, flush) is newer, so such a fill
must not store. A write marks the key's flight stale and detaches it: readers already waiting
still get the origin's value (their read began before the write), later reads start a fresh
load, and the stale value is never stored. Flights live only while loading, so this costs one
flag per key in flight rather than a generation per key ever written.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import numpy as np

from predis.plugins.origin import Origin
from predis.services.cache.admission import PrefetchBudget
from predis.services.cache.engine.engine import BatchRead, Counter, Engine
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.origin_breaker import OriginBreaker
from predis.services.cache.prefetch_outcomes import PendingPrefetch, PrefetchIssuer, PrefetchOutcome, PrefetchOutcomes
from predis.services.cache.request_durations import CacheDurations
from predis.services.runtime.errors import DependencySkipped, DomainError, TimedOut, Unavailable

log = logging.getLogger(__name__)


class ValueOrigin(Enum):
    CACHE = "cache"
    PREFETCH = "prefetch"
    ORIGIN = "origin"
    NONE = "none"


class ReadResult(NamedTuple):
    """A read's value and where it came from (a tuple: every GET makes one, and a frozen
    dataclass costs several times as much to build)."""

    value: bytes | None
    source: ValueOrigin


@dataclass(eq=False)
class _Flight:
    """One origin load in flight for one key."""

    future: asyncio.Future[bytes | None]
    # The prefetch it loads for, while no reader has asked for the key: stored as a prefetch.
    prefetch: PendingPrefetch | None = None
    stale: bool = False  # a write came after it started: its value must not be stored


def _start_every_worker(pool: ThreadPoolExecutor, workers: int) -> None:
    """Starts all of ``pool``'s threads now (each waits for the others), rather than one at a time
    as bursts of misses first need them: the cache's memory is then what it will stay, from the
    start (the soak benchmark saw 7 start over ten minutes, its memory rising with each)."""
    barrier = threading.Barrier(workers)
    for _ in range(workers):
        pool.submit(barrier.wait, 10.0)


class OriginFills:
    """Loads from ``origin`` into ``engine`` for the cache domain; tells ``outcomes`` what became
    of each prefetch it loads. Prefetch loads keep to each tenant's ``prefetch_budget`` (origin
    fetches a second); read-through fills of a reader's misses do not."""

    def __init__(
        self,
        engine: Engine,
        origin: Origin | None,
        outcomes: PrefetchOutcomes,
        origin_timeout_s: float = 2.0,
        origin_workers: int = 32,
        prefetch_queue: int = 10_000,
        breaker: OriginBreaker | None = None,
        prefetch_budget: PrefetchBudget | None = None,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self.outcomes = outcomes
        self.breaker = breaker or OriginBreaker()
        self.origin_timeout_s = origin_timeout_s
        self.prefetch_queue = prefetch_queue
        self.prefetch_budget = prefetch_budget if prefetch_budget is not None and prefetch_budget.limits_any else None
        self._pool = ThreadPoolExecutor(max_workers=origin_workers, thread_name_prefix="origin")
        if origin is not None:
            _start_every_worker(self._pool, origin_workers)
        self.durations: CacheDurations | None = None  # origin calls timed, once metrics are on
        self._inflight: dict[tuple[str, bytes], _Flight] = {}
        self._loading = collections.Counter[str]()  # keys in self._inflight per tenant: writes skip tenants with none
        self._prefetching = 0

    async def fetch(self, tenant: str, key: bytes) -> bytes | None:
        """The origin's value of ``key``: joins the load in flight for it or starts one."""
        flight = self._inflight.get((tenant, key))
        if flight is None:
            flight = self._start(tenant, key, None)
        elif flight.prefetch is not None:
            # A reader wants it now: a right guess too late to be a hit, stored as this read's.
            self.outcomes.settle(flight.prefetch, PrefetchOutcome.LATE)
            flight.prefetch = None
        # shield: one caller giving up (deadline, cancel) must not cancel the fetch for the others.
        return await asyncio.shield(flight.future)

    def prefetch(self, tenant: str, keys: Sequence[bytes], issuer: PrefetchIssuer) -> list[PendingPrefetch]:
        """Starts background loads of the keys neither cached nor loading, within the prefetch
        queue and the tenant's prefetch budget (keys over it are skipped and counted there);
        answers the prefetches started. Callers never wait for them."""
        if self.origin is None or not keys:
            return []
        present = self.engine.exists_mask(tenant, KeyBatch.of(list(keys)))
        budget = self.prefetch_budget
        started = []
        for i, key in enumerate(keys):
            if present[i] or (tenant, key) in self._inflight or self._prefetching >= self.prefetch_queue:
                continue
            if budget is not None and not budget.allows(tenant):
                continue
            prefetch = self.outcomes.issue(tenant, key, issuer)
            self._prefetching += 1
            self._start(tenant, key, prefetch).future.add_done_callback(self._prefetch_done)
            started.append(prefetch)
        return started

    def is_loading(self, tenant: str, key: bytes) -> bool:
        """Whether an origin load of ``key`` (read-through or prefetch) is in flight."""
        return (tenant, key) in self._inflight

    def loads_in_flight(self, tenant: str) -> int:
        return self._loading[tenant]

    def invalidate(self, tenant: str, keys: Sequence[bytes]) -> None:
        """``keys`` were just written: loads in flight for them must not store what they bring."""
        if not self._loading[tenant]:
            return
        for key in keys:
            self._detach(tenant, key)

    def invalidate_tenant(self, tenant: str) -> None:
        """``tenant`` was flushed: none of its loads in flight may store what they bring."""
        if not self._loading[tenant]:
            return
        for t, key in [k for k in self._inflight if k[0] == tenant]:
            self._detach(t, key)

    def _detach(self, tenant: str, key: bytes) -> None:
        flight = self._inflight.pop((tenant, key), None)
        if flight is not None:
            flight.stale = True
            self._loading[tenant] -= 1

    def _prefetch_done(self, future: asyncio.Future[bytes | None]) -> None:
        self._prefetching -= 1
        if future.exception() is not None:
            log.info("a prefetch failed: %s", future.exception())

    def _start(self, tenant: str, key: bytes, prefetch: PendingPrefetch | None) -> _Flight:
        loop = asyncio.get_running_loop()
        flight = _Flight(loop.create_future(), prefetch)
        self._inflight[(tenant, key)] = flight
        self._loading[tenant] += 1
        loop.create_task(self._run(tenant, key, flight))
        return flight

    async def _run(self, tenant: str, key: bytes, flight: _Flight) -> None:
        try:
            value = await self._ask_origin(tenant, key)
            if value is not None and not flight.stale:
                self._store(tenant, key, value, flight)
            flight.future.set_result(value)
        except DomainError as error:  # skipped, timed out or failed: nothing was cached
            self.engine.count(tenant, Counter.ORIGIN_ERRORS)
            flight.future.set_exception(error)
        finally:
            if self._inflight.get((tenant, key)) is flight:
                del self._inflight[(tenant, key)]
                self._loading[tenant] -= 1
            if flight.prefetch is not None:  # still unread and not held: it brought nothing
                self.outcomes.settle(flight.prefetch, PrefetchOutcome.WASTED)
        # Every waiter may have given up already; reading the exception keeps asyncio quiet.
        flight.future.exception()

    async def _ask_origin(self, tenant: str, key: bytes) -> bytes | None:
        """One origin call through the breaker, which it tells how the call went; any failure
        becomes one clear domain error."""
        assert self.origin is not None
        if not self.breaker.allow():
            raise DependencySkipped(self.breaker.refusal())
        self.engine.count(tenant, Counter.ORIGIN_FETCHES)
        loop = asyncio.get_running_loop()
        started, answered = time.perf_counter_ns(), False
        try:
            value = await asyncio.wait_for(
                loop.run_in_executor(self._pool, self.origin.fetch, tenant, key), self.origin_timeout_s
            )
            if value is not None and not isinstance(value, bytes | bytearray):
                raise TypeError(f"origin returned {type(value).__name__}, not bytes")
            answered = True
        except TimeoutError:
            self.breaker.record(success=False)
            raise TimedOut(f"the origin did not answer within {self.origin_timeout_s:g}s; nothing was cached") from None
        except Exception as exc:  # noqa: BLE001 - any origin failure becomes one clear error
            self.breaker.record(success=False)
            log.warning("origin fetch failed: %s: %s", type(exc).__name__, exc)
            raise Unavailable(f"the origin failed ({type(exc).__name__}: {exc}); nothing was cached") from None
        finally:
            if self.durations is not None:
                durations = self.durations.origin_ok if answered else self.durations.origin_error
                durations.record_since(tenant, started)
        self.breaker.record(success=True)
        return None if value is None else bytes(value)

    def _store(self, tenant: str, key: bytes, value: bytes, flight: _Flight) -> None:
        """Caches an origin value; a value the cache cannot hold is still returned, uncached."""
        try:
            if flight.prefetch is None:
                self.engine.set(tenant, key, value)
                self.outcomes.left_unread(tenant, [key])  # an earlier prefetch's entry had left unread
            elif self.engine.insert_prefetched(tenant, key, value):
                self.outcomes.loaded(flight.prefetch)
                flight.prefetch = None  # held unread now: its first read or its leaving settles it
        except DomainError as error:
            log.info("origin value not cached: %s", error)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.origin is not None:
            self.origin.close()


def merge_fills(
    read: BatchRead, missing: np.ndarray, fetched: list[bytes | None]
) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The batch read with the origin's values filled in where keys were missing."""
    lengths = read.lengths.copy()
    found = read.found.copy()
    pieces: list[bytes] = []
    starts = np.concatenate([[0], np.cumsum(read.lengths, dtype=np.int64)])
    fill = dict(zip(missing.tolist(), fetched, strict=True))
    for i in range(len(lengths)):
        if i in fill:
            value = fill[i]
            if value is not None:
                pieces.append(value)
                lengths[i] = len(value)
                found[i] = True
        else:
            pieces.append(read.values[starts[i] : starts[i + 1]])
    return b"".join(pieces), lengths, found
