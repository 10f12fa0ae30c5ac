"""The RESP request parser and reply encoder alone: inline splitting, the scanner against
chunked input, hiredis's fast path never disagreeing with the scanner, and fuzzing (random
bytes and mutated frames: a reply, an error or waiting for more; never another exception)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import test_resp_harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_resp_harness import PredisResp, RawClient, command

from predis.services.resp import protocol
from predis.services.resp.protocol import (
    GetRun,
    ProtocolError,
    QueryBufferFull,
    RequestParser,
    RequestScanner,
    SetRun,
    _set_run,
    get_run,
    mget_keys,
    split_inline,
)
from predis.services.resp.replies import (
    Encoded,
    ErrorReply,
    SetReply,
    Status,
    Verbatim,
    bulk_array,
    bulk_strings,
    encode,
)

# The shared fixtures, by name (pytest finds them here).
predis = test_resp_harness.predis

MAX_BULK = 1 << 20
QUERY_LIMIT = 4 << 20


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    """The parser's compiled walks compiled (or loaded) first, as the server does before it
    listens: with a cold Numba cache, the first example would pass hypothesis's deadline."""
    protocol.warm_up()


def _scan_all(data: bytes, chunks: list[int] | None = None, authenticated: bool = True) -> tuple[list, str | None]:
    """Every request the scanner reads from ``data`` fed in ``chunks``, and the protocol error
    it stopped at (or None)."""
    scanner = RequestScanner(MAX_BULK, QUERY_LIMIT)
    requests: list[list[bytes]] = []
    pieces = [data] if chunks is None else _split(data, chunks)
    try:
        for piece in pieces:
            scanner.feed(piece)
            while (request := scanner.next_request(authenticated)) is not None:
                requests.append(request)
    except ProtocolError as refused:
        return requests, str(refused)
    return requests, None


