"""Bootstrap of the predictor service."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from opentelemetry import trace

from predis.services.models.store import ModelStore
from predis.services.predictor.batching import MicroBatcher
from predis.services.predictor.manifest import LoadedManifest
from predis.services.predictor.metrics import register_predictor_metrics
from predis.services.predictor.registry import ModelRegistry
from predis.services.predictor.servicer import PredictorServicer
from predis.services.predictor.settings import PredictorSettings
from predis.services.runtime.lifecycle import nothing_to_clean_up, run_service
from predis.services.runtime.metrics import ServiceMeters
from predis.services.runtime.server import RunningServer, ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings
from predis.v1 import predictor_pb2_grpc

SERVICE_NAME = "predis.v1.PredictorService"
log = logging.getLogger(__name__)


async def create_server(
    settings: ServerSettings,
    registry: ModelRegistry,
    tracer_provider: trace.TracerProvider,
    batcher: MicroBatcher | None = None,
    meters: ServiceMeters | None = None,
) -> RunningServer:
    """Serves ``registry``; with ``meters``, registers the predictor's metrics (metrics.py)."""
    if meters is not None:
        register_predictor_metrics(meters, registry)
    servicer = PredictorServicer(registry, batcher or MicroBatcher(registry))
    binding = ServiceBinding(
        SERVICE_NAME, lambda s: predictor_pb2_grpc.add_PredictorServiceServicer_to_server(servicer, s)
    )
    return await start_server(settings, [binding], tracer_provider, "predictor")


async def main(settings: PredictorSettings) -> None:
    async def start(
        provider: trace.TracerProvider, meters: ServiceMeters | None
    ) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
        manifest = LoadedManifest(settings.state_dir) if settings.state_dir is not None else None
        registry = ModelRegistry(manifest=manifest, features=settings.features)
        # Every scope's champion alias in the model store wins over the manifest for its scope.
        store = ModelStore(settings.data_dir, settings.features) if settings.data_dir is not None else None
        champions = store.champions() if store is not None else []
        restored = registry.restore(champions)
        if restored:
            log.info("loaded again after a restart: %s", ", ".join(restored))
        batcher = MicroBatcher(registry, settings.batch_wait_s, settings.batch_max_rows)
        return await create_server(settings.server, registry, provider, batcher, meters), nothing_to_clean_up

    await run_service("predictor", settings.server, start)
