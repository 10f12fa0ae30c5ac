"""Replies as Python values, and their RESP2 and RESP3 encodings (as redis-server 7.0 writes them).

A handler answers plain values: ``bytes`` (or ``str``) is a bulk string, ``int`` an integer,
``None`` a null, ``list`` an array, ``dict`` a map; the classes below mark what plain values
cannot say. RESP2 has no maps, sets, nulls of their own or verbatim strings: maps flatten to
arrays of key, value, ...; sets are arrays; a null is the null bulk string ``$-1``; a verbatim
string is a bulk string.

Text (``str`` and the classes built on it) is encoded as UTF-8, bytes that came from a client
and are not UTF-8 (decoded with ``surrogateescape``) as the bytes they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

Reply = Any  # one of the types ``encode`` knows; Any because replies nest


class Status(str):
    """A simple string (``+OK``)."""

    __slots__ = ()


class ErrorReply(str):
    """An error line without its leading ``-``, its first word the error code (``ERR syntax error``)."""

    __slots__ = ()


class SetReply(list[Any]):
    """An array that RESP3 marks as a set (``~``), in this order."""

    __slots__ = ()


class Verbatim(str):
    """Text that RESP3 sends as a verbatim string of format ``txt`` (INFO, CLIENT LIST)."""

    __slots__ = ()


class Encoded(bytes):
    """A reply encoded already (each reply of EXEC, in the protocol at the moment it ran)."""

    __slots__ = ()


class NullArray:
    """The null array: ``*-1`` in RESP2, ``_`` in RESP3 (an EXEC refused because of WATCH)."""

    __slots__ = ()


class NoReply:
    """No reply at all (CLIENT REPLY OFF and SKIP answer nothing)."""

    __slots__ = ()


OK = Status("OK")
ENCODED_OK = b"+OK\r\n"  # OK as both protocols write it
PONG = Status("PONG")
QUEUED = Status("QUEUED")
NULL_ARRAY = NullArray()
NO_REPLY = NoReply()


def error(message: str) -> ErrorReply:
    """An ``ERR`` error unless ``message`` starts with its own code in capitals (``WRONGPASS ...``);
    CR and LF become spaces, as Redis does, so that user text never breaks the reply."""
    return ErrorReply(message.replace("\r", " ").replace("\n", " "))


def err(message: str) -> ErrorReply:
    """``-ERR message``."""
    return error("ERR " + message)


SYNTAX_ERROR = err("syntax error")
NOT_AN_INTEGER = err("value is not an integer or out of range")


def bulk_array(values: bytes, lengths: np.ndarray, found: np.ndarray, resp3: bool) -> Encoded:
    """The array of bulk strings packed back to back in ``values`` (``lengths`` each), a null
    where not ``found``: MGET's reply, encoded in one compiled call instead of a Python call
    per value."""
    return _bulk_strings(values, lengths, found, resp3, True)


def bulk_strings(values: bytes, lengths: np.ndarray, found: np.ndarray, resp3: bool) -> Encoded:
    """The bulk strings (or nulls) of :func:`bulk_array` back to back, no array around them: the
    replies of a run of GETs, encoded in one compiled call."""
    return _bulk_strings(values, lengths, found, resp3, False)


BULK_NULLS = (np.frombuffer(b"$-1\r\n", dtype=np.uint8), np.frombuffer(b"_\r\n", dtype=np.uint8))  # RESP2's, RESP3's


def _bulk_strings(values: bytes, lengths: np.ndarray, found: np.ndarray, resp3: bool, array: bool) -> Encoded:
    n = len(lengths)
    out = np.empty(len(values) + 24 * (n + 1), dtype=np.uint8)  # 24: the longest header of one
    # The lengths as they come (the engine's uint32, or int64): two specialisations, warmed up at start.
    used = encode_bulk_array(np.frombuffer(values, dtype=np.uint8), lengths, found, BULK_NULLS[resp3], out, array)
    return Encoded(out[:used].tobytes())


@numba.njit(cache=True, inline="always")
def _put_line(out: np.ndarray, at: int, mark: int, number: int) -> int:
    """Writes ``mark``, ``number`` in decimal and CRLF at ``out[at:]``; answers where it ended."""
    out[at] = mark
    at += 1
    digits = 1
    while number >= 10**digits:
        digits += 1
    for i in range(digits - 1, -1, -1):
        out[at + i] = 48 + number % 10
        number //= 10
    at += digits
    out[at], out[at + 1] = 13, 10
    return at + 2


@numba.njit(cache=True)
def encode_bulk_array(
    values: np.ndarray, lengths: np.ndarray, found: np.ndarray, null: np.ndarray, out: np.ndarray, array: bool
) -> int:
    at = _put_line(out, 0, 42, len(lengths)) if array else 0  # '*'
    start = 0
    for i in range(len(lengths)):
        if not found[i]:
            out[at : at + len(null)] = null
            at += len(null)
            continue
        n = lengths[i]
        at = _put_line(out, at, 36, n)  # '$'
        out[at : at + n] = values[start : start + n]
        out[at + n], out[at + n + 1] = 13, 10
        at += n + 2
        start += n
    return at


def warm_up() -> None:
    """Runs the compiled encoder once, so that it is compiled (or loaded) before a client waits on it."""
    for dtype in (np.uint32, np.int64):
        bulk_array(b"ab", np.array([1, 1], dtype=dtype), np.array([True, False]), resp3=False)


def encode(reply: Reply, resp3: bool) -> bytes:
    if type(reply) is bytes:  # the commonest reply (GET's), without the list
        return b"$%d\r\n%b\r\n" % (len(reply), reply)
    if reply is OK:  # the next commonest (SET's)
        return ENCODED_OK
    out: list[bytes] = []
    encode_into(reply, resp3, out)
    return b"".join(out)


def encode_into(reply: Reply, resp3: bool, out: list[bytes]) -> None:
    """Appends the encoding of ``reply`` to ``out`` (joined once per batch of replies)."""
    _ENCODERS[type(reply)](reply, resp3, out)


def _bulk(value: bytes, resp3: bool, out: list[bytes]) -> None:
    out.append(b"$%d\r\n%b\r\n" % (len(value), value))


def _text(value: str, resp3: bool, out: list[bytes]) -> None:
    _bulk(value.encode("utf-8", "surrogateescape"), resp3, out)


def _integer(value: int, resp3: bool, out: list[bytes]) -> None:
    out.append(b":%d\r\n" % value)


def _null(value: None, resp3: bool, out: list[bytes]) -> None:
    out.append(b"_\r\n" if resp3 else b"$-1\r\n")


def _array(value: list[Any], resp3: bool, out: list[bytes]) -> None:
    out.append(b"*%d\r\n" % len(value))
    for item in value:
        _ENCODERS[type(item)](item, resp3, out)


def _set(value: SetReply, resp3: bool, out: list[bytes]) -> None:
    out.append(b"%c%d\r\n" % (126 if resp3 else 42, len(value)))  # '~' or '*'
    for item in value:
        _ENCODERS[type(item)](item, resp3, out)


def _map(value: dict[Any, Any], resp3: bool, out: list[bytes]) -> None:
    out.append(b"%%%d\r\n" % len(value) if resp3 else b"*%d\r\n" % (2 * len(value)))
    for key, item in value.items():
        _ENCODERS[type(key)](key, resp3, out)
        _ENCODERS[type(item)](item, resp3, out)


def _status(value: Status, resp3: bool, out: list[bytes]) -> None:
    out.append(b"+%b\r\n" % value.encode("utf-8", "surrogateescape"))


def _error(value: ErrorReply, resp3: bool, out: list[bytes]) -> None:
    out.append(b"-%b\r\n" % value.encode("utf-8", "surrogateescape"))


def _verbatim(value: Verbatim, resp3: bool, out: list[bytes]) -> None:
    data = value.encode("utf-8", "surrogateescape")
    if resp3:
        out.append(b"=%d\r\ntxt:%b\r\n" % (len(data) + 4, data))
    else:
        _bulk(data, resp3, out)


def _encoded(value: Encoded, resp3: bool, out: list[bytes]) -> None:
    out.append(value)


def _null_array(value: NullArray, resp3: bool, out: list[bytes]) -> None:
    out.append(b"_\r\n" if resp3 else b"*-1\r\n")


def _no_reply(value: NoReply, resp3: bool, out: list[bytes]) -> None:
    return None


_ENCODERS: dict[type, Callable[[Any, bool, list[bytes]], None]] = {
    bytes: _bulk,
    str: _text,
    int: _integer,
    type(None): _null,
    list: _array,
    tuple: _array,
    SetReply: _set,
    dict: _map,
    Status: _status,
    ErrorReply: _error,
    Verbatim: _verbatim,
    Encoded: _encoded,
    NullArray: _null_array,
    NoReply: _no_reply,
}