def _split(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, pos = [], 0
    for size in sizes:
        if pos >= len(data):
            break
        pieces.append(data[pos : pos + size])
        pos += size
    if pos < len(data):
        pieces.append(data[pos:])
    return pieces


def test_inline_commands_split_as_sdssplitargs_does() -> None:
    assert split_inline(b"set  key   value") == [b"set", b"key", b"value"]
    assert split_inline(b'set "a b" c') == [b"set", b"a b", b"c"]
    assert split_inline(b"echo \"\\x41\\n\\t\\\"q\" 'it\\'s'") == [b"echo", b'A\n\t"q', b"it's"]
    assert split_inline(b'echo "\\xzz"') == [b"echo", b"xzz"]
    assert split_inline(b'echo a"b c"d') is None
    assert split_inline(b'echo a"b c"') == [b"echo", b"ab c"]
    assert split_inline(b'echo "unterminated') is None
    assert split_inline(b"echo 'x'y") is None
    assert split_inline(b'""') == [b""]
    assert split_inline(b"   ") == []
    assert split_inline(b"a\x0bb") == [b"a\x0bb"]


def test_a_request_split_anywhere_reads_the_same() -> None:
    data = command("SET", "k", "v" * 300) + b"ping\r\n" + command("MGET", "a", "b") + b'echo "x y"\n'
    whole = _scan_all(data)
    assert whole == ([[b"SET", b"k", b"v" * 300], [b"ping"], [b"MGET", b"a", b"b"], [b"echo", b"x y"]], None)
    for size in (1, 2, 3, 7, 64):
        assert _scan_all(data, [size] * len(data)) == whole


def test_the_parser_prefers_hiredis_only_for_whole_canonical_frames() -> None:
    parser = RequestParser(MAX_BULK, QUERY_LIMIT)
    data = command("SET", "a", "1") + command("GET", "a")
    assert parser._hiredis_frames(data) == [[b"SET", b"a", b"1"], [b"GET", b"a"]]
    assert parser._hiredis_frames(b"*1\r\n+foo\r\n") is None
    assert parser._hiredis_frames(b"*1\r\n$3\r\nfoo\r\n*1\r\n$2\r\n") is None  # ends mid-frame
    assert parser._hiredis_frames(b"*2\r\n+a\r\n=8\r\ntxt:abcd\r\n") is None
    assert parser._hiredis_frames(b"~1\r\n$4\r\nping\r\n") is None
    assert parser._hiredis_frames(b"*1000000\r\n") is None
    # What clients never write goes to the scanner, even where Redis reads it alike: a leading
    # zero, a count of 0, a null bulk, a bare LF, a bulk without its CRLF, bytes after the frames.
    for near in (
        b"*2\r\n$03\r\nGET\r\n$1\r\na\r\n",
        b"*02\r\n$3\r\nGET\r\n$1\r\na\r\n",
        b"*0\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$4\nPING\r\n",
        b"*1\r\n$4\r\nPINGxx",
        command("PING") + b"x",
        b"*1\r\n$99999999999999999999\r\n",
    ):
        assert parser._hiredis_frames(near) is None, near
    assert parser._hiredis_frames(command("GET", "a")) == [[b"GET", b"a"]]  # a refusal left it clean
    assert parser._hiredis_frames(command("SET", "k", "") + command("MGET", *"abc")) == [
        [b"SET", b"k", b""],
        [b"MGET", b"a", b"b", b"c"],
    ]


def test_unauthenticated_limits_apply_to_frames_hiredis_read() -> None:
    parser = RequestParser(MAX_BULK, QUERY_LIMIT)
    parser.feed(command("AUTH", "pw") + command("GET", *"abcdefghijk"), authenticated=True)
    assert parser.next_request(authenticated=True) == [b"AUTH", b"pw"]
    with pytest.raises(ProtocolError, match="unauthenticated multibulk length"):
        parser.next_request(authenticated=False)


def test_an_unfinished_request_is_bounded_by_the_query_buffer_limit() -> None:
    scanner = RequestScanner(MAX_BULK, 2 * MAX_BULK)
    scanner.feed(b"*3\r\n$1048576\r\n" + b"x" * MAX_BULK + b"\r\n")
    assert scanner.next_request(True) is None
    with pytest.raises(QueryBufferFull):
        scanner.feed(b"$1048576\r\n" + b"x" * MAX_BULK)


# -- fuzzing --------------------------------------------------------------------------------------

frames = st.lists(
    st.lists(st.binary(max_size=40), min_size=0, max_size=6).map(lambda args: command(*args) if args else b"*0\r\n"),
    min_size=1,
    max_size=5,
).map(b"".join)
inline = st.lists(st.sampled_from([b"ping", b"get", b'"a b"', b"'x'", b"\\x41", b" ", b"\t", b'"', b"\r\n", b"\n"]))


@st.composite
def mutated(draw: st.DrawFn, source: st.SearchStrategy[bytes] | None = None) -> bytes:
    data = bytearray(draw(source if source is not None else st.one_of(frames, inline.map(b"".join))))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        choice = draw(st.integers(0, 3))
        if choice == 0:
            data[at] = draw(st.integers(0, 255))
        elif choice == 1:
            data.insert(at, draw(st.sampled_from(b"*$+-:\r\n0123456789\x00")))
        elif choice == 2:
            del data[at]
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300), mutated()), sizes=st.lists(st.integers(1, 50), max_size=20))
def test_the_parser_survives_anything(data: bytes, sizes: list[int]) -> None:
    for authenticated, run_limit in ((True, 0), (False, 0), (True, 64)):
        parser = RequestParser(MAX_BULK, QUERY_LIMIT, run_limit)
        started = time.monotonic()
        try:
            for piece in _split(data, sizes):
                parser.feed(piece, authenticated)
                for _ in range(len(data) + 2):  # every request consumes bytes: this many at most
                    request = parser.next_request(authenticated)
                    if request is None:
                        break
                    assert all(type(arg) is bytes for arg in request)
        except (ProtocolError, QueryBufferFull):
            pass
        assert time.monotonic() - started < 0.5


