"""The same command scripts sent over raw sockets to a real redis-server 7.0 and to Predis's RESP
server; the replies must be the same bytes (RESP2 and RESP3), error texts included. Replies that
legitimately differ (times to live, ids, INFO) are compared within a tolerance or left out."""

from __future__ import annotations

import re
import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_resp_harness
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_resp_harness import Closed, PredisResp, RawClient, RedisServer, command

from predis.services.resp.protocol import INLINE_MAX_BYTES
from predis.services.resp.settings import RespSettings, parse_requirepass, parse_users

# The shared fixtures, by name (pytest finds them here).
predis = test_resp_harness.predis
redis_server = test_resp_harness.redis_server

STRINGS = """
set k v
get k
get
get a b
set
set k
set k v ex 10 px 10
set k v ex 0
set k v ex -1
set k v ex abc
set k v ex 1.5
set k v ex 00010
set k v ex +10
set k v nx xx
set k v xx nx
set k v keepttl ex 5
set k v ex 5 keepttl
set k v ex 9223372036854775807
set k v px 9223372036854775807
set k v exat 9223372036854775807
set k v ex 10 ex 20
set k v EX
set k v foo
set k v nx
set k v xx
set k v get
set new v get nx
set new v2 get nx
set k2 v xx get
set k v get keepttl
set k v keepttl keepttl
set k v KeepTTL Get
set k v pxat 1
get k
set k v exat 1 get
get k
getex
getex k
set k v
getex k
getex k persist ex 10
getex k ex 10 px 10
getex k ex 0
getex k foo
getex nokey ex 10
getex nokey ex 0
getex k exat 0
getex k persist
getex k nx
getex k keepttl
getdel k
getdel k
getset k v
getset k v2
getset k
setnx k v
setnx k2 v
setex k 0 v
setex k -1 v
setex k x v
setex k 10 v
setex k 9223372036854775807 v
psetex k 0 v
psetex k 100000 v
mset a 1 b
mset a 1 b 2
mset a 1 a 2
get a
mset
msetnx a 1 c 3
msetnx d 1 c 3
msetnx e 1 e 2
get e
msetnx f
mget a b c d e zz
mget
append a xyz
append none ""
exists none
append
strlen a
strlen none
getrange a 0 -1
getrange a 1 2
getrange a -100 100
getrange a 5 1
getrange a -1 -5
getrange a -3 -1
getrange none 0 -1
getrange a x 1
getrange a 0 9223372036854775807
setrange a 1 QQ
get a
setrange n 5 x
get n
setrange n -1 x
setrange n 536870912 x
setrange n2 0 ""
exists n2
setrange a 0 ""
setrange a 10 ""
setrange a x y
set s hello
substr s 1 3
substr s -3 -1
substr s 0 -100
substr s 5 1
substr none 0 -1
substr s x 1
substr s 0
substr s 0 1 2
"""

COUNTERS = """
incr x
incrby x 9223372036854775806
incr x
decr x
decr y
decrby y -9223372036854775808
decrby y 9223372036854775807
decrby y 1
incrby y -1
set s abc
incr s
set s " 1"
incr s
set s 01
incr s
set s -0
incr s
set s 9223372036854775808
incr s
set s 12345678901234567890
incr s
incrby x abc
incrby x 1.0
incrby x ""
incr
incrby x
incrbyfloat f 0.1
incrbyfloat f 0.2
incrbyfloat f 1e308
incrbyfloat f abc
incrbyfloat f inf
incrbyfloat f " 1"
incrbyfloat f "1 "
incrbyfloat f 1e5000
incrbyfloat f 1e-5000
incrbyfloat f2 5.0e3
incrbyfloat f3 -0
incrbyfloat f4 3.0000000000000000001
incrbyfloat f5 nan
incrbyfloat f6 1.5e-10
incrbyfloat f7 123456789012345678901234567890
incrbyfloat f8 0.1e1
incrbyfloat f9 -1.25
incrbyfloat f9 0x10
incrbyfloat f9 ""
set n 10
incrbyfloat n 1.5
set big 1e400
incrbyfloat big 1
set z " 2"
incrbyfloat z 1
set z 1
incrbyfloat z -1
get z
"""

