"""Bootstrap of the cache service: build its dependencies, host its servicer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opentelemetry import trace

from predis.plugins.manager import Plugins, plugins
from predis.services.cache.predictor_link import PredictorLink
from predis.services.cache.read_through import ReadThroughCache
from predis.services.cache.servicer import CacheServicer
from predis.services.cache.settings import CacheSettings
from predis.services.cache.store import CacheStore
from predis.services.runtime.lifecycle import run_service
from predis.services.runtime.server import RunningServer, ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings
from predis.v1 import cache_pb2_grpc

SERVICE_NAME = "predis.v1.CacheService"


@dataclass
class CacheDeps:
    cache: ReadThroughCache
    predictor: PredictorLink | None

    async def close(self) -> None:
        self.cache.close()
        if self.predictor is not None:
            await self.predictor.close()


def build_deps(
    settings: CacheSettings, tracer_provider: trace.TracerProvider | None, plugin_facade: Plugins | None = None
) -> CacheDeps:
    origin = (plugin_facade or plugins()).make_origin(settings.origin) if settings.origin else None
    store = CacheStore(memory_budget_bytes=settings.memory_bytes, max_value_bytes=settings.max_value_bytes)
    cache = ReadThroughCache(store, origin, settings.origin_timeout_s, settings.origin_workers)
    predictor = PredictorLink(settings.predictor_address, tracer_provider) if settings.predictor_address else None
    return CacheDeps(cache=cache, predictor=predictor)


async def create_server(
    settings: ServerSettings, deps: CacheDeps, tracer_provider: trace.TracerProvider
) -> RunningServer:
    servicer = CacheServicer(deps.cache, deps.predictor)
    binding = ServiceBinding(SERVICE_NAME, lambda s: cache_pb2_grpc.add_CacheServiceServicer_to_server(servicer, s))
    return await start_server(settings, [binding], tracer_provider)


async def main(settings: CacheSettings) -> None:
    async def start(provider: trace.TracerProvider) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
        deps = build_deps(settings, provider)
        return await create_server(settings.server, deps, provider), deps.close

    await run_service("cache", settings.server, start)
