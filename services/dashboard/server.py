"""``predis dashboard``: the poller and the web app in one process, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from aiohttp import web

from predis.services.dashboard.cache_latency import MetricsPage
from predis.services.dashboard.history import History
from predis.services.dashboard.poller import SuitePoller, SuiteReader
from predis.services.dashboard.sdk_reader import SdkSuiteReader, dashboard_config
from predis.services.dashboard.settings import DashboardSettings
from predis.services.dashboard.web import create_app
from predis.services.runtime.lifecycle import READY_LINE
from predis.services.runtime.logs import configure_logging
from predis.services.runtime.settings import parse_address

log = logging.getLogger(__name__)


@dataclass
class RunningDashboard:
    """A serving dashboard: its bound port and its poller (polling in ``task``)."""

    runner: web.AppRunner
    port: int
    poller: SuitePoller
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.runner.cleanup()
        await self.poller.close()


async def start_dashboard(settings: DashboardSettings, reader: SuiteReader | None = None) -> RunningDashboard:
    """Binds ``settings.listen`` (port 0: a free one) and starts polling through ``reader``
    (default: the SDK, addresses and token from the environment)."""
    reader = reader or SdkSuiteReader(dashboard_config(settings.call_timeout_s))
    url = settings.cache_metrics_url
    cache_metrics = MetricsPage(url, settings.call_timeout_s) if url is not None else None
    poller = SuitePoller(
        reader,
        History(settings.history),
        settings.tenants,
        interval_s=settings.poll_s,
        discover=settings.discover_tenants,
        max_tenants=settings.max_tenants,
        cache_metrics=cache_metrics,
    )
    runner = web.AppRunner(create_app(poller), access_log=None)
    await runner.setup()
    host, port = parse_address(settings.listen, "PREDIS_DASHBOARD_LISTEN")
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        await poller.close()
        raise
    bound = runner.addresses[0][1]
    task = asyncio.create_task(poller.run(), name="dashboard-poller")
    return RunningDashboard(runner, bound, poller, task)


async def main(settings: DashboardSettings) -> None:
    """Serves until SIGTERM/SIGINT; prints the ready line ``predis up`` waits for."""
    configure_logging("dashboard", settings.log_level)
    running = await start_dashboard(settings)
    host = settings.listen.rpartition(":")[0]
    print(READY_LINE.format(service="dashboard", host=host, port=running.port), flush=True)
    log.info("dashboard on http://%s:%d/ polling every %gs", host, running.port, settings.poll_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await running.stop()