KEYSPACE = """
mset a 1 b 2 c 3
del a b zz
del
unlink c zz
exists a a b
set a 1
exists a a b
type a
type zz
rename a b
get b
rename zz b
rename b b
renamenx b b
renamenx b c
set c 1
renamenx b c
renamenx zz c
rename
set t v ex 100
rename t t2
ttl t2
dbsize
flushdb async
flushdb sync
flushdb foo
flushdb async sync
flushall async
flushall sync foo
flushall
randomkey
dbsize
keys
keys a b
scan abc
scan -1
scan 18446744073709551615
scan 18446744073709551616
scan 0 foo bar
scan 0 count 0
scan 0 count -1
scan 0 count abc
scan 0 match
scan 0 type
scan " 1"
scan 0 type string
scan 0 type hash
scan 0 count 10 match * type string
set only 1
randomkey
flushall
set a 1
copy a a
copy a b
copy a b
get b
copy a b replace
copy a b replace replace
copy zz a
copy zz zz
copy a b foo
copy a b db
copy a b db x
copy a b db -1
copy a b db 16
copy a b db 99999999999
copy a b db 2147483648
copy a b db 16 db x
copy a b db 1 db 2
copy a a db 1
copy a a db 1
copy a b DB 0 REPLACE
select 2
get b
select 1
get a
select 0
set t v ex 100
copy t t2
ttl t2
set t v
copy t t2 replace
ttl t2
copy
copy a
"""

EXPIRY = """
set k v
expire k 100
expire k 100 nx
expire k 100 xx
expire k 200 gt
expire k 50 lt
expire k 50 nx xx
expire k 50 gt lt
expire k 50 nx gt
expire k 50 nx lt
expire k 60 xx gt
expire k 50 foo
expire k 50 xx foo
expire k abc
expire k 9223372036854775807
expire k 9223372036854775806
expire k -9223372036854775807
pexpire k 9223372036854775807
expireat k 9223372036854775807
pexpireat k 9223372036854775807
expire zz 10
expire zz 10 nx
set k v
expire k 100 gt
expire k 100 xx
expire k 100 lt
persist k
persist k
persist zz
pttl zz
ttl zz
ttl k
expiretime k
pexpiretime k
expiretime zz
pexpiretime zz
expireat k 99999999999
expiretime k
pexpiretime k
pexpireat k 99999999999123
pexpiretime k
expire k -1
exists k
set k v
pexpire k 0
exists k
set k v
expireat k 1
exists k
set k v
pexpireat k 1 gt
exists k
set k v px 100000
pexpire k 50000 gt
pexpire k 500000 gt
ttl
expire k
"""

CONNECTION = """
ping
ping hi
ping a b
echo
echo hi
echo a b
select 15
select 16
select -1
select abc
select 4294967296
select 1
set k db1
get k
select 0
get k
hello 4
hello 1
hello 0
hello -1
hello 3 foo
hello foo
hello 3 auth
hello 3 setname
hello 2 setname "a b"
hello 2 setname a
client getname
client setname foo
client getname
client setname "a b"
client setname ""
client getname
client setname
client
client foo
client setinfo lib-name redis-py
client setinfo lib-ver 5.0.0
client setname é
auth x
auth a b c
auth default anything
auth alice x
foo
foo a b
FOO "a b" c
config get
config foo
config
command foo
command info get set mget
command info nosuch
command docs get
command docs nosuch
command getkeys
command getkeys get
command getkeys get a
command getkeys mset a 1 b 2
command getkeys ping
command getkeys nosuch a
command getkeys get a b
command count x
multi
multi
get
set a 1
exec
multi
set a 1
incr a
get a
mget a b
exec
exec
discard
multi
discard
multi
ping
hello 3
ping
exec
"""


TRANSACTIONS = """
watch
watch a
watch a b a
unwatch
unwatch x
multi
watch a
unwatch
exec
set a 1
watch a
set a 2
multi
incr a
exec
get a
watch a
multi
incr a
exec
watch a
del a
watch b
multi
exec
watch a
unwatch
set a 1
multi
exec
watch a
set a 2
reset
multi
exec
watch a
set b 1
multi
foo
exec
watch a
set a 1 nx
multi
exec
watch a
expire a 100 gt
persist a
getex a
setrange a 0 ""
rename a a
multi
exec
watch a
append a ""
multi
exec
watch a
multi
exec a
exec
watch a
select 1
set a 1
select 0
multi
exec
watch a
flushall
multi
exec
watch zz
flushall
multi
exec
"""

