"""Requests off the wire, read as redis-server 7.0 reads them.

Two forms: multibulk frames (``*<n>\\r\\n`` then ``$<len>\\r\\n<bytes>\\r\\n`` per argument, what every
client library sends) and inline commands (a line of words, split as Redis's ``sdssplitargs``
splits it, quotes and escapes included: what a person types into telnet).

Multibulk frames are parsed by hiredis's C reader whenever a read ends on a frame boundary with
nothing pending, which is how client libraries write; ``RequestScanner``, Redis's own state
machine in Python, reads everything else (inline commands, frames split across reads, anything
malformed) and is the authority: hiredis's answer is used only when it provably equals the
scanner's (``_hiredis_frames``). Every limit and error text is redis-server 7.0.15's, including the
quirks: a header line ends at its first ``\\r`` followed by any byte, a NUL byte hides the end of a
line (Redis searches with ``strchr``), an argument's trailing two bytes are skipped unread.
"""

from __future__ import annotations

from collections import deque

import hiredis
import numba
import numpy as np

from predis.services.cache.engine.hashing import hash_bytes
from predis.services.cache.engine.storage import KeyBatch
from predis.services.resp.arguments import INT_MAX, to_int
from predis.services.resp.replies import ErrorReply, error

INLINE_MAX_BYTES = 64 * 1024  # PROTO_INLINE_MAX_SIZE: an inline request, or a header line
UNAUTHENTICATED_MAX_ARGS = 10  # before AUTH, as Redis 7.0 bounds what it buffers for strangers
UNAUTHENTICATED_MAX_BULK = 16 * 1024
ARGUMENT_OVERHEAD_BYTES = 40  # what one parsed argument costs beyond its bytes (object, pointer)


class ProtocolError(Exception):
    """A request Redis answers with a protocol error and then closes the connection."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.reply: ErrorReply = error(f"ERR Protocol error: {what}")


class QueryBufferFull(Exception):
    """A connection's unfinished request outgrew the query buffer limit; Redis closes such a
    connection without a reply (``client-query-buffer-limit``)."""


# -- inline commands --------------------------------------------------------------------------

_C_SPACE = frozenset(b" \t\n\v\f\r")  # C's isspace
_TOKEN_END = frozenset(b" \n\r\t")  # sdssplitargs ends an unquoted token at these (and at NUL)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def split_inline(line: bytes) -> list[bytes] | None:
    """``line`` split into arguments as Redis's ``sdssplitargs`` splits it, or None for unbalanced
    quotes (a closing quote must be followed by a space or the end)."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _C_SPACE:
            i += 1
        if i >= n:
            return args
        token, i = _token(line, i)
        if token is None:
            return None
        args.append(token)


def _token(line: bytes, i: int) -> tuple[bytes | None, int]:
    current = bytearray()
    n = len(line)
    in_double = in_single = False
    while True:
        c = line[i] if i < n else 0
        nxt = line[i + 1] if i + 1 < n else 0
        done = False
        if in_double:
            if c == 0x5C and nxt == 0x78 and i + 3 < n and line[i + 2] in _HEX and line[i + 3] in _HEX:
                current.append(int(line[i + 2 : i + 4], 16))
                i += 3
            elif c == 0x5C and nxt:
                i += 1
                current.append(_ESCAPES.get(nxt, nxt))
            elif c == 0x22:
                if nxt and nxt not in _C_SPACE:
                    return None, i
                done = True
            elif i >= n:
                return None, i
            else:
                current.append(c)
        elif in_single:
            if c == 0x5C and nxt == 0x27:
                i += 1
                current.append(0x27)
            elif c == 0x27:
                if nxt and nxt not in _C_SPACE:
                    return None, i
                done = True
            elif i >= n:
                return None, i
            else:
                current.append(c)
        elif i >= n or c in _TOKEN_END:
            done = True
        elif c == 0x22:
            in_double = True
        elif c == 0x27:
            in_single = True
        else:
            current.append(c)
        if i < n:
            i += 1
        if done:
            return bytes(current), i


# -- the scanner --------------------------------------------------------------------------------


