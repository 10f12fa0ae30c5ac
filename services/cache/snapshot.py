"""Snapshots of the cache's data (like Redis's RDB): written on graceful shutdown and every N
seconds when configured, loaded on start.

A snapshot is written to a temporary file beside the target, fsync'ed, renamed over the old one
and the directory fsync'ed, so a crash at any moment leaves the previous snapshot whole. The file
starts with a magic string and a version and ends with a BLAKE2b checksum of everything before
it; a torn, foreign or newer file is ignored with a log line, never half-loaded. TTLs are kept as
absolute wall-clock times, so time spent down counts against them.

Layout (little-endian): ``MAGIC``, u32 version, u64 header length, the JSON header (tenants and
the entry count), then the entries' arrays (u32 tenant index, u32 key length, u32 value length,
i64 expiry in Unix ms or -1), the keys blob, the values blob, and the 32-byte checksum.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from predis.services.cache.engine.engine import Engine
from predis.services.cache.engine.storage import KeyBatch
from predis.services.runtime.errors import DomainError
from predis.services.runtime.files import write_atomically

log = logging.getLogger(__name__)

MAGIC = b"PREDIS-SNAPSHOT\n"
VERSION = 1
CHECKSUM_BYTES = 32
_PREAMBLE = struct.Struct("<IQ")


class SnapshotError(ValueError):
    """The file is not a snapshot this version can load (torn, foreign or newer)."""


@dataclass(frozen=True)
class Snapshot:
    tenants: list[str]
    tenant_of: np.ndarray  # uint32, one per entry
    keys: KeyBatch
    values: KeyBatch
    expires_unix_ms: np.ndarray  # int64; -1 for no expiry

    def __len__(self) -> int:
        return len(self.tenant_of)


def capture(engine: Engine, now_unix_ms: int | None = None) -> Snapshot:
    """Every live entry of every tenant, with its expiry as an absolute wall-clock time."""
    now = int(time.time() * 1000) if now_unix_ms is None else now_unix_ms
    tenants, owners, keys, blobs, lengths, expires = [], [], [], [], [], []
    for t, name in enumerate(engine.tenant_names()):
        entry_keys, blob, entry_lengths, ttl_left = engine.dump(name)
        tenants.append(name)
        owners.append(np.full(len(entry_keys), t, dtype=np.uint32))
        keys.extend(entry_keys)
        blobs.append(blob)
        lengths.append(np.asarray(entry_lengths, dtype=np.int64))
        expires.append(np.where(ttl_left < 0, -1, now + ttl_left).astype(np.int64))
    value_blob = b"".join(blobs)
    value_lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    return Snapshot(
        tenants,
        np.concatenate(owners) if owners else np.zeros(0, np.uint32),
        KeyBatch.of(keys),
        KeyBatch.from_blob(value_blob, value_lengths),
        np.concatenate(expires) if expires else np.zeros(0, np.int64),
    )


def encode(snapshot: Snapshot) -> bytes:
    header = json.dumps({"tenants": snapshot.tenants, "entries": len(snapshot)}).encode()
    body = b"".join(
        [
            MAGIC,
            _PREAMBLE.pack(VERSION, len(header)),
            header,
            snapshot.tenant_of.astype("<u4").tobytes(),
            snapshot.keys.lengths.astype("<u4").tobytes(),
            snapshot.values.lengths.astype("<u4").tobytes(),
            snapshot.expires_unix_ms.astype("<i8").tobytes(),
            bytes(snapshot.keys.data),
            bytes(snapshot.values.data),
        ]
    )
    return body + hashlib.blake2b(body, digest_size=CHECKSUM_BYTES).digest()


def decode(data: bytes) -> Snapshot:
    """The snapshot in ``data``; raises SnapshotError for anything but a whole, matching file."""
    if not data.startswith(MAGIC):
        raise SnapshotError("not a Predis snapshot (wrong magic)")
    if len(data) < len(MAGIC) + _PREAMBLE.size + CHECKSUM_BYTES:
        raise SnapshotError("truncated")
    body, checksum = data[:-CHECKSUM_BYTES], data[-CHECKSUM_BYTES:]
    if hashlib.blake2b(body, digest_size=CHECKSUM_BYTES).digest() != checksum:
        raise SnapshotError("checksum mismatch (torn or altered file)")
    version, header_length = _PREAMBLE.unpack_from(body, len(MAGIC))
    if version != VERSION:
        raise SnapshotError(f"version {version}; this Predis reads version {VERSION}")
    at = len(MAGIC) + _PREAMBLE.size
    try:
        header = json.loads(body[at : at + header_length])
        tenants, n = list(header["tenants"]), int(header["entries"])
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(f"unreadable header: {error}") from None
    at += header_length
    arrays = []
    for dtype in ("<u4", "<u4", "<u4", "<i8"):
        size = np.dtype(dtype).itemsize * n
        arrays.append(np.frombuffer(body, dtype=dtype, count=n, offset=at) if n else np.zeros(0, dtype))
        at += size
    tenant_of, key_lengths, value_lengths, expires = arrays
    key_end = at + int(key_lengths.sum(dtype=np.int64))
    if key_end + int(value_lengths.sum(dtype=np.int64)) != len(body) or (n and tenant_of.max() >= len(tenants)):
        raise SnapshotError("lengths do not match the file")
    return Snapshot(
        tenants,
        tenant_of.astype(np.uint32),
        KeyBatch.from_blob(body[at:key_end], key_lengths.astype(np.int64)),
        KeyBatch.from_blob(body[key_end:], value_lengths.astype(np.int64)),
        expires.astype(np.int64),
    )


def write(path: Path, snapshot: Snapshot) -> int:
    """Writes ``snapshot`` to ``path`` atomically (temporary file, fsync, rename, fsync of the
    directory); returns the bytes written."""
    data = encode(snapshot)
    write_atomically(path, data)
    return len(data)


def read(path: Path) -> Snapshot | None:
    """The snapshot at ``path``; None (with a log line) when there is none or it cannot be loaded."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("cannot read the snapshot %s: %s; starting empty", path, error)
        return None
    try:
        return decode(data)
    except SnapshotError as error:
        log.warning("ignoring the snapshot %s: %s; starting empty", path, error)
        return None