CLIENTS = """
client kill
client kill 1.2.3.4:5
client kill id
client kill id x
client kill id 0
client kill id -1
client kill id 999999
client kill id 1 id 2
client kill id 1 foo
client kill id 99 skipme
client kill addr 1.2.3.4:5
client kill ADDR 1.2.3.4:5 TYPE
client kill laddr 1.2.3.4:5
client kill type normal skipme yes addr 1.2.3.4:5
client kill type foo
client kill type master
client kill type pubsub
client kill type replica
client kill type slave
client kill user nobody
client kill user default addr 1.2.3.4:5
client kill laddr x user nobody type foo
client kill skipme foo
client kill skipme no id 99999
client kill maxage 10
client pause
client pause 0
client pause -1
client pause x
client pause 1.5
client pause 10 foo
client pause 10 write extra
client PAUSE 10 write extra
client pause x foo
client pause 9223372036854775807
client pause 9223372036854775807 write
client pause 5 write
client pause 5 all
client unpause
client unpause x
client reply
client reply foo
client reply on
client reply on x
client no-evict
client no-evict foo
client no-evict on
client no-evict OFF
client no-evict on x
client getredir
client getredir x
client unblock
client unblock x
client unblock 1
client unblock 1 timeout
client unblock 1 ERROR
client unblock 1 foo
client unblock x foo
client unblock 1 timeout x
client trackinginfo
client trackinginfo x
"""


def _scripts() -> dict[str, list[list[str]]]:
    return {
        name: [shlex.split(line) for line in text.strip().splitlines()]
        for name, text in {
            "strings": STRINGS,
            "counters": COUNTERS,
            "keyspace": KEYSPACE,
            "expiry": EXPIRY,
            "connection": CONNECTION,
            "transactions": TRANSACTIONS,
            "clients": CLIENTS,
        }.items()
    }


SCRIPTS = _scripts()
# Replies compared within a tolerance: times to live run on while the scripts run.
TOLERANCE = {b"ttl": 1, b"pttl": 100, b"expiretime": 1, b"pexpiretime": 100}


def _fresh(port: int) -> None:
    client = RawClient(port)
    try:
        assert client.call("FLUSHALL") == b"+OK\r\n"
    finally:
        client.close()


def _replies(port: int, script: list[list[str]], protocol: int) -> list[bytes]:
    _fresh(port)
    client = RawClient(port)
    try:
        if protocol == 3:
            client.call("HELLO", 3)
        return [client.call(*args) for args in script]
    finally:
        client.close()


_CLIENT_ID = re.compile(rb"\$2\r\nid\r\n:[0-9]+\r\n")


def _same(args: list[str], ours: bytes, theirs: bytes) -> bool:
    if ours == theirs or _CLIENT_ID.sub(b"id", ours) == _CLIENT_ID.sub(b"id", theirs):
        return True
    tolerance = TOLERANCE.get(args[0].lower().encode())
    if tolerance is not None and ours[:1] == theirs[:1] == b":":
        return abs(int(ours[1:-2]) - int(theirs[1:-2])) <= tolerance
    return False


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts_answer_as_redis_does(name: str, protocol: int, predis: PredisResp, redis_server: RedisServer) -> None:
    script = SCRIPTS[name]
    ours = _replies(predis.port, script, protocol)
    theirs = _replies(redis_server.port, script, protocol)
    differences = [
        f"{' '.join(args)!r}: predis {o!r} redis {t!r}"
        for args, o, t in zip(script, ours, theirs, strict=True)
        if not _same(args, o, t)
    ]
    assert not differences, "\n".join(differences)


def test_keys_and_a_full_scan_find_the_same_keys(predis: PredisResp, redis_server: RedisServer) -> None:
    names = [f"user:{i}" for i in range(120)] + ["a", "ab", "abc", "a*c", "a?c", "[x]", "x\\y", "\xe9t\xe9"]
    patterns = ["*", "a*", "a?c", "a\\*c", "a[bc]*", "a[^b]*", "[a-b]*", "[b-a]*", "user:1?", "user:[1-2]*", "*:*0"]
    patterns += ["[", "a[", "a\\", "\\[x]", "x\\\\y", "[\\]]", "?", "??", "*a*b*c", "user:[!0]*", "[-a]*", "\xe9*"]
    found = {}
    for port in (predis.port, redis_server.port):
        _fresh(port)
        client = RawClient(port)
        try:
            for key in names:
                client.call("SET", key, "v")
            by_pattern = {p: sorted(_array(client.call("KEYS", p))) for p in patterns}
            scanned, cursor = set(), b"0"
            while True:
                reply = _scan(client.call("SCAN", cursor, "COUNT", 7))
                cursor, page = reply
                scanned.update(page)
                if cursor == b"0":
                    break
            found[port] = (by_pattern, scanned)
        finally:
            client.close()
    ours, theirs = found[predis.port], found[redis_server.port]
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1] == {n.encode() for n in names}


