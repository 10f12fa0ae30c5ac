"""Shared fixtures: real gRPC servers on loopback, started in a background event loop so that
both the sync and the async SDK can call them from a test."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import TypeVar

import pytest
from opentelemetry.sdk.trace import TracerProvider

from predis.plugins.origin import Origin
from predis.services.cache import server as cache_server
from predis.services.cache.collector import AccessRing
from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.engine import Engine, EngineConfig, warm_up
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.exporter import DriftExporter, QualityWindows
from predis.services.cache.predictor_link import PredictorLink
from predis.services.cache.prefetcher import Prefetcher, PrefetchSettings
from predis.services.cache.shadow import ShadowCache
from predis.services.cache.shadow import warm_up as shadow_warm_up
from predis.services.drift import server as drift_server
from predis.services.drift.observer import StreamObserver
from predis.services.predictor import server as predictor_server
from predis.services.predictor.batching import MicroBatcher
from predis.services.predictor.registry import ModelRegistry
from predis.services.retrainer import server as retrainer_server
from predis.services.retrainer.jobs import JobBook
from predis.services.runtime.event_loop import new_event_loop
from predis.services.runtime.metrics import ServiceMeters
from predis.services.runtime.server import RunningServer
from predis.services.runtime.settings import ServerSettings
from predis.services.security.settings import AuthSettings
from predis.services.security.tls import TlsSettings

T = TypeVar("T")
LOOPBACK = ServerSettings(listen="127.0.0.1:0")


class LoopThread:
    """An event loop in its own thread, for servers that the synchronous SDK and redis-py call
    from a test: ``run`` a coroutine in it, ``call`` a function in it."""

    def __init__(self) -> None:
        self.loop = new_event_loop(os.environ)  # the services' loop (PREDIS_EVENT_LOOP)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start_loop(self) -> None:
        self.thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=30)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    def stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class BackgroundSuite(LoopThread):
    """The four services as in-process servers on free loopback ports, in their own loop thread."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        origin: Origin | None = None,
        memory_bytes: int = 64 * 1024 * 1024,
        origin_timeout_s: float = 2.0,
        export_to_drift: bool = False,
        prefetch: PrefetchSettings | None = None,
        batch_wait_s: float = 0.0,
        app_candidates: Callable[[str, bytes], list[bytes]] | None = None,
        cache_max_concurrent_rpcs: int = 1024,
        cache_max_pending_calls: int = 256,
        auth: AuthSettings | None = None,
        tls: TlsSettings | None = None,
        shadow: bool = False,
        meters: Mapping[str, ServiceMeters] | None = None,
    ) -> None:
        self.settings = ServerSettings(listen="127.0.0.1:0", auth=auth or AuthSettings(), tls=tls)
        self.cache_settings = ServerSettings(
            listen="127.0.0.1:0",
            max_concurrent_rpcs=cache_max_concurrent_rpcs,
            max_pending_calls=cache_max_pending_calls,
            auth=self.settings.auth,
            tls=tls,
        )
        self.app_candidates = app_candidates
        self.batch_wait_s = batch_wait_s
        self.export_to_drift = export_to_drift
        self.prefetch = prefetch
        self.tracer_provider = tracer_provider or TracerProvider()
        self.origin = origin
        self.memory_bytes = memory_bytes
        self.origin_timeout_s = origin_timeout_s
        self.shadow = shadow  # the keys-only S3-FIFO beside the cache: Stats.quality
        self.meters = dict(meters or {})  # by service: metrics registered on them (tests/test_metrics.py)
        super().__init__()
        self.servers: dict[str, RunningServer] = {}
        self.addresses: dict[str, str] = {}
        self.registry = ModelRegistry()
        self.observer = StreamObserver()
        self.book = JobBook()
        self.cache: CacheDomain | None = None

    def start(self) -> BackgroundSuite:
        self.start_loop()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        tp = self.tracer_provider
        self.batcher = MicroBatcher(self.registry, self.batch_wait_s)
        settings = self.settings
        meters = self.meters.get
        self.servers["predictor"] = await predictor_server.create_server(
            settings, self.registry, tp, self.batcher, meters("predictor")
        )
        self.servers["drift"] = await drift_server.create_server(settings, self.observer, tp, meters("drift"))
        self.servers["retrainer"] = await retrainer_server.create_server(settings, self.book, tp, meters("retrainer"))
        self.addresses = {name: f"127.0.0.1:{s.port}" for name, s in self.servers.items()}
        warm_up("s3fifo", NumpyStorage())  # as the service does: compile before serving
        engine = Engine(EngineConfig(memory_bytes=self.memory_bytes), NumpyStorage())
        self.ring = AccessRing(1 << 12)
        shadow = None
        if self.shadow:
            shadow_warm_up()  # as the service does
            shadow = ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge, 1 << 20)
        self.cache = CacheDomain(
            engine, self.origin, ring=self.ring, shadow=shadow, origin_timeout_s=self.origin_timeout_s
        )
        exporter = None
        if self.export_to_drift:
            quality = (
                None if shadow is None else QualityWindows(shadow, self.cache.tenant_name, self.cache.prefetch_outcomes)
            )
            exporter = DriftExporter(
                self.ring, self.cache.tenant_name, self.addresses["drift"], tp, idle_s=0.02, quality=quality
            )
        link = PredictorLink(self.addresses["predictor"], tp)
        prefetcher = None
        if self.prefetch is not None:
            prefetcher = Prefetcher(self.cache, link, self.prefetch, tp, self.app_candidates)
        deps = cache_server.CacheDeps(self.cache, link, exporter, prefetcher)
        self.deps = deps
        self.servers["cache"] = await cache_server.create_server(self.cache_settings, deps, tp, meters("cache"))
        self.addresses["cache"] = f"127.0.0.1:{self.servers['cache'].port}"

    def stop_predictor(self) -> None:
        """Stops the predictor server (its models stay in ``registry``) to simulate an outage."""
        self.run(self.servers.pop("predictor").stop(0))

    def restart_predictor(self) -> None:
        """Starts the predictor again on its old address, with the same registry."""
        settings = ServerSettings(listen=self.addresses["predictor"], auth=self.settings.auth, tls=self.settings.tls)
        self.servers["predictor"] = self.run(
            predictor_server.create_server(settings, self.registry, self.tracer_provider, self.batcher)
        )

    def stop(self) -> None:
        async def stop_all() -> None:
            for server in self.servers.values():
                await server.stop(0.5)
            await self.deps.close()

        self.run(stop_all())
        self.stop_loop()

    def client_kwargs(self) -> dict[str, str]:
        return {
            "address": self.addresses["cache"],
            "predictor": self.addresses["predictor"],
            "drift": self.addresses["drift"],
            "retrainer": self.addresses["retrainer"],
        }


@pytest.fixture
def suite() -> Iterator[BackgroundSuite]:
    running = BackgroundSuite().start()
    yield running
    running.stop()
