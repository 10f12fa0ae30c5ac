"""Shared parts of the RESP tests: a real redis-server, Predis's RESP server in a background loop,
and a raw socket client that reads replies as bytes. Its own tests check the reply reader."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from predis.plugins.origin import Origin
from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.engine import Engine, EngineConfig, warm_up
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.resp.server import RespServer, create_resp_server
from predis.services.resp.settings import RespSettings
from predis.services.runtime.event_loop import new_event_loop

T = TypeVar("T")


def command(*args: bytes | str | int) -> bytes:
    """One multibulk frame."""
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Closed(Exception):
    """The server closed the connection."""


class RawClient:
    """A socket that sends bytes and reads whole replies back as the bytes they came in."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise Closed()
        self.buf += chunk

    def _line(self, pos: int) -> int:
        while (end := self.buf.find(b"\r\n", pos)) < 0:
            self._fill()
        return end

    def _skip(self, pos: int) -> int:
        """The end of the reply that starts at ``pos``."""
        end = self._line(pos)
        kind, head = self.buf[pos : pos + 1], self.buf[pos + 1 : end]
        pos = end + 2
        if kind in (b"$", b"=", b"!"):
            length = int(head)
            if length < 0:
                return pos
            while len(self.buf) < pos + length + 2:
                self._fill()
            return pos + length + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            count = int(head) * (2 if kind in (b"%", b"|") else 1)
            for _ in range(max(count, 0)):
                pos = self._skip(pos)
            return self._skip(pos) if kind == b"|" else pos
        return pos

    def reply(self) -> bytes:
        end = self._skip(0)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def call(self, *args: bytes | str | int) -> bytes:
        self.send(command(*args))
        return self.reply()

    def until_closed(self, timeout: float = 2.0) -> tuple[bytes, bool]:
        """Everything until the server closes (True) or ``timeout`` passes quietly (False)."""
        self.sock.settimeout(timeout)
        out, self.buf = self.buf, b""
        try:
            while chunk := self.sock.recv(1 << 16):
                out += chunk
        except TimeoutError:
            return out, False
        except ConnectionResetError:
            return out, True
        return out, True


class RedisServer:
    """A real redis-server on a free port, no persistence, in a temporary folder."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class PredisResp:
    """Predis's RESP server over a NumPy-backed cache domain, in its own event loop thread, so
    that plain sockets and the synchronous redis-py client can call it from a test."""

    def __init__(
        self, settings: RespSettings | None = None, origin: Origin | None = None, engine: EngineConfig | None = None
    ) -> None:
        self.settings = settings or RespSettings(listen="127.0.0.1:0")
        self.origin = origin
        self.engine_config = engine or EngineConfig(memory_bytes=32 * 1024 * 1024)
        self.loop = new_event_loop(os.environ)  # the services' loop (PREDIS_EVENT_LOOP)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: RespServer | None = None
        self.domain: CacheDomain | None = None
        self.port = 0

    def run(self, coro: Awaitable[T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=30)

    def start(self) -> PredisResp:
        # The cache's kernels compiled (or loaded) first, as the service does before it reports
        # ready: a request must not wait on Numba compiling what it is the first to need.
        warm_up(self.engine_config.policy, NumpyStorage())
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        engine = Engine(self.engine_config, NumpyStorage())
        self.domain = CacheDomain(engine, self.origin)
        self.server, self.port = await create_resp_server(self.settings, self.domain)

    def stop(self) -> None:
        async def stop() -> None:
            assert self.server is not None and self.domain is not None
            await self.server.close()
            self.domain.close()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def needs_redis_server() -> Any:
    return pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not on PATH")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def predis() -> Iterator[PredisResp]:
    server = PredisResp().start()
    yield server
    server.stop()


# -- the reader's own tests ---------------------------------------------------------------------


def test_the_reply_reader_reads_nested_replies_whole(predis: PredisResp) -> None:
    client = RawClient(predis.port)
    try:
        client.send(command("HELLO", 3) + command("PING"))
        hello = client.reply()
        assert hello.startswith(b"%7\r\n") and hello.endswith(b"*0\r\n")
        assert client.reply() == b"+PONG\r\n"
    finally:
        client.close()