def _array(raw: bytes) -> list[bytes]:
    lines = raw.split(b"\r\n")
    return lines[2:-1:2]


def _scan(raw: bytes) -> tuple[bytes, list[bytes]]:
    lines = raw.split(b"\r\n")
    cursor = lines[2]
    return cursor, lines[5:-1:2]


# -- absolute expiry times read back exactly ------------------------------------------------------

EXACT_EXPIRY = """
set k v
pexpireat k {t}
pexpiretime k
expireat k {s}
expiretime k
pexpiretime k
set k v pxat {t}
pexpiretime k
getex k pxat {u}
pexpiretime k
copy k k2 replace
pexpiretime k2
rename k2 k3
pexpiretime k3
pexpireat k3 {t} gt
pexpireat k3 {v} lt
pexpiretime k3
"""


@pytest.mark.parametrize("protocol", [2, 3])
def test_absolute_expiry_times_read_back_exactly(protocol: int, predis: PredisResp, redis_server: RedisServer) -> None:
    script = []
    for i in range(60):  # the clocks tick between and inside commands: any slip shows in 60 rounds
        t = 33177117420000 + 7 * i
        times = {"t": t, "s": t // 1000 + 1, "u": t + 3, "v": t - 5}
        script += [shlex.split(line.format(**times)) for line in EXACT_EXPIRY.strip().splitlines()]
    ours = _replies(predis.port, script, protocol)
    theirs = _replies(redis_server.port, script, protocol)
    assert [(args, o, t) for args, o, t in zip(script, ours, theirs, strict=True) if o != t] == []


# -- several connections: WATCH, CLIENT KILL, CLIENT REPLY, CLIENT PAUSE --------------------------

# Each line: the connection (a, b, c, ...) and its command, or "sleep <seconds>". "{a.id}",
# "{a.addr}", "{a.laddr}" stand for that connection's CLIENT ID and addresses.
WATCH_ACROSS_CONNECTIONS = """
a flushall
a set k v
a watch k
b set k v2
a multi
a get k
a exec
a watch k
b set k v3 nx
b expire k 100 gt
b persist k
b getex k
b rename k k
b copy zz k
b select 1
b set k other
b select 0
a multi
a exec
a set p v px 50
a watch p
sleep 0.15
a multi
a exec
a watch absent
b set other 1
b del absent other
b flushall
a multi
a exec
a set k v
a watch k
b flushall
a client info
a multi
a exec
a set k v
a watch k
b set k v2
a watch other
a multi
a exec
a set k v
a set k2 v
a watch k2
b copy k k2
a multi
a exec
a watch k2
b copy k k2 replace
a multi
a exec
a watch k
b setrange k 0 x
a unwatch
a multi
a exec
a watch k
b del k
c exists k
a discard
a multi
a exec
"""

KILLS = """
c client setname victim
b client kill id {a.id}
a ping
b client kill {c.addr}
c ping
b client kill {c.addr}
b client kill addr {d.addr} type master
b client kill addr {d.addr} type pubsub
b client kill laddr {d.laddr} id {d.id} type normal
d ping
b client kill user default id {e.id}
e ping
b client kill id {b.id}
b client kill id {b.id} skipme yes
b client kill id {b.id} skipme no
b ping
"""


def _connections(port: int, script: str, protocol: int) -> list[bytes]:
    """``script``'s replies, b"<closed>" where the connection was closed."""
    lines = [line.split(" ", 1) for line in script.strip().splitlines()]
    names = sorted({who for who, _ in lines if who != "sleep"})
    clients = {name: RawClient(port) for name in names}
    facts: dict[str, str] = {}
    out = []
    try:
        for name, client in clients.items():
            if protocol == 3:
                client.call("HELLO", 3)
            info = {k.decode(): v.decode() for k, v in re.findall(rb"([\w-]+)=(\S*)", client.call("CLIENT", "INFO"))}
            facts.update({f"{name}.id": info["id"], f"{name}.addr": info["addr"], f"{name}.laddr": info["laddr"]})
        for who, text in lines:
            if who == "sleep":
                time.sleep(float(text))
                continue
            args = shlex.split(re.sub(r"\{(\w\.\w+)\}", lambda m: facts[m.group(1)], text))
            try:
                out.append(clients[who].call(*args))
            except (Closed, ConnectionError):
                out.append(b"<closed>")
    finally:
        for client in clients.values():
            client.close()
    return out


_CLIENT_FIELDS = re.compile(rb"(id|addr|laddr|fd|age|idle|qbuf|qbuf-free|argv-mem|rbs|rbp|tot-mem)=\S*")


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("script", [WATCH_ACROSS_CONNECTIONS, KILLS], ids=["watch", "kill"])
def test_connections_affect_each_other_as_in_redis(
    script: str, protocol: int, predis: PredisResp, redis_server: RedisServer
) -> None:
    _fresh(predis.port)
    _fresh(redis_server.port)
    ours = _connections(predis.port, script, protocol)
    theirs = _connections(redis_server.port, script, protocol)
    steps = [line for line in script.strip().splitlines() if not line.startswith("sleep")]
    differences = [
        (step, o, t)
        for step, o, t in zip(steps, ours, theirs, strict=True)
        if _CLIENT_FIELDS.sub(b"", o).split(b"\r\n", 1)[-1] != _CLIENT_FIELDS.sub(b"", t).split(b"\r\n", 1)[-1]
    ]
    assert differences == []
    assert b"<closed>" in ours if script is KILLS else True


@pytest.mark.parametrize(
    "requests",
    [
        "client reply skip|ping 1|ping 2",
        "client reply off|ping 2|set k v|client reply on|get k",
        "client reply skip|foo|ping 3",
        "client reply off|client reply skip|ping 4|client reply on",
        "client reply skip|client reply skip|ping 5|ping 6",
        "client reply skip|multi|ping 8|exec",
        "client reply skip|client reply foo|ping 9",
        "client reply skip|client reply on|ping 10",
        "client reply skip|get|ping 11",
        "client reply off|reset|ping 12",
    ],
)
def test_client_reply_suppresses_what_redis_suppresses(
    requests: str, predis: PredisResp, redis_server: RedisServer
) -> None:
    blob = b"".join(command(*shlex.split(r)) for r in requests.split("|")) + command("PING", "END") + command("QUIT")
    ours, theirs = _both((predis.port, redis_server.port), blob, 2.0)
    assert ours == theirs and ours[1]


# What a second connection runs while the first has paused: (its command, held?).
PAUSED = [
    ("write", [("get x", False), ("multi", False), ("set x 1", True), ("get x", False), ("exec", False)]),
    ("write", [("multi", False), ("get x", False), ("exec", False), ("ping", False), ("del x", True)]),
    ("write", [("multi", False), ("incr x", True), ("exec", False), ("expire x 10", False)]),
    ("all", [("ping", True), ("client unpause", False), ("ping", False)]),
    ("write", [("client pause 300 all", False), ("ping", True), ("ping", False)]),
]


@pytest.mark.parametrize("mode, steps", PAUSED, ids=range(len(PAUSED)))
def test_client_pause_holds_what_redis_holds(
    mode: str, steps: list[tuple[str, bool]], predis: PredisResp, redis_server: RedisServer
) -> None:
    for port in (predis.port, redis_server.port):
        pauser, other = RawClient(port), RawClient(port)
        try:
            assert pauser.call("CLIENT", "PAUSE", 300, mode) == b"+OK\r\n"
            held = []
            for step, _ in steps:
                started = time.monotonic()
                other.call(*step.split())
                held.append(time.monotonic() - started > 0.15)
            assert held == [h for _, h in steps], port
        finally:
            pauser.call("CLIENT", "UNPAUSE")
            pauser.close()
            other.close()


# -- protocol errors: raw bytes, the connection closing ------------------------------------------

PROTOCOL_INPUTS = [
    b"*1\r\n$100000000000\r\n",
    b"*x\r\n",
    b"*1\r\n+foo\r\n",
    b"*1\r\n:1\r\n",
    b"*1\r\n$x\r\n",
    b"*1\r\n$-1\r\n",
    b"*99999999999999999999\r\n",
    b"*1\r\n$99999999999999999999\r\n",
    b"*1\r\n$536870913\r\n",
    b"*01\r\n$4\r\nping\r\n",
    b"*1\r\n$04\r\nping\r\n",
    b"*1\r\n$+4\r\nping\r\n",
    b"*-0\r\nping\r\n",
    b"*\r\nping\r\n",
    b"*1\r\n$\r\nping\r\n",
    b"*3000000000\r\n",
    b'get "a\r\n',
    b'get "a"b\r\n',
    b"get 'a'b\r\n",
    b'echo a"b c"d\r\n',
    b"x" * 70000,
    b"*1\r\n" + b"x" * 70000,
    b"*" + b"1" * 70000,
    b"*1\r\n$3\r\nfooXX*1\r\n$4\r\nping\r\n",
    b"*2\r\n$4\r\nping\r\n*1\r\n$4\r\nping\r\n",
    b'set "a b" c\r\nget "a b"\r\n',
    b'echo "a\\x41\\n\\t\\\\" \'x\\\'y\' "\\xzz"\r\n',
    b"\r\n\r\nping\r\n",
    b"ping\n",
    b"ping\r\r\n",
    b"ping\rfoo\n",
    b"echo \x0bx\x0c\r\n",
    b"*1\rX$4\rYping\r\n",
    b"*0\r\n*-1\r\n*-5\r\nping\r\n",
    b"*1\r\n$0\r\n\r\n",
    b"*2\r\n$4\r\nping\r\n$1\r\n\x00\r\n",
    b"*3\r\n$3\r\nfoo\r\n$3\r\na\x00b\r\n$1\r\nc\r\n",
    command("foo\r\nbar", "x\ny"),
    command("foo", *(["x" * 50] * 5)),
    command("x" * 200),
    b"*2\r\n$3\r\nGET\r\n$1\r\n\xff\r\n*1\r\n$1\r\n\xe9\r\n",
    b"*1\r\n\xff\r\n",
    b"ping\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST / HTTP/1.1\r\n",
    b"ping\r\nquit\r\nping\r\n",
    b"*1\r\n$4\r\nQUIT\r\nping\r\n",
]
# Inputs Redis waits on for more: compared after a short quiet time, not for a close.
WAITING_INPUTS = [
    b"get a\x00b\r\nping\r\n",
    b"*1\x00\r\n$4\r\nping\r\n",
    b"*1\r\n$4\x00\r\nping\r\n",
    b"*1\r",
    b"*1\r\n\x00\r\n",
    b"*2000000\r\n",
    b"*1\r\n$536870912\r\n",
    b"*1\r\n$3\r\nfoo",
]


def _raw_exchange(port: int, data: bytes, quiet_s: float) -> tuple[bytes, bool]:
    client = RawClient(port)
    try:
        client.send(data)
        return client.until_closed(quiet_s)
    finally:
        client.close()


def _both(ports: tuple[int, int], data: bytes, quiet_s: float) -> list[tuple[bytes, bool]]:
    results: list[tuple[bytes, bool]] = [(b"", False), (b"", False)]

    def one(i: int) -> None:
        results[i] = _raw_exchange(ports[i], data, quiet_s)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("data", PROTOCOL_INPUTS, ids=range(len(PROTOCOL_INPUTS)))
def test_raw_requests_answer_and_close_as_redis_does(
    data: bytes, predis: PredisResp, redis_server: RedisServer
) -> None:
    # A QUIT after the input closes connections the input left open, so nobody waits for quiet;
    # not after an over-long line, whose end the QUIT's bytes would be.
    if len(data) < INLINE_MAX_BYTES:
        data += command("QUIT")
    ours, theirs = _both((predis.port, redis_server.port), data, 2.0)
    assert ours == theirs
    assert ours[1], "the connection closes"


def test_requests_redis_waits_on_are_waited_on(predis: PredisResp, redis_server: RedisServer) -> None:
    for data in WAITING_INPUTS:
        ours, theirs = _both((predis.port, redis_server.port), data, 0.25)
        assert ours == theirs, data


# -- authentication -------------------------------------------------------------------------------

AUTH_SCRIPT = """
get a
foo
get
ping
echo hi
select 1
client setname x
multi
hello 3
auth
auth a b c
auth wrong
auth alice wrong
auth nobody x
hello 3 auth alice wrong
hello 2 auth default secret0 setname "a b"
get a
auth alice secret1
get a
client getname
auth alice wrong
get a
reset
get a
hello 2 auth alice secret1
get a
auth default secret0
set a 1
get a
"""


@pytest.fixture(scope="module")
def servers_with_passwords(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PredisResp, RedisServer]]:
    pytest.importorskip("redis")
    folder: Path = tmp_path_factory.mktemp("redis-auth")
    try:
        redis = RedisServer(
            folder, "--requirepass", "secret0", "--user", "alice", "on", ">secret1", "~*", "&*", "+@all"
        )
    except (FileNotFoundError, RuntimeError):
        pytest.skip("redis-server is not on PATH")
    settings = RespSettings(
        listen="127.0.0.1:0",
        users=parse_users("alice:secret1=tenant-a"),
        default_account=parse_requirepass("secret0=default"),
    )
    ours = PredisResp(settings).start()
    yield ours, redis
    ours.stop()
    redis.stop()


