"""The background task that keeps the access stream on disk for retraining: it reads the
collector's ring with its own cursor (so a slow disk or a down drift service never holds the other
readers back) and hands each tenant's events to the :class:`SegmentWriter`, whose file writes run
in a thread so reads are never blocked on the disk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from predis.services.cache.collector import AccessRing, EventBatch
from predis.services.cache.segments import SegmentWriter

log = logging.getLogger(__name__)


class SegmentRecorder:
    def __init__(
        self,
        ring: AccessRing,
        tenant_name: Callable[[int], str],
        writer: SegmentWriter,
        batch_size: int = 16_384,
        idle_s: float = 0.2,
    ) -> None:
        self.ring = ring
        self.tenant_name = tenant_name
        self.writer = writer
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.cursor = ring.head
        self.recorded = 0
        self.dropped = 0  # events the ring overwrote before this reader got to them
        self.segments_written = 0
        self._stopping = asyncio.Event()
        self._writing = asyncio.Lock()  # close() and run() never hand the writer two batches at once

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                wrote = await self.record_pending()
            except OSError as error:  # a full or read-only disk: say so, keep serving, try again
                log.error("could not write access segments under %s: %s", self.writer.directory, error)
                wrote = 0
            if wrote < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.idle_s)

    async def record_pending(self) -> int:
        """Moves what the ring holds past the cursor into the writer; returns the events moved."""
        async with self._writing:
            batch, self.cursor = self.ring.read(self.cursor, self.batch_size)
            self.dropped += batch.dropped
            self.recorded += len(batch.keys)
            paths = await asyncio.to_thread(self._append, batch)
            self.segments_written += len(paths)
            return len(batch.keys)

    def _append(self, batch: EventBatch) -> list[Path]:
        written: list[Path] = []
        for tenant in np.unique(batch.tenants).tolist():
            rows = np.flatnonzero(batch.tenants == tenant)
            keys = [batch.keys[i] for i in rows.tolist()]
            name = self.tenant_name(int(tenant))
            written += self.writer.append(name, keys, batch.kinds[rows], batch.times[rows], batch.sizes[rows])
        return written + self.writer.rotate()  # age rotation also when no event came

    async def close(self) -> None:
        """Records what is left in the ring and writes every buffer out (graceful shutdown)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            while await self.record_pending() == self.batch_size:
                pass
        try:
            async with self._writing:
                self.segments_written += len(await asyncio.to_thread(self.writer.flush))
        except OSError as error:
            log.error("could not write the last access segments under %s: %s", self.writer.directory, error)
