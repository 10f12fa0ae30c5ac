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


class TraceFormatError(ValueError):
    """The file's format could not be told or the file does not match it."""


@dataclass(frozen=True)
class Trace:
    name: str
    ids: np.ndarray  # uint64, one per request
    sizes: np.ndarray | None = None  # object sizes when the format records them

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
    name = _inner_name(path)
    if name.endswith((".oracleGeneral", ".oracleGeneral.bin")):
        return "oracle-general"
    if name.endswith(".lis"):
        return "arc"
    if name.endswith((".i64", ".int64")):
        return "int64"
    if name.endswith(".csv"):
        with open_decompressed(path) as f:
            lines = [line for line in f.read(64 * 1024).splitlines()[:3] if line.strip()]
        fields = max((len(line.split(b",")) for line in lines), default=0)
        return "twitter" if fields == 7 else "csv"
    if name.endswith(".trace"):
        with open_decompressed(path) as f:
            head = f.read(4096)
        if head and all(c in b"0123456789*\r\n \t-" for c in head):
            return "lirs"
        return "cache2k"
    raise TraceFormatError(f"cannot tell the format of {path.name}; name one with --format: {', '.join(FORMATS)}")


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
    except ValueError:
        raise TraceFormatError(f"{where}: a field is not an integer") from None


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


def _read_arc(stream: BinaryIO) -> Iterator[np.ndarray]:
    for chunk in _line_chunks(stream):
        rows = [line.split() for line in chunk.splitlines() if line.strip()]
        if any(len(row) < 2 for row in rows):
            raise TraceFormatError("arc trace: a line has fewer than 2 fields (start n ...)")
        starts = _ints([r[0] for r in rows], "arc trace")
        counts = _ints([r[1] for r in rows], "arc trace")
        if (counts < 0).any():
            raise TraceFormatError("arc trace: a negative block count")
        # Expand each (start, n) into start, start+1, ..., start+n-1 without a Python loop.
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        yield (np.repeat(starts, counts) + offsets).view(np.uint64)


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
    "arc": _read_arc,
    "cache2k": _read_cache2k,
    "lirs": _read_lirs,
    "int64": _read_int64,
}
_SIZED_READERS: dict[str, Callable[[BinaryIO], Iterator[tuple[np.ndarray, np.ndarray]]]] = {
    "oracle-general": _read_oracle,
    "csv": _read_csv,
    "twitter": _read_twitter,
}


def read_trace(path: Path | str, fmt: str | None = None) -> Trace:
    """The requests of the trace at ``path`` (format detected unless ``fmt`` names it)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trace {str(path)!r} does not exist")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise TraceFormatError(f"unknown trace format {fmt!r}; known: {', '.join(FORMATS)}")
    with open_decompressed(path) as stream:
        if fmt in _READERS:
            parts = list(_READERS[fmt](stream))
            ids = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
            return Trace(trace_name(path), ids)
        pairs = list(_SIZED_READERS[fmt](stream))
    ids = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros(0, np.uint64)
    sizes = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros(0, np.int64)
    return Trace(trace_name(path), ids, sizes)