RESTORE_BATCH = 1000


def restore(engine: Engine, snapshot: Snapshot, now_unix_ms: int | None = None) -> int:
    """Stores the snapshot's entries that have not expired since; returns how many were stored
    (a budget smaller than the snapshot's keeps what fits). Entries go in by batches of one
    tenant and one TTL; a batch the engine refuses is retried entry by entry."""
    now = int(time.time() * 1000) if now_unix_ms is None else now_unix_ms
    groups: dict[tuple[int, int], list[int]] = {}
    for i, expires in enumerate(snapshot.expires_unix_ms.tolist()):
        if 0 <= expires <= now:
            continue  # expired while the cache was down
        groups.setdefault((int(snapshot.tenant_of[i]), 0 if expires < 0 else expires - now), []).append(i)
    stored = 0
    for (t, ttl), members in groups.items():
        tenant = snapshot.tenants[t]
        for start in range(0, len(members), RESTORE_BATCH):
            chunk = members[start : start + RESTORE_BATCH]
            keys = KeyBatch.of([snapshot.keys.item(i) for i in chunk])
            values = KeyBatch.of([snapshot.values.item(i) for i in chunk])
            try:
                stored += int(engine.set_many(tenant, keys, values, ttl).sum())
            except DomainError:  # a refusal (budget, value size): keep what fits, one by one
                stored += sum(_restore_one(engine, tenant, snapshot, i, ttl) for i in chunk)
    return stored


def _restore_one(engine: Engine, tenant: str, snapshot: Snapshot, i: int, ttl: int) -> bool:
    try:
        return engine.set(tenant, snapshot.keys.item(i), snapshot.values.item(i), ttl)
    except DomainError as error:
        log.info("snapshot entry not restored: %s", error)
        return False
