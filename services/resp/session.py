"""What the server knows of each connection (Redis's ``client`` struct, the parts served here),
and the table of connections that CLIENT LIST and the client limit read."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from predis.services.resp.databases import Database
from predis.services.resp.scan_order import ScanOrder
from predis.services.resp.settings import DEFAULT_USER
from predis.services.security.principal import Identity


def _drop(data: bytes) -> None:
    pass


def _nothing() -> None:
    return None


@dataclass(eq=False)  # a connection is itself: compared and hashed by identity (the WATCH table)
class Session:
    """One connection's state.

    Attributes:
        id: the connection's number, unique in this process (CLIENT ID).
        address, local_address: ``ip:port`` of the peer and of this end.
        fd: the socket's file descriptor.
        tenant: whom the connection acts for; the ``default`` tenant until it authenticates.
        user: the user it authenticated as (``default`` before; a token's tenant for a token).
        identity: the token it authenticated with, or None (security/principal.py).
        authenticated: whether it may run commands other than AUTH, HELLO, QUIT, RESET.
        protocol: 2 or 3 (HELLO).
        database: the selected database (SELECT).
        name: CLIENT SETNAME's name, or None.
        created, last_active: monotonic seconds (CLIENT LIST's age and idle).
        last_command: full name of the last command run (CLIENT LIST's cmd).
        transaction: the commands queued since MULTI, or None outside one.
        transaction_failed: a command was refused while queueing (EXEC then aborts).
        closing: reply, then close the connection (QUIT, a protocol error).
        dropped: close at once, without the replies not yet written (Redis's answer to HTTP).
        watching: (tenant, stored key) -> whether it was cached at WATCH; watch_dirty: a watched
            key was written since (``watches.py``).
        no_evict: CLIENT NO-EVICT (shown in CLIENT LIST; connections are never evicted here).
        reply_off, skip_reply, skip_next_reply: CLIENT REPLY OFF and SKIP (``reply_wanted``).
        abort: closes the connection at once (CLIENT KILL by another connection); set by the server.
        monitoring: in MONITOR mode (``monitor.py``); push: sends it bytes that are no reply of its
            own (MONITOR's lines), after the reply it is writing; set by the server.
        in_exec: running the commands of its EXEC.
    """

    id: int
    address: str
    local_address: str
    fd: int
    tenant: str
    user: str = DEFAULT_USER
    identity: Identity | None = None
    authenticated: bool = True
    protocol: int = 2
    database: Database = field(default_factory=lambda: Database(0))
    name: bytes | None = None
    created: float = field(default_factory=time.monotonic)
    last_active: float = field(default_factory=time.monotonic)
    last_command: str = "NULL"
    transaction: list[list[bytes]] | None = None
    transaction_failed: bool = False
    closing: bool = False
    dropped: bool = False
    buffered_bytes: int = 0  # the parser's unfinished request (CLIENT LIST's qbuf)
    argv_bytes: int = 0  # the arguments of the command running (argv-mem)
    scan_order: ScanOrder | None = None  # the keys of the SCAN iteration in progress
    watching: dict[tuple[str, bytes], bool] = field(default_factory=dict)
    watch_dirty: bool = False
    no_evict: bool = False
    reply_off: bool = False
    skip_reply: bool = False
    skip_next_reply: bool = False
    abort: Callable[[], None] = field(default=_nothing, repr=False)
    monitoring: bool = False
    push: Callable[[bytes], None] = field(default=_drop, repr=False)
    in_exec: bool = False

    @property
    def resp3(self) -> bool:
        return self.protocol == 3

    @property
    def reply_wanted(self) -> bool:
        """Whether the reply of the command just run is sent (CLIENT REPLY)."""
        return not (self.reply_off or self.skip_reply)

    def command_done(self) -> None:
        """After every request, as Redis's ``resetClient``: a SKIP covers the one that follows it."""
        self.skip_reply, self.skip_next_reply = self.skip_next_reply, False

    def flags(self) -> str:
        """CLIENT LIST's flags, in Redis 7.0's order: O (MONITOR), x (in MULTI), d (a watched key
        was written), e (no-evict); N for none."""
        flags = "O" if self.monitoring else ""
        flags += ("x" if self.transaction is not None else "") + ("d" if self.watch_dirty else "")
        return flags + ("e" if self.no_evict else "") or "N"

    def describe(self, now: float | None = None) -> str:
        """The connection's line of CLIENT LIST and CLIENT INFO, in Redis 7.0's fields and order
        (the memory fields as this server accounts them; events, fd and the output buffer
        fields as far as asyncio says them)."""
        now = time.monotonic() if now is None else now
        multi = -1 if self.transaction is None else len(self.transaction)
        fields = (
            ("id", str(self.id)),
            ("addr", self.address),
            ("laddr", self.local_address),
            ("fd", str(self.fd)),
            ("name", (self.name or b"").decode("utf-8", "surrogateescape")),
            ("age", str(int(now - self.created))),
            ("idle", str(int(now - self.last_active))),
            ("flags", self.flags()),
            ("db", str(self.database.index)),
            ("sub", "0"),
            ("psub", "0"),
            ("ssub", "0"),
            ("multi", str(multi)),
            ("qbuf", str(self.buffered_bytes)),
            ("qbuf-free", "0"),
            ("argv-mem", str(self.argv_bytes)),
            ("multi-mem", "0"),
            ("rbs", "0"),
            ("rbp", "0"),
            ("obl", "0"),
            ("oll", "0"),
            ("omem", "0"),
            ("tot-mem", str(self.buffered_bytes + self.argv_bytes)),
            ("events", "r"),
            ("cmd", self.last_command),
            ("user", self.user),
            ("redir", "-1"),
            ("resp", str(self.protocol)),
        )
        return " ".join(f"{k}={v}" for k, v in fields) + "\n"


class SessionTable:
    """The connections open now, by id; ids count up from 1 for the life of the process."""

    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self._sessions: dict[int, Session] = {}
        self._ids = itertools.count(1)
        self.connections_received = 0
        self.rejected_connections = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def next_id(self) -> int:
        return next(self._ids)

    @property
    def full(self) -> bool:
        return len(self._sessions) >= self.max_clients

    def add(self, session: Session) -> None:
        self._sessions[session.id] = session
        self.connections_received += 1

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def of_tenant(self, tenant: str) -> list[Session]:
        """The connections acting for ``tenant`` now, oldest first (a tenant sees only its own)."""
        return [s for s in self._sessions.values() if s.tenant == tenant]
