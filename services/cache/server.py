"""Bootstrap of the cache service: build its dependencies, host its servicer, run its
background tasks (active expiry, event export, learned prefetching)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry import trace

from predis.plugins.manager import Plugins, plugins
from predis.services.cache import snapshot
from predis.services.cache.admission import PrefetchBudget, RateLimit, RequestRates
from predis.services.cache.collector import AccessRing
from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.backends import make_storage
from predis.services.cache.engine.engine import Engine, EngineConfig, warm_up
from predis.services.cache.exporter import DriftExporter, QualityWindows
from predis.services.cache.metrics import register_cache_metrics
from predis.services.cache.origin_breaker import OriginBreaker
from predis.services.cache.predictor_link import PredictorLink
from predis.services.cache.prefetcher import Prefetcher
from predis.services.cache.segment_recorder import SegmentRecorder
from predis.services.cache.segments import SegmentWriter
from predis.services.cache.servicer import CacheServicer
from predis.services.cache.settings import CacheSettings
from predis.services.cache.shadow import ShadowCache
from predis.services.cache.shadow import warm_up as shadow_warm_up
from predis.services.resp.server import create_resp_server
from predis.services.runtime.lifecycle import run_service
from predis.services.runtime.metrics import ServiceMeters
from predis.services.runtime.server import RunningServer, ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings
from predis.services.security.settings import check_exposure
from predis.v1 import cache_pb2_grpc

SERVICE_NAME = "predis.v1.CacheService"
SWEEP_INTERVAL_S = 1.0
log = logging.getLogger(__name__)


@dataclass
class CacheDeps:
    """The cache domain and what runs beside it: the links to the predictor and drift, the
    prefetch loop, the segment recorder, snapshots; and the background tasks that drive them."""

    cache: CacheDomain
    predictor: PredictorLink | None = None
    exporter: DriftExporter | None = None
    prefetcher: Prefetcher | None = None
    snapshot_path: Path | None = None
    snapshot_interval_s: float = 0.0
    recorder: SegmentRecorder | None = None
    max_streams_per_tenant: int = 8
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start_background(self) -> None:
        """Active expiry (with the settling of prefetches that left unread) and, when configured,
        the event exporter, the prefetch loop, the segment recorder and periodic snapshots; call
        inside the event loop."""
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._sweep()))
        if self.exporter is not None:
            self._tasks.append(loop.create_task(self.exporter.run()))
        if self.prefetcher is not None:
            self._tasks.append(loop.create_task(self.prefetcher.run()))
        if self.recorder is not None:
            self._tasks.append(loop.create_task(self.recorder.run()))
        if self.snapshot_path is not None and self.snapshot_interval_s > 0:
            self._tasks.append(loop.create_task(self._snapshots()))

    async def _snapshots(self) -> None:
        while True:
            await asyncio.sleep(self.snapshot_interval_s)
            try:
                await self.save_snapshot()
            except OSError as error:  # a full disk must not stop the cache: say so and go on
                log.error("could not write the snapshot %s: %s", self.snapshot_path, error)

    async def save_snapshot(self) -> None:
        """Captures the data on the event loop (consistent: no call runs meanwhile) and writes it
        in a thread."""
        assert self.snapshot_path is not None
        started = time.monotonic()
        data = self.cache.capture_snapshot()
        size = await asyncio.get_running_loop().run_in_executor(None, snapshot.write, self.snapshot_path, data)
        log.info(
            "snapshot of %d entries (%d bytes) written to %s in %.2fs",
            len(data),
            size,
            self.snapshot_path,
            time.monotonic() - started,
        )

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            removed = self.cache.sweep()
            if removed:
                log.debug("active expiry removed %d entries", removed)

    async def close(self) -> None:
        if self.exporter is not None:
            await self.exporter.close()
        if self.recorder is not None:
            await self.recorder.close()  # the events still in the ring reach a segment
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.snapshot_path is not None:
            try:
                await self.save_snapshot()  # graceful shutdown: what the cache holds survives it
            except OSError as error:
                log.error("could not write the snapshot %s at shutdown: %s", self.snapshot_path, error)
        self.cache.close()
        if self.predictor is not None:
            await self.predictor.close()


def build_deps(
    settings: CacheSettings, tracer_provider: trace.TracerProvider | None, plugin_facade: Plugins | None = None
) -> CacheDeps:
    facade = plugin_facade or plugins()
    origin = facade.make_origin(settings.origin) if settings.origin else None
    config = EngineConfig(
        memory_bytes=settings.memory_bytes,
        max_value_bytes=settings.max_value_bytes,
        max_batch_keys=settings.max_batch_keys,
        policy=settings.policy,
        block_bytes=settings.block_bytes,
        tenant_quota_bytes=settings.tenant_quota_bytes,
        tenant_quotas=settings.tenant_quotas,
    )
    engine = Engine(config, make_storage(settings.backend, settings.block_bytes))
    warm_up(settings.policy, make_storage(engine.storage.name, settings.block_bytes))
    snapshot_path = Path(settings.snapshot_path) if settings.snapshot_path else None
    if snapshot_path is not None:
        saved = snapshot.read(snapshot_path)
        if saved is not None:
            log.info("restored %d of %d entries from %s", snapshot.restore(engine, saved), len(saved), snapshot_path)
    ring = AccessRing(settings.collector_events) if settings.collector_events else None
    shadow = None
    if settings.shadow:
        shadow_warm_up()  # its kernel, before the first read needs it
        shadow = ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge, settings.shadow_max_entries)
    cache = CacheDomain(
        engine,
        origin,
        ring=ring,
        shadow=shadow,
        origin_timeout_s=settings.origin_timeout_s,
        origin_workers=settings.origin_workers,
        prefetch_queue=settings.prefetch_queue,
        breaker=OriginBreaker(settings.origin_breaker_failures, settings.origin_breaker_open_s),
        request_rates=RequestRates(
            RateLimit(settings.tenant_rate_limit, settings.tenant_rate_limits, settings.tenant_rate_burst)
        ),
        prefetch_budget=PrefetchBudget(RateLimit(settings.tenant_prefetch_rate, settings.tenant_prefetch_rates)),
    )
    predictor = None
    if settings.predictor_address:
        predictor = PredictorLink(
            settings.predictor_address, tracer_provider, score_timeout_s=settings.prefetching.score_timeout_s
        )
    recorder = None
    if ring is not None and settings.data_dir:
        writer = SegmentWriter(
            Path(settings.data_dir) / "segments",
            settings.segment_rows,
            settings.segment_age_s,
            settings.segment_retain_bytes,
        )
        recorder = SegmentRecorder(ring, cache.tenant_name, writer)
    prefetcher = None
    if settings.prefetch and predictor is not None and ring is not None and origin is not None:
        app_candidates = facade.prefetch_candidates if facade.has_prefetch_candidates() else None
        prefetcher = Prefetcher(cache, predictor, settings.prefetching, tracer_provider, app_candidates)
    exporter = None
    if ring is not None and settings.drift_address:
        quality = None
        if shadow is not None:
            quality = QualityWindows(shadow, cache.tenant_name, cache.prefetch_outcomes)
        exporter = DriftExporter(
            ring,
            cache.tenant_name,
            settings.drift_address,
            tracer_provider,
            quality=quality,
            stream_s=settings.drift_stream_s,
        )
    return CacheDeps(
        cache=cache,
        predictor=predictor,
        exporter=exporter,
        prefetcher=prefetcher,
        snapshot_path=snapshot_path,
        snapshot_interval_s=settings.snapshot_interval_s,
        recorder=recorder,
        max_streams_per_tenant=settings.tenant_max_streams,
    )


async def create_server(
    settings: ServerSettings,
    deps: CacheDeps,
    tracer_provider: trace.TracerProvider,
    meters: ServiceMeters | None = None,
) -> RunningServer:
    """Serves ``deps``; with ``meters``, registers the cache's metrics and times requests (metrics.py)."""
    if meters is not None:
        register_cache_metrics(meters, deps.cache, deps.prefetcher, deps.exporter)
    servicer = CacheServicer(deps.cache, deps.predictor, deps.exporter, deps.prefetcher, deps.max_streams_per_tenant)
    binding = ServiceBinding(SERVICE_NAME, lambda s: cache_pb2_grpc.add_CacheServiceServicer_to_server(servicer, s))
    running = await start_server(settings, [binding], tracer_provider, "cache")
    deps.start_background()
    return running


async def main(settings: CacheSettings) -> None:
    async def start(
        provider: trace.TracerProvider, meters: ServiceMeters | None
    ) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
        deps = build_deps(settings, provider)
        running = await create_server(settings.server, deps, provider, meters)
        if not settings.resp.enabled:
            return running, deps.close
        resp_tls = settings.resp.tls is not None
        check_exposure("PREDIS_RESP_LISTEN", settings.resp.listen, settings.server.auth, resp_tls)
        resp, _ = await create_resp_server(settings.resp, deps.cache, running.access)

        async def close() -> None:
            await resp.close(settings.server.grace_seconds)
            await deps.close()

        return running, close

    await run_service("cache", settings.server, start)
