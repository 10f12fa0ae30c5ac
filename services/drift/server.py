"""Bootstrap of the drift service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry import trace

from predis.services.drift.observer import StreamObserver
from predis.services.drift.servicer import DriftServicer
from predis.services.runtime.lifecycle import nothing_to_clean_up, run_service
from predis.services.runtime.server import RunningServer, ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings
from predis.v1 import drift_pb2_grpc

SERVICE_NAME = "predis.v1.DriftService"


async def create_server(
    settings: ServerSettings, observer: StreamObserver, tracer_provider: trace.TracerProvider
) -> RunningServer:
    servicer = DriftServicer(observer)
    binding = ServiceBinding(SERVICE_NAME, lambda s: drift_pb2_grpc.add_DriftServiceServicer_to_server(servicer, s))
    return await start_server(settings, [binding], tracer_provider)


async def main(settings: ServerSettings) -> None:
    async def start(provider: trace.TracerProvider) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
        return await create_server(settings, StreamObserver(), provider), nothing_to_clean_up

    await run_service("drift", settings, start)
