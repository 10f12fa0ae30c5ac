"""What starts a job besides a person: drift alerts, the schedule and the volume of new data.

:func:`watch_alerts` consumes the drift service's alert stream for as long as the retrainer runs:
it reconnects with back-off when the stream cannot be opened or breaks (drift down, restarting, or
a version without alerts) and never lets an error out, so the retrainer serves whatever the drift
service does. Plain Python: the stream comes through the :class:`AlertSource` interface.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# ADWIN on these signals watches the live labels; a fall after a promotion rolls it back.
QUALITY_SIGNALS = ("live_gain", "precision", "prefetch_precision")


@dataclass(frozen=True)
class DriftAlert:
    id: str
    tenant: str  # "" for all tenants
    detector: str
    signal: str
    severity: str  # "critical" or "warning"
    message: str = ""
    traceparent: str = ""  # W3C trace context of the alert, "" when it came without one
    change: float | None = None  # signed change of the live label (ADWIN); None when not told
    window_start_unix_nano: int = 0  # where the changed window began: a job trains on what came after

    @property
    def critical(self) -> bool:
        return self.severity == "critical"

    @property
    def quality_fell(self) -> bool:
        """ADWIN saw live gain or precision fall (or change, when the alert does not say which
        way): what rolls back a recent promotion."""
        falling = self.change is None or self.change < 0
        return self.detector == "adwin" and self.signal in QUALITY_SIGNALS and falling


class AlertSource(Protocol):
    def alerts(self) -> AsyncIterator[DriftAlert]: ...


@dataclass
class WatchState:
    connected: bool = False
    alerts: int = 0
    failures: int = 0
    last_error: str = ""


async def watch_alerts(
    source: AlertSource,
    handle: Callable[[DriftAlert], Awaitable[None]],
    state: WatchState | None = None,
    first_delay_s: float = 0.5,
    max_delay_s: float = 15.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Feeds every alert to ``handle`` until cancelled. ``state`` shows whether the stream is up."""
    state = state or WatchState()
    delay = first_delay_s
    while True:
        try:
            async for alert in source.alerts():
                if not state.connected:
                    log.info("watching the drift service's alerts")
                state.connected, delay = True, first_delay_s
                state.alerts += 1
                try:
                    await handle(alert)
                except Exception:  # noqa: BLE001 - one alert's handling must not end the watch
                    log.exception("handling drift alert %s failed", alert.id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - drift down must never stop the retrainer
            message = str(error)
            if state.connected or message != state.last_error:
                log.warning("the drift service's alert stream is down (%s); retrying in %.1fs", message, delay)
            state.failures += 1
            state.last_error = message
        state.connected = False
        await sleep(delay)
        delay = min(max_delay_s, 2 * delay)
