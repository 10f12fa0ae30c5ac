"""Runs of pipelined GETs, answered from one read of the cache, and of plain SETs, from one batch
write, and reads of one GET, answered in their callback: the same replies, counters, events,
read-through and watches as the commands answered one by one."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import test_resp_harness
from test_resp_harness import PredisResp, RawClient, RedisServer, command

from predis.services.cache.engine.engine import EngineConfig
from predis.services.cache.engine.storage import KeyBatch

T = TypeVar("T")

# The shared fixtures, by name (pytest finds them here).
predis = test_resp_harness.predis
redis_server = test_resp_harness.redis_server


class KeyedOrigin:
    """An origin that answers ``value of KEY``, fails for keys starting ``broken`` and holds no
    keys starting ``absent``; counts its calls per key."""

    def __init__(self) -> None:
        self.calls: dict[bytes, int] = {}
        self.lock = threading.Lock()

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
        if key.startswith(b"broken"):
            raise ConnectionError("database is down")
        return None if key.startswith(b"absent") else b"value of " + key

    def close(self) -> None:
        pass


@pytest.fixture
def with_origin() -> Iterator[tuple[PredisResp, KeyedOrigin]]:
    origin = KeyedOrigin()
    server = PredisResp(origin=origin).start()
    yield server, origin
    server.stop()


def _flushed_on_both(predis: PredisResp, redis_server: RedisServer, ask: Callable[[int], T]) -> list[T]:
    """What ``ask`` gets of Predis and then of redis-server (by port), each flushed first."""
    answers = []
    for port in (predis.port, redis_server.port):
        RawClient(port).call("FLUSHALL")
        answers.append(ask(port))
    return answers


def _pipeline(port: int, script: list[list[str]]) -> list[bytes]:
    """Every request in one write; the replies read back one by one."""
    client = RawClient(port)
    try:
        client.send(b"".join(command(*args) for args in script))
        return [client.reply() for _ in script]
    finally:
        client.close()


def _pipeline_bytes(port: int, script: list[list[str]]) -> bytes:
    """Every request and a QUIT in one write; every byte answered until the server closes."""
    client = RawClient(port)
    try:
        client.send(b"".join(command(*args) for args in [*script, ["QUIT"]]))
        out, closed = client.until_closed(5.0)
        assert closed
        return out
    finally:
        client.close()


def _stats(port: int) -> dict[str, int]:
    """INFO stats's counters, from one INFO call."""
    client = RawClient(port)
    try:
        text = client.call("INFO", "stats").decode()
    finally:
        client.close()
    return {name: int(value) for name, value in re.findall(r"^(\w+):(\d+)\r$", text, re.MULTILINE)}


def test_a_pipeline_of_gets_answers_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    script = [
        ["SET", "a", "1"],
        ["SET", "b", "2"],
        ["SET", "", "empty key"],
        *(["GET", key] for key in ("a", "b", "missing", "a", "", "b")),  # a key twice: one by one
        *(["GET", key] for key in ("a", "b", "c", "")),
        ["CLIENT", "REPLY", "SKIP"],
        *(["GET", key] for key in ("a", "b", "c")),  # the first reply skipped
        ["SELECT", "1"],
        ["SET", "a", "in db 1"],
        *(["get", key] for key in ("a", "b")),
        ["MULTI"],
        *(["GET", key] for key in ("a", "b")),  # queued, not run together
        ["EXEC"],
        ["SELECT", "0"],
        *(["GET", key] for key in ("a", "b")),
        ["CLIENT", "REPLY", "OFF"],
        *(["GET", key] for key in ("a", "b", "c")),  # no replies
        ["CLIENT", "REPLY", "ON"],
        ["CLIENT", "REPLY", "SKIP"],
        ["HELLO", "3"],  # its reply (the connection's id, the server's version) is not compared
        *(["GET", key] for key in ("a", "c", "b")),  # RESP3's null for the miss
        ["CLIENT", "REPLY", "SKIP"],
        ["HELLO", "2"],
        *(["GET", key] for key in ("c", "a")),
    ]
    outputs = _flushed_on_both(predis, redis_server, lambda port: _pipeline_bytes(port, script))
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"$1\r\n1\r\n") == 6  # GET a in db 0, answered but when skipped or off


