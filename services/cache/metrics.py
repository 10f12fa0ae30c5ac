"""The cache's metrics: what the cache domain counts for ``Stats``, read at each collection.

Every counter here is an observable instrument over the domain's own count (``CacheDomain.counters``,
``prefetch_outcomes.py``, the shadow's quality counts, the prefetch loop's per-tenant state), so a
scrape and ``Stats`` read one source (``runtime/metrics.py``). The GET, SET and origin durations are
recorded by the request paths into ``request_durations.py`` once :func:`register_cache_metrics` has
turned them on. docs/metrics.md lists every name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from predis.services.cache.domain import CacheDomain
from predis.services.cache.exporter import DriftExporter
from predis.services.cache.prefetch_outcomes import OutcomeCounts, PrefetchIssuer
from predis.services.cache.prefetcher import Prefetcher
from predis.services.cache.request_durations import CacheDurations
from predis.services.runtime.metrics import Readings, ServiceMeters

# Stats counter -> (instrument, description, unit), one series per tenant.
_TENANT_COUNTERS = {
    "hits": (
        "predis.cache.hits",
        "Reads that found their key cached (prefetched entries' first reads included)",
        "{read}",
    ),
    "misses": ("predis.cache.misses", "Reads that did not find their key cached", "{read}"),
    "evictions": ("predis.cache.evictions", "Entries the policy evicted to make room", "{entry}"),
    "expired": ("predis.cache.expired", "Entries removed because their TTL passed", "{entry}"),
    "origin_fetches": ("predis.cache.origin.fetches", "Origin calls made (read-through and prefetch)", "{call}"),
    "origin_errors": (
        "predis.cache.origin.errors",
        "Origin loads that failed, timed out or were skipped by the open circuit breaker",
        "{call}",
    ),
    "prefetches_over_budget": (
        "predis.cache.prefetches.over_budget",
        "Keys a prefetch skipped because the tenant's prefetch budget was spent",
        "{key}",
    ),
}
_TENANT_GAUGES = {
    "entries": ("predis.cache.entries", "Entries the tenant holds", "{entry}"),
    "memory_bytes": ("predis.cache.memory", "Bytes the tenant's entries are charged", "By"),
    "unread_prefetch_bytes": ("predis.cache.prefetch.unread", "Bytes held by prefetched entries not read yet", "By"),
}
# prefetch_outcomes.py's meanings, per tenant and issuer.
_OUTCOMES: dict[str, tuple[str, Callable[[OutcomeCounts], int]]] = {
    "issued": ("Prefetches queued (origin load started)", lambda c: c.issued),
    "loaded": ("Prefetches whose value was stored as a prefetched entry", lambda c: c.loaded),
    "used": ("Prefetches settled as used: their entry's first read", lambda c: c.used),
    "late": ("Prefetches settled as late: a read joined the load before it landed", lambda c: c.late),
    "wasted": ("Prefetches settled as wasted: their entry left unread, or nothing was stored", lambda c: c.wasted),
}


def register_cache_metrics(
    meters: ServiceMeters,
    cache: CacheDomain,
    prefetcher: Prefetcher | None = None,
    exporter: DriftExporter | None = None,
) -> CacheDurations:
    """Registers the cache's instruments on ``meters`` and turns on the request durations."""
    for field, (name, description, unit) in _TENANT_COUNTERS.items():
        meters.counter(name, description, unit, _per_tenant(cache, field))
    for field, (name, description, unit) in _TENANT_GAUGES.items():
        meters.gauge(name, description, unit, _per_tenant(cache, field))
    meters.gauge("predis.cache.quota", "The tenant's memory quota (tenants with one)", "By", lambda: _quotas(cache))
    for outcome, (description, pick) in _OUTCOMES.items():
        meters.counter(f"predis.cache.prefetches.{outcome}", description, "{prefetch}", _outcomes(cache, pick))
    _register_engine(meters, cache)
    _register_quality(meters, cache)
    if prefetcher is not None:
        _register_prefetcher(meters, prefetcher)
    if exporter is not None:
        meters.counter(
            "predis.cache.drift_export.dropped",
            "Access events the drift exporter lost (the ring overran it, or drift was away)",
            "{event}",
            lambda: [(exporter.dropped, {})],
        )
    durations = CacheDurations()
    meters.histogram("predis.cache.get.duration", "Time inside one GET, by front end", "s", *durations.get)
    meters.histogram("predis.cache.set.duration", "Time inside one SET, by front end", "s", *durations.set)
    meters.histogram("predis.cache.origin.duration", "Time of one origin call, by outcome", "s", *durations.origin)
    cache.record_durations(durations)
    return durations


def _per_tenant(cache: CacheDomain, field: str) -> Callable[[], Readings]:
    def read() -> Iterator[tuple[float, dict[str, str]]]:
        for tenant in cache.tenants():
            yield cache.counters(tenant)[field], {"tenant": tenant}

    return read


