"""Bootstrap of the drift service."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable

import numpy as np
from opentelemetry import trace

from predis.services.drift.metrics import register_drift_metrics
from predis.services.drift.observer import StreamObserver
from predis.services.drift.servicer import DriftServicer
from predis.services.drift.settings import DriftSettings
from predis.services.drift.signals import StreamSignals
from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.lifecycle import nothing_to_clean_up, run_service
from predis.services.runtime.metrics import ServiceMeters
from predis.services.runtime.server import RunningServer, ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.v1 import drift_pb2_grpc

SERVICE_NAME = "predis.v1.DriftService"


async def create_server(
    settings: ServerSettings,
    observer: StreamObserver,
    tracer_provider: trace.TracerProvider,
    meters: ServiceMeters | None = None,
) -> RunningServer:
    """Serves ``observer``; with ``meters``, registers the drift service's metrics (metrics.py)."""
    if meters is not None:
        register_drift_metrics(meters, observer)
    servicer = DriftServicer(observer)
    binding = ServiceBinding(SERVICE_NAME, lambda s: drift_pb2_grpc.add_DriftServiceServicer_to_server(servicer, s))
    return await start_server(settings, [binding], tracer_provider, "drift")


def build_observer(settings: DriftSettings, tracer_provider: trace.TracerProvider) -> StreamObserver:
    """The observer with the plugins' detectors, its signal kernel compiled before the first
    call needs it (from Numba's on-disk cache after the first start)."""
    from predis.plugins import plugins

    StreamSignals(2).observe_ids(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    return StreamObserver(settings, plugins().drift_detector_factories(), tracer_provider)


async def main(server: ServerSettings) -> None:
    """``predis serve drift``: the drift settings are read here, once, from the environment
    (``settings.py``); a bad value stops it with a message naming the variable."""
    try:
        settings = DriftSettings.from_env(os.environ)
    except SettingsError as error:
        print(f"predis serve drift: {error}", file=sys.stderr)
        raise SystemExit(2) from None

    async def start(
        provider: trace.TracerProvider, meters: ServiceMeters | None
    ) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
        try:
            observer = build_observer(settings, provider)
        except InvalidInput as error:
            print(f"predis serve drift: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        return await create_server(server, observer, provider, meters), nothing_to_clean_up

    await run_service("drift", server, start)