def test_authentication_answers_as_redis_does(servers_with_passwords: tuple[PredisResp, RedisServer]) -> None:
    ours, theirs = servers_with_passwords
    script = [shlex.split(line) for line in AUTH_SCRIPT.strip().splitlines()]
    results = []
    for port in (ours.port, theirs.port):
        client = RawClient(port)
        try:
            results.append([client.call(*args) for args in script])
        finally:
            client.close()
    differences = [
        f"{' '.join(args)!r}: predis {o!r} redis {t!r}"
        for args, o, t in zip(script, *results, strict=True)
        if not _same(args, o, t)
    ]
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize(
    "data",
    [
        b"*11\r\n",
        b"*2\r\n$16385\r\n",
        b"*2\r\n$16384\r\n",
        b"*10\r\n$3\r\nGET\r\n",
        b"post / http/1.1\r\n",
        command("AUTH", "secret0") + b"*11\r\n",
        command("AUTH", "secret0") + command("RESET") + command("GET", *"abcdefghijk"),
    ],
)
def test_unauthenticated_limits_are_redis_s(
    data: bytes, servers_with_passwords: tuple[PredisResp, RedisServer]
) -> None:
    ours, theirs = servers_with_passwords
    mine, redis_s = _both((ours.port, theirs.port), data, 0.3)
    assert mine == redis_s