@settings(max_examples=300, deadline=1000)
@given(data=st.one_of(frames, mutated()))
def test_hiredis_never_disagrees_with_the_scanner(data: bytes) -> None:
    fast = RequestParser(MAX_BULK, QUERY_LIMIT)._hiredis_frames(data)
    if fast is None:
        return
    scanner = RequestScanner(MAX_BULK, QUERY_LIMIT)
    scanner.feed(data)
    exact = []
    while (request := scanner.next_request(True)) is not None:
        exact.append(request)
    assert scanner.idle
    assert fast == exact


def _scanned_whole(data: bytes) -> list[list[bytes]] | None:
    """The requests the scanner reads from ``data`` when they are all of it (an unfinished one
    left out: a run is only ever whole requests); None when it refuses them."""
    scanner = RequestScanner(MAX_BULK, QUERY_LIMIT)
    try:
        scanner.feed(data)
        exact = []
        while (request := scanner.next_request(True)) is not None:
            exact.append(request)
    except ProtocolError:
        return None
    return exact if scanner.idle else []


def _plain(keys: list[bytes]) -> bool:
    """What a run's walk says of its keys: none empty, reserved (``FF DB``) or named twice (two
    keys of one 64-bit hash would read as not plain too: none come here)."""
    return len(set(keys)) == len(keys) and all(k and k[:2] != b"\xff\xdb" for k in keys)


get_runs = st.lists(
    st.tuples(st.sampled_from([b"GET", b"get", b"gEt", b"GeT"]), st.binary(max_size=12)), min_size=1, max_size=70
).map(lambda run: b"".join(command(name, key) for name, key in run))


@settings(max_examples=300, deadline=1000)
@given(data=st.one_of(get_runs, frames, mutated(get_runs), mutated()))
def test_a_read_of_only_gets_is_what_the_scanner_reads(data: bytes) -> None:
    count, offsets, lengths, plain = get_run(data, 64)
    exact = _scanned_whole(data)
    if exact is None or count == 0:
        assert exact is not None or count == 0  # what the scanner refuses is no run
        return
    assert len(exact) == count and 2 <= count <= 64
    assert all(len(r) == 2 and r[0].lower() == b"get" for r in exact)
    keys = [data[o : o + n] for o, n in zip(offsets.tolist(), lengths.tolist(), strict=True)]
    assert keys == [r[1] for r in exact]
    assert plain == _plain(keys)
    run = GetRun(data, offsets, lengths, plain)
    assert run.last_argv_bytes == sum(map(len, exact[-1]))
    assert run.frames() == exact


set_runs = st.lists(
    st.tuples(st.sampled_from([b"SET", b"set", b"sEt"]), st.binary(max_size=12), st.binary(max_size=20)),
    min_size=1,
    max_size=70,
).map(lambda run: b"".join(command(name, key, value) for name, key, value in run))


@settings(max_examples=300, deadline=1000)
@given(data=st.one_of(set_runs, frames, mutated(set_runs), mutated()))
def test_a_read_of_only_sets_is_what_the_scanner_reads(data: bytes) -> None:
    count, bounds, plain = _set_run(data, 64)
    exact = _scanned_whole(data)
    if exact is None or count == 0:
        assert exact is not None or count == 0  # what the scanner refuses is no run
        return
    assert len(exact) == count and 2 <= count <= 64
    assert all(len(r) == 3 and r[0].lower() == b"set" for r in exact)
    run = SetRun(data, bounds, plain)
    assert [run.keys.item(i) for i in range(count)] == [r[1] for r in exact]
    assert [run.values.item(i) for i in range(count)] == [r[2] for r in exact]
    assert plain == _plain([r[1] for r in exact])
    assert run.last_argv_bytes == sum(map(len, exact[-1]))
    assert run.frames() == exact


