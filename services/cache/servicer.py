"""The cache's gRPC servicer: decode, call the domain, encode. Errors map in runtime/status.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import numpy as np

from predis.packing import LENGTH_DTYPE, lengths_of
from predis.services.cache.collector import AccessRing
from predis.services.cache.engine.engine import Condition
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.exporter import DriftExporter, to_access_events
from predis.services.cache.predictor_link import PredictorLink
from predis.services.cache.prefetcher import Prefetcher
from predis.services.cache.read_through import ReadThroughCache, ValueOrigin
from predis.services.cache.shadow import ShadowCache
from predis.services.runtime.errors import FailedPrecondition, InvalidInput, NotBuilt
from predis.services.runtime.status import maps_domain_errors, maps_domain_errors_stream
from predis.services.runtime.tenancy import tenant_from_metadata
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
    return tenant_from_metadata(context.invocation_metadata())


def _batch(block: cache_pb2.KeyBlock, what: str) -> KeyBatch:
    try:
        return KeyBatch.from_blob(block.data, lengths_of(block))
    except ValueError as exc:
        raise InvalidInput(f"{what}: {exc}") from None


class CacheServicer(cache_pb2_grpc.CacheServiceServicer):
    def __init__(
        self,
        cache: ReadThroughCache,
        ring: AccessRing | None = None,
        predictor: PredictorLink | None = None,
        exporter: DriftExporter | None = None,
        prefetcher: Prefetcher | None = None,
        shadow: ShadowCache | None = None,
    ) -> None:
        self.cache = cache
        self.shadow = shadow
        self.prefetcher = prefetcher
        self.engine = cache.engine
        self.ring = ring
        self.predictor = predictor
        self.exporter = exporter

    @maps_domain_errors
    async def Get(self, request: cache_pb2.GetRequest, context: grpc.aio.ServicerContext) -> cache_pb2.GetResponse:
        result = await self.cache.get(_tenant(context), request.key, request.skip_origin)
        return cache_pb2.GetResponse(
            found=result.value is not None, value=result.value or b"", source=_SOURCES[result.source]
        )

    @maps_domain_errors
    async def Set(self, request: cache_pb2.SetRequest, context: grpc.aio.ServicerContext) -> cache_pb2.SetResponse:
        condition = _CONDITIONS.get(request.condition)
        if condition is None:
            raise InvalidInput(f"unknown set condition {request.condition}")
        stored = self.engine.set(_tenant(context), request.key, request.value, request.ttl_ms, condition)
        return cache_pb2.SetResponse(stored=stored)

    @maps_domain_errors
    async def Delete(
        self, request: cache_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.DeleteResponse:
        return cache_pb2.DeleteResponse(deleted=self.engine.delete(_tenant(context), list(request.keys)))

    @maps_domain_errors
    async def Exists(
        self, request: cache_pb2.ExistsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExistsResponse:
        return cache_pb2.ExistsResponse(count=self.engine.exists(_tenant(context), list(request.keys)))

    @maps_domain_errors
    async def Expire(
        self, request: cache_pb2.ExpireRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExpireResponse:
        applied = self.engine.expire(_tenant(context), request.key, request.ttl_ms, request.persist)
        return cache_pb2.ExpireResponse(applied=applied)

    @maps_domain_errors
    async def Ttl(self, request: cache_pb2.TtlRequest, context: grpc.aio.ServicerContext) -> cache_pb2.TtlResponse:
        return cache_pb2.TtlResponse(ttl_ms=self.engine.ttl_ms(_tenant(context), request.key))

    @maps_domain_errors
    async def BatchGet(
        self, request: cache_pb2.BatchGetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.BatchGetResponse:
        keys = _batch(request.keys, "keys")
        values, lengths, found = await self.cache.get_many(_tenant(context), keys, request.skip_origin)
        return cache_pb2.BatchGetResponse(
            values=cache_pb2.KeyBlock(data=values, lengths=lengths.astype(LENGTH_DTYPE).tobytes()),
            found=found.astype(np.uint8).tobytes(),
        )

    @maps_domain_errors
    async def BatchSet(
        self, request: cache_pb2.BatchSetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.BatchSetResponse:
        keys, values = _batch(request.keys, "keys"), _batch(request.values, "values")
        stored = self.engine.set_many(_tenant(context), keys, values, request.ttl_ms)
        return cache_pb2.BatchSetResponse(stored=int(stored.sum()))

    @maps_domain_errors
    async def Prefetch(
        self, request: cache_pb2.PrefetchRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.PrefetchResponse:
        if self.cache.origin is None:
            raise FailedPrecondition("Prefetch needs an origin to load from; start the cache with PREDIS_ORIGIN")
        self.engine.check_batch_size(len(request.keys))
        return cache_pb2.PrefetchResponse(queued=self.cache.prefetch(_tenant(context), list(request.keys)))

    @maps_domain_errors
    async def Hint(self, request: cache_pb2.HintRequest, context: grpc.aio.ServicerContext) -> cache_pb2.HintResponse:
        kind = _HINT_KINDS.get(request.kind)
        if kind is None:
            raise InvalidInput("a hint's kind must be GROUP or SEQUENCE")
        added = self.cache.hints.add(_tenant(context), kind, list(request.keys))
        return cache_pb2.HintResponse(links_added=added)

    @maps_domain_errors
    async def Stats(
        self, request: cache_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.StatsResponse:
        tenant = _tenant(context)
        view = self.engine.tenant_view(tenant)
        c = view.counters
        reads = c["hits"] + c["misses"]
        response = cache_pb2.StatsResponse(
            tenant=cache_pb2.TenantStats(
                tenant=tenant,
                hits=c["hits"],
                misses=c["misses"],
                hit_ratio=c["hits"] / reads if reads else 0.0,
                evictions=c["evictions"],
                prefetches=c["prefetches"],
                prefetches_used=c["prefetch_hits"],
                prefetches_unused=c["prefetches_unused"],
                entries=c["entries"],
                memory_bytes=c["memory"],
                quota_bytes=view.quota_bytes,
                origin_fetches=c["origin_fetches"],
                origin_errors=c["origin_errors"],
            ),
            engine=cache_pb2.EngineStats(
                memory_budget_bytes=self.engine.config.memory_bytes,
                memory_bytes=self.engine.memory_bytes,
                entries=self.engine.entry_count,
                policy=self.engine.policy_name,
                backend=self.engine.storage.name,
                events_dropped=self.exporter.dropped if self.exporter else 0,
            ),
            prefetcher=self._prefetcher_stats(tenant, c["prefetch_bytes"]),
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
        if self.shadow is None:
            return cache_pb2.LiveQuality(enabled=False)
        t = self.engine.tenant_id(tenant)
        q = self.shadow.counts(t)
        return cache_pb2.LiveQuality(
            enabled=True,
            reads=q.reads,
            hits=q.hits,
            shadow_hits=q.shadow_hits,
            hit_ratio=q.hits / q.reads if q.reads else 0.0,
            shadow_hit_ratio=q.shadow_hits / q.reads if q.reads else 0.0,
            live_gain=q.live_gain,
            shadow_entries=self.shadow.entries(t),
            sample_rate=self.shadow.sample_rate(t),
        )

    def _prefetcher_stats(self, tenant: str, unread_bytes: int) -> cache_pb2.PrefetcherStats:
        p = self.prefetcher
        if p is None:
            missing = [
                name
                for name, present in (
                    ("PREDIS_PREDICTOR_ADDRESS", self.predictor is not None),
                    ("PREDIS_ORIGIN", self.cache.origin is not None),
                    ("PREDIS_CACHE_COLLECTOR_EVENTS", self.ring is not None),
                )
                if not present
            ]
            why = f"off: needs {', '.join(missing)}" if missing else "off: PREDIS_PREFETCH=off"
            return cache_pb2.PrefetcherStats(enabled=False, state=why, unread_prefetch_bytes=unread_bytes)
        t = p.tenant(tenant)
        return cache_pb2.PrefetcherStats(
            enabled=True,
            state=p.state,
            threshold=t.tuner.threshold,
            precision_target=p.settings.precision_target,
            recent_precision=t.tuner.recent_precision,
            candidates_scored=t.candidates_scored,
            prefetches_started=t.prefetches_started,
            prefetches_used=t.prefetches_used,
            prefetches_unused=t.prefetches_unused,
            prefetches_late=t.prefetches_late,
            held_back_memory=t.held_back_memory,
            held_back_rate=t.held_back_rate,
            events_skipped=p.events_skipped,
            unread_prefetch_bytes=unread_bytes,
        )

    @maps_domain_errors
    async def Flush(
        self, request: cache_pb2.FlushRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.FlushResponse:
        return cache_pb2.FlushResponse(removed=self.engine.flush(_tenant(context)))

    @maps_domain_errors_stream
    async def StreamAccessEvents(
        self, request: cache_pb2.StreamAccessEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[cache_pb2.StreamAccessEventsResponse]:
        if self.ring is None:
            raise NotBuilt("the access collector is off in this cache (PREDIS_CACHE_COLLECTOR_EVENTS=0)")
        if request.max_batch > MAX_STREAM_BATCH:
            raise InvalidInput(
                f"max_batch {request.max_batch} is above the most events per response, {MAX_STREAM_BATCH}"
            )
        tenant = self.engine.tenant_id(_tenant(context))
        limit = request.max_batch or STREAM_BATCH
        cursor = self.ring.head
        while True:
            batch, cursor = self.ring.read(cursor, limit, tenant=tenant)
            if batch.keys or batch.dropped:
                events = to_access_events(batch, self.engine.tenant_name)
                yield cache_pb2.StreamAccessEventsResponse(events=events, dropped=batch.dropped)
            else:
                await asyncio.sleep(STREAM_IDLE_S)