# -- what clients read about the commands ---------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_command_info_and_docs_are_redis_s(protocol: int, predis: PredisResp, redis_server: RedisServer) -> None:
    assert predis.server is not None
    commands = list(predis.server.table.commands.values())
    plain = [c.name for c in commands if not c.subcommands]
    subcommands = [s.name for c in commands for s in c.subcommands.values()]
    script = [["COMMAND", "INFO", n] for n in plain + subcommands] + [["COMMAND", "DOCS", n] for n in plain]
    script += [
        ["COMMAND", "GETKEYS", *args]
        for args in (["mset", "a", "1", "b", "2"], ["del", "a", "b"], ["rename", "a", "b"])
    ]
    script += [["COMMAND", "DOCS", n] for n in subcommands]
    ours = _replies(predis.port, script, protocol)
    theirs = _replies(redis_server.port, script, protocol)
    assert [(args, o) for args, o, t in zip(script, ours, theirs, strict=True) if o != t] == []


def test_client_info_has_redis_s_fields_in_order(predis: PredisResp, redis_server: RedisServer) -> None:
    lines = []
    for port in (predis.port, redis_server.port):
        client = RawClient(port)
        try:
            client.call("CLIENT", "SETNAME", "me")
            raw = client.call("CLIENT", "INFO")
            listed = client.call("CLIENT", "LIST")
        finally:
            client.close()
        text = raw.split(b"\r\n", 1)[1].decode()
        lines.append([field.split("=", 1)[0] for field in text.split()])
        assert listed.endswith(b"\n\r\n")
        assert "name=me " in text and "cmd=client|info " in text
    assert lines[0] == lines[1]


