"""The RESP front end as users start it: `predis serve cache` with PREDIS_RESP_LISTEN, one cache
domain behind both front ends, called by the real redis-cli and redis-py and by the gRPC SDK."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from test_resp_harness import free_port

import predis
from predis.config import ClientConfig

PREDIS = [sys.executable, "-m", "predis.services.cli"]
ORIGIN_LATENCY_S = 1.0


@dataclass
class CacheProcess:
    grpc_address: str
    resp_port: int


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def cache(request: pytest.FixtureRequest) -> Iterator[CacheProcess]:
    """The cache on each event loop it can run on (PREDIS_EVENT_LOOP): uvloop's, the default, and
    the standard library's."""
    port = free_port()
    env = {
        **os.environ,
        "PREDIS_EVENT_LOOP": request.param,
        "PREDIS_ORIGIN": f"synthetic:?latency_ms={int(ORIGIN_LATENCY_S * 1000)}&value_size=16",
        "PREDIS_RESP_LISTEN": f"127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [*PREDIS, "serve", "cache", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    address = process.stdout.readline().strip().rsplit(" ", 1)[-1]
    try:
        yield CacheProcess(address, port)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


def test_the_cache_service_answers_redis_clients_on_its_resp_port(cache: CacheProcess) -> None:
    r = redis.Redis(port=cache.resp_port, socket_timeout=5)
    assert r.ping() is True
    assert r.set("one", "1") is True and r.get("one") == b"1"
    # A miss reads through the origin, as a gRPC Get does, and then it is cached.
    started = time.perf_counter()
    value = r.get("from-origin")
    assert value is not None and len(value) == 16 and time.perf_counter() - started >= ORIGIN_LATENCY_S * 0.9
    assert r.get("from-origin") == value


def test_both_front_ends_share_one_cache_and_its_counters(cache: CacheProcess) -> None:
    r = redis.Redis(port=cache.resp_port, socket_timeout=5)
    with predis.Client(cache.grpc_address, config=ClientConfig(tracing=False)) as client:
        client.set(b"shared", b"from grpc")
        assert r.get("shared") == b"from grpc"
        r.set("shared", "from resp")
        assert client.get(b"shared") == b"from resp"
        before = client.stats().tenant.hits
        r.get("shared")
        r.mget("shared", "shared")
        assert client.stats().tenant.hits == before + 3  # RESP reads count where gRPC reads do


def test_a_set_through_resp_wins_over_a_read_through_that_started_before_it(cache: CacheProcess) -> None:
    reader = redis.Redis(port=cache.resp_port, socket_timeout=5)
    writer = redis.Redis(port=cache.resp_port, socket_timeout=5)
    got: list[bytes | None] = []
    slow = threading.Thread(target=lambda: got.append(reader.get("contested")))
    slow.start()
    time.sleep(ORIGIN_LATENCY_S / 3)  # the read is waiting on the origin
    assert writer.set("contested", "newer") is True
    slow.join(5)
    assert got and got[0] is not None and got[0] != b"newer"  # the reader got what the origin said
    assert writer.get("contested") == b"newer"  # and the cache kept the newer write


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_commands_and_pipe_mode(cache: CacheProcess) -> None:
    def cli(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(cache.resp_port), *args], input=stdin, capture_output=True, text=True, timeout=20
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert cli("PING").strip() == "PONG"
    assert cli("SET", "cli-key", "hello").strip() == "OK"
    assert cli("GET", "cli-key").strip() == "hello"
    assert "ERR unknown command 'NOPE'" in cli("NOPE")
    # Interactive mode reads commands from its standard input when that is not a terminal.
    assert cli(stdin="SET typed 1\nINCR typed\nGET typed\n").split() == ["OK", "2", "2"]
    # Mass insertion (--pipe): raw RESP in, a summary out.
    frames = "".join(f"*3\r\n$3\r\nSET\r\n${len(f'p{i}')}\r\np{i}\r\n$1\r\n{i % 10}\r\n" for i in range(1000))
    out = cli("--pipe", stdin=frames)
    assert "errors: 0, replies: 1000" in out
    assert cli("GET", "p999").strip() == "9"


def test_a_grpc_write_modifies_a_key_a_resp_connection_watches(cache: CacheProcess) -> None:
    r = redis.Redis(port=cache.resp_port, socket_timeout=5)
    with predis.Client(cache.grpc_address, config=ClientConfig(tracing=False)) as client:
        r.set("watched", "0")
        with r.pipeline() as pipe:
            pipe.watch("watched")
            client.set(b"watched", b"from grpc")  # between WATCH and EXEC, through the other front end
            pipe.multi()
            pipe.set("watched", "from resp")
            with pytest.raises(redis.WatchError):
                pipe.execute()
        assert r.get("watched") == b"from grpc"
        with r.pipeline() as pipe:  # a gRPC write of another key, or none, lets EXEC run
            pipe.watch("watched")
            client.set(b"unwatched", b"x")
            pipe.multi()
            pipe.set("watched", "from resp")
            assert pipe.execute() == [True]
        with r.pipeline() as pipe:
            pipe.watch("watched")
            client.delete(b"watched")
            pipe.multi()
            pipe.set("watched", "again")
            with pytest.raises(redis.WatchError):
                pipe.execute()
