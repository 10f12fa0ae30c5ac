"""Bootstrap of the RESP server: asyncio streams, one task per connection, pipelining.

Each read is parsed whole and its requests answered in order, the replies written once per read
(and whenever more than ``FLUSH_PIECES`` are waiting, so a big pipeline never piles up in memory).
A connection that does not read its replies waits in ``drain`` and is read no further: it holds
its own buffers, bounded by the query buffer limit and asyncio's flow control, and nobody else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from predis.services.cache.domain import CacheDomain
from predis.services.resp.commands import CommandTable, build_table
from predis.services.resp.context import RespContext
from predis.services.resp.protocol import ProtocolError, QueryBufferFull, RequestParser
from predis.services.resp.replies import encode, encode_into, err
from predis.services.resp.session import Session, SessionTable
from predis.services.resp.settings import RespSettings
from predis.services.runtime.settings import parse_address
from predis.services.runtime.tenancy import DEFAULT_TENANT

log = logging.getLogger(__name__)

READ_BYTES = 64 * 1024
FLUSH_PIECES = 512  # reply pieces waiting that make the connection write before reading on
MAX_CLIENTS_REACHED = encode(err("max number of clients reached"), resp3=False)


def _address(info: object) -> str:
    if isinstance(info, tuple) and len(info) >= 2:
        return f"{info[0]}:{info[1]}"
    return f"{info}:0"


class RespConnection:
    """One client's connection: read, parse, answer, until it quits, errs or goes away."""

    def __init__(
        self,
        ctx: RespContext,
        table: CommandTable,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
    ) -> None:
        self.ctx, self.table, self.reader, self.writer, self.session = ctx, table, reader, writer, session
        settings = ctx.settings
        self.parser = RequestParser(settings.proto_max_bulk_len, settings.query_buffer_limit)
        self.answering = False  # between a read and its replies written (close lets it finish)

    async def serve(self) -> None:
        try:
            while not self.session.closing:
                data = await self._read()
                if not data:
                    return
                self.answering = True
                self.ctx.stats.net_input_bytes += len(data)
                self.parser.feed(data, self.session.authenticated)
                self.session.buffered_bytes = self.parser.buffered_bytes
                await self._answer()
                self.answering = False
        except QueryBufferFull as full:
            log.warning("closing the connection from %s: %s", self.session.address, full)
        except TimeoutError:
            log.debug("closing the connection from %s: idle for %ss", self.session.address, self.ctx.settings.timeout_s)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    async def _read(self) -> bytes:
        timeout = self.ctx.settings.timeout_s
        if timeout > 0:
            return await asyncio.wait_for(self.reader.read(READ_BYTES), timeout)
        return await self.reader.read(READ_BYTES)

    async def _answer(self) -> None:
        session, parser = self.session, self.parser
        out: list[bytes] = []
        while not session.closing:
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
            reply = await self.table.dispatch(self.ctx, session, args)
            if session.dropped:
                session.closing = True
                return  # as Redis: what this read had answered is dropped too
            if session.reply_wanted:
                encode_into(reply, session.resp3, out)
            session.command_done()
            if len(out) >= FLUSH_PIECES:
                await self._write(out)
                out = []
        session.buffered_bytes = parser.buffered_bytes
        await self._write(out)

    async def _write(self, out: list[bytes]) -> None:
        if not out:
            return
        data = b"".join(out)
        self.ctx.stats.net_output_bytes += len(data)
        self.writer.write(data)
        await self.writer.drain()


class RespServer:
    """The running server: its listening socket, its connections, and their graceful close."""

    def __init__(self, ctx: RespContext, table: CommandTable) -> None:
        self.ctx = ctx
        self.table = table
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[RespConnection] = set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sessions = self.ctx.sessions
        if sessions.full:
            sessions.rejected_connections += 1
            with contextlib.suppress(ConnectionError):
                writer.write(MAX_CLIENTS_REACHED)
                await writer.drain()
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        session = Session(
            id=sessions.next_id(),
            address=_address(writer.get_extra_info("peername")),
            local_address=_address(writer.get_extra_info("sockname")),
            fd=sock.fileno() if sock is not None else -1,
            tenant=DEFAULT_TENANT,
            authenticated=not self.ctx.auth_required,
        )
        session.abort = writer.transport.abort
        sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        connection = RespConnection(self.ctx, self.table, reader, writer, session)
        self._connections.add(connection)
        try:
            await connection.serve()
        except Exception:  # noqa: BLE001 - one connection's failure must not reach the server
            log.exception("the connection from %s failed", session.address)
        finally:
            sessions.remove(session)
            self.ctx.watches.unwatch(session)
            self._connections.discard(connection)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self, grace_s: float = 1.0) -> None:
        """Stops accepting, closes every connection (each finishes the read it is answering
        first, for up to ``grace_s``), and waits for their tasks."""
        if self.server is not None:
            self.server.close()
        for connection in list(self._connections):
            connection.session.closing = True
            if not connection.answering:
                connection.writer.close()
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for connection in list(self._connections):
                connection.writer.close()
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()


async def create_resp_server(settings: RespSettings, domain: CacheDomain) -> tuple[RespServer, int]:
    """Starts the RESP server on ``settings.listen`` over ``domain``; answers it and the port it
    bound (port 0 picks a free one). Stop it with :meth:`RespServer.close`."""
    host, port = parse_address(settings.listen or "127.0.0.1:0", "PREDIS_RESP_LISTEN")
    ctx = RespContext(domain, settings, SessionTable(settings.max_clients))
    table = build_table()
    ctx.commands = table
    resp = RespServer(ctx, table)
    resp.server = await asyncio.start_server(resp._accept, host, port, limit=READ_BYTES)
    bound = resp.server.sockets[0].getsockname()[1]
    ctx.port = bound
    log.info("RESP server listening on %s:%d", host, bound)
    return resp, bound
