"""Running one service as a process: logging, tracing, metrics, start, serve until signalled, stop."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable

from opentelemetry.sdk.trace import TracerProvider

from predis.services.runtime.logs import configure_logging
from predis.services.runtime.metrics import (
    METRICS_PATH,
    MetricsEndpoint,
    ServiceMeters,
    install_process_meter_provider,
)
from predis.services.runtime.server import RunningServer, serve_until_signalled
from predis.services.runtime.settings import ServerSettings
from predis.services.runtime.tracing import install_process_tracer_provider, tracer_provider_from_env

log = logging.getLogger(__name__)

READY_LINE = "predis-{service} listening on {host}:{port}"
# Printed before the ready line when the service serves Prometheus metrics (`predis up` reads it).
METRICS_LINE = "predis-{service} metrics on http://{address}" + METRICS_PATH

Start = Callable[[TracerProvider, ServiceMeters | None], Awaitable[tuple[RunningServer, Callable[[], Awaitable[None]]]]]


async def run_service(service: str, server_settings: ServerSettings, start: Start) -> None:
    """Starts the service with ``start(tracer_provider, meters) -> (server, cleanup)`` and serves
    until SIGTERM/SIGINT. ``meters`` is None when metrics are off (``server_settings.metrics``).
    Prints one ready line on stdout once it accepts calls, after the metrics line when metrics
    are served."""
    configure_logging(service, server_settings.log_level)
    provider = tracer_provider_from_env(service)
    install_process_tracer_provider(provider)
    meters = ServiceMeters.from_settings(service, server_settings.metrics) if server_settings.metrics.enabled else None
    if meters is not None:
        install_process_meter_provider(meters.provider)
    endpoint = None
    if meters is not None and meters.registry is not None and server_settings.metrics.listen is not None:
        endpoint = MetricsEndpoint.start(
            server_settings.metrics.listen, meters.registry
        )  # fails before the service starts
    try:
        running, cleanup = await start(provider, meters)
    except BaseException:
        if endpoint is not None:
            endpoint.close()
        raise
    if endpoint is not None:
        print(METRICS_LINE.format(service=service, address=endpoint.address), flush=True)
        log.info("serving metrics on %s", endpoint.url)
    host = server_settings.listen.rpartition(":")[0]
    print(READY_LINE.format(service=service, host=host, port=running.port), flush=True)
    log.info("serving %s on %s:%d", ", ".join(running.service_names), host, running.port)
    try:
        await serve_until_signalled(running, server_settings.grace_seconds)
    finally:
        await cleanup()
        if endpoint is not None:
            endpoint.close()
        if meters is not None:
            await asyncio.to_thread(meters.shutdown)  # its last export reads the domains on this loop
        provider.shutdown()
        sys.stdout.flush()


async def nothing_to_clean_up() -> None:
    return None
