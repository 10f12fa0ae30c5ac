"""When the RESP server writes: replies held until the event loop has handed over every read
that was ready, then written in order, a connection's in one piece; a big reply at once; what a
closing connection was owed before it closes.

Connections here get a recording transport (the server's layer alone, on the services' real loop
and a real cache); the same server over real sockets is what the other RESP tests drive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.resp.server import CORK_BYTES, RespConnection, RespServer, create_resp_server
from predis.services.resp.settings import RespSettings


class RecordingTransport(asyncio.Transport):
    """What a connection wrote, each ``write`` call apart, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 50000) if name in ("peername", "sockname") else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def frame(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@pytest.fixture()
async def server() -> AsyncIterator[RespServer]:
    domain = CacheDomain(Engine(EngineConfig(memory_bytes=8 * 1024 * 1024), NumpyStorage()))
    resp, _ = await create_resp_server(RespSettings(listen="127.0.0.1:0"), domain)
    yield resp
    await resp.close()
    domain.close()


def connect(server: RespServer) -> tuple[RespConnection, RecordingTransport]:
    connection, transport = RespConnection(server), RecordingTransport()
    connection.connection_made(transport)
    return connection, transport


async def test_replies_wait_for_the_loop_s_turn_then_go_out_in_order_one_write_a_connection(
    server: RespServer,
) -> None:
    a, a_out = connect(server)
    b, b_out = connect(server)
    a.data_received(frame(b"SET", b"k", b"v"))
    b.data_received(frame(b"GET", b"k") + frame(b"GET", b"nope"))
    a.data_received(frame(b"GET", b"k"))  # a second read of a's in the same turn
    assert a_out.writes == [] and b_out.writes == []  # held until every ready read is answered
    await asyncio.sleep(0)
    assert a_out.writes == [b"+OK\r\n$1\r\nv\r\n"]
    assert b_out.writes == [b"$1\r\nv\r\n$-1\r\n"]


async def test_a_reply_of_cork_bytes_or_more_goes_at_once_behind_what_was_held(server: RespServer) -> None:
    a, a_out = connect(server)
    big = b"x" * CORK_BYTES
    a.data_received(frame(b"SET", b"big", big))
    await asyncio.sleep(0)
    a_out.writes.clear()
    a.data_received(frame(b"PING"))
    a.data_received(frame(b"GET", b"big"))
    assert a_out.writes == [b"+PONG\r\n" + b"$%d\r\n%s\r\n" % (len(big), big)]  # before the loop turned
    await asyncio.sleep(0)
    assert len(a_out.writes) == 1  # nothing left over for the turn


async def test_a_connection_that_closes_is_sent_what_it_was_owed_first(server: RespServer) -> None:
    a, a_out = connect(server)
    a.data_received(frame(b"PING") + frame(b"QUIT"))
    assert a_out.closed and a_out.writes == [b"+PONG\r\n+OK\r\n"]
    await asyncio.sleep(0)  # the turn finds nothing more to write to a closed transport
    assert a_out.writes == [b"+PONG\r\n+OK\r\n"]


async def test_a_connection_lost_before_the_turn_is_written_nothing(server: RespServer) -> None:
    a, a_out = connect(server)
    a.data_received(frame(b"PING"))
    a_out.closed = True  # the peer went away: the transport closes, then tells the protocol
    a.connection_lost(ConnectionResetError())
    await asyncio.sleep(0)
    assert a_out.writes == []
