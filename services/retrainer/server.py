"""Bootstrap of the retrainer service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry import trace

from predis.services.retrainer.jobs import JobBook
from predis.services.retrainer.servicer import RetrainerServicer
from predis.services.runtime.lifecycle import nothing_to_clean_up, run_service
from predis.services.runtime.server import RunningServer, ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings
from predis.v1 import retrainer_pb2_grpc

SERVICE_NAME = "predis.v1.RetrainerService"


async def create_server(
    settings: ServerSettings, book: JobBook, tracer_provider: trace.TracerProvider
) -> RunningServer:
    servicer = RetrainerServicer(book)
    binding = ServiceBinding(
        SERVICE_NAME, lambda s: retrainer_pb2_grpc.add_RetrainerServiceServicer_to_server(servicer, s)
    )
    return await start_server(settings, [binding], tracer_provider)


async def main(settings: ServerSettings) -> None:
    async def start(provider: trace.TracerProvider) -> tuple[RunningServer, Callable[[], Awaitable[None]]]:
        return await create_server(settings, JobBook(), provider), nothing_to_clean_up

    await run_service("retrainer", settings, start)