class RequestScanner:
    """Redis 7.0's request state machine (``processInlineBuffer``, ``processMultibulkBuffer``):
    bytes in, one request (its arguments) out at a time, the partial one kept between reads."""

    def __init__(self, max_bulk_len: int, query_buffer_limit: int) -> None:
        self.max_bulk_len = max_bulk_len
        self.query_buffer_limit = query_buffer_limit
        self._buf = bytearray()
        self._pos = 0
        self._remaining = 0  # arguments still to read of the multibulk frame in progress
        self._bulk_len = -1  # length of the argument being read; -1 before its header
        self._args: list[bytes] = []
        self._args_bytes = 0

    @property
    def idle(self) -> bool:
        """Whether nothing is buffered and no request is in progress."""
        return self._pos >= len(self._buf) and not self._remaining

    @property
    def buffered_bytes(self) -> int:
        """What the unfinished request holds: its bytes unread and its arguments read so far."""
        return len(self._buf) - self._pos + self._args_bytes

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data
        if self.buffered_bytes > self.query_buffer_limit:
            raise QueryBufferFull(f"an unfinished request holds more than {self.query_buffer_limit} bytes")

    def next_request(self, authenticated: bool) -> list[bytes] | None:
        """The next whole request (possibly of no arguments: an empty line, ``*0``), or None until
        more bytes come; raises :class:`ProtocolError` as Redis replies one."""
        if not self._remaining:
            if self._pos >= len(self._buf):
                return None
            if self._buf[self._pos] != 0x2A:  # '*'
                return self._inline()
            if not self._multibulk_header(authenticated):
                return None
            if not self._remaining:
                return []
        return self._arguments(authenticated)

    def _line_end(self, too_long: str) -> int:
        """Where the header line at the read position ends (its ``\\r``), or -1 while it is not
        all here: Redis needs one byte after the ``\\r`` and cannot see past a NUL."""
        buf, pos = self._buf, self._pos
        cr = buf.find(b"\r", pos)
        if cr >= 0 and buf.find(b"\0", pos, cr) >= 0:
            cr = -1
        if cr < 0:
            if len(buf) - pos > INLINE_MAX_BYTES:
                raise ProtocolError(too_long)
            return -1
        return cr if cr + 1 < len(buf) else -1

    def _multibulk_header(self, authenticated: bool) -> bool:
        cr = self._line_end("too big mbulk count string")
        if cr < 0:
            return False
        count = to_int(bytes(self._buf[self._pos + 1 : cr]))
        if count is None or count > INT_MAX:
            raise ProtocolError("invalid multibulk length")
        if count > UNAUTHENTICATED_MAX_ARGS and not authenticated:
            raise ProtocolError("unauthenticated multibulk length")
        self._pos = cr + 2
        self._remaining = max(count, 0)
        return True

    def _arguments(self, authenticated: bool) -> list[bytes] | None:
        buf = self._buf
        while self._remaining:
            if self._bulk_len < 0:
                cr = self._line_end("too big bulk count string")
                if cr < 0:
                    return None
                if buf[self._pos] != 0x24:  # '$'
                    got = bytes(buf[self._pos : self._pos + 1]).decode("utf-8", "surrogateescape")
                    raise ProtocolError(f"expected '$', got '{got}'")
                length = to_int(bytes(buf[self._pos + 1 : cr]))
                if length is None or length < 0 or length > self.max_bulk_len:
                    raise ProtocolError("invalid bulk length")
                if length > UNAUTHENTICATED_MAX_BULK and not authenticated:
                    raise ProtocolError("unauthenticated bulk length")
                self._pos = cr + 2
                self._bulk_len = length
            end = self._pos + self._bulk_len
            if len(buf) < end + 2:
                return None
            self._args.append(bytes(buf[self._pos : end]))
            self._args_bytes += self._bulk_len + ARGUMENT_OVERHEAD_BYTES
            self._pos = end + 2  # the two bytes after an argument are skipped unread, as Redis does
            self._bulk_len = -1
            self._remaining -= 1
        args, self._args, self._args_bytes = self._args, [], 0
        return args

    def _inline(self) -> list[bytes] | None:
        buf, pos = self._buf, self._pos
        newline = buf.find(b"\n", pos)
        if newline >= 0 and buf.find(b"\0", pos, newline) >= 0:
            newline = -1
        if newline < 0:
            if len(buf) - pos > INLINE_MAX_BYTES:
                raise ProtocolError("too big inline request")
            return None
        end = newline - 1 if newline > pos and buf[newline - 1] == 0x0D else newline
        args = split_inline(bytes(buf[pos:end]))
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        self._pos = newline + 1
        return args


