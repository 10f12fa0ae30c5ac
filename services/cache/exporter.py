"""Sending the collector's events out: conversion to protobuf, and the background exporter that
streams them to the drift service. If the drift service is slow or down, reads are unaffected:
the exporter falls behind, the ring drops the oldest events, and the drops are counted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from opentelemetry import trace

from predis.aio import AsyncClient
from predis.config import ClientConfig, RetryPolicy
from predis.errors import PredisError
from predis.services.cache.collector import AccessRing, EventBatch
from predis.v1 import common_pb2, drift_pb2

log = logging.getLogger(__name__)


def to_access_events(batch: EventBatch, tenant_name: Callable[[int], str]) -> list[common_pb2.AccessEvent]:
    return [
        common_pb2.AccessEvent(tenant=tenant_name(t), key=key, kind=kind, time_unix_nano=when, value_size=size)
        for t, key, kind, when, size in zip(
            batch.tenants.tolist(),
            batch.keys,
            batch.kinds.tolist(),
            batch.times.tolist(),
            batch.sizes.tolist(),
            strict=True,
        )
    ]


class DriftExporter:
    """Streams every access event to the drift service's ObserveEvents, reconnecting as needed."""

    def __init__(
        self,
        ring: AccessRing,
        tenant_name: Callable[[int], str],
        address: str,
        tracer_provider: trace.TracerProvider | None,
        batch_size: int = 1000,
        idle_s: float = 0.1,
    ) -> None:
        self.ring = ring
        self.tenant_name = tenant_name
        self.address = address
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.cursor = ring.head
        self.exported = 0
        self.dropped = 0
        self._client = AsyncClient(
            drift=address, config=ClientConfig(retry=RetryPolicy(max_attempts=1)), tracer_provider=tracer_provider
        )
        self._stopping = asyncio.Event()

    async def _requests(self) -> AsyncIterator[drift_pb2.ObserveEventsRequest]:
        while not self._stopping.is_set():
            batch, self.cursor = self.ring.read(self.cursor, self.batch_size)
            self.dropped += batch.dropped
            if not batch.keys:
                await asyncio.sleep(self.idle_s)
                continue
            self.exported += len(batch.keys)
            yield drift_pb2.ObserveEventsRequest(events=to_access_events(batch, self.tenant_name))

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._client.drift.observe(self._requests(), timeout=None)
            except PredisError as error:
                log.warning(
                    "exporting access events to %s failed (%s); retrying in %.1fs", self.address, error, backoff
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 10.0)
                self.cursor = max(self.cursor, self.ring.head - self.ring.capacity)

    async def close(self) -> None:
        self._stopping.set()
        await self._client.close()