def _writes(
    port: int, writes: list[tuple[list[list[str | bytes]], int]], ignore: tuple[int, ...] = ()
) -> list[list[bytes]]:
    """Each write's requests sent in one piece, and its ``count`` replies read before the next;
    the replies of the writes at ``ignore`` read but left out (emptied: not to be compared)."""
    client = RawClient(port)
    try:
        out = []
        for script, count in writes:
            client.send(b"".join(command(*args) for args in script))
            out.append([client.reply() for _ in range(count)])
        for at in ignore:
            out[at] = []
        return out
    finally:
        client.close()


def test_reads_of_only_gets_answer_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    reserved = b"\xff\xdbx"  # the bytes that begin another database's keys
    distinct: list[list[str | bytes]] = [["GET", f"k{i}"] for i in range(100)]
    writes: list[tuple[list[list[str | bytes]], int]] = [
        ([["SET", "a", "1"], ["SET", "b", "2"], ["SET", "", "empty key"]], 3),
        ([["GET", "a"], ["get", "b"], ["gEt", "missing"]], 3),  # any case
        ([["GET", "a"], ["GET", ""], ["GET", "b"]], 3),  # the empty key
        ([["GET", "a"], ["GET", "b"], ["GET", "a"]], 3),  # a key twice
        (distinct, 100),  # more than one run's worth
        ([["SELECT", "1"]], 1),
        ([["SET", "a", "in db 1"]], 1),
        ([["GET", "a"], ["GET", "b"]], 2),  # db 1's keys
        ([["SELECT", "0"]], 1),
        ([["MULTI"]], 1),
        ([["GET", "a"], ["GET", "b"]], 2),  # queued
        ([["EXEC"]], 1),
        ([["CLIENT", "REPLY", "SKIP"]], 0),
        ([["GET", "a"], ["GET", "b"]], 1),  # the first reply skipped
        ([["HELLO", "3"]], 1),  # its reply (the connection's id, the server's version) is not compared
        ([["GET", "a"], ["GET", "missing"]], 2),  # RESP3's null
        ([["HELLO", "2"]], 1),  # nor is this one's
        ([["GET", "b"], ["GET", "a"]], 2),
    ]
    # HELLO 3's and HELLO 2's (the connection's id)
    outputs = _flushed_on_both(predis, redis_server, lambda port: _writes(port, writes, ignore=(14, 16)))
    assert outputs[0] == outputs[1]
    assert outputs[0][1] == [b"$1\r\n1\r\n", b"$1\r\n2\r\n", b"$-1\r\n"]
    # Another database's bytes, refused as one GET refuses them (a difference from Redis, in redis.md).
    refused = RawClient(predis.port).call("GET", reserved)
    assert refused.startswith(b"-ERR keys beginning with the bytes FF DB")
    assert _writes(predis.port, [([["GET", reserved], ["GET", "a"]], 2)]) == [[refused, b"$1\r\n1\r\n"]]


def test_reads_of_one_get_answer_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    # Each write one GET: answered in the read's callback, with no request list or coroutine.
    writes: list[tuple[list[list[str | bytes]], int]] = [
        ([["SET", "a", "1"], ["SET", "b", "2"], ["SET", "", "empty key"], ["SET", "long", "x" * 70_000]], 4),
        # "long": a value past one compiled read's scratch; the last, a key holding what starts a request
        *(([["GET", key]], 1) for key in ("a", "missing", "", "long", "x\r\n*y")),
        ([["gEt", "b"]], 1),
        ([["GET", "a", "b"]], 1),  # wrong arity
        ([["SELECT", "1"]], 1),
        ([["SET", "a", "in db 1"]], 1),
        ([["GET", "a"]], 1),
        ([["SELECT", "0"]], 1),
        ([["MULTI"]], 1),
        ([["GET", "a"]], 1),  # queued
        ([["EXEC"]], 1),
        ([["CLIENT", "REPLY", "SKIP"]], 0),
        ([["GET", "a"]], 0),  # skipped
        ([["GET", "b"]], 1),
        ([["CLIENT", "REPLY", "OFF"]], 0),
        ([["GET", "a"]], 0),
        ([["CLIENT", "REPLY", "ON"]], 1),
        ([["HELLO", "3"]], 1),  # its reply (the connection's id, the server's version) is not compared
        ([["GET", "missing"]], 1),  # RESP3's null
        ([["GET", "a"]], 1),
    ]
    outputs = _flushed_on_both(predis, redis_server, lambda port: _writes(port, writes, ignore=(-3,)))
    assert outputs[0] == outputs[1]
    assert outputs[0][1:5] == [
        [b"$1\r\n1\r\n"],
        [b"$-1\r\n"],
        [b"$9\r\nempty key\r\n"],
        [b"$70000\r\n" + b"x" * 70_000 + b"\r\n"],
    ]