@pytest.mark.parametrize("split", ["one write", "byte by byte"])
def test_pipelines_answer_as_redis_does(split: str, predis: PredisResp, redis_server: RedisServer) -> None:
    script = [line for name in ("strings", "counters") for line in SCRIPTS[name]]
    blob = b"".join(command(*args) for args in script) + b"ping inline\r\n" + command("QUIT")
    outputs = []
    for port in (predis.port, redis_server.port):
        _fresh(port)
        client = RawClient(port)
        try:
            if split == "one write":
                client.send(blob)
            else:
                for i in range(len(blob)):
                    client.send(blob[i : i + 1])
            outputs.append(client.until_closed(5.0))
        finally:
            client.close()
    assert outputs[0] == outputs[1]
    assert outputs[0][1]


# -- random scripts and patterns against Redis ----------------------------------------------------

FUZZ_COMMANDS = [
    "client|getname",
    "client|setname",
    "auth",
    "hello",
    "reset",
    "get",
    "set",
    "getex",
    "getdel",
    "getset",
    "setnx",
    "setex",
    "psetex",
    "mget",
    "mset",
    "msetnx",
    "append",
    "strlen",
    "getrange",
    "setrange",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "del",
    "unlink",
    "exists",
    "type",
    "rename",
    "renamenx",
    "dbsize",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "expiretime",
    "pexpiretime",
    "ttl",
    "pttl",
    "persist",
    "ping",
    "echo",
    "select",
    "multi",
    "exec",
    "discard",
    "flushdb",
    "substr",
    "copy",
    "watch",
    "unwatch",
    "client|getredir",
    "client|unblock",
    "client|trackinginfo",
    "client|no-evict",
]
FUZZ_ARGS = [
    *[
        "a",
        "b",
        "c",
        "EX",
        "PX",
        "EXAT",
        "PXAT",
        "NX",
        "XX",
        "GT",
        "LT",
        "GET",
        "KEEPTTL",
        "PERSIST",
        "SYNC",
        "ASYNC",
        "default",
        "DB",
        "REPLACE",
        "TIMEOUT",
        "ERROR",
        "ON",
    ],
    *["-1", "0", "1", "2", "10", "100", "9223372036854775807", "-9223372036854775808", "99999999999"],
    *[
        "abc",
        "1.5",
        "",
        "1e3",
        "01",
        " 1",
        "-0",
        "+1",
        "0x10",
        "inf",
        "1e400",
        "x y",
        "\x00",
        "a\x00b",
        "\xe9",
        "nx\x00x",
    ],
]
fuzz_command = st.tuples(st.sampled_from(FUZZ_COMMANDS), st.lists(st.sampled_from(FUZZ_ARGS), max_size=5)).map(
    lambda drawn: [*drawn[0].split("|"), *drawn[1]]
)


