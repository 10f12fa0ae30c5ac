"""The access collector: a bounded ring, the stream RPC, and the export to the drift service."""

from __future__ import annotations

import asyncio
import time

import numpy as np

import predis
from conftest import BackgroundSuite
from predis import ClientConfig
from predis.services.cache.collector import AccessRing
from predis.services.cache.engine.storage import KeyBatch
from predis.services.drift import server as drift_server
from predis.services.runtime.settings import ServerSettings
from predis.v1 import common_pb2


def _append(ring: AccessRing, keys: list[bytes], tenant: int = 0) -> None:
    n = len(keys)
    found = np.ones(n, dtype=np.bool_)
    ring.append(tenant, KeyBatch.of(keys), found, ~found, np.arange(n, dtype=np.uint32), 123)


def test_ring_keeps_the_newest_events_and_counts_the_lost() -> None:
    ring = AccessRing(capacity=4, key_bytes_per_event=8)
    _append(ring, [b"a", b"b", b"c"])
    batch, cursor = ring.read(0, 10)
    assert batch.keys == [b"a", b"b", b"c"] and batch.dropped == 0 and cursor == 3
    _append(ring, [b"d", b"e", b"f"])
    batch, cursor = ring.read(cursor, 10)
    assert batch.keys == [b"d", b"e", b"f"]
    batch, _ = ring.read(0, 10)
    assert batch.keys == [b"c", b"d", b"e", b"f"] and batch.dropped == 2


def test_keys_that_wrap_the_key_buffer_come_back_whole() -> None:
    ring = AccessRing(capacity=8, key_bytes_per_event=2)  # 16 bytes of keys
    _append(ring, [b"12345", b"abcdefg", b"XYZWVU"])
    batch, _ = ring.read(0, 10)
    assert batch.keys == [b"abcdefg", b"XYZWVU"] and batch.dropped == 1  # b"12345" was overwritten


def test_reads_can_filter_one_tenant() -> None:
    ring = AccessRing(capacity=16)
    _append(ring, [b"a1"], tenant=1)
    _append(ring, [b"b1"], tenant=2)
    batch, _ = ring.read(0, 10, tenant=2)
    assert batch.keys == [b"b1"]


async def _collect(client: predis.AsyncClient, want: int) -> list[common_pb2.AccessEvent]:
    events: list[common_pb2.AccessEvent] = []
    async for response in client.access_events(timeout=10):
        events.extend(response.events)
        if len(events) >= want:
            break
    return events


async def test_stream_serves_the_callers_accesses_and_only_its_own() -> None:
    suite = BackgroundSuite().start()
    try:
        alpha = predis.AsyncClient(suite.addresses["cache"], config=ClientConfig(tenant="alpha"))
        beta = predis.AsyncClient(suite.addresses["cache"], config=ClientConfig(tenant="beta"))
        async with alpha, beta:
            watcher = asyncio.create_task(_collect(alpha, 3))
            await asyncio.sleep(0.3)
            await beta.get(b"not-yours", skip_origin=True)
            await alpha.set(b"k", b"value")
            await alpha.get(b"k")
            await alpha.batch_get([b"k", b"missing"], skip_origin=True)
            events = await asyncio.wait_for(watcher, 10)
    finally:
        suite.stop()
    assert [(e.key, e.kind, e.tenant) for e in events] == [
        (b"k", common_pb2.ACCESS_KIND_HIT, "alpha"),
        (b"k", common_pb2.ACCESS_KIND_HIT, "alpha"),
        (b"missing", common_pb2.ACCESS_KIND_MISS, "alpha"),
    ]
    assert events[0].value_size == 5 and events[0].time_unix_nano > 0


def test_events_are_exported_to_the_drift_service() -> None:
    suite = BackgroundSuite(export_to_drift=True).start()
    try:
        with predis.Client(**suite.client_kwargs()) as client:
            client.batch_get([b"k%d" % i for i in range(250)], skip_origin=True)
            deadline = time.monotonic() + 10
            while client.drift.status().events_observed < 250 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.drift.status().events_observed == 250
            assert client.stats().engine.events_dropped == 0
    finally:
        suite.stop()


