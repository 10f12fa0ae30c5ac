"""Per-tenant rate quotas of the cache: how many data-plane requests a tenant may make a second
(:class:`RequestRates`), and how many origin fetches its prefetches may start a second
(:class:`PrefetchBudget`). Plain Python, no gRPC, no asyncio.

Each limited tenant has a token bucket: it holds at most ``burst`` tokens, gains ``rate`` a
second, and each request (or prefetch load) takes one. A tenant's bucket is made at its first
request and starts full; a tenant whose rate is 0 is unlimited and has none. Every call is O(1):
one dict lookup and a few float operations. The clock is injected (monotonic seconds), so tests
move time by hand instead of sleeping.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from predis.services.runtime.errors import RateLimited

Clock = Callable[[], float]

REQUEST_RATE_VARIABLE = "PREDIS_TENANT_RATE_LIMIT"
REQUEST_RATES_VARIABLE = "PREDIS_TENANT_RATE_LIMITS"
REQUEST_BURST_VARIABLE = "PREDIS_TENANT_RATE_BURST"


@dataclass(frozen=True)
class RateLimit:
    """One per-tenant rate: ``per_second`` for every tenant, ``overrides`` for named ones (0 in
    either: unlimited). ``burst``: most tokens a bucket holds; 0 gives each tenant one second of
    its own rate (at least 1, so a rate below one a second still admits one at a time)."""

    per_second: float = 0.0
    overrides: Mapping[str, float] = field(default_factory=dict)
    burst: float = 0.0

    def __post_init__(self) -> None:
        rates = [self.per_second, *self.overrides.values()]
        if any(not math.isfinite(r) or r < 0 for r in rates):
            raise ValueError("a rate must be a finite number, 0 (unlimited) or more")
        if self.burst and not (math.isfinite(self.burst) and self.burst >= 1):
            raise ValueError("a burst must be at least 1 (one request), or 0 for one second's worth")

    @property
    def limits_any(self) -> bool:
        """Whether some tenant is limited at all (else every call may skip the buckets)."""
        return self.per_second > 0 or any(r > 0 for r in self.overrides.values())

    def rate_of(self, tenant: str) -> float:
        return self.overrides.get(tenant, self.per_second)

    def burst_of(self, tenant: str) -> float:
        return self.burst or max(1.0, self.rate_of(tenant))


class _Bucket:
    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def seconds_to_next(self) -> float:
        """How long until the bucket holds one whole token again."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


class TenantBuckets:
    """A token bucket per limited tenant, for one :class:`RateLimit`."""

    def __init__(self, limit: RateLimit, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.limits_any = limit.limits_any
        self._buckets: dict[str, _Bucket | None] = {}  # None: the tenant is unlimited

    def take(self, tenant: str, wanted: int = 1) -> int:
        """Takes up to ``wanted`` tokens from ``tenant``'s bucket; how many it got (``wanted``
        for an unlimited tenant)."""
        bucket = self._bucket(tenant)
        if bucket is None:
            return wanted
        bucket.refill(self.clock())
        granted = min(wanted, int(bucket.tokens))
        bucket.tokens -= granted
        return granted

    def seconds_to_next(self, tenant: str) -> float:
        """How long until ``tenant`` may make its next request (0 when it may now)."""
        bucket = self._bucket(tenant)
        if bucket is None:
            return 0.0
        bucket.refill(self.clock())
        return bucket.seconds_to_next()

    def _bucket(self, tenant: str) -> _Bucket | None:
        try:
            return self._buckets[tenant]
        except KeyError:
            rate = self.limit.rate_of(tenant)
            bucket = _Bucket(rate, self.limit.burst_of(tenant), self.clock()) if rate > 0 else None
            self._buckets[tenant] = bucket
            return bucket


class RequestRates:
    """The request-rate quota of the cache's data plane: every gRPC CacheService call and every
    RESP command but the connection ones is one request; a batch call is one request."""

    def __init__(self, limit: RateLimit | None = None, clock: Clock = time.monotonic) -> None:
        self._buckets = TenantBuckets(limit or RateLimit(), clock)
        self.limit = self._buckets.limit

    @property
    def limits_any(self) -> bool:
        return self._buckets.limits_any

    def admit(self, tenant: str) -> None:
        """Counts one request of ``tenant``; :class:`RateLimited` (an ``Overloaded``) when its
        rate is spent, before anything is done."""
        if not self._buckets.limits_any or self._buckets.take(tenant):
            return
        limit = self.limit
        variable = REQUEST_RATES_VARIABLE if tenant in limit.overrides else REQUEST_RATE_VARIABLE
        burst = "" if not limit.burst else f", {REQUEST_BURST_VARIABLE}"
        raise RateLimited(
            f"request rate limit reached: tenant {tenant!r} may make {limit.rate_of(tenant):g} requests a second, "
            f"{limit.burst_of(tenant):g} at once ({variable}{burst}); nothing was done: retry in "
            f"{self._buckets.seconds_to_next(tenant):.2f}s, or ask for a higher limit"
        )


class PrefetchBudget:
    """The prefetch quota: origin fetches a tenant's prefetches (the learned loop's, hints' and
    Prefetch calls') may start a second. Keys over it are skipped and counted, not refused."""

    def __init__(self, limit: RateLimit | None = None, clock: Clock = time.monotonic) -> None:
        self._buckets = TenantBuckets(limit or RateLimit(), clock)
        self.limit = self._buckets.limit
        self.over_budget = collections.Counter[str]()  # keys skipped per tenant, since start

    @property
    def limits_any(self) -> bool:
        return self._buckets.limits_any

    def allows(self, tenant: str) -> bool:
        """Takes one fetch of ``tenant``'s budget; False (and counted) when it is spent."""
        if not self._buckets.limits_any or self._buckets.take(tenant):
            return True
        self.over_budget[tenant] += 1
        return False
