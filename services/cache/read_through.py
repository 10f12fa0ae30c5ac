"""The cache's domain: reads that fall through to the origin, one origin call per key at a time.

Plain Python and asyncio, no gRPC. The origin is any :class:`predis.plugins.Origin`; blocking
origins run in a bounded worker pool so a slow origin never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

from predis.plugins.origin import Origin
from predis.services.cache.store import CacheStore, Source
from predis.services.runtime.errors import TimedOut, Unavailable

log = logging.getLogger(__name__)


class ValueOrigin(Enum):
    CACHE = "cache"
    PREFETCH = "prefetch"
    ORIGIN = "origin"
    NONE = "none"


@dataclass(frozen=True)
class ReadResult:
    value: bytes | None
    source: ValueOrigin


class ReadThroughCache:
    """A :class:`CacheStore` whose misses ask ``origin`` (when there is one), single-flight."""

    def __init__(
        self,
        store: CacheStore,
        origin: Origin | None,
        origin_timeout_s: float = 2.0,
        origin_workers: int = 32,
    ) -> None:
        self.store = store
        self.origin = origin
        self.origin_timeout_s = origin_timeout_s
        self._pool = ThreadPoolExecutor(max_workers=origin_workers, thread_name_prefix="origin")
        self._inflight: dict[tuple[str, bytes], asyncio.Future[bytes | None]] = {}

    async def get(self, tenant: str, key: bytes, skip_origin: bool = False) -> ReadResult:
        lookup = self.store.get(tenant, key)
        if lookup.value is not None:
            return ReadResult(lookup.value, ValueOrigin.PREFETCH if lookup.prefetched else ValueOrigin.CACHE)
        if skip_origin or self.origin is None:
            return ReadResult(None, ValueOrigin.NONE)
        value = await self._fetch_once(tenant, key)
        return ReadResult(value, ValueOrigin.ORIGIN if value is not None else ValueOrigin.NONE)

    async def _fetch_once(self, tenant: str, key: bytes) -> bytes | None:
        """Joins the in-flight origin call for this key or starts one; caches what it returns."""
        flight = self._inflight.get((tenant, key))
        if flight is None:
            flight = asyncio.get_running_loop().create_future()
            self._inflight[(tenant, key)] = flight
            asyncio.get_running_loop().create_task(self._run_fetch(tenant, key, flight))
        # shield: one caller giving up (deadline, cancel) must not cancel the fetch for the others.
        return await asyncio.shield(flight)

    async def _run_fetch(self, tenant: str, key: bytes, flight: asyncio.Future[bytes | None]) -> None:
        assert self.origin is not None
        counters = self.store.counters(tenant)
        counters.origin_fetches += 1
        loop = asyncio.get_running_loop()
        try:
            value = await asyncio.wait_for(
                loop.run_in_executor(self._pool, self.origin.fetch, tenant, key), self.origin_timeout_s
            )
            if value is not None and not isinstance(value, bytes | bytearray):
                raise TypeError(f"origin returned {type(value).__name__}, not bytes")
            if value is not None:
                value = bytes(value)
                self.store.set(tenant, key, value, source=Source.ORIGIN)
            flight.set_result(value)
        except TimeoutError:
            counters.origin_errors += 1
            flight.set_exception(
                TimedOut(f"the origin did not answer within {self.origin_timeout_s:g}s; nothing was cached")
            )
        except Exception as exc:  # noqa: BLE001 - any origin failure becomes one clear error
            counters.origin_errors += 1
            log.warning("origin fetch failed: %s: %s", type(exc).__name__, exc)
            flight.set_exception(Unavailable(f"the origin failed ({type(exc).__name__}: {exc}); nothing was cached"))
        finally:
            del self._inflight[(tenant, key)]
        # Every waiter may have given up already; reading the exception keeps asyncio quiet.
        flight.exception()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.origin is not None:
            self.origin.close()
