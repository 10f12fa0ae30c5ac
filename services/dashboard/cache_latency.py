"""The cache's read latency as the dashboard charts it: from the cache's own ``/metrics``.

``Stats`` carries counts, not durations; the cache times every GET into the histogram it exports
as ``predis_cache_get_duration_seconds`` (``cache/request_durations.py``), one series per tenant
and front end. The dashboard scrapes that page once per poll, adds each tenant's front ends
together, and takes the difference of two scrapes' cumulative bucket counts: the GETs served in
that interval. Its p50 and p99 are read off those buckets as Prometheus's ``histogram_quantile``
does (linear within the bucket the rank falls in; the highest finite bound when it falls in the
last, unbounded bucket), so a quantile is as fine as the buckets are, and never finer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from predis.services.runtime.tenancy import DEFAULT_TENANT

GET_HISTOGRAM = "predis_cache_get_duration_seconds"


class ScrapeError(Exception):
    """The metrics page could not be read or was not Prometheus's text format."""


@dataclass(frozen=True)
class CumulativeBuckets:
    """One tenant's GETs since the cache started: ``counts[i]`` took at most ``bounds_s[i]``
    (Prometheus's cumulative ``le`` buckets; the last bound is ``inf``)."""

    bounds_s: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def total(self) -> float:
        return self.counts[-1] if self.counts else 0.0

    def since(self, before: CumulativeBuckets) -> CumulativeBuckets:
        """The GETs between ``before`` and this scrape; all of these when a count fell or the
        buckets changed (the cache restarted and counts again from 0)."""
        if before.bounds_s != self.bounds_s:
            return self
        pairs = list(zip(self.counts, before.counts, strict=True))
        if any(count < earlier for count, earlier in pairs):
            return self
        return CumulativeBuckets(self.bounds_s, tuple(count - earlier for count, earlier in pairs))


def parse_get_buckets(text: str) -> dict[str, CumulativeBuckets]:
    """Each tenant's GET buckets in a Prometheus text page, front ends added together;
    ScrapeError when the page does not parse."""
    by_tenant: dict[str, dict[float, float]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name != GET_HISTOGRAM + "_bucket":
                    continue
                tenant = sample.labels.get("tenant") or DEFAULT_TENANT
                bound, count = float(sample.labels["le"]), float(sample.value)
                if math.isnan(bound) or not math.isfinite(count) or count < 0:
                    raise ValueError(f"a bucket le={bound} with count {count}")
                buckets = by_tenant.setdefault(tenant, {})
                buckets[bound] = buckets.get(bound, 0.0) + count
    except (ValueError, KeyError, TypeError) as error:
        raise ScrapeError(f"not Prometheus's text format: {error}") from None
    return {
        tenant: CumulativeBuckets(tuple(sorted(buckets)), tuple(buckets[b] for b in sorted(buckets)))
        for tenant, buckets in by_tenant.items()
    }


def quantile(q: float, buckets: CumulativeBuckets) -> float | None:
    """The ``q`` quantile in seconds, as Prometheus's ``histogram_quantile`` reads it off the
    buckets; None when they hold no duration."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile lies in [0, 1], not {q}")
    total = buckets.total
    if total <= 0:
        return None
    rank = q * total
    index = next(i for i, count in enumerate(buckets.counts) if count >= rank)
    lower_bound = buckets.bounds_s[index - 1] if index else 0.0
    upper_bound = buckets.bounds_s[index]
    if math.isinf(upper_bound):
        return lower_bound  # above every finite bound: the highest one, as Prometheus answers
    below = buckets.counts[index - 1] if index else 0.0
    within = buckets.counts[index] - below
    if within <= 0:
        return upper_bound
    return lower_bound + (upper_bound - lower_bound) * (rank - below) / within


@dataclass(frozen=True)
class IntervalLatency:
    """A tenant's GETs between two scrapes: how many, and their p50 and p99 in microseconds."""

    gets: int
    p50_us: float | None
    p99_us: float | None


def interval_latency(now: CumulativeBuckets, before: CumulativeBuckets | None) -> IntervalLatency | None:
    """The GETs since ``before``; None for the first scrape of a tenant (no interval yet)."""
    if before is None:
        return None
    served = now.since(before)
    p50, p99 = quantile(0.5, served), quantile(0.99, served)
    return IntervalLatency(
        gets=round(served.total),
        p50_us=None if p50 is None else p50 * 1e6,
        p99_us=None if p99 is None else p99 * 1e6,
    )


class CacheLatencyTracker:
    """Each tenant's last scrape, so that the next one gives the interval between them."""

    def __init__(self) -> None:
        self._last: dict[str, CumulativeBuckets] = {}

    def update(self, scraped: Mapping[str, CumulativeBuckets], tenants: Sequence[str]) -> dict[str, IntervalLatency]:
        """The interval of every tenant in ``tenants`` that has two scrapes; a tenant the page
        does not list has served no GET since the cache started (its series start at the first)."""
        empty = CumulativeBuckets((math.inf,), (0.0,))
        found: dict[str, IntervalLatency] = {}
        for tenant in tenants:
            now = scraped.get(tenant, empty)
            before = self._last.get(tenant)
            self._last[tenant] = now
            latency = interval_latency(now, before)
            if latency is not None:
                found[tenant] = latency
        return found


class MetricsPage:
    """Reads one Prometheus text page over HTTP (``url``), ``timeout_s`` at most."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def read(self) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(self.url) as response:
                if response.status != 200:
                    raise ScrapeError(f"{self.url} answered HTTP {response.status}")
                return await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ScrapeError(f"{self.url}: {error or type(error).__name__}") from None
        except (UnicodeDecodeError, LookupError) as error:  # a page that is not text
            raise ScrapeError(f"{self.url} answered what is not a text page: {error}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