lone_gets = st.tuples(st.sampled_from([b"GET", b"get", b"gEt"]), st.binary(max_size=30)).map(lambda a: command(*a))


@settings(max_examples=300, deadline=1000)
@given(data=st.one_of(lone_gets, frames, mutated(lone_gets), mutated()), max_bulk=st.sampled_from([MAX_BULK, 8]))
def test_a_read_of_one_get_is_what_the_scanner_reads(data: bytes, max_bulk: int) -> None:
    key = RequestParser(max_bulk, QUERY_LIMIT, 64).lone_get(data)
    if key is None:
        return
    scanner = RequestScanner(max_bulk, QUERY_LIMIT)
    scanner.feed(data)  # raises (failing the test) where the scanner refuses what lone_get took
    assert scanner.next_request(True) == [data[8:11], key]
    assert data[8:11].lower() == b"get" and scanner.next_request(True) is None and scanner.idle


lone_sets = st.tuples(st.sampled_from([b"SET", b"set", b"sEt"]), st.binary(max_size=20), st.binary(max_size=20)).map(
    lambda a: command(*a)
)


@settings(max_examples=300, deadline=1000)
@given(data=st.one_of(lone_sets, frames, mutated(lone_sets), mutated()), max_bulk=st.sampled_from([MAX_BULK, 8]))
def test_a_read_of_one_set_is_what_the_scanner_reads(data: bytes, max_bulk: int) -> None:
    key_value = RequestParser(max_bulk, QUERY_LIMIT, 64).lone_set(data)
    if key_value is None:
        return
    scanner = RequestScanner(max_bulk, QUERY_LIMIT)
    scanner.feed(data)
    assert scanner.next_request(True) == [data[8:11], *key_value]
    assert data[8:11].lower() == b"set" and scanner.next_request(True) is None and scanner.idle


mgets = st.tuples(
    st.sampled_from([b"MGET", b"mget", b"mGeT"]),
    st.lists(st.one_of(st.binary(max_size=12), st.just(b""), st.just(b"\xff\xdbk")), min_size=1, max_size=30),
).map(lambda a: command(a[0], *a[1]))


@settings(max_examples=300, deadline=1000)
@given(data=st.one_of(mgets, frames, mutated(mgets), mutated()))
def test_a_read_of_one_mget_is_what_the_scanner_reads(data: bytes) -> None:
    count, offsets, lengths, plain = mget_keys(data)
    if count == 0:
        return
    scanner = RequestScanner(MAX_BULK, QUERY_LIMIT)
    scanner.feed(data)
    request = scanner.next_request(True)
    assert request is not None and request[0].lower() == b"mget" and scanner.next_request(True) is None
    keys = [data[o : o + n] for o, n in zip(offsets.tolist(), lengths.tolist(), strict=True)]
    assert keys == request[1:] and count == len(keys)
    assert plain == all(k and k[:2] != b"\xff\xdb" for k in keys)  # a key named twice is still plain
    batch = RequestParser(MAX_BULK, QUERY_LIMIT, 64).lone_mget(data)
    assert (batch is not None) == plain
    if batch is not None:
        assert [batch.item(i) for i in range(len(batch))] == keys


def test_a_read_of_one_mget_is_taken_only_alone() -> None:
    mget = command("MGET", "a", "b", "a")
    parser = RequestParser(MAX_BULK, QUERY_LIMIT, 64)
    batch = parser.lone_mget(mget)
    assert batch is not None and [batch.item(i) for i in range(3)] == [b"a", b"b", b"a"]
    for data in (
        mget + mget,  # two
        command("MGET"),  # no key: the arity error, the long way
        command("MGET", "a", ""),  # the empty key
        command("MGET", "a", b"\xff\xdbx"),  # a reserved key
        command("MGETX", "a"),
        mget[:-1],
        mget.replace(b"$1\r\nb", b"$01\r\nb"),  # not canonical
    ):
        assert parser.lone_mget(data) is None
    assert RequestParser(8, QUERY_LIMIT, 64).lone_mget(mget) is None  # past proto-max-bulk-len