def _quotas(cache: CacheDomain) -> Iterator[tuple[float, dict[str, str]]]:
    for tenant in cache.tenants():
        quota = cache.counters(tenant)["quota_bytes"]
        if quota:
            yield quota, {"tenant": tenant}


def _outcomes(cache: CacheDomain, pick: Callable[[OutcomeCounts], int]) -> Callable[[], Readings]:
    def read() -> Iterator[tuple[float, dict[str, str]]]:
        for tenant in cache.tenants():
            for issuer in PrefetchIssuer:
                yield pick(cache.prefetch_outcomes.counts(tenant, issuer)), {"tenant": tenant, "issuer": issuer.value}

    return read


def _register_engine(meters: ServiceMeters, cache: CacheDomain) -> None:
    def engine(pick: Callable[[CacheDomain], float]) -> Callable[[], Readings]:
        def read() -> list[tuple[float, dict[str, str]]]:
            view = cache.engine_view()
            return [(pick(cache), {"policy": view.policy, "backend": view.backend})]

        return read

    meters.gauge(
        "predis.cache.engine.memory",
        "Bytes charged to all tenants together",
        "By",
        engine(lambda c: c.engine_view().memory_bytes),
    )
    meters.gauge(
        "predis.cache.engine.memory_budget",
        "The engine's memory budget (PREDIS_CACHE_MEMORY_BYTES)",
        "By",
        engine(lambda c: c.engine_view().memory_budget_bytes),
    )
    meters.gauge(
        "predis.cache.engine.entries",
        "Entries of all tenants together",
        "{entry}",
        engine(lambda c: c.engine_view().entries),
    )


def _register_quality(meters: ServiceMeters, cache: CacheDomain) -> None:
    """The shadow's live quality (Stats.quality), for tenants the shadow watches."""

    def quality(pick: Callable[[CacheDomain, str], float | None]) -> Callable[[], Readings]:
        def read() -> Iterator[tuple[float, dict[str, str]]]:
            if cache.shadow is None:
                return
            for tenant in cache.tenants():
                value = pick(cache, tenant)
                if value is not None:
                    yield value, {"tenant": tenant}

        return read

    def counts(c: CacheDomain, tenant: str) -> tuple[int, int, int] | None:
        live = c.quality(tenant)
        return None if live is None else (live.counts.reads, live.counts.hits, live.counts.shadow_hits)

    def nth(i: int) -> Callable[[CacheDomain, str], float | None]:
        def pick(c: CacheDomain, tenant: str) -> float | None:
            found = counts(c, tenant)
            return None if found is None else found[i]

        return pick

    meters.counter(
        "predis.cache.quality.reads",
        "Reads the live-quality shadow replayed (a sample of them above its size)",
        "{read}",
        quality(nth(0)),
    )
    meters.counter(
        "predis.cache.quality.hits", "Of those, hits in the real cache (with prefetching)", "{read}", quality(nth(1))
    )
    meters.counter(
        "predis.cache.quality.shadow_hits",
        "Of those, hits plain S3-FIFO without prefetching had",
        "{read}",
        quality(nth(2)),
    )

    def gain(c: CacheDomain, tenant: str) -> float | None:
        live = c.quality(tenant)
        return None if live is None else live.counts.live_gain

    meters.gauge(
        "predis.cache.quality.live_gain",
        "Hit-ratio points (as a fraction) prefetching added over plain S3-FIFO since the start",
        "1",
        quality(gain),
    )


def _register_prefetcher(meters: ServiceMeters, prefetcher: Prefetcher) -> None:
    """The learned prefetch loop's own state per tenant (Stats.prefetcher)."""

    def per_tenant(pick: Callable[[str], float]) -> Callable[[], Readings]:
        def read() -> list[tuple[float, dict[str, str]]]:
            return [(pick(tenant), {"tenant": tenant}) for tenant in list(prefetcher.tenants)]

        return read

    tenants = prefetcher.tenants  # one dict for the loop's life
    meters.gauge(
        "predis.cache.prefetch.threshold",
        "The learned loop's score threshold, tuned live to the precision target",
        "1",
        per_tenant(lambda t: tenants[t].tuner.threshold),
    )
    meters.counter(
        "predis.cache.prefetch.candidates_scored",
        "Candidates the learned loop sent to the predictor",
        "{candidate}",
        per_tenant(lambda t: tenants[t].candidates_scored),
    )

    def held_back() -> list[tuple[float, dict[str, str]]]:
        out: list[tuple[float, dict[str, str]]] = []
        for tenant, state in list(tenants.items()):
            out.append((state.held_back_memory, {"tenant": tenant, "reason": "memory"}))
            out.append((state.held_back_rate, {"tenant": tenant, "reason": "rate"}))
        return out

    meters.counter(
        "predis.cache.prefetch.held_back",
        "Prefetches the learned loop wanted but held back (memory share or origin-rate budget)",
        "{prefetch}",
        held_back,
    )
    meters.counter(
        "predis.cache.prefetch.events_skipped",
        "Access events the learned loop skipped to keep up",
        "{event}",
        lambda: [(prefetcher.events_skipped, {})],
    )