def test_a_drift_outage_does_not_touch_reads_and_the_stream_resumes_after_it() -> None:
    suite = BackgroundSuite(export_to_drift=True).start()
    try:
        address = suite.addresses["drift"]
        suite.run(suite.servers.pop("drift").stop(0))
        with predis.Client(suite.addresses["cache"]) as client:
            client.set(b"k", b"v")
            for _ in range(100):
                assert client.get(b"k") == b"v"
            seen = suite.observer.events_observed
            settings = ServerSettings(listen=address)
            suite.servers["drift"] = suite.run(
                drift_server.create_server(settings, suite.observer, suite.tracer_provider)
            )
            deadline = time.monotonic() + 20  # the exporter retries with back-off (0.5 s doubling)
            while suite.observer.events_observed == seen and time.monotonic() < deadline:
                client.get(b"k")
                time.sleep(0.2)
        assert suite.observer.events_observed > seen
    finally:
        suite.stop()


def test_one_key_reads_are_the_events_of_batches_of_one() -> None:
    """GET's reads reach the ring in scalars (``append_one``): the same events, kinds, sizes and
    keys as batches of one, wrapping the key buffer alike; a key longer than the whole buffer
    reads as lost in both."""
    rings = [AccessRing(capacity=8, key_bytes_per_event=2) for _ in range(2)]  # 16 bytes of keys
    reads = [
        (b"k" * 20, True, False, 1),
        (b"12345", True, False, 5),
        (b"abcdefg", False, False, 0),
        (b"XY", True, True, 7),
    ]
    for key, found, prefetched, size in reads:
        rings[0].append(
            3, KeyBatch.of([key]), np.array([found]), np.array([prefetched]), np.array([size], np.uint32), 9
        )
        rings[1].append_one(3, key, 0, found, prefetched, size, 9)
    (a, cursor_a), (b, cursor_b) = (ring.read(0, 10) for ring in rings)
    assert cursor_a == cursor_b == 4
    assert a.keys == b.keys and a.dropped == b.dropped
    for column in ("tenants", "kinds", "times", "sizes"):
        assert getattr(a, column).tolist() == getattr(b, column).tolist()
    assert b.keys == [b"12345", b"abcdefg", b"XY"] and b.dropped == 1  # the long key is lost
    assert b.kinds.tolist() == [1, 2, 3]  # hit, miss, prefetch hit


def test_single_reads_held_back_read_as_if_written_at_once() -> None:
    """``append_one`` holds reads and writes them together; whatever looks at the ring (head,
    read, a batch append) sees them first, in order, as a ring that writes each at once."""
    held, each = AccessRing(capacity=16, key_bytes_per_event=4, held_reads=5), AccessRing(16, 4, held_reads=1)
    for ring in (held, each):
        for i in range(3):
            ring.append_one(i % 2, b"one-%d" % i, 0, i != 1, i == 2, i, 100 + i)
    assert each.head == held.head == 3  # head writes what was held
    for ring in (held, each):
        ring.append_one(1, b"before the batch", 0, True, False, 4, 200)
        _append(ring, [b"b1", b"b2"])  # after the held read, not before it
        for i in range(7):  # past held_reads: written on the way
            ring.append_one(0, b"k%d" % i, 0, True, False, i, 300 + i)
    (a, cursor_a), (b, cursor_b) = (ring.read(0, 100) for ring in (held, each))
    assert cursor_a == cursor_b == 13
    assert a.keys == b.keys and a.keys[3:6] == [b"before the batch", b"b1", b"b2"]
    assert a.dropped == b.dropped
    for column in ("tenants", "kinds", "times", "sizes"):
        assert getattr(a, column).tolist() == getattr(b, column).tolist()
    assert a.times.tolist()[:4] == [100, 101, 102, 200]