def _fuzz_replies(port: int, script: list[list[str]], protocol: int) -> list[bytes]:
    return _replies(port, script, protocol)


def _check_random_scripts(predis: PredisResp, redis_server: RedisServer, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(script=st.lists(fuzz_command, min_size=1, max_size=10), protocol=st.sampled_from([2, 3]))
    def scripts_agree(script: list[list[str]], protocol: int) -> None:
        ours = _fuzz_replies(predis.port, script, protocol)
        theirs = _fuzz_replies(redis_server.port, script, protocol)
        for args, o, t in zip(script, ours, theirs, strict=True):
            assert _same(args, o, t), (script, args, o, t)

    scripts_agree()


def test_random_scripts_answer_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    _check_random_scripts(predis, redis_server, examples=40)


@pytest.mark.slow
def test_many_random_scripts_answer_as_redis_does(predis: PredisResp, redis_server: RedisServer) -> None:
    _check_random_scripts(predis, redis_server, examples=2000)


GLOB_KEYS = ["a", "b", "ab", "abc", "a*c", "a?c", "[x]", "x\\y", "-", "]", "^", "\xe9", "a-c", "\\", "aXc", "a]b"]
glob_pattern = st.lists(st.sampled_from(list("abc*?[]^-\\xz") + ["\xe9"]), max_size=8).map("".join)


def _check_random_patterns(predis: PredisResp, redis_server: RedisServer, examples: int) -> None:
    clients = []
    for port in (predis.port, redis_server.port):
        _fresh(port)
        clients.append(RawClient(port))
        for key in GLOB_KEYS:
            clients[-1].call("SET", key, "v")

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(pattern=glob_pattern)
    def patterns_agree(pattern: str) -> None:
        ours, theirs = (sorted(_array(c.call("KEYS", pattern))) for c in clients)
        assert ours == theirs, pattern

    try:
        patterns_agree()
    finally:
        for c in clients:
            c.close()


def test_random_patterns_match_as_redis_s(predis: PredisResp, redis_server: RedisServer) -> None:
    _check_random_patterns(predis, redis_server, examples=150)


@pytest.mark.slow
def test_many_random_patterns_match_as_redis_s(predis: PredisResp, redis_server: RedisServer) -> None:
    _check_random_patterns(predis, redis_server, examples=5000)
