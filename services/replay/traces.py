"""Readers for recorded cache traces. Each turns a file into object ids (uint64), streaming the
file in chunks so that a trace of millions of requests needs only its id array in memory.

Formats (``--format`` names), detected from the file name and, for ``.trace`` files, the content:

- ``arc``: ARC's ``.lis`` text (optionally ``.zst``): ``start n ignored id`` asks for the n pages
  start..start+n-1.
- ``cache2k``: big-endian signed 32-bit keys (``.trace``, optionally ``.xz``/``.gz``).
- ``lirs``: one decimal block number per line (``.trace`` text); lines that are not a number
  (such as ``*``) are skipped.
- ``oracle-general``: libCacheSim's binary records ``u32 time, u64 id, u32 size, i64 next`` (24 B,
  little-endian; ``.oracleGeneral`` or ``.oracleGeneral.bin``, optionally ``.zst``).
- ``int64``: big-endian signed 64-bit keys (``.i64``, ``.int64``).
- ``csv``: libCacheSim's CSV (``time,obj_id,obj_size``; a header line naming ``obj_id`` is honoured).
- ``twitter``: Twitter's cache-trace CSV ``timestamp,key,key_size,value_size,client_id,op,ttl``
  (``.csv`` whose rows have seven fields); keys are strings, mapped to ids by a 64-bit hash.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import lzma
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

FORMATS = ("arc", "cache2k", "lirs", "oracle-general", "int64", "csv", "twitter")
CHUNK_BYTES = 8 * 1024 * 1024
MAX_PAGES_PER_LINE = 1 << 16  # an ARC line's page count (real traces: tens); bounds the memory one line takes


class TraceFormatError(ValueError):
    """The file's format could not be told or the file does not match it."""


@dataclass(frozen=True)
class Trace:
    name: str
    ids: np.ndarray  # uint64, one per request
    sizes: np.ndarray | None = None  # object sizes when the format records them
    format: str = ""  # the reader used (one of FORMATS), "" for ids made in code
    # Requests that one client request asked for together share a line number (non-decreasing);
    # None when every request is its own line.
    lines: np.ndarray | None = None
    keys: str = "recorded"  # "recorded" or "scrambled" (see replay/keys.py)
    scrambled_field: str = ""
    key_seed: int = 0

    @property
    def requests(self) -> int:
        return len(self.ids)

    @property
    def footprint(self) -> int:
        """Unique objects requested."""
        return len(np.unique(self.ids))


def trace_name(path: Path) -> str:
    name = path.name
    for suffix in (".zst", ".xz", ".gz", ".bz2", ".bin", ".oracleGeneral", ".trace", ".lis", ".csv", ".i64", ".int64"):
        name = name.removesuffix(suffix)
    return name


def open_decompressed(path: Path) -> BinaryIO:
    suffix = path.suffix
    if suffix == ".xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".bz2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".zst":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(path.open("rb"))  # type: ignore[return-value]
    return path.open("rb")


def _inner_name(path: Path) -> str:
    name = path.name
    for suffix in (".zst", ".xz", ".gz", ".bz2"):
        name = name.removesuffix(suffix)
    return name


def detect_format(path: Path) -> str:
    return detect_format_why(path)[0]


def detect_format_why(path: Path) -> tuple[str, str]:
    """The format the file's name (and, for ``.trace`` and ``.csv``, its first bytes) suggests, and
    why, in words for the user."""
    name = _inner_name(path)
    if name.endswith((".oracleGeneral", ".oracleGeneral.bin")):
        return "oracle-general", "its name ends in .oracleGeneral"
    if name.endswith(".lis"):
        return "arc", "its name ends in .lis"
    if name.endswith((".i64", ".int64")):
        return "int64", "its name ends in .i64/.int64"
    if name.endswith(".csv"):
        with open_decompressed(path) as f:
            lines = [line for line in f.read(64 * 1024).splitlines()[:3] if line.strip()]
        fields = max((len(line.split(b",")) for line in lines), default=0)
        if fields == 7:
            return "twitter", "its name ends in .csv and its rows have seven fields"
        return "csv", "its name ends in .csv"
    if name.endswith(".trace"):
        with open_decompressed(path) as f:
            head = f.read(4096)
        if head and all(c in b"0123456789*\r\n \t-" for c in head):
            return "lirs", "its name ends in .trace and it starts with decimal text"
        return "cache2k", "its name ends in .trace and it is binary"
    raise TraceFormatError(f"cannot tell the format of {path.name}; name one with --format: {', '.join(FORMATS)}")


DESCRIPTIONS = {
    "arc": "ARC text lines 'start n ignored id'",
    "cache2k": "cache2k big-endian signed 32-bit keys",
    "lirs": "LIRS decimal block numbers",
    "oracle-general": "libCacheSim oracleGeneral records",
    "int64": "big-endian signed 64-bit keys",
    "csv": "libCacheSim CSV",
    "twitter": "Twitter cache-trace CSV",
}


