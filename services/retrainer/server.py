"""Bootstrap of the retrainer service."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace

from opentelemetry import trace

from predis.services.models.store import ModelStore
from predis.services.retrainer.adaptation import BUILT_IN
from predis.services.retrainer.jobs import JobBook
from predis.services.retrainer.links import DriftLink, PredictorLink
from predis.services.retrainer.loop import RetrainingLoop
from predis.services.retrainer.metrics import register_retrainer_metrics
from predis.services.retrainer.servicer import RetrainerServicer
from predis.services.retrainer.settings import RetrainerSettings
from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.lifecycle import run_service
from predis.services.runtime.metrics import ServiceMeters
from predis.services.runtime.server import RunningServer, ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.v1 import retrainer_pb2_grpc

SERVICE_NAME = "predis.v1.RetrainerService"
JOBS_FILE = ("retrainer", "jobs.json")


async def create_server(
    settings: ServerSettings,
    loop: RetrainingLoop | JobBook,
    tracer_provider: trace.TracerProvider,
    meters: ServiceMeters | None = None,
) -> RunningServer:
    """Serves ``loop``. A bare :class:`JobBook` is served with no data directory: its jobs can be
    listed, and StartTraining says what is missing. With ``meters``, registers the retrainer's
    metrics (metrics.py)."""
    if isinstance(loop, JobBook):
        loop = RetrainingLoop(RetrainerSettings(server=settings), loop, None, BUILT_IN, tracer_provider)
    if meters is not None:
        register_retrainer_metrics(meters, loop)
    servicer = RetrainerServicer(loop)
    binding = ServiceBinding(
        SERVICE_NAME, lambda s: retrainer_pb2_grpc.add_RetrainerServiceServicer_to_server(servicer, s)
    )
    return await start_server(settings, [binding], tracer_provider, "retrainer")


def build_loop(settings: RetrainerSettings, tracer_provider: trace.TracerProvider) -> RetrainingLoop:
    """The retraining loop with its store, book and links, as the settings say."""
    from predis.plugins import plugins

    data_dir = settings.data_dir
    store = ModelStore(data_dir) if data_dir is not None else None
    book = JobBook(
        data_dir.joinpath(*JOBS_FILE) if data_dir is not None else None,
        settings.min_interval_s,
        max_jobs_per_tenant=settings.max_jobs_per_tenant,
    )
    serving = PredictorLink(settings.predictor_address, tracer_provider) if settings.predictor_address else None
    drift = DriftLink(settings.drift_address, tracer_provider) if settings.drift_address else None
    return RetrainingLoop(
        settings,
        book,
        store,
        plugins().adaptation_strategies(),
        tracer_provider,
        serving=serving,
        drift=drift,
        alerts=drift,
    )


async def serve(settings: RetrainerSettings) -> None:
    async def start(
        provider: trace.TracerProvider, meters: ServiceMeters | None
    ) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
        loop = build_loop(settings, provider)
        await loop.start()
        running = await create_server(settings.server, loop, provider, meters)

        async def cleanup() -> None:
            await loop.stop()
            for link in (loop.serving, loop.alerts):
                close = getattr(link, "close", None)
                if close is not None:
                    await close()

        return running, cleanup

    await run_service("retrainer", settings.server, start)


async def main(server: ServerSettings) -> None:
    """``predis serve retrainer``: the retrainer's own settings are read here, once, from the
    environment (``settings.py``); a bad value stops it with a message naming the variable."""
    from predis.plugins import PluginError

    try:
        settings = RetrainerSettings.from_env(os.environ, server.listen)
        settings = replace(settings, server=server)
        await serve(settings)
    except (SettingsError, InvalidInput, PluginError) as error:
        print(f"predis serve retrainer: {error}", file=sys.stderr)
        raise SystemExit(2) from None
