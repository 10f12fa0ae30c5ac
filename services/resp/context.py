"""What every command handler may reach: the cache domain, the settings, the connections and
the server's counters. One per RESP server."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from predis.services.cache.domain import CacheDomain
from predis.services.resp.client_pause import ClientPauses
from predis.services.resp.replies import Reply
from predis.services.resp.session import Session, SessionTable
from predis.services.resp.settings import Account, RespSettings
from predis.services.resp.watches import WatchedKeys

if TYPE_CHECKING:
    from predis.services.resp.commands import CommandTable
    from predis.services.security.access import AccessControl
    from predis.services.security.tokens import TokenVerifier

Args = list[bytes]
Handler = Callable[["RespContext", Session, Args], Reply | Awaitable[Reply]]


class Later:
    """The reply of a command answered at once as far as it could go (a read recorded, its
    misses to read through the origin): the coroutine that finishes it."""

    __slots__ = ("reply",)

    def __init__(self, reply: Coroutine[object, None, Reply]) -> None:
        self.reply = reply


@dataclass
class ServerStats:
    """INFO stats: what the server counted since it started."""

    commands_processed: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0


@dataclass
class RespContext:
    """
    Attributes:
        domain: the cache; handlers call it alone.
        settings: the RESP server's settings.
        sessions: the connections open now.
        commands: the command table (set by the server once it is built).
        port: the port the server listens on (INFO, CONFIG GET port).
        watches: the keys connections WATCH.
        pauses: each tenant's CLIENT PAUSE.
        access: the cache's tokens and audit log (security/access.py); None in tests of the
            RESP layer alone, which then has only the users of ``PREDIS_RESP_USERS``.
        monitors: the connections in MONITOR mode, every tenant's (``monitor.py``).
    """

    domain: CacheDomain
    settings: RespSettings
    sessions: SessionTable
    commands: CommandTable | None = None
    port: int = 0
    stats: ServerStats = field(default_factory=ServerStats)
    started: float = field(default_factory=time.monotonic)
    run_id: str = field(default_factory=lambda: os.urandom(20).hex())
    access: AccessControl | None = None
    monitors: list[Session] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.accounts: dict[str, Account] = self.settings.accounts
        self.watches = WatchedKeys(self.domain)
        self.pauses = ClientPauses()

    def disconnect(self, session: Session) -> None:
        """Closes another connection at once, its replies not yet written dropped (CLIENT KILL):
        it leaves the connection table and its watches now, as Redis's ``freeClient``."""
        session.closing = session.dropped = True
        self.sessions.remove(session)
        self.watches.unwatch(session)
        session.abort()

    @property
    def auth_required(self) -> bool:
        """Whether connections start unauthenticated (tokens are required, or any user or
        password is configured)."""
        return bool(self.accounts) or self.verifier is not None

    @property
    def verifier(self) -> TokenVerifier | None:
        return self.access.verifier if self.access is not None else None

    def audit(self, session: Session, action: str, outcome: str, detail: str = "") -> None:
        """An audit record of a refused or administrative command of ``session``."""
        if self.access is not None:
            self.access.audit.record(action, outcome, session.identity, session.address, session.tenant, detail)

    @property
    def table(self) -> CommandTable:
        assert self.commands is not None, "the command table is set when the server is built"
        return self.commands
