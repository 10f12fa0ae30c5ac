"""Running one service as a process: logging, tracing, start, serve until signalled, stop."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable

from opentelemetry.sdk.trace import TracerProvider

from predis.services.runtime.logs import configure_logging
from predis.services.runtime.server import RunningServer, serve_until_signalled
from predis.services.runtime.settings import ServerSettings
from predis.services.runtime.tracing import install_process_tracer_provider, tracer_provider_from_env

log = logging.getLogger(__name__)

READY_LINE = "predis-{service} listening on {host}:{port}"


async def run_service(
    service: str,
    server_settings: ServerSettings,
    start: Callable[[TracerProvider], Awaitable[tuple[RunningServer, Callable[[], Awaitable[None]]]]],
) -> None:
    """Starts the service with ``start(tracer_provider) -> (server, cleanup)`` and serves until
    SIGTERM/SIGINT. Prints one ready line on stdout once it accepts calls."""
    configure_logging(service, server_settings.log_level)
    provider = tracer_provider_from_env(service)
    install_process_tracer_provider(provider)
    running, cleanup = await start(provider)
    host = server_settings.listen.rpartition(":")[0]
    print(READY_LINE.format(service=service, host=host, port=running.port), flush=True)
    log.info("serving %s on %s:%d", ", ".join(running.service_names), host, running.port)
    try:
        await serve_until_signalled(running, server_settings.grace_seconds)
    finally:
        await cleanup()
        provider.shutdown()
        sys.stdout.flush()


async def nothing_to_clean_up() -> None:
    return None
