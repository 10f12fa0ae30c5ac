"""Arguments read as redis-server 7.0 reads them: integers by its ``string2ll``, floats by
``strtold`` as ``string2ld`` calls it, and option words as the C strings Redis compares."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import re

import numpy as np

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
INT_MAX = (1 << 31) - 1
INT_MIN = -(1 << 31)
# string2ll: an optional '-', then 0 alone or a digit 1-9 and more digits, under 21 bytes in all.
_INTEGER = re.compile(rb"-?[1-9][0-9]*|0")


def to_int(arg: bytes) -> int | None:
    """``arg`` as a signed 64-bit integer exactly as Redis's ``string2ll`` reads it (no sign
    ``+``, no leading zeros, no spaces, no ``-0``), or None."""
    if len(arg) >= 21 or not _INTEGER.fullmatch(arg):
        return None
    value = int(arg)
    return value if LLONG_MIN <= value <= LLONG_MAX else None


def option(arg: bytes) -> bytes:
    """An option word in capitals, cut at a NUL byte as Redis's C-string comparisons cut it."""
    nul = arg.find(b"\0")
    return (arg if nul < 0 else arg[:nul]).upper()


def c_text(arg: bytes, limit: int | None = None) -> str:
    """``arg`` as Redis prints it with ``%s`` (up to a NUL byte, ``limit`` bytes at most), for
    error messages; bytes that are not UTF-8 pass through as surrogates of the raw bytes."""
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    if limit is not None:
        arg = arg[:limit]
    return arg.decode("utf-8", "surrogateescape")


# -- long double, as INCRBYFLOAT computes ------------------------------------------------------
# Redis parses with strtold and prints with "%.17Lf" in the C library's long double (80-bit on
# x86-64). Python floats would answer 0.1 + 0.2 = "0.30000000000000004" where Redis says "0.3",
# so both run in the C library through ctypes; the sum is a NumPy longdouble, which is the same
# C type. Where the C library is not reachable, doubles stand in.

MAX_LONG_DOUBLE_CHARS = 5 * 1024


class _LongDouble(ctypes.c_longdouble):
    """A subclass, so that ctypes hands back the C value instead of converting it to a float."""


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.strtold.restype = _LongDouble
        libc.strtold.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
        libc.snprintf.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class LongDouble:
    """A C long double (a NumPy longdouble; a float without the C library), with the only
    operations INCRBYFLOAT needs."""

    __slots__ = ("value",)

    def __init__(self, value: np.longdouble | float) -> None:
        self.value = value

    def __add__(self, other: LongDouble) -> LongDouble:
        return LongDouble(self.value + other.value)

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.value))

    def human(self) -> bytes:
        """As Redis's ``ld2string(..., LD_STR_HUMAN)``: ``%.17Lf`` without trailing zeros."""
        text = _printed(self.value)
        if b"." in text:
            text = text.rstrip(b"0").rstrip(b".")
        return b"0" if text == b"-0" else text


def _printed(value: np.longdouble | float) -> bytes:
    if _LIBC is None:
        return b"%.17f" % float(value)
    buffer = ctypes.create_string_buffer(MAX_LONG_DOUBLE_CHARS)
    raw = np.longdouble(value).tobytes().ljust(ctypes.sizeof(_LongDouble), b"\0")
    _LIBC.snprintf(buffer, MAX_LONG_DOUBLE_CHARS, b"%.17Lf", _LongDouble.from_buffer_copy(raw))
    return buffer.value


def to_long_double(arg: bytes) -> LongDouble | None:
    """``arg`` as Redis's ``string2ld`` reads it, or None: all of it must be a number ``strtold``
    accepts (a NUL byte ends what strtold reads short of the whole, so it never is), not
    starting with a space, not NaN, not out of range."""
    if not arg or len(arg) >= MAX_LONG_DOUBLE_CHARS or arg[:1].isspace() or b"\0" in arg:
        return None
    text = arg
    if _LIBC is None:
        return _double(text)
    end = ctypes.c_char_p()
    ctypes.set_errno(0)
    raw = _LIBC.strtold(text, ctypes.byref(end))
    error = ctypes.get_errno()
    if end.value:  # characters left over
        return None
    value = np.frombuffer(bytes(raw)[: np.dtype(np.longdouble).itemsize], dtype=np.longdouble)[0]
    if np.isnan(value) or (error == errno.ERANGE and (np.isinf(value) or value == 0)):
        return None
    return LongDouble(value)


def _double(text: bytes) -> LongDouble | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if value != value else LongDouble(value)