def test_reads_of_one_set_answer_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    writes: list[tuple[list[list[str | bytes]], int]] = [
        ([["SET", "a", "1"]], 1),
        ([["set", "b", ""]], 1),  # an empty value
        ([["SET", "", "empty key"]], 1),
        ([["SET", "a", "2", "NX"]], 1),  # options: the long way
        ([["SET", b"\xff\xdbx", "v"]], 1),  # another database's bytes: refused (below)
        ([["SELECT", "2"]], 1),
        ([["SET", "a", "in db 2"]], 1),
        ([["GET", "a"]], 1),
        ([["SELECT", "0"]], 1),
        ([["MULTI"]], 1),
        ([["SET", "a", "3"]], 1),  # queued
        ([["EXEC"]], 1),
        ([["CLIENT", "REPLY", "SKIP"]], 0),
        ([["SET", "a", "4"]], 0),
        ([["MGET", "a", "b", ""]], 1),
    ]
    outputs = _flushed_on_both(predis, redis_server, lambda port: _writes(port, writes))
    refused = outputs[0][4]
    assert refused[0].startswith(b"-ERR keys beginning with the bytes FF DB")  # a difference from Redis, in redis.md
    outputs[0][4] = outputs[1][4] = []
    assert outputs[0] == outputs[1]
    assert outputs[0][-1] == [b"*3\r\n$1\r\n4\r\n$0\r\n\r\n$9\r\nempty key\r\n"]


def test_a_read_of_one_set_modifies_the_key_another_connection_watches(predis: PredisResp) -> None:
    watcher, writer = RawClient(predis.port), RawClient(predis.port)
    try:
        assert watcher.call("WATCH", "watched") == b"+OK\r\n"
        assert writer.call("SET", "watched", "by another") == b"+OK\r\n"
        assert watcher.call("MULTI") == b"+OK\r\n"
        assert watcher.call("SET", "watched", "mine") == b"+QUEUED\r\n"
        assert watcher.call("EXEC") == b"*-1\r\n"  # the transaction did not run
        assert watcher.call("GET", "watched") == b"$10\r\nby another\r\n"
    finally:
        watcher.close()
        writer.close()