# -- the hiredis fast path ------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _header_number(data: bytes, pos: int) -> tuple[int, int]:
    """The decimal number at ``data[pos:]`` written canonically (digits, no leading zero unless it
    is 0, at most 18 of them) and the CRLF after it: where the line ends and the number, or -1."""
    n, start, value = len(data), pos, 0
    while pos < n and 48 <= data[pos] <= 57:
        value = value * 10 + (data[pos] - 48)
        pos += 1
    digits = pos - start
    if digits == 0 or digits > 18 or (digits > 1 and data[start] == 48):
        return -1, 0
    if pos + 1 >= n or data[pos] != 13 or data[pos + 1] != 10:
        return -1, 0
    return pos + 2, value


@numba.njit(cache=True, inline="always")
def _bulk(data: bytes, pos: int) -> tuple[int, int]:
    """The bulk string whose ``$`` is at ``pos``, written canonically and whole in ``data``:
    where its bytes start and how many there are; (-1, 0) when it is anything else."""
    n = len(data)
    if pos >= n or data[pos] != 36:  # '$'
        return -1, 0
    start, length = _header_number(data, pos + 1)
    if start < 0 or length > n:
        return -1, 0
    end = start + length
    if end + 2 > n or data[end] != 13 or data[end + 1] != 10:
        return -1, 0
    return start, length


@numba.njit(cache=True)
def _canonical_frames(data: bytes) -> int:
    """How many multibulk frames of bulk strings ``data`` is, back to back and each whole and
    written canonically (``*<n>``, then ``$<len>`` per argument, every line ended by CRLF, n at
    least 1); -1 when it is anything else. Such bytes read the same by hiredis and by Redis."""
    n, pos, frames = len(data), 0, 0
    while pos < n:
        if data[pos] != 42:  # '*'
            return -1
        pos, count = _header_number(data, pos + 1)
        if pos < 0 or count < 1:
            return -1
        for _ in range(count):
            start, length = _bulk(data, pos)
            if start < 0:
                return -1
            pos = start + length + 2
        frames += 1
    return frames


@numba.njit(cache=True)
def get_run(data: bytes, limit: int) -> tuple[int, np.ndarray, np.ndarray, bool]:
    """Whether ``data`` is only GET requests, two to ``limit`` of them, each whole and written
    canonically (``*2``, ``$3``, GET in any case, ``$<n>``, the key, every line ended by CRLF):
    how many (0 when it is anything else), where each key starts and how long it is, and
    whether the keys are plain: none empty, none beginning with the reserved ``FF DB``, none
    named twice (two keys of one hash count as named twice: the caller then reads them one by
    one, as it would a key named twice)."""
    n, pos, count = len(data), 0, 0
    offsets = np.empty(limit, dtype=np.int64)
    lengths = np.empty(limit, dtype=np.int64)
    while pos < n:
        if count == limit or pos + 14 > n:
            return 0, offsets[:0], lengths[:0], False
        for i in range(8):  # *2 CRLF $3 CRLF
            if data[pos + i] != _GET_HEAD[i]:
                return 0, offsets[:0], lengths[:0], False
        # GET in any case: bit 5 set makes ASCII letters lower case, and only G, E, T match.
        if data[pos + 8] | 32 != 103 or data[pos + 9] | 32 != 101 or data[pos + 10] | 32 != 116:
            return 0, offsets[:0], lengths[:0], False
        if data[pos + 11] != 13 or data[pos + 12] != 10:
            return 0, offsets[:0], lengths[:0], False
        start, length = _bulk(data, pos + 13)
        if start < 0:
            return 0, offsets[:0], lengths[:0], False
        offsets[count], lengths[count] = start, length
        count += 1
        pos = start + length + 2
    if count < 2:
        return 0, offsets[:0], lengths[:0], False
    return count, offsets[:count], lengths[:count], _plain_keys(data, offsets[:count], lengths[:count])


