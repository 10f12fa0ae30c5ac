"""The cache's gRPC servicer: decode, call the domain, encode. Errors map in runtime/status.py."""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import numpy as np
from opentelemetry import trace

from predis.packing import LENGTH_DTYPE, lengths_of
from predis.services.cache.domain import CacheDomain, Condition, ValueOrigin
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.exporter import DriftExporter, to_access_events
from predis.services.cache.predictor_link import PredictorLink
from predis.services.cache.prefetch_outcomes import PrefetchIssuer
from predis.services.cache.prefetcher import Prefetcher
from predis.services.runtime.errors import InvalidInput, Overloaded
from predis.services.runtime.status import maps_domain_errors, maps_domain_errors_stream
from predis.services.runtime.tenancy import tenant_from_metadata
from predis.services.security.principal import visible_tenant
from predis.v1 import cache_pb2, cache_pb2_grpc

_SOURCES = {
    ValueOrigin.CACHE: cache_pb2.VALUE_SOURCE_CACHE,
    ValueOrigin.PREFETCH: cache_pb2.VALUE_SOURCE_PREFETCH,
    ValueOrigin.ORIGIN: cache_pb2.VALUE_SOURCE_ORIGIN,
    ValueOrigin.NONE: cache_pb2.VALUE_SOURCE_NONE,
}
_CONDITIONS = {
    cache_pb2.SET_CONDITION_UNSPECIFIED: Condition.ALWAYS,
    cache_pb2.SET_CONDITION_IF_ABSENT: Condition.IF_ABSENT,
    cache_pb2.SET_CONDITION_IF_PRESENT: Condition.IF_PRESENT,
}
_HINT_KINDS = {cache_pb2.HINT_KIND_GROUP: "group", cache_pb2.HINT_KIND_SEQUENCE: "sequence"}
STREAM_BATCH = 1000
MAX_STREAM_BATCH = 65_536
STREAM_IDLE_S = 0.05


def _tenant(context: grpc.aio.ServicerContext) -> str:
    tenant = tenant_from_metadata(context.invocation_metadata())
    trace.get_current_span().set_attribute("predis.tenant", tenant)  # what traces are searched by first
    return tenant


def _traced_key_count(keys: KeyBatch) -> KeyBatch:
    trace.get_current_span().set_attribute("predis.key_count", len(keys))
    return keys


def _batch(block: cache_pb2.KeyBlock, what: str) -> KeyBatch:
    try:
        return KeyBatch.from_blob(block.data, lengths_of(block))
    except ValueError as exc:
        raise InvalidInput(f"{what}: {exc}") from None


M = TypeVar("M", bound=Callable[..., Awaitable[Any]])