def _spy_on(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[tuple[object, ...]]:
    """The arguments of every call of ``owner``'s coroutine method ``name`` from now on (the
    domain's reads and the table's dispatch are what the long way takes)."""
    calls: list[tuple[object, ...]] = []
    real = getattr(owner, name)

    async def spied(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return await real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spied)
    return calls


def _spy_on_sync(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[tuple[object, ...]]:
    """:func:`_spy_on` of a method that is not a coroutine's."""
    calls: list[tuple[object, ...]] = []
    real = getattr(owner, name)

    def spied(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spied)
    return calls


def test_reads_of_one_mget_answer_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    many = [f"k{i}" for i in range(300)]
    writes: list[tuple[list[list[str | bytes]], int]] = [
        ([["MSET", "a", "1", "b", "2", "", "empty key", *(x for k in many[::2] for x in (k, k))]], 1),
        ([["MGET", "a"]], 1),
        ([["mget", "a", "missing", "b", "a"]], 1),  # a miss, a key twice
        ([["MGET", *many]], 1),  # half of them held
        ([["MGET", "a", ""]], 1),  # the empty key: the long way
        ([["MGET"]], 1),  # wrong arity
        ([["SELECT", "1"]], 1),
        ([["SET", "a", "in db 1"]], 1),
        ([["MGET", "a", "b"]], 1),  # db 1's keys: the long way
        ([["SELECT", "0"]], 1),
        ([["MULTI"]], 1),
        ([["MGET", "a", "b"]], 1),  # queued
        ([["EXEC"]], 1),
        ([["CLIENT", "REPLY", "SKIP"]], 0),
        ([["MGET", "a"]], 0),
        ([["HELLO", "3"]], 1),  # its reply (the connection's id, the server's version) is not compared
        ([["MGET", "a", "missing"]], 1),  # RESP3's nulls
    ]
    outputs = _flushed_on_both(predis, redis_server, lambda port: _writes(port, writes, ignore=(-2,)))
    assert outputs[0] == outputs[1]
    assert outputs[0][2] == [b"*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n$1\r\n1\r\n"]


def test_a_read_of_one_mget_is_one_command_and_one_read_and_reads_through_once(
    with_origin: tuple[PredisResp, KeyedOrigin], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, origin = with_origin
    assert server.server is not None
    dispatched = _spy_on(monkeypatch, server.server.table, "dispatch")
    client = RawClient(server.port)
    try:
        assert client.call("SET", "held", "v") == b"+OK\r\n"
        before = _stats(server.port)
        assert client.call("MGET", "held", "one", "absent") == b"*3\r\n$1\r\nv\r\n$12\r\nvalue of one\r\n$-1\r\n"
        assert client.call("MGET", "one", "held") == b"*2\r\n$12\r\nvalue of one\r\n$1\r\nv\r\n"  # filled
        failed = client.call("MGET", "held", "broken")
        client.send(command("MGET", "held", "broken") + command("PING"))  # two requests: the long way
        assert failed.startswith(b"-ERR") and [client.reply(), client.reply()] == [failed, b"+PONG\r\n"]
    finally:
        client.close()
    after = _stats(server.port)
    # The pipelined MGET and PING went the long way (and INFO, for the counts); the MGETs alone did not.
    assert [args[2][0] for args in dispatched] == [b"INFO", b"MGET", b"PING", b"INFO"]  # type: ignore[index]
    assert origin.calls == {b"one": 1, b"absent": 1, b"broken": 2}  # a failed fill is not stored
    # Four MGETs, a PING and the INFO; each MGET's keys counted as reads.
    assert after["total_commands_processed"] - before["total_commands_processed"] == 4 + 1 + 1
    assert (after["keyspace_hits"] - before["keyspace_hits"], after["keyspace_misses"] - before["keyspace_misses"]) == (
        5,
        4,
    )


def test_a_read_of_one_mget_is_one_compiled_read_counted_as_one_command(
    predis: PredisResp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert predis.domain is not None
    client = RawClient(predis.port)
    try:
        client.call("FLUSHALL")
        client.call("MSET", "m1", "v1", "m2", "v2")
        client.call("GET", "m1")  # the tenant's first read (its shadow is sized by it)
        ordinary = _spy_on_sync(monkeypatch, predis.domain, "get_many_now")
        compiled = _spy_on_sync(monkeypatch, predis.domain, "compiled_read_done")
        before = _stats(predis.port)
        assert client.call("MGET", "m1", "absent", "m2", "m1") == b"*4\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv2\r\n$2\r\nv1\r\n"
        after = _stats(predis.port)
    finally:
        client.close()
    assert ordinary == [] and len(compiled) == 1  # a key named twice is read twice, in one read
    assert after["total_commands_processed"] - before["total_commands_processed"] == 1 + 1  # and the INFO
    assert (after["keyspace_hits"] - before["keyspace_hits"], after["keyspace_misses"] - before["keyspace_misses"]) == (
        3,
        1,
    )


def test_a_read_of_one_get_is_one_command_and_one_read_without_a_coroutine(
    predis: PredisResp, monkeypatch: pytest.MonkeyPatch
) -> None:
    RawClient(predis.port).call("SET", "k", "v")
    assert predis.domain is not None
    waited = _spy_on(monkeypatch, predis.domain, "get")  # the coroutine the long way's GET takes
    before = _stats(predis.port)
    assert _writes(predis.port, [([["GET", "k"]], 1), ([["GET", "nope"]], 1)]) == [[b"$1\r\nv\r\n"], [b"$-1\r\n"]]
    after = _stats(predis.port)
    assert waited == []
    assert after["total_commands_processed"] - before["total_commands_processed"] == 2 + 1  # and the INFO
    assert (after["keyspace_hits"] - before["keyspace_hits"], after["keyspace_misses"] - before["keyspace_misses"]) == (
        1,
        1,
    )


def test_a_read_of_one_get_that_misses_reads_through_once(with_origin: tuple[PredisResp, KeyedOrigin]) -> None:
    server, origin = with_origin
    client = RawClient(server.port)
    try:
        assert client.call("GET", "one") == b"$12\r\nvalue of one\r\n"  # filled, then
        assert client.call("GET", "one") == b"$12\r\nvalue of one\r\n"  # a hit
        # Requests that come while a fill waits are answered after it, in order.
        client.send(command("GET", "two"))
        client.send(command("GET", "one") + command("GET", "absent"))
        assert [client.reply() for _ in range(3)] == [
            b"$12\r\nvalue of two\r\n",
            b"$12\r\nvalue of one\r\n",
            b"$-1\r\n",
        ]
    finally:
        client.close()
    assert origin.calls == {b"one": 1, b"two": 1, b"absent": 1}
    stats = _stats(server.port)
    assert (stats["keyspace_misses"], stats["keyspace_hits"]) == (3, 2)


def test_a_run_counts_each_get_as_a_command_and_a_read(predis: PredisResp, monkeypatch: pytest.MonkeyPatch) -> None:
    client = RawClient(predis.port)
    try:
        client.call("FLUSHALL")
        client.call("MSET", "k1", "v", "k2", "v")
        client.call("GET", "k1")  # the tenant's first read (its shadow is sized by it)
    finally:
        client.close()
    assert predis.domain is not None
    # A read of only GETs is one compiled read of the cache (compiled_gets.py), not the ordinary one.
    ordinary = _spy_on_sync(monkeypatch, predis.domain, "get_many_now")
    compiled = _spy_on_sync(monkeypatch, predis.domain, "compiled_read_done")
    before = _stats(predis.port)
    replies = _pipeline(predis.port, [["GET", "k1"], ["GET", "k2"], ["GET", "k3"], ["GET", "k4"]])
    assert replies == [b"$1\r\nv\r\n", b"$1\r\nv\r\n", b"$-1\r\n", b"$-1\r\n"]
    assert ordinary == [] and len(compiled) == 1  # one read for the four
    after = _stats(predis.port)
    # The INFO call between is one command too.
    assert after["total_commands_processed"] - before["total_commands_processed"] == 4 + 1
    assert after["keyspace_hits"] - before["keyspace_hits"] == 2
    assert after["keyspace_misses"] - before["keyspace_misses"] == 2


def test_a_read_of_a_run_is_answered_without_a_coroutine(predis: PredisResp, monkeypatch: pytest.MonkeyPatch) -> None:
    assert predis.server is not None and predis.domain is not None
    RawClient(predis.port).call("FLUSHALL")
    long_way = _spy_on(monkeypatch, predis.server.table, "run_read")  # what _answer takes
    gets = _spy_on(monkeypatch, predis.domain, "get_each")
    before = _stats(predis.port)
    sets = [["SET", f"k{i}", f"v{i}"] for i in range(3)]
    reads = [["GET", f"k{i}"] for i in range(4)]
    assert _pipeline(predis.port, sets) == [b"+OK\r\n"] * 3
    assert _pipeline(predis.port, reads) == [b"$2\r\nv0\r\n", b"$2\r\nv1\r\n", b"$2\r\nv2\r\n", b"$-1\r\n"]
    after = _stats(predis.port)
    assert long_way == [] and gets == []
    assert after["total_commands_processed"] - before["total_commands_processed"] == 3 + 4 + 1  # and the INFO
    assert (after["keyspace_hits"] - before["keyspace_hits"], after["keyspace_misses"] - before["keyspace_misses"]) == (
        3,
        1,
    )
    # A key named twice is no plain run: the long way answers it, as Redis would.
    assert _pipeline(predis.port, [["GET", "k0"], ["GET", "k0"]]) == [b"$2\r\nv0\r\n"] * 2
    assert len(long_way) == 1


def test_misses_in_a_run_read_through_and_a_failing_fill_is_that_get_s_error_alone(
    with_origin: tuple[PredisResp, KeyedOrigin],
) -> None:
    server, origin = with_origin
    alone = RawClient(server.port).call("GET", "broken-alone")
    assert alone.startswith(b"-")  # what one GET whose fill fails answers
    replies = _pipeline(server.port, [["GET", key] for key in ("one", "broken-1", "absent", "two")])
    assert replies == [
        b"$12\r\nvalue of one\r\n",
        alone.replace(b"broken-alone", b"broken-1"),
        b"$-1\r\n",
        b"$12\r\nvalue of two\r\n",
    ]
    assert origin.calls == {b"broken-alone": 1, b"one": 1, b"broken-1": 1, b"absent": 1, b"two": 1}
    # The fills were stored: the same run again is answered from the cache.
    again = _pipeline(server.port, [["GET", "one"], ["GET", "two"]])
    assert again == [b"$12\r\nvalue of one\r\n", b"$12\r\nvalue of two\r\n"]
    assert origin.calls[b"one"] == origin.calls[b"two"] == 1


def test_a_key_named_twice_in_a_run_misses_once_and_then_hits(with_origin: tuple[PredisResp, KeyedOrigin]) -> None:
    server, origin = with_origin
    replies = _pipeline(server.port, [["GET", "twice"], ["GET", "other"], ["GET", "twice"]])
    assert replies == [b"$14\r\nvalue of twice\r\n", b"$14\r\nvalue of other\r\n", b"$14\r\nvalue of twice\r\n"]
    assert origin.calls == {b"twice": 1, b"other": 1}
    stats = _stats(server.port)
    assert (stats["keyspace_misses"], stats["keyspace_hits"]) == (2, 1)


# -- runs of SETs -------------------------------------------------------------------------------


def test_a_pipeline_of_sets_answers_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    script = [
        ["SET", "t", "old", "EX", "100"],
        *(["SET", key, "v" + key] for key in ("a", "b", "t", "")),  # a plain SET clears t's expiry
        ["TTL", "t"],
        *(["SET", key, value] for key, value in (("a", "1"), ("c", "3"), ("a", "2"))),  # a named twice
        ["SET", "x", "1", "EX", "100"],  # options: one by one
        *(["SET", key, "after"] for key in ("x", "y")),
        ["TTL", "x"],
        ["CLIENT", "REPLY", "SKIP"],
        *(["SET", key, "skipped first"] for key in ("s1", "s2")),
        ["SELECT", "1"],
        *(["SET", key, "in db 1"] for key in ("a", "d")),
        ["MULTI"],
        *(["SET", key, "queued"] for key in ("e", "f")),
        ["EXEC"],
        ["SELECT", "0"],
        ["MGET", "a", "b", "c", "t", "", "x", "y", "s1", "s2", "d", "e"],
        ["SELECT", "1"],
        ["MGET", "a", "d", "e", "f"],
    ]
    outputs = _flushed_on_both(predis, redis_server, lambda port: _pipeline_bytes(port, script))
    assert outputs[0] == outputs[1]
    assert b":-1\r\n" in outputs[0] and b"$1\r\n2\r\n" in outputs[0]  # t persists; a holds its last value


def test_reads_of_only_sets_answer_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    reserved = b"\xff\xdbx"  # the bytes that begin another database's keys
    distinct: list[list[str | bytes]] = [["SET", f"k{i}", f"v{i}"] for i in range(100)]
    writes: list[tuple[list[list[str | bytes]], int]] = [
        ([["SET", "t", "old", "EX", "100"]], 1),
        ([["SET", "a", "1"], ["set", "b", "2"], ["sEt", "t", "new"]], 3),  # any case; t's expiry cleared
        ([["TTL", "t"]], 1),
        ([["SET", "a", "1"], ["SET", "", "empty key"], ["SET", "e", ""]], 3),  # the empty key, an empty value
        ([["SET", "a", "first"], ["SET", "c", "3"], ["SET", "a", "last"]], 3),  # a key twice: the last wins
        (distinct, 100),  # more than one run's worth
        ([["MGET", "a", "b", "c", "", "e", "t", "k0", "k99"]], 1),
        ([["SELECT", "1"]], 1),
        ([["SET", "a", "in db 1"], ["SET", "d", "4"]], 2),  # db 1's keys
        ([["MGET", "a", "b", "d"]], 1),
        ([["MULTI"]], 1),
        ([["SET", "a", "queued"], ["SET", "d", "queued"]], 2),
        ([["EXEC"]], 1),
        ([["SELECT", "0"]], 1),
        ([["CLIENT", "REPLY", "SKIP"]], 0),
        ([["SET", "s1", "x"], ["SET", "s2", "y"]], 1),  # the first reply skipped
        ([["MGET", "s1", "s2", "d"]], 1),
    ]
    outputs = _flushed_on_both(predis, redis_server, lambda port: _writes(port, writes))
    assert outputs[0] == outputs[1]
    assert outputs[0][2] == [b":-1\r\n"] and outputs[0][6][0].startswith(b"*8\r\n$4\r\nlast\r\n$1\r\n2\r\n")
    # Another database's bytes, refused as one SET refuses them (a difference from Redis, in redis.md).
    refused = RawClient(predis.port).call("SET", reserved, "v")
    assert refused.startswith(b"-ERR keys beginning with the bytes FF DB")
    assert _writes(predis.port, [([["SET", reserved, "v"], ["SET", "a", "2"]], 2)]) == [[refused, b"+OK\r\n"]]
    assert RawClient(predis.port).call("GET", "a") == b"$1\r\n2\r\n"


def test_a_run_of_sets_is_one_write_and_counts_each_set(predis: PredisResp, monkeypatch: pytest.MonkeyPatch) -> None:
    assert predis.domain is not None
    RawClient(predis.port).call("FLUSHALL")
    writes: list[int] = []
    set_many = predis.domain.set_many

    def spied(tenant: str, keys: KeyBatch, values: KeyBatch, *args: object, **kwargs: object) -> object:
        writes.append(len(keys))
        return set_many(tenant, keys, values, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(predis.domain, "set_many", spied)
    before = _stats(predis.port)
    replies = _pipeline(predis.port, [["SET", f"k{i}", "v"] for i in range(5)])
    assert replies == [b"+OK\r\n"] * 5
    assert writes == [5]
    after = _stats(predis.port)
    assert after["total_commands_processed"] - before["total_commands_processed"] == 5 + 1  # and the INFO between


def test_a_run_of_sets_modifies_the_keys_another_connection_watches(predis: PredisResp) -> None:
    watcher = RawClient(predis.port)
    try:
        watcher.call("SET", "watched", "before")
        assert watcher.call("WATCH", "watched") == b"+OK\r\n"
        assert _pipeline(predis.port, [["SET", "other", "1"], ["SET", "watched", "after"]]) == [b"+OK\r\n"] * 2
        watcher.send(command("MULTI") + command("SET", "watched", "mine") + command("EXEC"))
        assert [watcher.reply() for _ in range(3)] == [b"+OK\r\n", b"+QUEUED\r\n", b"*-1\r\n"]
        assert watcher.call("GET", "watched") == b"$5\r\nafter\r\n"
    finally:
        watcher.close()


def test_a_run_the_cache_refuses_whole_is_answered_one_by_one() -> None:
    # A value over the cache's largest refuses the batch before it writes anything; then each
    # SET answers as it would alone: the others are stored, that one is refused.
    server = PredisResp(engine=EngineConfig(memory_bytes=32 * 1024 * 1024, max_value_bytes=1024)).start()
    try:
        alone = RawClient(server.port).call("SET", "big-alone", "x" * 2000)
        assert alone.startswith(b"-")
        replies = _pipeline(server.port, [["SET", "one", "1"], ["SET", "big", "x" * 2000], ["SET", "two", "2"]])
        assert replies == [b"+OK\r\n", alone.replace(b"big-alone", b"big"), b"+OK\r\n"]
        assert _pipeline(server.port, [["GET", "one"], ["GET", "big"], ["GET", "two"]]) == [
            b"$1\r\n1\r\n",
            b"$-1\r\n",
            b"$1\r\n2\r\n",
        ]
    finally:
        server.stop()


def test_a_read_of_one_data_command_that_never_waits_is_answered_without_dispatch(
    predis: PredisResp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert predis.server is not None
    dispatched = _spy_on(monkeypatch, predis.server.table, "dispatch")
    writes: list[tuple[list[list[str | bytes]], int]] = [
        ([["INCR", "n"]], 1),
        ([["INCRBY", "n", "5"]], 1),
        ([["EXPIRE", "n", "100"]], 1),
        ([["TTL", "n"]], 1),
        ([["EXISTS", "n", "m"]], 1),
        ([["DEL", "n"]], 1),
        ([["INCR", "n", "extra"]], 1),  # wrong arity: the long way, which says so
        ([["PING"]], 1),  # not a data command: the long way
        ([["GETEX", "n"]], 1),  # a data command that may wait on the origin: the long way
    ]
    replies = _writes(predis.port, writes)
    assert [r[0] for r in replies[:6]] == [b":1\r\n", b":6\r\n", b":1\r\n", b":100\r\n", b":1\r\n", b":1\r\n"]
    assert replies[6][0].startswith(b"-ERR wrong number of arguments for 'incr' command")
    assert replies[7:] == [[b"+PONG\r\n"], [b"$-1\r\n"]]
    assert [args[2][0] for args in dispatched] == [b"INCR", b"PING", b"GETEX"]  # type: ignore[index]


_MIXED_PIPELINE: list[list[str]] = [
    ["SET", "n", "1"],
    ["INCR", "n"],
    ["INCRBY", "n", "41"],
    ["DECR", "n"],
    ["APPEND", "s", "abc"],
    ["STRLEN", "s"],
    ["INCR", "s"],  # not an integer: the error, and the pipeline goes on
    ["MSET", "a", "1", "b", "2"],
    ["EXPIRE", "a", "100"],
    ["TTL", "a"],
    ["EXISTS", "a", "b", "c"],
    ["INCR", "n", "extra"],  # wrong arity
    ["MULTI"],
    ["INCR", "n"],  # queued
    ["DEL", "b"],
    ["EXEC"],
    ["CLIENT", "REPLY", "SKIP"],
    ["INCR", "n"],  # its reply skipped
    ["INCR", "n"],
    ["SELECT", "2"],
    ["INCR", "n"],  # another database's key
    ["SELECT", "0"],
    ["DEL", "n", "s", "a"],
    ["TYPE", "b"],
    ["GETDEL", "b"],  # may wait on the origin: the long way
]


def test_a_pipeline_of_other_data_commands_answers_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    """INCR, DEL, MSET and the other data commands that never wait, pipelined between commands
    that take the long way (MULTI, CLIENT REPLY, SELECT): answered as a lone one is, byte for byte
    as Redis answers."""
    outputs = _flushed_on_both(predis, redis_server, lambda port: _pipeline_bytes(port, _MIXED_PIPELINE))
    assert outputs[0] == outputs[1]
    assert b"-ERR value is not an integer or out of range\r\n" in outputs[0]


def test_pipelined_data_commands_that_never_wait_skip_dispatch(
    predis: PredisResp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert predis.server is not None
    dispatched = _spy_on(monkeypatch, predis.server.table, "dispatch")
    replies = _pipeline(predis.port, [["INCR", "p"], ["INCR", "p"], ["PING"], ["INCRBY", "p", "3"], ["DEL", "p"]])
    assert replies == [b":1\r\n", b":2\r\n", b"+PONG\r\n", b":5\r\n", b":1\r\n"]
    assert [args[2][0] for args in dispatched] == [b"PING"]  # type: ignore[index]