@numba.njit(cache=True)
def _set_run(data: bytes, limit: int) -> tuple[int, np.ndarray, bool]:
    """:func:`get_run` of plain SETs: whether ``data`` is only ``SET key value`` requests, two to
    ``limit`` of them, each whole and written canonically (``*3``, ``$3``, SET in any case, then
    the key and the value as bulk strings): how many (0 when it is anything else), each one's
    key and value where they lie (one array, rows: key starts, key lengths, value starts, value
    lengths; one array handed back costs a quarter of four), and whether the keys are plain as
    :func:`get_run` says it."""
    n, pos, count = len(data), 0, 0
    bounds = np.empty((4, limit), dtype=np.int64)
    while pos < n:
        if count == limit or pos + 25 > n:
            return 0, bounds[:, :0], False
        for i in range(8):  # *3 CRLF $3 CRLF
            if data[pos + i] != _SET_HEAD[i]:
                return 0, bounds[:, :0], False
        if data[pos + 8] | 32 != 115 or data[pos + 9] | 32 != 101 or data[pos + 10] | 32 != 116:
            return 0, bounds[:, :0], False
        if data[pos + 11] != 13 or data[pos + 12] != 10:
            return 0, bounds[:, :0], False
        key_start, key_length = _bulk(data, pos + 13)
        if key_start < 0:
            return 0, bounds[:, :0], False
        value_start, value_length = _bulk(data, key_start + key_length + 2)
        if value_start < 0:
            return 0, bounds[:, :0], False
        bounds[0, count], bounds[1, count] = key_start, key_length
        bounds[2, count], bounds[3, count] = value_start, value_length
        count += 1
        pos = value_start + value_length + 2
    if count < 2:
        return 0, bounds[:, :0], False
    return count, bounds[:, :count].copy(), _plain_keys(data, bounds[0, :count], bounds[1, :count])


@numba.njit(cache=True, inline="always")
def _plain_keys(data: bytes, offsets: np.ndarray, lengths: np.ndarray) -> bool:
    """Whether none of the keys is empty, begins with the reserved ``FF DB`` or is named twice
    (two keys of one hash count as named twice)."""
    count = len(offsets)
    plain = True
    hashes = np.empty(count, dtype=np.uint64)
    for i in range(count):
        start, length = offsets[i], lengths[i]
        if length == 0 or (length >= 2 and data[start] == 0xFF and data[start + 1] == 0xDB):
            plain = False
        hashes[i] = hash_bytes(data, start, length, 0)
    for i in range(count):
        for j in range(i):
            if hashes[i] == hashes[j]:
                plain = False
    return plain


@numba.njit(cache=True)
def mget_keys(data: bytes) -> tuple[int, np.ndarray, np.ndarray, bool]:
    """Whether ``data`` is exactly one MGET request (MGET in any case, one key at least) written
    canonically: how many keys (0 when it is anything else), where each starts and how long it
    is, and whether they are plain (none empty, none beginning with the reserved ``FF DB``; a key
    named twice is read twice, as MGET does)."""
    n = len(data)
    none = np.empty(0, dtype=np.int64)
    if n < 4 or data[0] != 42:  # '*'
        return 0, none, none, False
    pos, args = _header_number(data, 1)
    if pos < 0 or args < 2 or args > n:
        return 0, none, none, False
    name, length = _bulk(data, pos)
    # MGET in any case: bit 5 set makes ASCII letters lower case, and only M, G, E, T match.
    if length != 4 or data[name] | 32 != 109 or data[name + 1] | 32 != 103:
        return 0, none, none, False
    if data[name + 2] | 32 != 101 or data[name + 3] | 32 != 116:
        return 0, none, none, False
    pos = name + 6
    count = args - 1
    offsets = np.empty(count, dtype=np.int64)
    lengths = np.empty(count, dtype=np.int64)
    plain = True
    for i in range(count):
        start, length = _bulk(data, pos)
        if start < 0:
            return 0, none, none, False
        if length == 0 or (length >= 2 and data[start] == 0xFF and data[start + 1] == 0xDB):
            plain = False
        offsets[i], lengths[i] = start, length
        pos = start + length + 2
    if pos != n:
        return 0, none, none, False
    return count, offsets, lengths, plain


GET_HEAD = b"*2\r\n$3\r\n"  # a request of two arguments, the first of three bytes
_GET_HEAD = np.frombuffer(GET_HEAD, dtype=np.uint8)


