"""The cache's gRPC servicer: decode, call the domain, encode. Errors map in runtime/status.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from predis.packing import pack, unpack
from predis.services.cache.predictor_link import PredictorLink
from predis.services.cache.read_through import ReadThroughCache, ValueOrigin
from predis.services.cache.store import SetCondition
from predis.services.runtime.errors import InvalidInput, NotBuilt
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
    cache_pb2.SET_CONDITION_UNSPECIFIED: SetCondition.ALWAYS,
    cache_pb2.SET_CONDITION_IF_ABSENT: SetCondition.IF_ABSENT,
    cache_pb2.SET_CONDITION_IF_PRESENT: SetCondition.IF_PRESENT,
}


def _tenant(context: grpc.aio.ServicerContext) -> str:
    return tenant_from_metadata(context.invocation_metadata())


def _unpack(block: cache_pb2.KeyBlock, what: str) -> list[bytes]:
    try:
        return unpack(block)
    except ValueError as exc:
        raise InvalidInput(f"{what}: {exc}") from None


class CacheServicer(cache_pb2_grpc.CacheServiceServicer):
    def __init__(self, cache: ReadThroughCache, predictor: PredictorLink | None, policy: str = "lru") -> None:
        self.cache = cache
        self.store = cache.store
        self.predictor = predictor
        self.policy = policy

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
        stored = self.store.set(_tenant(context), request.key, request.value, request.ttl_ms, condition)
        return cache_pb2.SetResponse(stored=stored)

    @maps_domain_errors
    async def Delete(
        self, request: cache_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.DeleteResponse:
        return cache_pb2.DeleteResponse(deleted=self.store.delete(_tenant(context), request.keys))

    @maps_domain_errors
    async def Exists(
        self, request: cache_pb2.ExistsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExistsResponse:
        return cache_pb2.ExistsResponse(count=self.store.exists(_tenant(context), request.keys))

    @maps_domain_errors
    async def Expire(
        self, request: cache_pb2.ExpireRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExpireResponse:
        applied = self.store.expire(_tenant(context), request.key, request.ttl_ms, request.persist)
        return cache_pb2.ExpireResponse(applied=applied)

    @maps_domain_errors
    async def Ttl(self, request: cache_pb2.TtlRequest, context: grpc.aio.ServicerContext) -> cache_pb2.TtlResponse:
        return cache_pb2.TtlResponse(ttl_ms=self.store.ttl_ms(_tenant(context), request.key))

    @maps_domain_errors
    async def BatchGet(
        self, request: cache_pb2.BatchGetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.BatchGetResponse:
        tenant = _tenant(context)
        keys = _unpack(request.keys, "keys")
        results = await asyncio.gather(*(self.cache.get(tenant, key, request.skip_origin) for key in keys))
        values = [r.value or b"" for r in results]
        found = bytes(r.value is not None for r in results)
        return cache_pb2.BatchGetResponse(values=pack(values), found=found)

    @maps_domain_errors
    async def BatchSet(
        self, request: cache_pb2.BatchSetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.BatchSetResponse:
        tenant = _tenant(context)
        keys = _unpack(request.keys, "keys")
        values = _unpack(request.values, "values")
        if len(keys) != len(values):
            raise InvalidInput(f"{len(keys)} keys but {len(values)} values; send one value per key")
        for key, value in zip(keys, values, strict=True):
            self.store.validate(key, value, request.ttl_ms)  # all or nothing
        for key, value in zip(keys, values, strict=True):
            self.store.set(tenant, key, value, request.ttl_ms)
        return cache_pb2.BatchSetResponse(stored=len(keys))

    @maps_domain_errors
    async def Prefetch(
        self, request: cache_pb2.PrefetchRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.PrefetchResponse:
        raise NotBuilt("Prefetch is not built yet in this version of the cache")

    @maps_domain_errors
    async def Hint(self, request: cache_pb2.HintRequest, context: grpc.aio.ServicerContext) -> cache_pb2.HintResponse:
        raise NotBuilt("Hint is not built yet in this version of the cache: there is no prefetcher to use it")

    @maps_domain_errors
    async def Stats(
        self, request: cache_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.StatsResponse:
        tenant = _tenant(context)
        c = self.store.counters(tenant)
        response = cache_pb2.StatsResponse(
            tenant=cache_pb2.TenantStats(
                tenant=tenant,
                hits=c.hits,
                misses=c.misses,
                hit_ratio=c.hit_ratio,
                evictions=c.evictions,
                prefetches=c.prefetches,
                prefetches_used=c.prefetches_used,
                prefetches_unused=c.prefetches_unused,
                entries=c.entries,
                memory_bytes=c.memory_bytes,
                origin_fetches=c.origin_fetches,
                origin_errors=c.origin_errors,
            ),
            engine=cache_pb2.EngineStats(
                memory_budget_bytes=self.store.memory_budget_bytes,
                memory_bytes=self.store.memory_bytes,
                entries=self.store.entry_count,
                policy=self.policy,
                backend="python",
            ),
        )
        if self.predictor is not None:
            view = await self.predictor.describe()
            response.predictor.CopyFrom(
                cache_pb2.PredictorLink(
                    address=view.address, reachable=view.reachable, model_versions=view.model_versions, error=view.error
                )
            )
        return response

    @maps_domain_errors
    async def Flush(
        self, request: cache_pb2.FlushRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.FlushResponse:
        return cache_pb2.FlushResponse(removed=self.store.flush(_tenant(context)))

    @maps_domain_errors_stream
    async def StreamAccessEvents(
        self, request: cache_pb2.StreamAccessEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[cache_pb2.StreamAccessEventsResponse]:
        raise NotBuilt("StreamAccessEvents is not built yet in this version of the cache: no collector runs")
        yield  # pragma: no cover - makes this an async generator
