"""Server bootstrap shared by the four services: a grpc.aio server with health, reflection,
tracing interceptors and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace

from predis.services.runtime.settings import ServerSettings
from predis.services.runtime.tracing import server_interceptors
from predis.services.security.access import AccessControl
from predis.services.security.settings import check_exposure
from predis.services.security.tls import grpc_server_credentials

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceBinding:
    """One gRPC service to host: its full name and the generated function that adds it."""

    full_name: str
    add_to_server: Callable[[grpc.aio.Server], None]


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]
    access: AccessControl

    async def stop(self, grace_seconds: float) -> None:
        """Stops accepting calls, lets in-flight ones finish for up to ``grace_seconds``, then stops."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)
        self.access.close()


def _server_options(settings: ServerSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # Accept the SDK's keepalive pings instead of answering them with GOAWAY (the C name of this
        # argument is GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS; its string is this one).
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # The queue that forms under overload is gRPC core's, of calls received but not yet
        # taken by the event loop (grpc.aio takes one at a time). Bound it: past a quarter of the
        # limit core refuses new calls at random, more often as it fills, and all at the limit.
        ("grpc.server.max_pending_requests", max(settings.max_pending_calls // 4, 1)),
        ("grpc.server.max_pending_requests_hard_limit", settings.max_pending_calls),
    ]


async def start_server(
    settings: ServerSettings,
    bindings: Sequence[ServiceBinding],
    tracer_provider: trace.TracerProvider,
    service: str = "",
) -> RunningServer:
    """Starts a server hosting ``bindings`` on ``settings.listen`` and marks them SERVING. Refuses
    (SettingsError) to listen beyond loopback without authentication and TLS (security/settings.py).
    ``service`` names it in the audit log."""
    check_exposure("PREDIS_LISTEN", settings.listen, settings.auth, settings.tls is not None)
    service = service or (bindings[0].full_name.rsplit(".", 1)[-1] if bindings else "server")
    access = AccessControl.start(service, settings.auth)
    server = grpc.aio.server(
        # Security first: a refused call costs no span and reaches no servicer.
        interceptors=[access.interceptor(), *server_interceptors(tracer_provider)],  # type: ignore[arg-type]
        options=_server_options(settings),
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )
    for binding in bindings:
        binding.add_to_server(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(b.full_name for b in bindings)
    reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    if settings.tls is None:
        port = server.add_insecure_port(settings.listen)
    else:
        port = server.add_secure_port(settings.listen, grpc_server_credentials(settings.tls))
    if port == 0:
        raise OSError(f"could not bind {settings.listen}: the address is taken or not local")
    await server.start()
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server=server, port=port, health=health_servicer, service_names=names, access=access)


async def serve_until_signalled(running: RunningServer, grace_seconds: float) -> None:
    """Serves until SIGTERM or SIGINT, then drains in-flight calls and returns."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: draining in-flight calls for up to %.1fs", grace_seconds)
    await running.stop(grace_seconds)
    log.info("stopped")