def _halves_contradiction(ids: np.ndarray) -> str | None:
    """Why 32-bit keys look like the halves of 64-bit keys, or None. Two signs: one parity holds
    (almost) only 0 or -1, the high half of small signed 64-bit keys; or consecutive pairs repeat
    far more often at even offsets than at odd ones, as the two halves of one hashed key do."""
    sample = ids[: min(len(ids), 1 << 20)] & np.uint64(0xFFFFFFFF)
    if len(sample) < 64:
        return None
    signs = (sample == 0) | (sample == np.uint64(0xFFFFFFFF))
    even, odd = signs[0::2].mean(), signs[1::2].mean()
    if max(even, odd) > 0.9 and min(even, odd) < 0.5:
        return "every other key is 0 or -1, as the high halves of 64-bit keys are"
    m = (len(sample) - 1) // 2
    aligned = len(np.unique((sample[0 : 2 * m : 2] << np.uint64(32)) | sample[1 : 2 * m : 2]))
    shifted = len(np.unique((sample[1 : 2 * m + 1 : 2] << np.uint64(32)) | sample[2 : 2 * m + 1 : 2]))
    if aligned < 0.6 * shifted:
        return (
            f"pairs of keys at even offsets repeat far more than at odd ones ({aligned:,} distinct against "
            f"{shifted:,}), as the two halves of 64-bit keys do"
        )
    return None


def _chunks(stream: BinaryIO, record: int = 1) -> Iterator[bytes]:
    """Chunks of at most CHUNK_BYTES that end on a record boundary (``record`` bytes)."""
    carry = b""
    while True:
        block = stream.read(CHUNK_BYTES)
        if not block:
            break
        data = carry + block
        cut = len(data) - len(data) % record
        carry = data[cut:]
        yield data[:cut]
    if carry:
        raise TraceFormatError(f"the file ends inside a record ({len(carry)} stray bytes)")


def _line_chunks(stream: BinaryIO) -> Iterator[bytes]:
    carry = b""
    while True:
        block = stream.read(CHUNK_BYTES)
        if not block:
            break
        data = carry + block
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            yield data[:cut]
    if carry.strip():
        yield carry


def _ints(tokens: list[bytes], where: str) -> np.ndarray:
    try:
        return np.array(tokens, dtype=np.int64)
    except (ValueError, OverflowError):
        raise TraceFormatError(f"{where}: a field is not an integer that fits 64 bits") from None


def _read_cache2k(stream: BinaryIO) -> Iterator[np.ndarray]:
    for chunk in _chunks(stream, 4):
        yield np.frombuffer(chunk, dtype=">i4").astype(np.int64).view(np.uint64)


def _read_int64(stream: BinaryIO) -> Iterator[np.ndarray]:
    for chunk in _chunks(stream, 8):
        yield np.frombuffer(chunk, dtype=">i8").astype(np.int64).view(np.uint64)


