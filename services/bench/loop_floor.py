"""A Redis-protocol server that only answers: the floor under what any Python server's request
costs on this machine (``predis bench redis-compare --floor``).

It runs on the loop the services run on (``PREDIS_EVENT_LOOP``), reads requests with hiredis's
``Reader`` as Predis's RESP front end does, and answers every GET with one fixed value of
``--value-size`` bytes (an MGET with that value for each key), INCR and DECR with ``:1``, HELLO
with the protocol version asked, and every other command with ``+OK``: replies of the shape and
size a cache's would have, for the commands ``redis-compare`` sends. It keeps no keys and checks
nothing: what one of its requests costs is the event loop, the sockets and the parse, which a
request to Predis pays too. So Predis's cost per request beyond this one's is the cache's own
work, and this one's beside redis-server's is what Python and its loop cost before any cache.
It is a measuring instrument, not a cache: it answers GET with a value nobody wrote.

    python -m predis.services.bench.loop_floor --port 16430 --value-size 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import cast

import hiredis

from predis.services.runtime import event_loop

OK = b"+OK\r\n"


def _hello(request: list[bytes]) -> bytes:
    version = request[1] if len(request) > 1 and request[1] in (b"2", b"3") else b"2"
    head = b"%1\r\n" if version == b"3" else b"*2\r\n"
    return head + b"$5\r\nproto\r\n:" + version + b"\r\n"


class FloorProtocol(asyncio.Protocol):
    """One connection: every complete request in a read answered, the replies in one write."""

    def __init__(self, value: bytes) -> None:
        self.reader = hiredis.Reader()
        self.get_reply = b"$%d\r\n%s\r\n" % (len(value), value)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's, or uvloop's (which does not subclass asyncio.Transport)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.reader.feed(data)
        out: list[bytes] = []
        try:
            while (request := self.reader.gets()) is not False:
                name = bytes(request[0]).lower() if isinstance(request, list) and request else b""
                if name == b"get":
                    out.append(self.get_reply)
                elif name == b"mget":  # one value a key, so that the reply is as long as a cache's
                    out.append(b"*%d\r\n%s" % (len(request) - 1, self.get_reply * (len(request) - 1)))
                elif name in (b"incr", b"decr", b"incrby", b"decrby"):
                    out.append(b":1\r\n")
                elif name == b"hello":  # the protocol version asked, so that a RESP3 client talks on
                    out.append(_hello(request))
                else:
                    out.append(OK)
        except hiredis.ProtocolError:  # inline commands are not read here: redis-py sends arrays
            out.append(b"-ERR the floor server reads only RESP arrays\r\n")
            self.transport.write(b"".join(out))
            self.transport.close()
            return
        if out:
            self.transport.write(b"".join(out))


async def serve(host: str, port: int, value_size: int) -> None:
    loop = asyncio.get_running_loop()
    value = b"v" * value_size
    server = await loop.create_server(lambda: FloorProtocol(value), host, port)
    bound = server.sockets[0].getsockname()[1]
    print(f"loop floor listening on {host}:{bound} ({event_loop.event_loop_name(os.environ)})", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m predis.services.bench.loop_floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free one (printed)")
    parser.add_argument("--value-size", type=int, default=100, help="bytes of the value every GET answers (100)")
    args = parser.parse_args(argv)
    if args.value_size < 0:
        parser.error("--value-size must not be negative")
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(serve(args.host, args.port, args.value_size), os.environ)
    return 0


if __name__ == "__main__":
    sys.exit(main())
