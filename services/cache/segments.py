"""Access events kept on disk for retraining: append-only segment files, one folder per tenant.

A segment is one Arrow IPC file (pyarrow) of events in arrival order (``key``, ``kind``,
``time_unix_nano``, ``value_size``). Events are buffered per tenant and written as a whole segment
when the buffer reaches ``max_rows`` or its oldest event ``max_age_s`` (rotation by size and
age): to a temporary name, fsync'ed, then renamed, so a segment either exists complete or not at
all; a writer killed mid-write leaves only a ``.tmp`` file, which readers skip and the next writer
removes. Each tenant keeps at most ``retain_bytes`` of segments; the oldest go first.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.files import write_atomically
from predis.services.runtime.tenancy import validate_tenant

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("kind", pa.int8()),
        ("time_unix_nano", pa.int64()),
        ("value_size", pa.int64()),
    ]
)
SUFFIX = ".arrow"


@dataclass
class _Buffer:
    keys: list[bytes] = field(default_factory=list)
    kinds: list[np.ndarray] = field(default_factory=list)
    times: list[np.ndarray] = field(default_factory=list)
    sizes: list[np.ndarray] = field(default_factory=list)
    rows: int = 0
    opened_at: float = 0.0


def _tenant_dir(directory: Path, tenant: str) -> Path:
    validate_tenant(tenant)  # the names the cache accepts: letters, digits, '.', '_', '-'
    if tenant in {".", ".."}:
        raise InvalidInput(f"tenant name {tenant!r} cannot name a folder")
    return directory / tenant


class SegmentWriter:
    def __init__(
        self,
        directory: Path,
        max_rows: int = 100_000,
        max_age_s: float = 60.0,
        retain_bytes: int = 1 << 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_rows < 1 or max_age_s <= 0 or retain_bytes < 1:
            raise ValueError("segments: max_rows and retain_bytes must be at least 1 and max_age_s positive")
        self.directory = directory
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.retain_bytes = retain_bytes
        self.clock = clock
        self._buffers: dict[str, _Buffer] = {}
        self._sequence = 0
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*/*.tmp"):  # a writer killed mid-write
            stale.unlink(missing_ok=True)

    def append(
        self, tenant: str, keys: Sequence[bytes], kinds: np.ndarray, times: np.ndarray, sizes: np.ndarray
    ) -> list[Path]:
        """Buffers one tenant's events; returns the segments this call completed (rotation)."""
        if not len(keys) == len(kinds) == len(times) == len(sizes):
            raise ValueError("segments: keys, kinds, times and sizes must have one entry per event")
        _tenant_dir(self.directory, tenant)
        buffer = self._buffers.get(tenant)
        if buffer is None:
            buffer = self._buffers[tenant] = _Buffer(opened_at=self.clock())
        buffer.keys.extend(keys)
        buffer.kinds.append(np.asarray(kinds, dtype=np.int8))
        buffer.times.append(np.asarray(times, dtype=np.int64))
        buffer.sizes.append(np.asarray(sizes, dtype=np.int64))
        buffer.rows += len(keys)
        return self.rotate()

    def rotate(self) -> list[Path]:
        """Writes every buffer that is full or old enough."""
        now = self.clock()
        due = [t for t, b in self._buffers.items() if b.rows >= self.max_rows or now - b.opened_at >= self.max_age_s]
        return [path for tenant in due if (path := self._write(tenant)) is not None]

    def flush(self) -> list[Path]:
        """Writes every buffer (at shutdown)."""
        return [path for tenant in list(self._buffers) if (path := self._write(tenant)) is not None]

    def _write(self, tenant: str) -> Path | None:
        buffer = self._buffers.pop(tenant)
        if not buffer.rows:
            return None
        table = pa.table(
            {
                "key": pa.array(buffer.keys, type=pa.binary()),
                "kind": np.concatenate(buffer.kinds),
                "time_unix_nano": np.concatenate(buffer.times),
                "value_size": np.concatenate(buffer.sizes),
            },
            schema=SCHEMA,
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, SCHEMA) as writer:
            writer.write_table(table)
        folder = _tenant_dir(self.directory, tenant)
        folder.mkdir(exist_ok=True)
        self._sequence += 1
        # Names sort in write order: wall-clock nanoseconds, then this writer's sequence.
        path = folder / f"{time.time_ns():020d}-{os.getpid()}-{self._sequence:06d}{SUFFIX}"
        write_atomically(path, sink.getvalue().to_pybytes())
        self._enforce_retention(folder)
        return path

    def _enforce_retention(self, folder: Path) -> None:
        segments = sorted(folder.glob(f"*{SUFFIX}"))
        total = sum(p.stat().st_size for p in segments)
        for oldest in segments[:-1]:  # the newest segment always stays
            if total <= self.retain_bytes:
                break
            total -= oldest.stat().st_size
            oldest.unlink()


def read_segments(directory: Path, tenant: str) -> pa.Table:
    """Every complete segment of ``tenant``, oldest first, as one table. A file that does not
    read as a segment of this schema is skipped with a log line."""
    tables = []
    folder = _tenant_dir(directory, tenant)
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        try:
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
        except (pa.ArrowInvalid, OSError) as error:
            log.warning("skipping %s: not a readable segment (%s)", path, error)
            continue
        if not table.schema.equals(SCHEMA):
            log.warning("skipping %s: its columns are not a segment's", path)
            continue
        tables.append(table)
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()