_ORACLE = np.dtype([("time", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def _read_oracle(stream: BinaryIO) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for chunk in _chunks(stream, _ORACLE.itemsize):
        records = np.frombuffer(chunk, dtype=_ORACLE)
        yield records["id"].copy(), records["size"].astype(np.int64)


def _read_lirs(stream: BinaryIO) -> Iterator[np.ndarray]:
    for chunk in _line_chunks(stream):
        tokens = [t for t in chunk.split() if t.lstrip(b"-").isdigit()]
        yield _ints(tokens, "lirs trace").view(np.uint64)


def _read_arc(stream: BinaryIO) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for chunk in _line_chunks(stream):
        rows = [line.split() for line in chunk.splitlines() if line.strip()]
        if any(len(row) < 2 for row in rows):
            raise TraceFormatError("arc trace: a line has fewer than 2 fields (start n ...)")
        starts = _ints([r[0] for r in rows], "arc trace")
        counts = _ints([r[1] for r in rows], "arc trace")
        if (counts < 0).any():
            raise TraceFormatError("arc trace: a negative block count")
        if (counts > MAX_PAGES_PER_LINE).any():
            raise TraceFormatError(
                f"arc trace: a line asks for {int(counts.max()):,} pages; at most {MAX_PAGES_PER_LINE:,} are accepted"
            )
        # Expand each (start, n) into start, start+1, ..., start+n-1 without a Python loop.
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        yield (np.repeat(starts, counts) + offsets).view(np.uint64), counts


def _string_ids(keys: list[bytes]) -> np.ndarray:
    return np.array(
        [int.from_bytes(hashlib.blake2b(k, digest_size=8).digest(), "little") for k in keys], dtype=np.uint64
    )


def _read_csv(stream: BinaryIO) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    id_col, size_col, first = 1, 2, True
    for chunk in _line_chunks(stream):
        lines = chunk.splitlines()
        if first:
            first = False
            header = [h.strip().lower() for h in lines[0].split(b",")]
            if b"obj_id" in header:
                id_col = header.index(b"obj_id")
                size_col = header.index(b"obj_size") if b"obj_size" in header else -1
                lines = lines[1:]
        rows = [line.split(b",") for line in lines if line.strip()]
        wanted = max(id_col, size_col) + 1
        if any(len(r) < wanted for r in rows):
            raise TraceFormatError(f"csv trace: a row has fewer than {wanted} fields (time,obj_id,obj_size)")
        keys = [r[id_col].strip() for r in rows]
        numeric = all(k.isdigit() for k in keys)
        ids = _ints(keys, "csv trace").view(np.uint64) if numeric else _string_ids(keys)
        sizes = _ints([r[size_col] for r in rows], "csv trace") if size_col >= 0 else np.ones(len(rows), np.int64)
        yield ids, sizes


def _read_twitter(stream: BinaryIO) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for chunk in _line_chunks(stream):
        rows = [line.split(b",") for line in chunk.splitlines() if line.strip()]
        if any(len(r) != 7 for r in rows):
            raise TraceFormatError("twitter trace: rows must be timestamp,key,key_size,value_size,client_id,op,ttl")
        keys = [r[1] for r in rows]
        sizes = _ints([r[2] for r in rows], "twitter trace") + _ints([r[3] for r in rows], "twitter trace")
        yield _string_ids(keys), sizes


_READERS: dict[str, Callable[[BinaryIO], Iterator[np.ndarray]]] = {
    "cache2k": _read_cache2k,
    "lirs": _read_lirs,
    "int64": _read_int64,
}
_SIZED_READERS: dict[str, Callable[[BinaryIO], Iterator[tuple[np.ndarray, np.ndarray]]]] = {
    "oracle-general": _read_oracle,
    "csv": _read_csv,
    "twitter": _read_twitter,
}


def read_trace(path: Path | str, fmt: str | None = None, say: Callable[[str], None] | None = None) -> Trace:
    """The requests of the trace at ``path``, format detected unless ``fmt`` names it; ``say``
    gets a line saying which reader was used and why. A detected format that the content
    contradicts is refused (a named one is read as told, with a warning)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trace {str(path)!r} does not exist")
    detected = fmt is None
    with _damage_is_a_format_error(path):
        fmt, why = detect_format_why(path) if fmt is None else (fmt, "--format names it")
    if fmt not in FORMATS:
        raise TraceFormatError(f"unknown trace format {fmt!r}; known: {', '.join(FORMATS)}")
    if say is not None:
        say(f"{path.name}: read as {fmt} ({DESCRIPTIONS[fmt]}): {why}")
    with _damage_is_a_format_error(path):
        trace = _read(path, fmt)
    if fmt == "cache2k":
        doubt = _halves_contradiction(trace.ids)
        if doubt and detected:
            raise TraceFormatError(
                f"{path.name} was taken for cache2k 32-bit keys from its name, but {doubt}; "
                "pass --format int64 if it holds 64-bit keys (or --format cache2k to read it as 32-bit anyway)"
            )
        if doubt and say is not None:
            say(f"{path.name}: warning: {doubt}")
    return trace


def _decoding_errors() -> tuple[type[BaseException], ...]:
    """What a damaged file makes the decompressors and parsers raise."""
    import zlib

    import zstandard

    return (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError, zstandard.ZstdError)


@contextlib.contextmanager
def _damage_is_a_format_error(path: Path) -> Iterator[None]:
    """A damaged or truncated file becomes one clear TraceFormatError, whatever layer noticed."""
    try:
        yield
    except (TraceFormatError, FileNotFoundError):
        raise
    except _decoding_errors() as error:
        raise TraceFormatError(f"{path.name} cannot be read: {type(error).__name__}: {error}") from None


def _read(path: Path, fmt: str) -> Trace:
    name = trace_name(path)
    with open_decompressed(path) as stream:
        if fmt == "arc":
            return _arc_trace(name, list(_read_arc(stream)))
        if fmt in _READERS:
            parts = list(_READERS[fmt](stream))
            ids = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
            return Trace(name, ids, format=fmt)
        pairs = list(_SIZED_READERS[fmt](stream))
    ids = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros(0, np.uint64)
    sizes = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros(0, np.int64)
    return Trace(name, ids, sizes, format=fmt)


def _arc_trace(name: str, parts: list[tuple[np.ndarray, np.ndarray]]) -> Trace:
    """A line's pages share its line number (kept only when some line asks for several pages)."""
    ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.uint64)
    counts = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    lines = np.repeat(np.arange(len(counts), dtype=np.int64), counts) if (counts > 1).any() else None
    return Trace(name, ids, format="arc", lines=lines)
