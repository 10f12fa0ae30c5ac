"""CLIENT PAUSE: commands of a tenant's connections wait while it is paused (Redis's
``pauseClients`` and ``processCommand``'s postponing).

A pause holds every command (ALL) or only those that may write (WRITE: commands flagged
``write``, and an EXEC whose queued commands include one, or queueing such a command inside
MULTI), from every connection of the tenant, the one that paused it included, until its time is
up or CLIENT UNPAUSE (itself held by an ALL pause, as in Redis). A new pause only ever lengthens
a running one and widens it from WRITE to ALL. Tenants pause only their own connections; gRPC
calls are never paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class ClientPause:
    """One tenant's pause; not paused until :meth:`pause`."""

    def __init__(self) -> None:
        self.until = 0.0  # monotonic seconds
        self.writes_only = True
        self._lifted = asyncio.Event()

    def active(self) -> bool:
        return time.monotonic() < self.until

    def pause(self, seconds: float, writes_only: bool) -> None:
        """Pauses for ``seconds`` from now, as Redis's ``pauseClients``: a running pause is never
        shortened or narrowed (and 0 or less widens a running one without lengthening it)."""
        if not self.active():
            self.until, self.writes_only = 0.0, True
        if seconds > 0:
            self.until = max(self.until, time.monotonic() + seconds)
        if self.active():
            self.writes_only = self.writes_only and writes_only

    def unpause(self) -> None:
        self.until, self.writes_only = 0.0, True
        self._lifted.set()
        self._lifted = asyncio.Event()

    def holds(self, writes: bool) -> bool:
        """Whether a command that ``writes`` (or not) must wait now."""
        return self.active() and (writes or not self.writes_only)

    async def wait(self, writes: bool) -> None:
        """Returns once a command that ``writes`` (or not) may run."""
        while self.holds(writes):
            lifted = self._lifted
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lifted.wait(), self.until - time.monotonic())


class ClientPauses:
    """Every tenant's pause, made when it first pauses."""

    def __init__(self) -> None:
        self._pauses: dict[str, ClientPause] = {}

    def of(self, tenant: str) -> ClientPause:
        pause = self._pauses.get(tenant)
        if pause is None:
            pause = self._pauses[tenant] = ClientPause()
        return pause

    def holding(self, tenant: str) -> ClientPause | None:
        """``tenant``'s pause while it is active, else None (the common case, checked per command)."""
        pause = self._pauses.get(tenant)
        return pause if pause is not None and pause.active() else None