SET_HEAD = b"*3\r\n$3\r\n"  # a request of three arguments, the first of three bytes
_SET_HEAD = np.frombuffer(SET_HEAD, dtype=np.uint8)


def _cases(name: bytes) -> list[bytes]:
    """``name`` (ASCII letters) in every mix of upper and lower case."""
    variants = [b""]
    for c in name:
        variants = [v + bytes((x,)) for v in variants for x in {c, c ^ 0x20}]
    return variants


_GET_STARTS = frozenset(GET_HEAD + name + b"\r\n$" for name in _cases(b"GET"))  # a GET's first 14 bytes
_SET_STARTS = frozenset(SET_HEAD + name + b"\r\n$" for name in _cases(b"SET"))
_MGET_NAMES = frozenset(name + b"\r\n" for name in _cases(b"MGET"))


def _lone_get_key(data: bytes, max_bulk_len: int) -> bytes | None:
    """The key of ``data`` if it is one canonical ``*2 $3 GET $n key`` (GET in any case) and
    nothing more, else None: the checks written out in Python, since every lone GET and every pipelined
    read that starts with one comes here (a compiled call would cost more than the checks)."""
    if data[:14] not in _GET_STARTS:
        return None
    end = data.find(b"\r\n", 15, 35)
    if end < 0:
        return None
    digits = data[14:end]
    if not digits.isdigit() or (digits[0] == 48 and end > 15):  # ASCII digits; "0" alone is the empty key
        return None
    n = int(digits)
    if end + n + 4 != len(data) or n > max_bulk_len or not data.endswith(b"\r\n"):
        return None  # more after it, a request unfinished, or a key past proto-max-bulk-len
    return data[end + 2 : end + 2 + n]


@numba.njit(cache=True)
def _lone_set_bounds(data: bytes) -> tuple[int, int, int]:
    """Where the key of ``data`` starts, its length and where the value starts, if ``data``
    (whose first 14 bytes the caller checked: ``*3 $3 SET $``) is one canonical SET of a key and
    a value and nothing more; (-1, 0, 0) else. Compiled: SET's two lengths cost Python twice
    the checks of GET's one."""
    key_start, key_length = _bulk(data, 13)
    if key_start < 0:
        return -1, 0, 0
    value_start, value_length = _bulk(data, key_start + key_length + 2)
    if value_start < 0 or value_start + value_length + 2 != len(data):
        return -1, 0, 0
    return key_start, key_length, value_start


def _lone_set_args(data: bytes, max_bulk_len: int) -> tuple[bytes, bytes] | None:
    """The key and value of ``data`` if it is one canonical ``*3 $3 SET $n key $m value`` and
    nothing more, else None."""
    if data[:14] not in _SET_STARTS:
        return None
    key_start, key_length, value_start = _lone_set_bounds(data)
    if key_start < 0 or key_length > max_bulk_len or len(data) - value_start - 2 > max_bulk_len:
        return None
    return data[key_start : key_start + key_length], data[value_start:-2]


class _Run:
    """A read kept as it came, its requests answered together: its keys lie in ``data``."""

    __slots__ = ("data", "keys", "last_argv_bytes", "plain")

    def __init__(self, data: bytes, keys: KeyBatch, last_argv_bytes: int, plain: bool) -> None:
        self.data = data
        self.keys = keys
        self.last_argv_bytes = last_argv_bytes  # the last request's arguments (CLIENT LIST's argv-mem)
        self.plain = plain

    def __len__(self) -> int:
        return len(self.keys)

    def frames(self) -> list[list[bytes]]:
        """The requests as hiredis reads them (for answering them one by one)."""
        return _read_frames(hiredis.Reader(), self.data)


class GetRun(_Run):
    """A read that is only GETs (:func:`get_run`)."""

    __slots__ = ()

    def __init__(self, data: bytes, offsets: np.ndarray, lengths: np.ndarray, plain: bool) -> None:
        keys = KeyBatch(np.frombuffer(data, dtype=np.uint8), offsets, lengths)
        super().__init__(data, keys, 3 + int(lengths[-1]), plain)


