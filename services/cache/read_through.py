"""The cache's domain: reads that fall through to the origin (one origin call per key at a
time) and prefetches that load keys in the background at low priority.

Plain Python and asyncio, no gRPC. The origin is any :class:`predis.plugins.Origin`; blocking
origins run in a bounded worker pool so a slow origin never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

import numpy as np

from predis.plugins.origin import Origin
from predis.services.cache.engine.engine import BatchRead, Counter, Engine
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.hints import HintTable
from predis.services.cache.origin_breaker import OriginBreaker
from predis.services.runtime.errors import DependencySkipped, DomainError, TimedOut, Unavailable

log = logging.getLogger(__name__)
MAX_LATE_REMEMBERED = 1 << 16


class ValueOrigin(Enum):
    CACHE = "cache"
    PREFETCH = "prefetch"
    ORIGIN = "origin"
    NONE = "none"


@dataclass(frozen=True)
class ReadResult:
    value: bytes | None
    source: ValueOrigin


def _start_every_worker(pool: ThreadPoolExecutor, workers: int) -> None:
    """Starts all of ``pool``'s threads now (each waits for the others), rather than one at a time
    as bursts of misses first need them: the cache's memory is then what it will stay, from the
    start (the soak benchmark saw 7 start over ten minutes, its memory rising with each)."""
    barrier = threading.Barrier(workers)
    for _ in range(workers):
        pool.submit(barrier.wait, 10.0)


class ReadThroughCache:
    """An :class:`Engine` whose misses ask ``origin`` (when there is one), single-flight."""

    def __init__(
        self,
        engine: Engine,
        origin: Origin | None,
        origin_timeout_s: float = 2.0,
        origin_workers: int = 32,
        prefetch_queue: int = 10_000,
        breaker: OriginBreaker | None = None,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self.breaker = breaker or OriginBreaker()
        self.origin_timeout_s = origin_timeout_s
        self.prefetch_queue = prefetch_queue
        self._pool = ThreadPoolExecutor(max_workers=origin_workers, thread_name_prefix="origin")
        if origin is not None:
            _start_every_worker(self._pool, origin_workers)
        self._inflight: dict[tuple[str, bytes], asyncio.Future[bytes | None]] = {}
        self._prefetch_flights: set[tuple[str, bytes]] = set()  # in flight and asked for by nobody yet
        # Reads that joined a prefetch still in flight (it came too late to be a hit); bounded.
        self._late_prefetches: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._prefetching = 0
        self.hints = HintTable()

    def _prefetch_hinted(self, tenant: str, keys: Sequence[bytes]) -> None:
        if self.origin is not None:
            followers = self.hints.followers(tenant, keys)
            if followers:
                self.prefetch(tenant, followers)

    async def get(self, tenant: str, key: bytes, skip_origin: bool = False) -> ReadResult:
        self._prefetch_hinted(tenant, [key])
        value, prefetched = self.engine.get(tenant, key)
        if value is not None:
            return ReadResult(value, ValueOrigin.PREFETCH if prefetched else ValueOrigin.CACHE)
        if skip_origin or self.origin is None:
            return ReadResult(None, ValueOrigin.NONE)
        fetched = await self._fetch_once(tenant, key)
        return ReadResult(fetched, ValueOrigin.ORIGIN if fetched is not None else ValueOrigin.NONE)

    async def get_many(
        self, tenant: str, keys: KeyBatch, skip_origin: bool = False
    ) -> tuple[bytes, np.ndarray, np.ndarray]:
        """Values packed in key order, their lengths and a found mask; misses read through."""
        if self.origin is not None and self.hints.has(tenant):
            self._prefetch_hinted(tenant, [keys.item(i) for i in range(len(keys))])
        read = self.engine.get_many(tenant, keys)
        missing = np.flatnonzero(~read.found)
        if skip_origin or self.origin is None or not len(missing):
            return read.values, read.lengths, read.found
        fetched = await asyncio.gather(*(self._fetch_once(tenant, keys.item(int(i))) for i in missing))
        return _merge(read, missing, fetched)

    def prefetch(self, tenant: str, keys: Sequence[bytes]) -> int:
        """Queues background loads of the keys not cached and not already being loaded; returns
        how many were queued. Callers never wait for them."""
        return len(self.prefetch_keys(tenant, keys))

    def prefetch_keys(self, tenant: str, keys: Sequence[bytes]) -> list[bytes]:
        """As :meth:`prefetch`, answering which keys were queued."""
        if self.origin is None or not keys:
            return []
        present = self.engine.exists_mask(tenant, KeyBatch.of(list(keys)))
        queued = []
        for i, key in enumerate(keys):
            if present[i] or (tenant, key) in self._inflight or self._prefetching >= self.prefetch_queue:
                continue
            self._prefetching += 1
            queued.append(key)
            self._start_fetch(tenant, key, prefetch=True).add_done_callback(self._prefetch_done)
        return queued

    def take_late_prefetch(self, tenant: str, key: bytes) -> bool:
        """Whether a read joined ``key``'s prefetch while it was still loading (answered once)."""
        if (tenant, key) not in self._late_prefetches:
            return False
        del self._late_prefetches[(tenant, key)]
        return True

    def is_loading(self, tenant: str, key: bytes) -> bool:
        """Whether an origin fetch of ``key`` (read-through or prefetch) is in flight."""
        return (tenant, key) in self._inflight

    def _prefetch_done(self, flight: asyncio.Future[bytes | None]) -> None:
        self._prefetching -= 1
        if flight.exception() is not None:
            log.info("a prefetch failed: %s", flight.exception())

    def _start_fetch(self, tenant: str, key: bytes, prefetch: bool) -> asyncio.Future[bytes | None]:
        flight = asyncio.get_running_loop().create_future()
        self._inflight[(tenant, key)] = flight
        if prefetch:
            self._prefetch_flights.add((tenant, key))
        asyncio.get_running_loop().create_task(self._run_fetch(tenant, key, flight, prefetch))
        return flight

    async def _fetch_once(self, tenant: str, key: bytes) -> bytes | None:
        """Joins the in-flight origin call for this key or starts one; caches what it returns."""
        flight = self._inflight.get((tenant, key))
        if flight is None:
            flight = self._start_fetch(tenant, key, prefetch=False)
        elif (tenant, key) in self._prefetch_flights:
            # A reader wants it now: it will be stored as an ordinary read, not as a prefetch.
            self._prefetch_flights.discard((tenant, key))
            self._late_prefetches[(tenant, key)] = None
            while len(self._late_prefetches) > MAX_LATE_REMEMBERED:
                self._late_prefetches.popitem(last=False)
        # shield: one caller giving up (deadline, cancel) must not cancel the fetch for the others.
        return await asyncio.shield(flight)

    async def _run_fetch(self, tenant: str, key: bytes, flight: asyncio.Future[bytes | None], prefetch: bool) -> None:
        try:
            value = await self._ask_origin(tenant, key)
            if value is not None:
                self._store(tenant, key, value, prefetch and (tenant, key) in self._prefetch_flights)
            flight.set_result(value)
        except DomainError as error:  # skipped, timed out or failed: nothing was cached
            self.engine.count(tenant, Counter.ORIGIN_ERRORS)
            flight.set_exception(error)
        finally:
            del self._inflight[(tenant, key)]
            self._prefetch_flights.discard((tenant, key))
        # Every waiter may have given up already; reading the exception keeps asyncio quiet.
        flight.exception()

    async def _ask_origin(self, tenant: str, key: bytes) -> bytes | None:
        """One origin call through the breaker, which it tells how the call went; any failure
        becomes one clear domain error."""
        assert self.origin is not None
        if not self.breaker.allow():
            raise DependencySkipped(self.breaker.refusal())
        self.engine.count(tenant, Counter.ORIGIN_FETCHES)
        loop = asyncio.get_running_loop()
        try:
            value = await asyncio.wait_for(
                loop.run_in_executor(self._pool, self.origin.fetch, tenant, key), self.origin_timeout_s
            )
            if value is not None and not isinstance(value, bytes | bytearray):
                raise TypeError(f"origin returned {type(value).__name__}, not bytes")
        except TimeoutError:
            self.breaker.record(success=False)
            raise TimedOut(f"the origin did not answer within {self.origin_timeout_s:g}s; nothing was cached") from None
        except Exception as exc:  # noqa: BLE001 - any origin failure becomes one clear error
            self.breaker.record(success=False)
            log.warning("origin fetch failed: %s: %s", type(exc).__name__, exc)
            raise Unavailable(f"the origin failed ({type(exc).__name__}: {exc}); nothing was cached") from None
        self.breaker.record(success=True)
        return None if value is None else bytes(value)

    def _store(self, tenant: str, key: bytes, value: bytes, prefetch: bool) -> None:
        """Caches an origin value; a value the cache cannot hold is still returned, uncached."""
        try:
            if prefetch:
                self.engine.insert_prefetched(tenant, key, value)
            else:
                self.engine.set(tenant, key, value)
        except DomainError as error:
            log.info("origin value not cached: %s", error)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.origin is not None:
            self.origin.close()


def _merge(read: BatchRead, missing: np.ndarray, fetched: list[bytes | None]) -> tuple[bytes, np.ndarray, np.ndarray]:
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
