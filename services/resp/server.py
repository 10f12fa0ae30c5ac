"""Bootstrap of the RESP server: an asyncio protocol per connection, pipelining.

Each read is parsed whole and its requests answered in order, the replies handed on once per read
(and whenever more than ``FLUSH_PIECES`` are waiting, so a big pipeline never piles up in memory).
A read is answered inside the event loop's callback for it (``data_received``): a command that
completes without waiting (a cache hit, a write) costs no task and no extra turn of the loop, which
is most of what a request costs in Python. A command that must wait (a miss read through the
origin, a CLIENT PAUSE, a full socket buffer) finishes in a task, and the connection is read no
further until it has: it holds its own buffers, bounded by the query buffer limit and flow
control, and nobody else's.

A run of GETs in one read (a pipeline's, ``redis-benchmark -P``) is answered from one read of the
cache, and a run of plain SETs from one batch write (``CommandTable.run_together``), when nothing
needs each checked on its own: the replies, counters and events are those of the commands one by
one, at a fraction of the cost.

Replies are written once the event loop has handed over every read that was ready, not as each is
answered (``RespServer.flush_soon``; Redis writes its replies just before it waits for the next
reads, as this does). A client waiting on many connections is then woken once for a burst of
replies instead of once for each: on a machine where waking a process on another CPU costs tens of
microseconds, that wake-up was the largest single cost of a reply. A reply of ``CORK_BYTES`` or
more, and MONITOR's lines past it, are not held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import cast

from predis.services.cache.domain import CacheDomain
from predis.services.resp import compiled_gets, protocol, replies
from predis.services.resp.commands import CommandTable, build_table
from predis.services.resp.context import Later, RespContext
from predis.services.resp.monitor import stop_monitoring
from predis.services.resp.protocol import GET_HEAD, ProtocolError, QueryBufferFull, RequestParser
from predis.services.resp.replies import Encoded, encode, encode_into, err
from predis.services.resp.session import Session, SessionTable
from predis.services.resp.settings import RespSettings
from predis.services.runtime.settings import parse_address
from predis.services.runtime.tenancy import DEFAULT_TENANT
from predis.services.security.access import AccessControl
from predis.services.security.tls import ReloadingSslContext

log = logging.getLogger(__name__)

FLUSH_PIECES = 512  # reply pieces waiting that make the connection write before reading on
TURN_COMMANDS = 64  # commands one connection runs before the event loop turns to the others
PUSHED_BYTES_LIMIT = 64 * 1024 * 1024  # unread MONITOR lines a connection may hold the server to
MAX_CLIENTS_REACHED = encode(err("max number of clients reached"), resp3=False)
CORK_BYTES = 64 * 1024  # replies held for the loop's turn up to this much, then written at once


def _address(info: object) -> str:
    if isinstance(info, tuple) and len(info) >= 2:
        return f"{info[0]}:{info[1]}"
    return f"{info}:0"


class RespConnection(asyncio.Protocol):
    """One client's connection: read, parse, answer, until it quits, errs or goes away."""

    def __init__(self, server: RespServer) -> None:
        self.server, self.ctx, self.table = server, server.ctx, server.table
        settings = self.ctx.settings
        self.run_limit = min(TURN_COMMANDS, server.ctx.domain.max_batch_keys)  # GETs or SETs answered at once
        self.parser = RequestParser(settings.proto_max_bulk_len, settings.query_buffer_limit, self.run_limit)
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.answering = False  # between a read and its replies written (close lets it finish)
        self.task: asyncio.Task[None] | None = None  # the answer that had to wait, while it does
        self._drained: asyncio.Future[None] | None = None  # set while the socket's buffer is full
        self._idle_timer: asyncio.TimerHandle | None = None
        self._fed_while_waiting = False  # bytes came while an answer waited (before reads paused)
        self._pushed: list[bytes] = []  # MONITOR's lines that came while a reply was being made
        self._corked: list[bytes] = []  # written, not yet handed to the transport (flush_soon)
        self._corked_bytes = 0

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # A stream server's transport: asyncio's, or uvloop's (which does not subclass asyncio.Transport).
        self.transport = transport = cast(asyncio.Transport, base)
        sessions = self.ctx.sessions
        if sessions.full:
            sessions.rejected_connections += 1
            transport.write(MAX_CLIENTS_REACHED)
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        self.session = session = Session(
            id=sessions.next_id(),
            address=_address(transport.get_extra_info("peername")),
            local_address=_address(transport.get_extra_info("sockname")),
            fd=sock.fileno() if sock is not None else -1,
            tenant=DEFAULT_TENANT,
            authenticated=not self.ctx.auth_required,
        )
        session.abort = transport.abort
        session.push = self._push
        sessions.add(session)
        self.server.connections.add(self)
        if self.ctx.settings.timeout_s > 0:
            self._idle_timer = asyncio.get_running_loop().call_later(self.ctx.settings.timeout_s, self._check_idle)

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None or session.closing:
            return
        self.ctx.stats.net_input_bytes += len(data)
        # Nothing waits before this read's requests, to be answered or written.
        alone = self.task is None and (self._drained is None or self._drained.done()) and self.parser.idle
        if alone and self._answered_alone(session, data):
            return
        try:
            self.parser.feed(data, session.authenticated)
        except QueryBufferFull as full:
            log.warning("closing the connection from %s: %s", session.address, full)
            self._close()
            return
        session.buffered_bytes = self.parser.buffered_bytes
        if self.task is None:
            if not (alone and self._answered_read_alone(session)):
                self._answer_eagerly()
        else:
            self._fed_while_waiting = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._corked.clear()  # nobody to write it to
        self._corked_bytes = 0
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(ConnectionResetError("the client went away"))
            # A write waiting on it still raises; but MONITOR's lines can fill the buffer with no
            # write waiting, and an exception nobody awaits is logged as never retrieved.
            self._drained.exception()
        if self.task is not None:
            self.task.cancel()
        session = self.session
        if session is not None:
            session.closing = True
            self.ctx.sessions.remove(session)
            self.ctx.watches.unwatch(session)
            stop_monitoring(self.ctx, session)
        self.server.connections.discard(self)
        self.server.closed_one()

    def pause_writing(self) -> None:
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- answering ---------------------------------------------------------------------------

    def _answered_alone(self, session: Session, data: bytes) -> bool:
        """Answers ``data`` in this callback when it is one GET, one plain SET or one MGET (what
        a client waiting on each reply sends) and nothing asks for each command on its own
        (``_may_answer_alone``): no request list, no coroutine unless a miss reads through the
        origin. ``_answer`` gives the same replies, slower. Whether it did."""
        parser, table, ctx = self.parser, self.table, self.ctx
        if self._may_be_get_run(data):
            return self._answered_get_run(session, data)
        if (key := parser.lone_get(data)) is not None:
            if not self._may_answer_alone(session):
                return False
            self._reply_alone(session, table.lone_get(ctx, session, key))
        elif (key_value := parser.lone_set(data)) is not None:
            if not self._may_answer_alone(session):
                return False
            self._reply_alone(session, table.lone_set(ctx, session, *key_value))
        elif parser.may_be_mget(data):
            # Another database's keys are stored behind its prefix: those take the long way.
            if session.database.prefix or not self._may_answer_alone(session):
                return False
            compiled = self._compiled_reply(lambda: table.compiled_mget(ctx, session, data))
            if compiled is not None:
                return compiled
            keys = parser.lone_mget(data)
            if keys is None:
                return False
            self._reply_alone(session, table.lone_mget(ctx, session, keys))
        else:
            return False
        return True

    def _may_be_get_run(self, data: bytes) -> bool:
        """Whether ``data`` begins as two GETs would (a look before the compiled walk)."""
        return (
            self.run_limit >= 2
            and data.startswith(GET_HEAD)
            and data.find(GET_HEAD, 13) > 0
            and len(data) <= self.parser.max_bulk_len
        )

    def _answered_get_run(self, session: Session, data: bytes) -> bool:
        """Answers ``data`` when it is a run of plain GETs of database 0, in one compiled call
        (``CommandTable.compiled_get_run``); whether it did. If not, nothing changed and
        ``feed`` reads it (a run it keeps, or requests), the way any read goes."""
        if session.database.prefix or not self._may_answer_alone(session):
            return False
        answered = self._compiled_reply(lambda: self.table.compiled_get_run(self.ctx, session, data, self.run_limit))
        return bool(answered)

    def _compiled_reply(self, answer: Callable[[], bytes | None]) -> bool | None:
        """Sends what ``answer`` (a compiled read's) replies: True when it replied, None when it
        answered nothing (nothing changed: the read goes the ordinary way). A failure closes
        the connection, as ``_answered_run_alone``'s does (True: nothing more to do)."""
        session = self.session
        assert session is not None
        try:
            reply = answer()
        except Exception:  # noqa: BLE001 - one connection's failure must not reach the server
            log.exception("the connection from %s failed", session.address)
            self._close()
            return True
        if reply is None:
            return None
        session.command_done()
        self._send(reply)
        return True

    def _answered_read_alone(self, session: Session) -> bool:
        """After ``feed``: answers the one request the read held when it is of a data command
        that never waits (``CommandTable.lone_request``), as ``_answered_alone`` answers a GET.
        Whether it did; if not, the request waits for ``_answer``, where it was."""
        if self.parser.run is not None:
            return self._answered_run_alone(session)
        args = self.parser.only_request()
        if args is None:
            return False
        if self._may_answer_alone(session):
            reply = self.table.lone_request(self.ctx, session, args)
            if reply is not None:
                self._reply_alone(session, reply)
                return True
        self.parser.hold(args)
        return False

    def _answered_run_alone(self, session: Session) -> bool:
        """:meth:`_answered_read_alone` of a read that is a run of GETs or of plain SETs
        (``RequestParser.run``), answered as ``_answer`` answers it in one piece, without its
        coroutine, when its keys are database 0's plain keys. Whether it did; if not, the run
        waits for ``_answer``, where it was."""
        run = self.parser.run
        assert run is not None
        if not run.plain or session.database.prefix or not self._may_answer_alone(session):
            return False
        try:
            reply = self.table.lone_run(self.ctx, session, run)
        except Exception:  # noqa: BLE001 - as _answer_eagerly: one connection's failure must not reach the server
            log.exception("the connection from %s failed", session.address)
            self._close()
            return True
        if reply is None:  # refused whole, nothing changed: _answer answers it one by one
            return False
        self.parser.take_run()
        self._reply_alone(session, reply)
        return True

    def _may_answer_alone(self, session: Session) -> bool:
        """Whether a lone request may skip ``_answer``: its reply is sent and nothing checks or
        tells of each command on its own (``CommandTable.answers_together``). When so, the
        request counts as the connection's activity from now."""
        if not (session.reply_wanted and self.table.answers_together(self.ctx, session)):
            return False
        session.last_active = time.monotonic()
        return True

    def _reply_alone(self, session: Session, reply: bytes | Later) -> None:
        if isinstance(reply, Later):  # a miss read through the origin: the rest waits in a task
            self._answer_eagerly(self._answer_later(session, reply))
            return
        session.command_done()
        self._send(reply)

    async def _answer_later(self, session: Session, later: Later) -> None:
        self.answering = True
        try:
            out: list[bytes] = []
            encode_into(await later.reply, session.resp3, out)
            self._take_pushed(out)
            session.command_done()
            await self._write(out)
        finally:
            self.answering = False
            left: list[bytes] = []
            self._take_pushed(left)
            if left:
                self._send_pushed(b"".join(left))

    def _answer_eagerly(self, coroutine: Coroutine[object, None, None] | None = None) -> None:
        """Runs ``coroutine`` (``_answer`` unless given) now, in this callback, as far as it goes
        without waiting; what waits finishes in a task (asyncio's eager tasks do the same from
        Python 3.12 on)."""
        if coroutine is None:
            coroutine = self._answer()
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            self._answered()
            return
        except Exception:  # noqa: BLE001 - one connection's failure must not reach the server
            log.exception("the connection from %s failed", self.session.address if self.session else "?")
            self._close()
            return
        assert self.transport is not None
        self.transport.pause_reading()
        self.task = asyncio.get_running_loop().create_task(self._finish(coroutine, waiting_on))
        self.server.tasks.add(self.task)

    async def _finish(self, coroutine: Coroutine[object, None, None], waiting_on: object) -> None:
        """Drives ``coroutine`` on from where ``_answer_eagerly`` left it, as a task would."""
        try:
            while True:
                try:
                    if isinstance(waiting_on, asyncio.Future):
                        waiting_on._asyncio_future_blocking = False  # as Task.__step does
                        await asyncio.wait([waiting_on])
                    else:  # a bare yield (asyncio.sleep(0)): one turn of the loop
                        await asyncio.sleep(0)
                except asyncio.CancelledError:
                    coroutine.close()
                    raise
                try:
                    waiting_on = coroutine.send(None)
                except StopIteration:
                    break
        except asyncio.CancelledError:
            return
        except Exception:  # noqa: BLE001
            log.exception("the connection from %s failed", self.session.address if self.session else "?")
            self._close()
            return
        finally:
            task, self.task = self.task, None
            if task is not None:
                self.server.tasks.discard(task)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        self._answered()
        if self._fed_while_waiting and self.session is not None and not self.session.closing:
            self._fed_while_waiting = False
            self._answer_eagerly()  # requests that came while the answer waited

    def _answered(self) -> None:
        if self.session is not None and self.session.closing:
            self._close()

    async def _answer(self) -> None:
        session, parser = self.session, self.parser
        assert session is not None
        self.answering = True
        out: list[bytes] = []
        since_turn = 0  # commands answered since the loop last turned to the others
        try:
            while not session.closing:
                if parser.run is not None and self.table.answers_together(self.ctx, session):
                    # A read of only GETs or only plain SETs: answered from the bytes as they came.
                    session.last_active = time.monotonic()
                    read_run = parser.take_run()
                    replies = await self.table.run_read(self.ctx, session, read_run)
                    answered = len(read_run)
                else:
                    try:
                        args = parser.next_request(session.authenticated)
                    except ProtocolError as refused:
                        log.info("protocol error from %s: %s", session.address, refused)
                        if session.reply_wanted:
                            out.append(encode(refused.reply, session.resp3))
                        session.closing = True
                        break
                    if args is None:
                        break
                    if not args:
                        continue
                    session.last_active = time.monotonic()
                    run = self._run_after(args)
                    if run:
                        replies = await self.table.run_together(self.ctx, session, run)
                    elif (reply := self._reply_now(session, args)) is not None:
                        replies = [reply]  # a pipelined INCR, DEL, MSET...: as a lone one is answered
                    else:
                        replies = [await self.table.dispatch(self.ctx, session, args)]
                        if session.dropped:
                            session.closing = True
                            return  # as Redis: what this read had answered is dropped too
                    answered = len(run) if run else 1
                # A run's replies may come as one encoded piece (every reply sent, nothing pushed
                # between: command_done after it does for all).
                for reply in replies:
                    if session.reply_wanted:
                        encode_into(reply, session.resp3, out)
                    self._take_pushed(out)  # after the reply they came during, as Redis appends them
                    session.command_done()
                since_turn += answered
                if len(out) >= FLUSH_PIECES or since_turn >= TURN_COMMANDS:
                    await self._write(out)
                    out = []
                if since_turn >= TURN_COMMANDS:
                    since_turn = 0
                    await asyncio.sleep(0)  # a long pipeline lets the other connections have a turn
            session.buffered_bytes = parser.buffered_bytes
            self._take_pushed(out)
            await self._write(out)
        finally:
            self.answering = False
            left: list[bytes] = []
            self._take_pushed(left)  # lines that came while the last write waited for the client
            if left:
                self._send_pushed(b"".join(left))

    def _reply_now(self, session: Session, args: list[bytes]) -> Encoded | None:
        """The encoded reply to ``args`` when it is of a data command that never waits and
        nothing asks for each command on its own (``_answered_read_alone``'s conditions): what
        ``dispatch`` would answer, without its coroutines. None for the long way."""
        if not (session.reply_wanted and self.table.answers_together(self.ctx, session)):
            return None
        reply = self.table.lone_request(self.ctx, session, args)
        return None if reply is None else Encoded(reply)

    def _run_after(self, args: list[bytes]) -> list[list[bytes]]:
        """``args`` and the requests read right after it, when it is a GET or a plain SET (no
        options) that starts a run of its kind which may be answered together
        (``CommandTable.run_together``); else nothing."""
        if len(args) not in (2, 3) or not self.parser.has_ready:
            return []
        name = args[0].lower()
        if name != (b"get" if len(args) == 2 else b"set"):
            return []
        if not self.table.answers_together(self.ctx, self.session):
            return []
        run = self.parser.next_run_of(name, len(args), self.run_limit - 1)
        return [args, *run] if run else []

    def _take_pushed(self, out: list[bytes]) -> None:
        """Moves the MONITOR lines waiting for this client to the end of ``out``."""
        if self._pushed:
            out.extend(self._pushed)
            self._pushed.clear()

    def _push(self, data: bytes) -> None:
        """Bytes for this client that are no reply of its own (MONITOR's lines): written now, or
        after the reply being made when it is answering."""
        if not self.answering:
            self._send_pushed(data)
            return
        self._pushed.append(data)
        if len(self._pushed) % 1024 == 0 and self._over_output_limit(sum(map(len, self._pushed))):
            self._pushed.clear()

    def _send_pushed(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing() or self._over_output_limit(len(data)):
            return
        self._send(data)  # behind any reply still corked

    def _send(self, data: bytes) -> None:
        """Hands ``data`` to the transport at the loop's next turn, after the replies before it;
        at once, with them, when they come to ``CORK_BYTES``."""
        self.ctx.stats.net_output_bytes += len(data)
        if not self._corked:
            self.server.flush_soon(self)
        self._corked.append(data)
        self._corked_bytes += len(data)
        if self._corked_bytes >= CORK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Writes what is corked (``RespServer`` calls it for every connection at the loop's turn)."""
        if not self._corked:
            return
        data = self._corked[0] if len(self._corked) == 1 else b"".join(self._corked)
        self._corked.clear()
        self._corked_bytes = 0
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _over_output_limit(self, more: int) -> bool:
        """Whether ``more`` bytes would take what waits for this client past ``PUSHED_BYTES_LIMIT``:
        a MONITOR that does not read its lines is closed at once (as Redis closes a client past
        its output buffer limit), rather than hold the server's memory with a tenant's traffic."""
        assert self.transport is not None
        if self.transport.get_write_buffer_size() + self._corked_bytes + more <= PUSHED_BYTES_LIMIT:
            return False
        if self.session is not None and not self.session.closing:
            log.warning(
                "closing the connection from %s: MONITOR lines it does not read passed %d bytes",
                self.session.address,
                PUSHED_BYTES_LIMIT,
            )
            self.session.closing = True
        self.transport.abort()
        return True

    async def _write(self, out: list[bytes]) -> None:
        if not out or self.transport is None or self.transport.is_closing():
            return
        self._send(out[0] if len(out) == 1 else b"".join(out))
        if self._drained is not None and not self._drained.done():
            await self._drained  # the client does not read its replies: read it no further

    def _check_idle(self) -> None:
        session, timeout = self.session, self.ctx.settings.timeout_s
        if session is None or session.closing:
            return
        idle = time.monotonic() - session.last_active
        if idle >= timeout and self.task is None:
            log.debug("closing the connection from %s: idle for %ss", session.address, timeout)
            self._close()
            return
        self._idle_timer = asyncio.get_running_loop().call_later(max(timeout - idle, 0.01), self._check_idle)

    def _close(self) -> None:
        if self.session is not None:
            self.session.closing = True
        if self.transport is not None:
            self.flush()
            self.transport.close()  # what was written is still sent


class RespServer:
    """The running server: its listening socket, its connections, and their graceful close."""

    def __init__(self, ctx: RespContext, table: CommandTable) -> None:
        self.ctx = ctx
        self.table = table
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.connections: set[RespConnection] = set()
        self._all_closed: asyncio.Event | None = None
        self._corked: list[RespConnection] = []  # connections with replies to write at the loop's turn
        self._flush_handle: asyncio.Handle | None = None

    def flush_soon(self, connection: RespConnection) -> None:
        """Writes ``connection``'s corked replies once the loop has run the callbacks of the reads
        ready now (``call_soon`` runs after them, in uvloop's loop and asyncio's alike)."""
        self._corked.append(connection)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        corked, self._corked = self._corked, []
        for connection in corked:
            connection.flush()

    def closed_one(self) -> None:
        if self._all_closed is not None and not self.connections:
            self._all_closed.set()

    async def close(self, grace_s: float = 1.0) -> None:
        """Stops accepting, closes every connection (each finishes the read it is answering
        first, for up to ``grace_s``), and waits for them to close."""
        if self.server is not None:
            self.server.close()
        for connection in list(self.connections):
            if connection.session is not None:
                connection.session.closing = True
            if not connection.answering:
                connection._close()
        tasks = list(self.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._all_closed = asyncio.Event()
        for connection in list(self.connections):
            connection._close()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_closed.wait(), grace_s)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        if self.server is not None:
            await self.server.wait_closed()


async def create_resp_server(
    settings: RespSettings, domain: CacheDomain, access: AccessControl | None = None
) -> tuple[RespServer, int]:
    """Starts the RESP server on ``settings.listen`` over ``domain``; answers it and the port it
    bound (port 0 picks a free one). ``access``: the cache's tokens and audit log (AUTH with a
    token; refusals audited). Stop it with :meth:`RespServer.close`."""
    host, port = parse_address(settings.listen or "127.0.0.1:0", "PREDIS_RESP_LISTEN")
    protocol.warm_up()
    replies.warm_up()
    compiled_gets.warm_up()
    ctx = RespContext(domain, settings, SessionTable(settings.max_clients), access=access)
    table = build_table()
    ctx.commands = table
    resp = RespServer(ctx, table)
    tls = ReloadingSslContext(settings.tls) if settings.tls is not None else None

    def connection() -> RespConnection:
        # Here, not in connection_made: asyncio calls that after the handshake, too late for this one.
        if tls is not None:
            tls.maybe_reload()
        return RespConnection(resp)

    loop = asyncio.get_running_loop()
    resp.server = await loop.create_server(connection, host, port, ssl=tls.context if tls is not None else None)
    bound = resp.server.sockets[0].getsockname()[1]
    ctx.port = bound
    log.info("RESP server listening on %s:%d%s", host, bound, " (TLS)" if tls is not None else "")
    return resp, bound