class SetRun(_Run):
    """A read that is only plain SETs (:func:`_set_run`): its values lie in ``data`` too."""

    __slots__ = ("values",)

    def __init__(self, data: bytes, bounds: np.ndarray, plain: bool) -> None:
        buffer = np.frombuffer(data, dtype=np.uint8)
        super().__init__(data, KeyBatch(buffer, bounds[0], bounds[1]), 3 + int(bounds[1, -1] + bounds[3, -1]), plain)
        self.values = KeyBatch(buffer, bounds[2], bounds[3])


ReadRun = GetRun | SetRun  # a read of only GETs or only plain SETs, answered together


def _read_frames(reader: hiredis.Reader, data: bytes) -> list[list[bytes]]:
    """Every whole frame ``reader`` reads from ``data`` (after what it held before)."""
    reader.feed(data)
    frames: list[list[bytes]] = []
    while (frame := reader.gets()) is not False:
        frames.append(frame)
    return frames


def warm_up() -> None:
    """Runs the compiled checks once, so that they are compiled (or loaded) before a client waits on them."""
    _canonical_frames(b"*1\r\n$4\r\nPING\r\n")
    get_run(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nget\r\n$1\r\nb\r\n", 2)
    _set_run(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$3\r\nset\r\n$1\r\nb\r\n$1\r\n2\r\n", 2)
    mget_keys(b"*2\r\n$4\r\nMGET\r\n$1\r\na\r\n")
    _lone_set_bounds(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n")


class RequestParser:
    """Requests of one connection: hiredis for reads that are whole canonical frames, the
    scanner for the rest, one request at a time in order."""

    def __init__(self, max_bulk_len: int, query_buffer_limit: int, run_limit: int = 0) -> None:
        self.scanner = RequestScanner(max_bulk_len, query_buffer_limit)
        self.max_bulk_len = max_bulk_len
        self.run_limit = run_limit  # the most requests a read may hold to be kept as a ReadRun (0: none)
        self._reader = hiredis.Reader()
        self._ready: deque[list[bytes]] = deque()
        self.run: ReadRun | None = None  # a read of only GETs or only plain SETs, waiting to be taken whole

    @property
    def buffered_bytes(self) -> int:
        return self.scanner.buffered_bytes

    def feed(self, data: bytes, authenticated: bool) -> None:
        if self.run is not None:  # what comes next goes after it, read as requests
            self._ready.extend(self.take_run().frames())
        if authenticated and not self._ready and self.scanner.idle:
            if self.run_limit >= 2 and len(data) <= self.max_bulk_len and self._kept_as_run(data):
                return
            frames = self._hiredis_frames(data)
            if frames is not None:
                self._ready.extend(frames)
                return
        self.scanner.feed(data)

    def _kept_as_run(self, data: bytes) -> bool:
        """Keeps ``data`` as a ReadRun when it is one: two GETs or two SETs at least (a second
        header after the first's) before the compiled walk. (No argument longer than
        proto-max-bulk-len: the scanner refuses those as Redis does.)"""
        if data.startswith(GET_HEAD):
            if data.find(GET_HEAD, 13) > 0:
                count, offsets, lengths, plain = get_run(data, self.run_limit)
                if count:
                    self.run = GetRun(data, offsets, lengths, plain)
                    return True
        elif data.startswith(SET_HEAD) and data.find(SET_HEAD, 25) > 0:
            count, bounds, plain = _set_run(data, self.run_limit)
            if count:
                self.run = SetRun(data, bounds, plain)
                return True
        return False

    # lone_get, lone_set and lone_mget read a read that comes when the parser is idle (the
    # caller checks ``idle`` once for the three): what it holds, if it is that one request, else
    # None and ``feed`` reads it.

    def lone_get(self, data: bytes) -> bytes | None:
        """The key of ``data`` when it is exactly one GET, written as clients write it."""
        if not data.startswith(GET_HEAD):
            return None
        return _lone_get_key(data, self.max_bulk_len)

    def lone_set(self, data: bytes) -> tuple[bytes, bytes] | None:
        """The key and value of ``data`` when it is exactly one plain ``SET key value``."""
        if not data.startswith(SET_HEAD):
            return None
        return _lone_set_args(data, self.max_bulk_len)

    def may_be_mget(self, data: bytes) -> bool:
        """Whether ``data`` begins as one MGET would, within proto-max-bulk-len (a look at the
        name before a compiled walk)."""
        if data[:1] != b"*":
            return False
        at = data.find(b"\r\n$4\r\n", 2, 24)  # after *<count>
        return at >= 0 and data[at + 6 : at + 12] in _MGET_NAMES and len(data) <= self.max_bulk_len

    def lone_mget(self, data: bytes) -> KeyBatch | None:
        """The keys of ``data`` where they lie in it, when it is exactly one MGET of plain keys
        (not empty, not reserved). A read past proto-max-bulk-len goes to ``feed``, which refuses
        what Redis refuses."""
        if not self.may_be_mget(data):
            return None
        count, offsets, lengths, plain = mget_keys(data)
        if not count or not plain:
            return None
        return KeyBatch(np.frombuffer(data, dtype=np.uint8), offsets, lengths)

    @property
    def idle(self) -> bool:
        """Whether nothing read waits to be answered, whole or in part."""
        scanner = self.scanner  # its idle, written out: asked on every read
        return not self._ready and self.run is None and scanner._pos >= len(scanner._buf) and not scanner._remaining

    def only_request(self) -> list[bytes] | None:
        """The request ``feed`` read, taken, when it read exactly one (hiredis's, of an
        authenticated connection) and nothing else waits; else None. One not answered at once
        goes back with :meth:`hold`."""
        if len(self._ready) != 1 or self.run is not None or not self.scanner.idle:
            return None
        return self._ready.popleft()

    def hold(self, frame: list[bytes]) -> None:
        """Puts back what :meth:`only_request` took, first in line again."""
        self._ready.appendleft(frame)

    def take_run(self) -> ReadRun:
        run, self.run = self.run, None
        assert run is not None
        return run

    def next_request(self, authenticated: bool) -> list[bytes] | None:
        """As :meth:`RequestScanner.next_request`; a frame hiredis read is checked against the
        limits for a connection not (or no longer, after RESET) authenticated. A ReadRun not
        taken whole is read here as its requests."""
        if self.run is not None:
            self._ready.extend(self.take_run().frames())
        if self._ready:
            frame = self._ready.popleft()
            if not authenticated:
                _check_unauthenticated(frame)
            return frame
        return self.scanner.next_request(authenticated)

    @property
    def has_ready(self) -> bool:
        """Whether requests hiredis read are waiting to be taken."""
        return bool(self._ready) or self.run is not None

    def next_run_of(self, name: bytes, arity: int, limit: int) -> list[list[bytes]]:
        """The requests read and ready to run next that are ``name`` (lower case) with ``arity``
        arguments in all, up to ``limit`` and up to the first that is not: a pipeline's run of
        GETs or plain SETs. Only frames hiredis read are looked at (an authenticated connection's)."""
        ready, run = self._ready, list[list[bytes]]()
        while ready and len(run) < limit:
            frame = ready[0]
            if len(frame) != arity or frame[0].lower() != name:
                break
            run.append(ready.popleft())
        return run

    def _hiredis_frames(self, data: bytes) -> list[list[bytes]] | None:
        """The frames ``data`` holds if it is exactly a run of whole canonical multibulk frames
        (what the scanner would read too), else None and the scanner reads it.

        Why this is exact: ``_canonical_frames`` walks every header and admits digits, CRLFs and
        ``$`` elements only, written as clients write them, so hiredis reads each frame as a list
        of the same bytes Redis's parser would, and ends between frames. Nothing else reaches
        hiredis: neither a count it would allocate a list for before the elements came (the
        count is bounded by the bytes that are here) nor a type it reads otherwise."""
        if data[:1] != b"*" or len(data) > self.max_bulk_len:
            return None
        expected = _canonical_frames(data)  # Numba reads bytes as an array of uint8, uncopied
        if expected < 0:
            return None
        reader = self._reader
        try:
            frames = _read_frames(reader, data)
        except hiredis.ProtocolError:  # never, by the check above; should it, the scanner decides
            frames = []
        if len(frames) != expected or reader.has_data():
            self._reader = hiredis.Reader()
            return None
        return frames


def _check_unauthenticated(frame: list[bytes]) -> None:
    if len(frame) > UNAUTHENTICATED_MAX_ARGS:
        raise ProtocolError("unauthenticated multibulk length")
    if any(len(arg) > UNAUTHENTICATED_MAX_BULK for arg in frame):
        raise ProtocolError("unauthenticated bulk length")