def test_a_read_of_one_get_is_taken_only_alone() -> None:
    get = command("GET", "a")
    parser = RequestParser(MAX_BULK, QUERY_LIMIT, 64)
    assert parser.lone_get(get) == b"a" and parser.lone_get(command("get", "")) == b""
    assert parser.lone_get(command("GET", "a\r\n*b")) == b"a\r\n*b"
    for data in (
        get + command("GET", "b"),  # two
        get.replace(b"$1\r\na", b"$01\r\na"),  # not canonical
        get[:-1],  # unfinished
        get + b"\r\n",  # more after it
        command("GETX", "a"),
        command("GET", "a" * 20),  # the key longer than proto-max-bulk-len (below)
    ):
        assert RequestParser(16, QUERY_LIMIT, 64).lone_get(data) is None
    for data in (command("SET", "a", "1", "EX", "10"), command("SET", "a"), command("SET", "a", "1") + get):
        assert parser.lone_set(data) is None
    assert parser.lone_set(command("set", "a", "")) == (b"a", b"")
    # The connection asks for a lone request only of an idle parser: nothing waits before it.
    assert parser.idle
    parser.feed(command("SET", "a"), True)  # a request waits, unanswered: a GET must come after it
    assert not parser.idle
    parser.next_request(True)
    assert parser.idle
    parser.feed(get[:5], True)  # half a request waits
    assert not parser.idle
    parser.feed(get[5:], True)
    assert parser.only_request() is None  # the scanner's, whole only with the second piece
    assert parser.next_request(True) == [b"GET", b"a"] and parser.idle
    parser.feed(get, True)
    assert parser.only_request() == [b"GET", b"a"] and parser.idle  # taken: nothing else waits
    parser.hold([b"GET", b"a"])
    assert not parser.idle and parser.next_request(True) == [b"GET", b"a"]
    parser.feed(get + get, True)  # two GETs: a run, no one request
    assert parser.only_request() is None


def test_a_read_of_only_gets_is_kept_whole_and_what_follows_goes_after_it() -> None:
    gets = command("GET", "a") + command("get", "b")
    parser = RequestParser(MAX_BULK, QUERY_LIMIT, 64)
    parser.feed(gets, True)
    assert isinstance(parser.run, GetRun) and parser.has_ready
    assert parser.take_run().keys.item(1) == b"b" and parser.run is None
    parser.feed(gets, True)
    parser.feed(command("SET", "a", "1"), True)  # more bytes before the run was taken
    assert parser.run is None
    assert [parser.next_request(True) for _ in range(3)] == [[b"GET", b"a"], [b"get", b"b"], [b"SET", b"a", b"1"]]
    for data in (
        command("GET", "a"),  # one GET: no run
        gets + command("SET", "a", "1"),  # not only GETs
        b"".join(command("GET", str(i)) for i in range(65)),  # more than the limit
        gets.replace(b"$1\r\na", b"$01\r\na"),  # not canonical
        gets[:-1],  # unfinished
    ):
        assert get_run(data, 64)[0] == 0
    unauthenticated = RequestParser(MAX_BULK, QUERY_LIMIT, 64)
    unauthenticated.feed(gets, False)
    assert unauthenticated.run is None


