"""Sending the collector's events out: conversion to protobuf, and the background exporter that
streams them to the drift service, each batch with one quality window per tenant that read since
the last (reads, hits, the shadow's hits, the learned loop's prefetch outcomes: the live labels
drift's ADWIN watches). If the drift service is slow or down, reads are unaffected: the exporter falls behind,
the ring drops the oldest events, and the drops are counted; a window holds the difference of
cumulative counts, so none is lost while the stream is down (the next window holds them).

A stream that has sent something ends after ``stream_s`` and the next begins at once: each is one
``drift export`` trace (a span reaches a collector only when it ends, so one stream for the
process's life would never show in Jaeger)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np
from opentelemetry import context, trace

from predis.aio import AsyncClient
from predis.config import ClientConfig, RetryPolicy
from predis.errors import PredisError
from predis.services.cache.collector import AccessRing, EventBatch
from predis.services.cache.prefetch_outcomes import PrefetchIssuer, PrefetchOutcomes
from predis.services.cache.shadow import QualityCounts, ShadowCache
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


@dataclass
class _StreamCounts:
    """What one export stream carried, for its span."""

    events: int = 0
    windows: int = 0
    dropped: int = 0
    tenants: set[int] = field(default_factory=set)


@dataclass
class _Sent:
    """What the last window of a tenant had counted: the next window is the difference."""

    quality: QualityCounts = field(default_factory=QualityCounts)
    used: int = 0
    unused: int = 0
    late: int = 0


class QualityWindows:
    """One window per tenant with reads since the last call: the shadow's counts and the learned
    loop's prefetch outcomes settled since then (used, late, and wasted as ``unused``: the
    meanings of ``prefetch_outcomes.py``)."""

    def __init__(self, shadow: ShadowCache, tenant_name: Callable[[int], str], outcomes: PrefetchOutcomes) -> None:
        self.shadow = shadow
        self.tenant_name = tenant_name
        self.outcomes = outcomes
        self._sent: dict[int, _Sent] = {}

    def take(self) -> list[drift_pb2.QualityWindow]:
        windows = []
        now = time.time_ns()
        for t in self.shadow.tenants():
            sent = self._sent.setdefault(t, _Sent())
            counts = self.shadow.counts(t)
            delta = counts.minus(sent.quality)
            if delta.reads <= 0:
                continue
            name = self.tenant_name(t)
            loop = self.outcomes.counts(name, PrefetchIssuer.LOOP)
            used, unused, late = loop.used, loop.wasted, loop.late
            windows.append(
                drift_pb2.QualityWindow(
                    tenant=name,
                    reads=delta.reads,
                    hits=delta.hits,
                    shadow_hits=delta.shadow_hits,
                    prefetches_used=used - sent.used,
                    prefetches_unused=unused - sent.unused,
                    prefetches_late=late - sent.late,
                    end_unix_nano=now,
                )
            )
            sent.quality, sent.used, sent.unused, sent.late = counts, used, unused, late
        return windows


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
        quality: QualityWindows | None = None,
        stream_s: float = 10.0,
    ) -> None:
        self.ring = ring
        self.tenant_name = tenant_name
        self.address = address
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.quality = quality
        self.stream_s = stream_s
        self.cursor = ring.head
        self.exported = 0
        self.dropped = 0
        self._client = AsyncClient(
            drift=address, config=ClientConfig(retry=RetryPolicy(max_attempts=1)), tracer_provider=tracer_provider
        )
        self._tracer = (tracer_provider or trace.NoOpTracerProvider()).get_tracer(__name__)
        self._stopping = asyncio.Event()

    async def _requests(self, sent: _StreamCounts) -> AsyncIterator[drift_pb2.ObserveEventsRequest]:
        ends_at = time.monotonic() + self.stream_s
        while not self._stopping.is_set():
            if (sent.events or sent.windows) and time.monotonic() >= ends_at:
                return
            batch, self.cursor = self.ring.read(self.cursor, self.batch_size)
            self.dropped += batch.dropped
            sent.dropped += batch.dropped
            windows = self.quality.take() if self.quality is not None else []
            if not batch.keys and not windows:
                await asyncio.sleep(self.idle_s)
                continue
            self.exported += len(batch.keys)
            sent.events += len(batch.keys)
            sent.windows += len(windows)
            sent.tenants.update(np.unique(batch.tenants).tolist())
            events = to_access_events(batch, self.tenant_name)
            yield drift_pb2.ObserveEventsRequest(events=events, windows=windows)

    async def _stream(self) -> None:
        """One ObserveEvents stream, in a trace of its own."""
        sent = _StreamCounts()
        with self._tracer.start_as_current_span("drift export", context.Context()) as span:
            try:
                await self._client.drift.observe(self._requests(sent), timeout=None)
            finally:
                span.set_attributes(
                    {
                        "predis.tenants": sorted(self.tenant_name(t) for t in sent.tenants),
                        "predis.export.events": sent.events,
                        "predis.export.windows": sent.windows,
                        "predis.export.events_dropped": sent.dropped,
                    }
                )

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._stream()
                backoff = 0.5
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