def _admitted(method: M) -> M:
    """Admits the call against its tenant's request rate (``CacheDomain.admit``) before it runs:
    one call, batch or not, is one request. Without rate limits the tenant is not even looked up."""

    @functools.wraps(method)
    async def admitted(self: CacheServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if self.cache.limits_requests:
            self.cache.admit(_tenant(context))
        return await method(self, request, context)

    return admitted  # type: ignore[return-value]


def _admitted_stream(method: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    """As :func:`_admitted` for a server-streaming method: opening the stream is one request."""

    @functools.wraps(method)
    async def admitted(self: CacheServicer, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if self.cache.limits_requests:
            self.cache.admit(_tenant(context))
        async for item in method(self, request, context):
            yield item

    return admitted


class CacheServicer(cache_pb2_grpc.CacheServiceServicer):
    """gRPC over the cache domain; the predictor link, exporter and prefetch loop only for Stats."""

    def __init__(
        self,
        cache: CacheDomain,
        predictor: PredictorLink | None = None,
        exporter: DriftExporter | None = None,
        prefetcher: Prefetcher | None = None,
        max_streams_per_tenant: int = 8,
    ) -> None:
        self.cache = cache
        self.max_streams_per_tenant = max_streams_per_tenant
        self._open_streams: collections.Counter[str] = collections.Counter()
        self.prefetcher = prefetcher
        self.predictor = predictor
        self.exporter = exporter

    @maps_domain_errors
    @_admitted
    async def Get(self, request: cache_pb2.GetRequest, context: grpc.aio.ServicerContext) -> cache_pb2.GetResponse:
        started, tenant = time.perf_counter_ns(), _tenant(context)
        try:
            result = await self.cache.get(tenant, request.key, request.skip_origin)
        finally:
            if self.cache.durations is not None:
                self.cache.durations.grpc_get.record_since(tenant, started)
        return cache_pb2.GetResponse(
            found=result.value is not None, value=result.value or b"", source=_SOURCES[result.source]
        )

    @maps_domain_errors
    @_admitted
    async def Set(self, request: cache_pb2.SetRequest, context: grpc.aio.ServicerContext) -> cache_pb2.SetResponse:
        started, tenant = time.perf_counter_ns(), _tenant(context)
        condition = _CONDITIONS.get(request.condition)
        if condition is None:
            raise InvalidInput(f"unknown set condition {request.condition}")
        try:
            stored = self.cache.set(tenant, request.key, request.value, request.ttl_ms, condition)
        finally:
            if self.cache.durations is not None:
                self.cache.durations.grpc_set.record_since(tenant, started)
        return cache_pb2.SetResponse(stored=stored)

    @maps_domain_errors
    @_admitted
    async def Delete(
        self, request: cache_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.DeleteResponse:
        return cache_pb2.DeleteResponse(deleted=self.cache.delete(_tenant(context), list(request.keys)))

    @maps_domain_errors
    @_admitted
    async def Exists(
        self, request: cache_pb2.ExistsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExistsResponse:
        return cache_pb2.ExistsResponse(count=self.cache.exists(_tenant(context), list(request.keys)))

    @maps_domain_errors
    @_admitted
    async def Expire(
        self, request: cache_pb2.ExpireRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExpireResponse:
        applied = self.cache.expire(_tenant(context), request.key, request.ttl_ms, request.persist)
        return cache_pb2.ExpireResponse(applied=applied)

    @maps_domain_errors
    @_admitted
    async def Ttl(self, request: cache_pb2.TtlRequest, context: grpc.aio.ServicerContext) -> cache_pb2.TtlResponse:
        return cache_pb2.TtlResponse(ttl_ms=self.cache.ttl_ms(_tenant(context), request.key))

    @maps_domain_errors
    @_admitted
    async def BatchGet(
        self, request: cache_pb2.BatchGetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.BatchGetResponse:
        keys = _traced_key_count(_batch(request.keys, "keys"))
        values, lengths, found = await self.cache.get_many(_tenant(context), keys, request.skip_origin)
        return cache_pb2.BatchGetResponse(
            values=cache_pb2.KeyBlock(data=values, lengths=lengths.astype(LENGTH_DTYPE).tobytes()),
            found=found.astype(np.uint8).tobytes(),
        )

    @maps_domain_errors
    @_admitted
    async def BatchSet(
        self, request: cache_pb2.BatchSetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.BatchSetResponse:
        keys, values = _traced_key_count(_batch(request.keys, "keys")), _batch(request.values, "values")
        stored = self.cache.set_many(_tenant(context), keys, values, request.ttl_ms)
        return cache_pb2.BatchSetResponse(stored=int(stored.sum()))

    @maps_domain_errors
    @_admitted
    async def Prefetch(
        self, request: cache_pb2.PrefetchRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.PrefetchResponse:
        return cache_pb2.PrefetchResponse(queued=self.cache.prefetch(_tenant(context), list(request.keys)))

    @maps_domain_errors
    @_admitted
    async def Hint(self, request: cache_pb2.HintRequest, context: grpc.aio.ServicerContext) -> cache_pb2.HintResponse:
        kind = _HINT_KINDS.get(request.kind)
        if kind is None:
            raise InvalidInput("a hint's kind must be GROUP or SEQUENCE")
        added = self.cache.hint(_tenant(context), kind, list(request.keys))
        return cache_pb2.HintResponse(links_added=added)

    @maps_domain_errors
    @_admitted
    async def Stats(
        self, request: cache_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.StatsResponse:
        tenant = _tenant(context)
        c = self.cache.counters(tenant)
        engine = self.cache.engine_view()
        reads = c["hits"] + c["misses"]
        response = cache_pb2.StatsResponse(
            tenant=cache_pb2.TenantStats(
                tenant=tenant,
                hits=c["hits"],
                misses=c["misses"],
                hit_ratio=c["hits"] / reads if reads else 0.0,
                evictions=c["evictions"],
                prefetches=c["prefetches_loaded"],
                prefetches_used=c["prefetches_used"],
                prefetches_unused=c["prefetches_wasted"],
                entries=c["entries"],
                memory_bytes=c["memory_bytes"],
                quota_bytes=c["quota_bytes"],
                origin_fetches=c["origin_fetches"],
                origin_errors=c["origin_errors"],
            ),
            engine=cache_pb2.EngineStats(
                memory_budget_bytes=engine.memory_budget_bytes,
                # What every tenant holds together is not a tenant token's to see.
                memory_bytes=engine.memory_bytes if visible_tenant() is None else 0,
                entries=engine.entries if visible_tenant() is None else 0,
                policy=engine.policy,
                backend=engine.backend,
                events_dropped=self.exporter.dropped if self.exporter else 0,
            ),
            prefetcher=self._prefetcher_stats(tenant, c["unread_prefetch_bytes"]),
            quality=self._quality(tenant),
        )
        if self.predictor is not None:
            view_p = await self.predictor.describe()
            response.predictor.CopyFrom(
                cache_pb2.PredictorLink(
                    address=view_p.address,
                    reachable=view_p.reachable,
                    model_versions=view_p.model_versions,
                    error=view_p.error,
                )
            )
        return response

    def _quality(self, tenant: str) -> cache_pb2.LiveQuality:
        live = self.cache.quality(tenant)
        if live is None:
            return cache_pb2.LiveQuality(enabled=False)
        q = live.counts
        return cache_pb2.LiveQuality(
            enabled=True,
            reads=q.reads,
            hits=q.hits,
            shadow_hits=q.shadow_hits,
            hit_ratio=q.hits / q.reads if q.reads else 0.0,
            shadow_hit_ratio=q.shadow_hits / q.reads if q.reads else 0.0,
            live_gain=q.live_gain,
            shadow_entries=live.shadow_entries,
            sample_rate=live.sample_rate,
        )

    def _prefetcher_stats(self, tenant: str, unread_bytes: int) -> cache_pb2.PrefetcherStats:
        p = self.prefetcher
        if p is None:
            missing = [
                name
                for name, present in (
                    ("PREDIS_PREDICTOR_ADDRESS", self.predictor is not None),
                    ("PREDIS_ORIGIN", self.cache.has_origin),
                    ("PREDIS_CACHE_COLLECTOR_EVENTS", self.cache.has_events),
                )
                if not present
            ]
            why = f"off: needs {', '.join(missing)}" if missing else "off: PREDIS_PREFETCH=off"
            return cache_pb2.PrefetcherStats(enabled=False, state=why, unread_prefetch_bytes=unread_bytes)
        t = p.tenant(tenant)
        outcomes = self.cache.prefetch_outcomes.counts(tenant, PrefetchIssuer.LOOP)
        return cache_pb2.PrefetcherStats(
            enabled=True,
            state=p.state,
            threshold=t.tuner.threshold,
            precision_target=p.settings.precision_target,
            recent_precision=t.tuner.recent_precision,
            candidates_scored=t.candidates_scored,
            prefetches_started=outcomes.issued,
            prefetches_used=outcomes.used,
            prefetches_unused=outcomes.wasted,
            prefetches_late=outcomes.late,
            held_back_memory=t.held_back_memory,
            held_back_rate=t.held_back_rate,
            events_skipped=p.events_skipped,
            unread_prefetch_bytes=unread_bytes,
        )

    @maps_domain_errors
    @_admitted
    async def Flush(
        self, request: cache_pb2.FlushRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.FlushResponse:
        return cache_pb2.FlushResponse(removed=self.cache.flush(_tenant(context)))

    @maps_domain_errors_stream
    @_admitted_stream
    async def StreamAccessEvents(
        self, request: cache_pb2.StreamAccessEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[cache_pb2.StreamAccessEventsResponse]:
        cursor = self.cache.event_cursor()  # NotBuilt when the collector is off
        if request.max_batch > MAX_STREAM_BATCH:
            raise InvalidInput(
                f"max_batch {request.max_batch} is above the most events per response, {MAX_STREAM_BATCH}"
            )
        tenant = _tenant(context)
        limit = request.max_batch or STREAM_BATCH
        if self._open_streams[tenant] >= self.max_streams_per_tenant:
            raise Overloaded(
                f"tenant {tenant!r} already has {self._open_streams[tenant]} access event streams open, the most "
                "one tenant may (PREDIS_TENANT_MAX_STREAMS); close one first"
            )
        self._open_streams[tenant] += 1
        try:
            while True:
                batch, cursor = self.cache.read_events(cursor, limit, tenant=tenant)
                if batch.keys or batch.dropped:
                    events = to_access_events(batch, self.cache.tenant_name)
                    yield cache_pb2.StreamAccessEventsResponse(events=events, dropped=batch.dropped)
                else:
                    await asyncio.sleep(STREAM_IDLE_S)
        finally:
            self._open_streams[tenant] -= 1
            if not self._open_streams[tenant]:
                del self._open_streams[tenant]
