"""Unchanged Redis clients against Predis's RESP server on loopback: redis-py (RESP2 and RESP3,
pipelines, password URLs), redis-cli; and what the RESP layer adds over the cache: tenants
from users, SELECT's namespaces, read-through, limits, a stalled or garbage client."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import redis
import test_resp_harness
from test_resp_harness import PredisResp, RawClient, command

from predis.services.cache.engine.engine import EngineConfig
from predis.services.resp.settings import RespSettings, parse_requirepass, parse_users

# The shared fixtures, by name (pytest finds them here).
predis = test_resp_harness.predis


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(request: pytest.FixtureRequest, predis: PredisResp) -> Iterator[redis.Redis]:
    r = redis.Redis(port=predis.port, protocol=request.param, socket_timeout=5)
    r.flushall()
    yield r
    r.close()


def test_redis_py_reads_and_writes(client: redis.Redis) -> None:
    assert client.ping() is True
    assert client.set("greeting", "hello") is True
    assert client.get("greeting") == b"hello"
    assert client.set("greeting", "x", nx=True) is None
    assert client.mset({"a": 1, "b": 2}) is True
    assert client.mget("a", "b", "missing") == [b"1", b"2", None]
    assert client.incr("counter") == 1
    assert client.incrbyfloat("f", 0.1) == pytest.approx(0.1)
    assert client.append("greeting", "!") == 6
    assert client.getrange("greeting", 0, 1) == b"he"
    assert client.exists("a", "b", "nope") == 2
    assert client.type("a") == b"string"
    assert client.expire("a", 100) is True
    assert 99 <= client.ttl("a") <= 100
    assert client.persist("a") is True
    assert client.delete("a", "b") == 2
    assert sorted(client.keys("*")) == [b"counter", b"f", b"greeting"]
    assert sorted(client.scan_iter(count=1)) == [b"counter", b"f", b"greeting"]
    assert client.dbsize() == 3
    assert client.getdel("counter") == b"1"
    assert client.getex("greeting", px=5000) == b"hello!"
    assert client.set("k", "v", get=True) is None
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        client.incr("greeting")
    with pytest.raises(redis.ResponseError, match="unknown command 'FOO'"):
        client.execute_command("FOO", "a")


def test_redis_py_reads_server_facts(client: redis.Redis) -> None:
    info = client.info()
    assert info["redis_version"] == "7.0.15"
    assert {"keyspace_hits", "keyspace_misses", "prefetches_used", "used_memory"} <= set(info)
    assert client.config_get("maxmemory")["maxmemory"] != "0"
    assert client.config_get("databases") == {"databases": "16"}
    assert client.client_setname("worker-1") is True
    assert client.client_getname() in (b"worker-1", "worker-1")
    assert client.client_info()["name"] == "worker-1"
    assert any(c["name"] == "worker-1" for c in client.client_list())
    seconds, micros = client.time()
    assert abs(seconds - time.time()) < 5 and 0 <= micros < 1_000_000
    assert client.command_count() == len(client.command())


@pytest.mark.parametrize("transaction", [True, False])
def test_redis_py_pipelines(client: redis.Redis, transaction: bool) -> None:
    with client.pipeline(transaction=transaction) as pipe:
        pipe.set("a", 1).incr("a").get("a").mget("a", "zz").delete("a")
        assert pipe.execute() == [True, 2, b"2", [b"2", None], 1]
    with client.pipeline(transaction=transaction) as pipe:
        pipe.set("n", "x").incr("n").get("n")
        results = pipe.execute(raise_on_error=False)
    assert isinstance(results[1], redis.ResponseError) and results[2] == b"x"


def test_redis_py_pipeline_of_many_commands(client: redis.Redis) -> None:
    with client.pipeline(transaction=False) as pipe:
        for i in range(3000):
            pipe.set(f"key:{i}", "v" * (i % 50))
        for i in range(3000):
            pipe.get(f"key:{i}")
        results = pipe.execute()
    assert results[:3000] == [True] * 3000
    assert results[3000:] == [b"v" * (i % 50) for i in range(3000)]


def test_select_gives_each_database_its_own_keys(predis: PredisResp) -> None:
    zero = redis.Redis(port=predis.port, db=0)
    one = redis.Redis(port=predis.port, db=1)
    try:
        zero.flushall()
        zero.set("shared-name", "zero")
        one.set("shared-name", "one")
        one.set("only-in-one", "x")
        assert zero.get("shared-name") == b"zero" and one.get("shared-name") == b"one"
        assert zero.keys("*") == [b"shared-name"]
        assert sorted(one.keys("*")) == [b"only-in-one", b"shared-name"]
        assert (zero.dbsize(), one.dbsize()) == (1, 2)
        assert sorted(one.scan_iter()) == [b"only-in-one", b"shared-name"]
        assert one.randomkey() in (b"only-in-one", b"shared-name")
        assert zero.info("keyspace")["db1"] == {"keys": 2}
        one.flushdb()
        assert one.dbsize() == 0 and zero.get("shared-name") == b"zero"
        one.set("again", "x")
        zero.flushall()
        assert one.dbsize() == 0 and zero.dbsize() == 0
        with pytest.raises(redis.ResponseError, match="another database"):
            zero.set(b"\xff\xdb\x01sneaky", "x")
    finally:
        zero.close()
        one.close()


# -- authentication and tenants --------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded() -> Iterator[PredisResp]:
    settings = RespSettings(
        listen="127.0.0.1:0",
        users=parse_users("alice:secret1=tenant-a,bob:secret2=tenant-b"),
        default_account=parse_requirepass("secret0=tenant-d"),
    )
    server = PredisResp(settings).start()
    yield server
    server.stop()


@pytest.mark.parametrize("protocol", [2, 3])
def test_password_urls_authenticate_as_their_tenant(guarded: PredisResp, protocol: int) -> None:
    port = guarded.port
    alice = redis.Redis.from_url(f"redis://alice:secret1@127.0.0.1:{port}/2", protocol=protocol)
    bob = redis.Redis.from_url(f"redis://bob:secret2@127.0.0.1:{port}/2", protocol=protocol)
    default = redis.Redis.from_url(f"redis://:secret0@127.0.0.1:{port}/0", protocol=protocol)
    try:
        alice.flushall()
        bob.flushall()
        alice.set("k", "alice's")
        assert bob.get("k") is None
        bob.set("k", "bob's")
        assert alice.get("k") == b"alice's"
        assert default.get("k") is None
        assert guarded.domain is not None
        assert guarded.domain.keys("tenant-a") == [b"\xff\xdb\x02k"]
        assert all(c["user"] == "alice" for c in alice.client_list())
        bob.flushall()
        assert alice.get("k") == b"alice's"
    finally:
        for r in (alice, bob, default):
            r.close()


def test_wrong_passwords_and_missing_auth_are_refused(guarded: PredisResp) -> None:
    port = guarded.port
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(f"redis://alice:wrong@127.0.0.1:{port}/0").ping()
    raw = RawClient(port)
    try:
        assert raw.call("GET", "k") == b"-NOAUTH Authentication required.\r\n"
        assert raw.call("AUTH", "secret0") == b"+OK\r\n"
        assert raw.call("GET", "k") == b"$-1\r\n"
    finally:
        raw.close()


def test_client_kill_and_pause_reach_only_the_caller_s_tenant(guarded: PredisResp) -> None:
    def connect(credentials: str) -> redis.Redis:
        return redis.Redis.from_url(f"redis://{credentials}@127.0.0.1:{guarded.port}/0", socket_timeout=5)

    alice, alice2, bob = connect("alice:secret1"), connect("alice:secret1"), connect("bob:secret2")
    try:
        bob_info, alice2_id = bob.client_info(), alice2.client_id()
        with pytest.raises(redis.ResponseError, match="No such client"):
            alice.client_kill(bob_info["addr"])
        assert alice.client_kill_filter(_id=bob_info["id"]) == 0
        with pytest.raises(redis.ResponseError, match="No such user 'bob'"):
            alice.client_kill_filter(user="bob")
        assert alice.client_pause(300)  # every command of alice's connections waits; bob's do not
        started = time.monotonic()
        assert bob.set("k", "bob's") is True and time.monotonic() - started < 0.2
        assert alice2.get("k") is None and time.monotonic() - started >= 0.25
        ids = {c["id"] for c in alice.client_list()}
        assert ids == {str(alice.client_id()), str(alice2_id)}
        assert alice.client_kill_filter(user="alice") == 1  # alice2; the caller is skipped
        assert [c["id"] for c in alice.client_list()] == [str(alice.client_id())]
        assert bob.ping() is True
    finally:
        for r in (alice, alice2, bob):
            r.close()


# -- read-through ----------------------------------------------------------------------------------


class DictOrigin:
    def __init__(self, values: dict[bytes, bytes]) -> None:
        self.values = values
        self.asked: list[bytes] = []

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        self.asked.append(key)
        return self.values.get(key)

    def close(self) -> None:
        pass


def test_reads_of_database_0_read_through_the_origin() -> None:
    origin = DictOrigin({b"user:1": b"ada", b"user:2": b"grace"})
    server = PredisResp(origin=origin).start()
    r = redis.Redis(port=server.port)
    try:
        assert r.get("user:1") == b"ada"
        assert r.mget("user:2", "user:3") == [b"grace", None]
        assert r.get("user:1") == b"ada"  # cached now
        assert origin.asked.count(b"user:1") == 1
        info = r.info("stats")
        assert info["keyspace_hits"] == 1 and info["keyspace_misses"] == 3
        assert r.incr("counter") == 1 and b"counter" not in origin.asked  # writes do not read through
        r.select(1)
        assert r.get("user:2") is None  # only database 0 reads through
    finally:
        r.close()
        server.stop()


# -- the cache's own limits, as error replies -----------------------------------------------------


def test_the_cache_s_refusals_are_error_replies() -> None:
    config = EngineConfig(memory_bytes=1 << 20, max_value_bytes=256 * 1024)
    server = PredisResp(engine=config).start()
    raw = RawClient(server.port)
    try:
        assert raw.call("SET", "k", "x" * (256 * 1024 + 1)).startswith(b"-ERR a value of 262145 bytes is larger than")
        assert raw.call("SET", "k", "x" * (256 * 1024)).startswith(
            b"-OOM command not allowed when used memory > 'maxmemory'. an entry costing"
        )
        assert raw.call("GET", "k" * 70000).startswith(b"-ERR a key of 70000 bytes is longer than the maximum")
        assert raw.call("PING") == b"+PONG\r\n"
    finally:
        raw.close()
        server.stop()


# -- limits and misbehaving clients ----------------------------------------------------------------


def test_max_clients_refuses_one_more() -> None:
    server = PredisResp(RespSettings(listen="127.0.0.1:0", max_clients=2)).start()
    first, second = RawClient(server.port), RawClient(server.port)
    try:
        assert first.call("PING") == b"+PONG\r\n" and second.call("PING") == b"+PONG\r\n"
        third = RawClient(server.port)
        assert third.until_closed(2.0) == (b"-ERR max number of clients reached\r\n", True)
        third.close()
        first.close()
        time.sleep(0.1)
        fourth = RawClient(server.port)
        assert fourth.call("PING") == b"+PONG\r\n"
        fourth.close()
    finally:
        second.close()
        server.stop()


def test_idle_connections_close_after_the_timeout() -> None:
    server = PredisResp(RespSettings(listen="127.0.0.1:0", timeout_s=0.2)).start()
    try:
        raw = RawClient(server.port)
        assert raw.call("PING") == b"+PONG\r\n"
        started = time.monotonic()
        assert raw.until_closed(3.0) == (b"", True)
        assert time.monotonic() - started < 2.0
        raw.close()
    finally:
        server.stop()


def test_an_unfinished_request_past_the_query_buffer_limit_closes_its_connection() -> None:
    settings = RespSettings(listen="127.0.0.1:0", proto_max_bulk_len=1 << 20, query_buffer_limit=2 << 20)
    server = PredisResp(settings).start()
    try:
        raw = RawClient(server.port)
        raw.send(b"*4\r\n$3\r\nSET\r\n" + (b"$1048576\r\n" + b"x" * (1 << 20) + b"\r\n") * 3)
        assert raw.until_closed(5.0) == (b"", True)
        raw.close()
        other = RawClient(server.port)
        assert other.call("PING") == b"+PONG\r\n"
        other.close()
    finally:
        server.stop()


def test_a_stalled_or_garbage_client_costs_others_nothing(predis: PredisResp) -> None:
    stalled = RawClient(predis.port)
    stalled.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\npartial")  # and never the rest
    flooder = socket.create_connection(("127.0.0.1", predis.port))
    flooder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    flooder.settimeout(0.2)
    stop = threading.Event()

    def flood() -> None:  # commands as fast as it can, never reading a reply
        blob = command("SET", "flood", "x" * 1000) * 200
        try:
            while not stop.is_set():
                flooder.sendall(blob)
        except OSError:
            pass

    garbage = RawClient(predis.port)
    garbage.send(bytes(range(256)) * 4)
    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        polite = redis.Redis(port=predis.port, socket_timeout=2)
        started = time.monotonic()
        for i in range(50):
            assert polite.set(f"polite:{i}", "v") is True
            assert polite.get(f"polite:{i}") == b"v"
        assert time.monotonic() - started < 3.0
        polite.close()
    finally:
        stop.set()
        flooder.close()
        thread.join(timeout=5)
        stalled.close()
        garbage.close()


def test_closing_the_server_closes_its_connections() -> None:
    server = PredisResp().start()
    raw = RawClient(server.port)
    assert raw.call("PING") == b"+PONG\r\n"
    server.stop()
    assert raw.until_closed(3.0) == (b"", True)
    raw.close()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not on PATH")
def test_redis_cli_talks_to_predis(predis: PredisResp) -> None:
    def cli(*args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(predis.port), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    assert cli("SET", "cli-key", "hello world") == "OK"
    assert cli("GET", "cli-key") == "hello world"
    assert "7.0.15" in cli("-3", "HELLO", "3")
    assert "redis_version:7.0.15" in cli("INFO", "server")


# -- MONITOR ------------------------------------------------------------------------------------

MONITOR_LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) (127\.0\.0\.1:\d+)\] (.*)\r\n$")


def monitor_lines(monitor: RawClient, count: int) -> list[tuple[int, str, bytes]]:
    """The next ``count`` MONITOR lines: (db, client address, the quoted arguments)."""
    lines = []
    for _ in range(count):
        match = MONITOR_LINE.match(monitor.reply())
        assert match, "not a MONITOR line"
        lines.append((int(match.group(3)), match.group(4).decode(), match.group(5)))
    return lines


def raw(port: int, *commands: bytes) -> RawClient:
    client = RawClient(port)
    for frame in commands:
        client.send(frame)
        client.reply()
    return client


def test_monitor_shows_each_command_run_as_redis_writes_it(predis: PredisResp) -> None:
    monitor = raw(predis.port)
    monitor.send(command("MONITOR"))
    assert monitor.reply() == b"+OK\r\n"
    other = raw(predis.port, command("SELECT", 3))
    try:
        address = monitor_lines(monitor, 1)[0][1]
        for frame in (
            command("SET", b'k"\n\x01', "v w"),
            command("GET", "missing"),
            command("CONFIG", "GET", "maxmemory"),  # admin: never shown
            command("NOSUCH", "x"),  # refused before it runs: not shown
            command("MULTI"),
            command("INCR", "n"),  # queued: shown when EXEC runs it
            command("EXEC"),
            command("AUTH", "someone", "secret"),  # an error reply, but it ran: shown, redacted
            command("HELLO", "3", "AUTH", "someone", "secret"),
        ):
            other.send(frame)
            other.reply()
        lines = monitor_lines(monitor, 7)  # the same lines redis-server 7.0.15 writes for these
        assert [db for db, _, _ in lines] == [3] * 7 and {a for _, a, _ in lines} == {address}
        assert [args for _, _, args in lines] == [
            b'"SET" "k\\"\\n\\x01" "v w"',
            b'"GET" "missing"',
            b'"MULTI"',
            b'"INCR" "n"',
            b'"EXEC"',
            b'"AUTH" "(redacted)" "(redacted)"',
            b'"HELLO" "3" "AUTH" "(redacted)" "(redacted)"',
        ]
        # A second MONITOR answers nothing; the monitor's own commands are shown to it after
        # their replies; CLIENT LIST flags it O; RESET ends it.
        monitor.send(command("MONITOR") + command("PING"))
        assert monitor.reply() == b"+PONG\r\n"
        assert monitor_lines(monitor, 1)[0][2] == b'"PING"'
        other.send(command("CLIENT", "LIST"))
        listing = other.reply().decode()
        assert " flags=O " in listing
        monitor.send(command("RESET"))
        assert monitor.reply() == b"+RESET\r\n"
        other.send(command("PING"))
        other.reply()
        monitor.send(command("PING"))
        assert monitor.reply() == b"+PONG\r\n"  # no line for the other's PING came before it
    finally:
        monitor.close()
        other.close()


def test_monitor_inside_exec_is_refused_as_redis_refuses_it(predis: PredisResp) -> None:
    client = raw(predis.port, command("MULTI"))
    try:
        client.send(command("MONITOR"))
        assert client.reply() == b"+QUEUED\r\n"
        client.send(command("EXEC"))
        assert client.reply() == b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
    finally:
        client.close()


def test_a_monitor_sees_its_own_tenant_only(guarded: PredisResp) -> None:
    port = guarded.port
    monitor = raw(port, command("AUTH", "alice", "secret1"))
    monitor.send(command("MONITOR"))
    assert monitor.reply() == b"+OK\r\n"
    bob = raw(port, command("AUTH", "bob", "secret2"), command("SET", "bobs", "secret value"))
    alice = raw(port, command("AUTH", "alice", "secret1"), command("GET", "mine"))
    try:
        # redis-py's Monitor reads the lines too: bob's AUTH and SET never reach alice's monitor.
        lines = monitor_lines(monitor, 2)
        assert [args for _, _, args in lines] == [b'"AUTH" "(redacted)" "(redacted)"', b'"GET" "mine"']
    finally:
        for c in (monitor, bob, alice):
            c.close()


def test_redis_py_monitor_reads_the_lines(predis: PredisResp) -> None:
    r = redis.Redis(port=predis.port, socket_timeout=5)
    with r.monitor() as m:
        r.set("seen", "1")
        while True:  # redis-py's connection set-up commands come first
            line = m.next_command()
            if line["command"] == "SET seen 1":
                break
        assert line["db"] == 0 and line["client_address"] == "127.0.0.1"
    r.close()


def test_hello_credentials_are_redacted_however_its_options_are_ordered() -> None:
    from predis.services.resp.monitor import monitor_line
    from predis.services.resp.session import Session

    session = Session(id=1, address="127.0.0.1:1", local_address="127.0.0.1:2", fd=-1, tenant="t")

    def line(*args: bytes) -> bytes:
        return monitor_line(session, list(args), 0).split(b"] ", 1)[1]

    assert line(b"HELLO", b"3", b"SETNAME", b"auth", b"AUTH", b"u", b"pw") == (
        b'"HELLO" "3" "SETNAME" "auth" "AUTH" "(redacted)" "(redacted)"\r\n'
    )
    assert line(b"HELLO", b"3", b"AUTH", b"u", b"p1", b"AUTH", b"u2", b"p2") == (
        b'"HELLO" "3" "AUTH" "(redacted)" "(redacted)" "AUTH" "(redacted)" "(redacted)"\r\n'
    )
    assert line(b"HELLO", b"3", b"AUTH", b"u") == b'"HELLO" "3" "AUTH" "u"\r\n'  # refused: nothing to hide


def test_client_reply_off_silences_a_monitor(predis: PredisResp) -> None:
    monitor = raw(predis.port, command("MONITOR"))
    other = raw(predis.port)
    try:
        monitor.send(command("CLIENT", "REPLY", "OFF"))
        other.send(command("GET", "unseen"))
        other.reply()
        monitor.send(command("CLIENT", "REPLY", "ON"))
        assert monitor.reply() == b"+OK\r\n"  # REPLY ON answers; no line for the GET came before it
        other.send(command("GET", "seen"))
        other.reply()
        assert [args for _, _, args in monitor_lines(monitor, 2)] == [b'"CLIENT" "REPLY" "ON"', b'"GET" "seen"']
    finally:
        monitor.close()
        other.close()


def test_a_monitor_that_does_not_read_is_closed_past_its_limit(
    predis: PredisResp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from predis.services.resp import server as resp_server

    monkeypatch.setattr(resp_server, "PUSHED_BYTES_LIMIT", 256 * 1024)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    stalled.connect(("127.0.0.1", predis.port))
    stalled.sendall(command("MONITOR"))
    writer = redis.Redis(port=predis.port, socket_timeout=5)
    try:
        value = b"v" * 50_000
        pipe = writer.pipeline(transaction=False)
        for i in range(400):  # 20 MB of lines, far past what the kernel's buffers between can hold
            pipe.set(f"big:{i}", value)
        pipe.execute()
        assert writer.ping() is True  # the server goes on for everyone else
        stalled.settimeout(5)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := stalled.recv(1 << 16):
                received += chunk
        assert received.startswith(b"+OK\r\n") and len(received) < 20_000_000  # closed, not sent it all
        assert not any(s.monitoring for s in predis.server.ctx.monitors)  # type: ignore[union-attr]
    finally:
        stalled.close()
        writer.close()