def test_a_read_of_only_sets_is_kept_whole_and_what_follows_goes_after_it() -> None:
    sets = command("SET", "a", "1") + command("set", "b", "")
    parser = RequestParser(MAX_BULK, QUERY_LIMIT, 64)
    parser.feed(sets, True)
    assert isinstance(parser.run, SetRun) and parser.has_ready and not parser.idle
    run = parser.take_run()
    assert isinstance(run, SetRun) and run.values.item(0) == b"1" and run.values.item(1) == b""
    parser.feed(sets, True)
    parser.feed(command("GET", "a"), True)  # more bytes before the run was taken
    assert parser.run is None
    assert [parser.next_request(True) for _ in range(3)] == [[b"SET", b"a", b"1"], [b"set", b"b", b""], [b"GET", b"a"]]
    for data in (
        command("SET", "a", "1"),  # one SET: no run
        sets + command("GET", "a"),  # not only SETs
        command("SET", "a", "1", "EX", "10") + sets,  # options
        b"".join(command("SET", str(i), "v") for i in range(65)),  # more than the limit
        sets.replace(b"$1\r\n1", b"$01\r\n1"),  # not canonical
        sets[:-1],  # unfinished
    ):
        assert _set_run(data, 64)[0] == 0
    small = RequestParser(4, QUERY_LIMIT, 64)  # proto-max-bulk-len 4: the scanner refuses what is past it
    small.feed(command("SET", "a", "12345") + command("SET", "b", "1"), True)
    assert small.run is None
    unauthenticated = RequestParser(MAX_BULK, QUERY_LIMIT, 64)
    unauthenticated.feed(sets, False)
    assert unauthenticated.run is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(min_size=1, max_size=200), mutated()))
def test_the_server_answers_or_closes_and_stays_up(data: bytes, predis: PredisResp) -> None:
    raw = RawClient(predis.port, timeout=2)
    try:
        raw.send(data)
        raw.until_closed(0.05)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        raw.close()
    check = RawClient(predis.port)
    try:
        assert check.call("PING") == b"+PONG\r\n"
    finally:
        check.close()


# -- replies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "resp2", "resp3"),
    [
        (b"v", b"$1\r\nv\r\n", b"$1\r\nv\r\n"),
        (None, b"$-1\r\n", b"_\r\n"),
        (7, b":7\r\n", b":7\r\n"),
        (Status("OK"), b"+OK\r\n", b"+OK\r\n"),
        (ErrorReply("ERR x"), b"-ERR x\r\n", b"-ERR x\r\n"),
        ([b"a", None], b"*2\r\n$1\r\na\r\n$-1\r\n", b"*2\r\n$1\r\na\r\n_\r\n"),
        ({"k": 1}, b"*2\r\n$1\r\nk\r\n:1\r\n", b"%1\r\n$1\r\nk\r\n:1\r\n"),
        (SetReply([Status("x")]), b"*1\r\n+x\r\n", b"~1\r\n+x\r\n"),
        (Verbatim("a:b\r\n"), b"$5\r\na:b\r\n\r\n", b"=9\r\ntxt:a:b\r\n\r\n"),
        (Encoded(b":1\r\n"), b":1\r\n", b":1\r\n"),
        ("\udcff", b"$1\r\n\xff\r\n", b"$1\r\n\xff\r\n"),
    ],
)
def test_replies_encode_as_redis_writes_them(reply: object, resp2: bytes, resp3: bytes) -> None:
    assert encode(reply, resp3=False) == resp2
    assert encode(reply, resp3=True) == resp3


@settings(deadline=None)  # the first example compiles the encoder
@given(st.lists(st.one_of(st.none(), st.binary(max_size=300)), max_size=40), st.booleans())
def test_an_array_of_bulk_strings_encodes_as_its_values_do(values: list[bytes | None], resp3: bool) -> None:
    """MGET's reply, encoded whole from the packed values (``bulk_array``), is the encoding of
    the list of its values, and ``bulk_strings`` that of each value; a long value's length takes
    more digits."""
    values = [*values, b"x" * 123_456]
    blob = b"".join(v for v in values if v is not None)
    lengths = np.array([0 if v is None else len(v) for v in values], dtype=np.uint32)
    found = np.array([v is not None for v in values])
    assert bulk_array(blob, lengths, found, resp3) == encode(values, resp3)
    # A run of GETs' replies: the same strings, no array around them.
    assert bulk_strings(blob, lengths, found, resp3) == b"".join(encode(v, resp3) for v in values)
