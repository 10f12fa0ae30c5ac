"""The drift service: its domain (tenant pipelines, the alert feed, reference resets, plugin
detectors), the alarm targets on the real traces shipped in the repository, and the service as a
real grpc.aio server on loopback called through the SDK."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import predis
from predis.plugins import PluginError, Plugins, build_plugin_manager, hookimpl
from predis.services.drift import server as drift_server
from predis.services.drift.detectors import Reading
from predis.services.drift.feed import AlertFeed
from predis.services.drift.history import SignalHistory
from predis.services.drift.observer import AccessBatch, StreamObserver
from predis.services.drift.settings import DriftSettings
from predis.services.drift.signals import StreamSignals
from predis.services.drift.watch import Phase, QualityWindow, Severity
from predis.services.replay.traces import read_trace
from predis.services.runtime.errors import InvalidInput, Overloaded
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.v1 import common_pb2, drift_pb2

DATA = Path(__file__).resolve().parent.parent / "services" / "replay" / "data"
START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 10_000  # the traces have no times: one request every 10 µs
LRU_ENTRIES = 2000
BATCH = 1000  # the cache exports batches of up to 1,000 events


@cache
def trace_keys(name: str) -> np.ndarray:
    return read_trace(DATA / f"cache2k-{name}.trace.xz").ids


def lru_kinds(ids: np.ndarray, entries: int = LRU_ENTRIES) -> np.ndarray:
    """The hit or miss each request has in an LRU cache of ``entries``: a hit when fewer other
    keys were requested since the key's last request (its reuse distance)."""
    distance = StreamSignals(1 << 14).observe_ids(ids.astype(np.int64), np.arange(len(ids))).reuse_distance
    hit = ~np.isnan(distance) & (distance < entries)
    return np.where(hit, common_pb2.ACCESS_KIND_HIT, common_pb2.ACCESS_KIND_MISS).astype(np.int64)


@cache
def regime_change() -> tuple[list[bytes], np.ndarray, int]:
    """cache2k-web07 whole, then the start of cache2k-orm-busy: keys, LRU kinds, change index."""
    web, orm = trace_keys("web07"), trace_keys("orm-busy")[:40_000]
    keys = [b"web07:%d" % k for k in web.tolist()] + [b"orm:%d" % k for k in orm.tolist()]
    ids = np.concatenate([web.astype(np.int64), orm.astype(np.int64) + (1 << 40)])
    return keys, lru_kinds(ids), len(web)


def batches(tenant: str, keys: list[bytes], kinds: np.ndarray, start: int = 0) -> Iterator[AccessBatch]:
    for i in range(0, len(keys), BATCH):
        part = keys[i : i + BATCH]
        times = START_NS + (start + i + np.arange(len(part), dtype=np.int64)) * PERIOD_NS
        yield AccessBatch([tenant] * len(part), part, kinds[i : i + BATCH], times)


def replay(observer: StreamObserver, tenant: str, keys: list[bytes], kinds: np.ndarray) -> list:
    return [a for batch in batches(tenant, keys, kinds) for a in observer.observe(batch)]


def replay_from(observer: StreamObserver, tenant: str, keys: list[bytes], kinds: np.ndarray, lo: int, hi: int) -> list:
    """Requests ``lo`` to ``hi`` of a stream, with the times they have in the whole stream."""
    found = []
    for batch in batches(tenant, keys[lo:hi], kinds[lo:hi], start=lo):
        found.extend(observer.observe(batch))
    return found


# Smaller windows for the tests that are about the machinery rather than the targets.
SMALL = DriftSettings(
    horizon=1024,
    warmup_events=1024,
    reference_events=8000,
    min_reference_events=4000,
    window_events=1000,
    check_every=250,
    history_events=20_000,
    max_reference_events=20_000,
)


def synthetic(seed: int, n: int, keys: int, skew: float) -> tuple[list[bytes], np.ndarray]:
    """A seeded Zipf stream: ``n`` requests over ``keys`` keys."""
    ids = np.random.default_rng(seed).zipf(skew, n) % keys
    return [b"s%d:%d" % (seed, k) for k in ids.tolist()], lru_kinds(ids.astype(np.int64), 200)


# -- the alarm targets on real traces -------------------------------------------------------------


def test_a_change_from_web07_to_orm_busy_is_found_within_5000_events_with_no_alarm_before() -> None:
    keys, kinds, change = regime_change()
    alerts = replay(StreamObserver(), "shop", keys, kinds)
    settings = DriftSettings()
    stationary = change - settings.warmup_events - settings.reference_events
    assert stationary > 9000
    assert [a for a in alerts if a.tenant_events <= change] == []
    first = next(a for a in alerts if a.tenant_events > change)
    assert first.tenant_events - change < 5000
    assert first.severity is Severity.CRITICAL and first.tenant == "shop"
    assert first.effect_size >= first.threshold and first.reference_size == settings.reference_events
    assert first.window_size == settings.window_events
    assert START_NS + change * PERIOD_NS < first.window_end_unix_nano
    assert first.window_end_unix_nano - first.window_start_unix_nano == (settings.window_events - 1) * PERIOD_NS


def test_a_million_stationary_events_of_orm_busy_raise_no_alarm() -> None:
    settings = DriftSettings()
    n = settings.warmup_events + settings.reference_events + 1_000_000
    ids = trace_keys("orm-busy")[:n]
    keys = [b"orm:%d" % k for k in ids.tolist()]
    assert replay(StreamObserver(), "shop", keys, lru_kinds(ids.astype(np.int64))) == []


# -- the domain ----------------------------------------------------------------------------------


def test_a_tenant_warms_up_builds_its_reference_then_watches() -> None:
    observer = StreamObserver(SMALL)
    keys, kinds = synthetic(1, 12_000, 3000, 1.3)
    replay(observer, "a", keys[:1000], kinds[:1000])
    assert observer.status().tenants[0].phase is Phase.WARMING_UP
    replay(observer, "a", keys[1000:5000], kinds[1000:5000])
    assert observer.status().tenants[0].phase is Phase.BUILDING_REFERENCE
    replay(observer, "a", keys[5000:], kinds[5000:])
    status = observer.status()
    (tenant,) = status.tenants
    assert tenant.phase is Phase.WATCHING and tenant.reference_size == SMALL.reference_events
    ks = next(d for d in status.detectors if d.signal == "reuse_distance" and d.detector == "ks")
    assert ks.reading is not None and ks.reading.window_size == SMALL.window_events
    assert ks.threshold > SMALL.ks_margin and not ks.drifted
    assert {(d.detector, d.signal) for d in status.detectors} >= {
        ("ks", "inter_arrival"),
        ("psi", "popularity_rank"),
        ("chi2", "kind_mix"),
        ("adwin", "live_gain"),
        ("adwin", "prefetch_precision"),
    }


def test_a_change_in_one_tenant_alerts_only_that_tenant() -> None:
    observer = StreamObserver(SMALL)
    before, kinds_before = synthetic(2, 20_000, 3000, 1.3)
    after, kinds_after = synthetic(3, 6000, 200, 1.05)  # other keys, far hotter
    steady, kinds_steady = synthetic(4, 26_000, 3000, 1.3)
    alerts = []
    for i in range(0, 26_000, BATCH):
        a_keys = (before + after)[i : i + BATCH]
        a_kinds = np.concatenate([kinds_before, kinds_after])[i : i + BATCH]
        mixed = AccessBatch(
            ["a"] * len(a_keys) + ["b"] * BATCH,
            a_keys + steady[i : i + BATCH],
            np.concatenate([a_kinds, kinds_steady[i : i + BATCH]]),
            START_NS + np.arange(len(a_keys) + BATCH, dtype=np.int64) + i * 2,
        )
        alerts.extend(observer.observe(mixed))
    tenants = {a.tenant for a in alerts if a.signal != "tenant_mix"}
    assert tenants == {"a"}
    first = next(a for a in alerts if a.tenant == "a")
    assert 20_000 < first.tenant_events < 25_000 and first.severity is Severity.CRITICAL
    assert not any(d.drifted for d in observer.status("b").detectors)
    assert any(d.signal == "tenant_mix" and d.tenant == "" for d in observer.status().detectors)


def test_adwin_on_falling_live_gain_is_critical_and_a_rise_a_warning() -> None:
    observer = StreamObserver(SMALL)
    rng = np.random.default_rng(9)

    def window(i: int, gain: float) -> QualityWindow:
        shadow = int(rng.binomial(1000, 0.5))
        hits = shadow + int(rng.binomial(1000 - shadow, gain / 0.5))
        return QualityWindow("a", 1000, hits, shadow, int(rng.binomial(50, 0.7)), 15, 2, START_NS + i)

    alerts = [a for i in range(300) for a in observer.observe(windows=[window(i, 0.12)])]
    assert alerts == []
    fell = [a for i in range(300, 450) for a in observer.observe(windows=[window(i, 0.02)])]
    assert [(a.detector, a.signal, a.severity) for a in fell[:1]] == [("adwin", "live_gain", Severity.CRITICAL)]
    assert fell[0].change < -0.05 and fell[0].p_value is None and "fell" in fell[0].message
    assert fell[0].window_start_unix_nano > START_NS + 300 - 1
    # ADWIN's bound assumes values spread over [0, 1]: a rise from that low window takes longer.
    rose = [a for i in range(450, 750) for a in observer.observe(windows=[window(i, 0.3)])]
    assert rose and rose[0].severity is Severity.WARNING and rose[0].change > 0.2
    assert observer.windows_observed == 750


def test_reset_reference_rebuilds_from_the_retained_range_or_waits_for_events() -> None:
    observer = StreamObserver(SMALL)
    keys, kinds = synthetic(5, 20_000, 3000, 1.3)
    replay(observer, "a", keys, kinds)
    first_reference = observer.status().tenants[0]
    lo, hi = START_NS + 12_000 * PERIOD_NS, START_NS + 18_000 * PERIOD_NS
    outcome = observer.reset_reference("a", lo, hi)
    assert not outcome.waiting and outcome.reference_size == 6001
    assert (outcome.reference_from_ns, outcome.reference_to_ns) == (lo, hi)
    tenant = observer.status().tenants[0]
    assert (
        (tenant.reference_from_ns, tenant.reference_to_ns)
        == (lo, hi)
        != (
            first_reference.reference_from_ns,
            first_reference.reference_to_ns,
        )
    )
    # Too few retained in the range: the next events become the reference.
    outcome = observer.reset_reference("a", 0, START_NS)
    assert outcome.waiting and outcome.reference_size == 0
    assert outcome.retained_to_ns == START_NS + 19_999 * PERIOD_NS
    assert observer.status().tenants[0].phase is Phase.BUILDING_REFERENCE
    replay(observer, "a", keys[:8000], kinds[:8000])
    assert observer.status().tenants[0].phase is Phase.WATCHING
    before = observer.status().tenants[0]
    for bad in [("a", 5, 4), ("a", -1, 4), ("", 0, 1), ("not a tenant", 0, 1)]:
        with pytest.raises(InvalidInput):
            observer.reset_reference(*bad)
    assert observer.status().tenants[0] == before


def test_the_reference_grows_over_quiet_traffic_from_its_start_up_to_its_maximum() -> None:
    settings = replace(SMALL, history_events=40_000, max_reference_events=20_000)
    observer = StreamObserver(settings)
    keys, kinds = synthetic(7, 60_000, 3000, 1.3)
    start = settings.warmup_events
    sizes = []
    for at in range(0, len(keys), 4000):
        replay_from(observer, "a", keys, kinds, at, at + 4000)
        sizes.append(observer.status().tenants[0].reference_size)
    tenant = observer.status().tenants[0]
    # 8,000 at first; 8,000 quiet events later it holds them too; then it stops at the maximum.
    assert sizes[2] == settings.reference_events and 16_000 in sizes and sizes[-1] == settings.max_reference_events
    assert sizes == sorted(sizes)
    assert tenant.reference_from_ns == START_NS + start * PERIOD_NS
    assert tenant.reference_to_ns == START_NS + (start + settings.max_reference_events - 1) * PERIOD_NS


def test_after_a_reset_the_hit_miss_mix_is_judged_against_the_traffic_that_followed() -> None:
    # The same keys throughout; after the reset the cache hits far more (as a new model would make
    # it): that is no drift of the traffic, and no mix alert follows. Without the reset it is one.
    keys, kinds = synthetic(9, 40_000, 3000, 1.3)
    better = np.where(np.arange(len(kinds)) % 4 == 0, kinds, common_pb2.ACCESS_KIND_HIT)
    for reset in (True, False):
        observer = StreamObserver(SMALL)
        replay_from(observer, "a", keys, kinds, 0, 16_000)
        if reset:
            observer.reset_reference("a", START_NS + 9000 * PERIOD_NS, START_NS + 15_999 * PERIOD_NS)
            assert ("chi2", "kind_mix") not in {(d.detector, d.signal) for d in observer.status().detectors}
        alerts = replay_from(observer, "a", keys, better, 16_000, 40_000)
        mix_alerts = [a for a in alerts if a.signal == "kind_mix"]
        assert (mix_alerts == []) is reset, [(a.signal, a.tenant_events) for a in alerts]
        if reset:
            mix = next(d for d in observer.status().detectors if d.signal == "kind_mix")
            assert mix.reading is not None


def test_a_bad_batch_is_refused_whole_and_changes_nothing() -> None:
    observer = StreamObserver(SMALL)
    good = AccessBatch(["a"], [b"k"], np.array([1]), np.array([START_NS]))
    observer.observe(good)
    bad_batches = [
        dict(events=AccessBatch(["a", "bad tenant"], [b"k", b"j"], np.array([1, 1]), np.array([1, 2]))),
        dict(events=AccessBatch(["a"], [b"k"], np.array([7]), np.array([1]))),
        dict(events=good, windows=[QualityWindow("a", 10, 11, 0, 0, 0, 0, 1)]),
        dict(events=good, windows=[QualityWindow("a", 10, 1, 0, -1, 0, 0, 1)]),
        dict(events=good, outcome_tenants=["no/slash"]),
    ]
    for bad in bad_batches:
        with pytest.raises(InvalidInput):
            observer.observe(**bad)  # type: ignore[arg-type]
    status = observer.status()
    assert (status.events, status.windows, status.outcomes) == (1, 0, 0)
    assert [t.events for t in status.tenants] == [1]


def test_tenants_beyond_the_maximum_are_counted_not_watched() -> None:
    observer = StreamObserver(DriftSettings(max_tenants=1))
    batch = AccessBatch(["a", "b", "b"], [b"k", b"k", b"j"], np.array([1, 1, 2]), np.array([1, 2, 3]))
    observer.observe(batch)
    status = observer.status()
    assert (status.events, status.events_not_watched) == (3, 2)
    assert [t.tenant for t in status.tenants] == ["a"]
    with pytest.raises(Overloaded, match="not watched"):
        observer.reset_reference("b", 0, 1)


def test_a_slow_subscriber_loses_its_oldest_alerts_and_never_holds_up_publishing() -> None:
    feed: AlertFeed[QualityWindow] = AlertFeed(queue_limit=3, recent_limit=4)
    everyone, only_b = feed.subscribe(), feed.subscribe("b")
    woken = []
    only_b.waker = lambda: woken.append(1)
    alerts = [QualityWindow("a" if i % 2 else "b", i, 0, 0, 0, 0, 0, i) for i in range(6)]
    for alert in alerts:
        feed.publish(alert)
    assert everyone.drain() == (alerts[3:], 3)
    assert only_b.drain() == ([alerts[0], alerts[2], alerts[4]], 0) and len(woken) == 3
    assert feed.recent() == alerts[:1:-1] and feed.recent("b") == [alerts[4], alerts[2]]
    feed.unsubscribe(everyone)
    assert feed.subscribers == 1


def test_the_history_is_a_bounded_ring_read_by_time() -> None:
    history = SignalHistory(5)
    for start in (0, 3, 6):
        times = np.arange(start, start + 3, dtype=np.int64)
        history.append(
            times,
            {s: times.astype(float) for s in ("reuse_distance", "inter_arrival", "popularity_rank")},
            times.astype(np.int8),
        )
    assert len(history) == 5 and history.span() == (4, 8)
    assert history.newest(3).times.tolist() == [6, 7, 8]
    assert history.between(5, 7).values["reuse_distance"].tolist() == [5.0, 6.0, 7.0]


def test_bad_drift_settings_fail_naming_the_variable() -> None:
    assert DriftSettings.from_env({}) == DriftSettings()
    assert DriftSettings.from_env({"PREDIS_DRIFT_HORIZON": "4096"}).warmup_events == 4096
    with pytest.raises(SettingsError, match="PREDIS_DRIFT_WINDOW_EVENTS"):
        DriftSettings.from_env({"PREDIS_DRIFT_WINDOW_EVENTS": "many"})
    with pytest.raises(SettingsError, match="window_events"):
        DriftSettings.from_env({"PREDIS_DRIFT_WINDOW_EVENTS": "60000"})
    with pytest.raises(SettingsError, match="history_events"):
        DriftSettings(history_events=10)


class MeanShift:
    """A plugin detector: fires once when the mean of the last 200 values is more than ten
    standard errors from the reference's."""

    def __init__(self, reference: np.ndarray) -> None:
        self.mean, self.sd = float(reference.mean()), float(reference.std()) + 1e-9
        self.recent: collections.deque[float] = collections.deque(maxlen=200)
        self.drift_detected = self.fired = False
        self.reading: Reading | None = None

    def update(self, x: float) -> None:
        self.recent.append(x)
        z = (np.mean(self.recent) - self.mean) / (self.sd / np.sqrt(len(self.recent)))
        self.drift_detected = len(self.recent) == 200 and abs(z) > 10 and not self.fired
        if self.drift_detected:
            self.fired = True
            self.reading = Reading("mean-shift", float(z), abs(float(z)), None, 0, 200)


class MeanShiftPlugin:
    @hookimpl
    def predis_register_drift_detectors(self, register):  # type: ignore[no-untyped-def]
        register("mean-shift", lambda signal, ref: MeanShift(ref) if signal == "reuse_distance" else None)


def test_a_plugin_detector_alerts_through_the_gate() -> None:
    pm = build_plugin_manager({})
    plugin = MeanShiftPlugin()
    pm.register(plugin)
    try:
        factories = Plugins(pm).drift_detector_factories()
    finally:
        pm.unregister(plugin)
    assert set(factories) == {"mean-shift"}
    observer = StreamObserver(SMALL, factories)
    keys, kinds = synthetic(6, 12_000, 300, 1.5)
    replay(observer, "a", keys, kinds)
    assert not [a for a in replay(observer, "a", keys, kinds) if a.detector == "mean-shift"]
    scan = [b"scan:%d" % i for i in range(3000)]  # 3,000 new keys: every reuse distance the horizon
    alerts = replay(observer, "a", scan, np.full(3000, 2))
    ours = [a for a in alerts if a.detector == "mean-shift"]
    assert len(ours) == 1 and ours[0].signal == "reuse_distance" and ours[0].severity is Severity.WARNING
    assert ours[0].effect_size > 10 and ours[0].tenant == "a"
    assert any(d.detector == "mean-shift" and d.detections == 1 for d in observer.status().detectors)

    class Clash:
        @hookimpl
        def predis_register_drift_detectors(self, register):  # type: ignore[no-untyped-def]
            register("ks", lambda signal, ref: None)

    pm.register(Clash())
    with pytest.raises(PluginError, match="'ks'"):
        Plugins(pm).drift_detector_factories()
    with pytest.raises(InvalidInput, match="ks"):
        StreamObserver(SMALL, {"ks": lambda signal, ref: None})


# -- the service on loopback ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def drift_service(
    settings: DriftSettings | None = None,
) -> AsyncIterator[tuple[predis.AsyncClient, StreamObserver, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = StreamObserver(settings, tracer_provider=provider)
    running = await drift_server.create_server(ServerSettings(listen="127.0.0.1:0"), observer, provider)
    client = predis.AsyncClient(drift=f"127.0.0.1:{running.port}")
    try:
        yield client, observer, exporter
    finally:
        await client.close()
        await running.stop(0)


def requests(tenant: str, keys: list[bytes], kinds: np.ndarray) -> Iterator[drift_pb2.ObserveEventsRequest]:
    for batch in batches(tenant, keys, kinds):
        events = [
            common_pb2.AccessEvent(tenant=tenant, key=k, kind=int(kind), time_unix_nano=int(t))
            for k, kind, t in zip(batch.keys, batch.kinds.tolist(), batch.times.tolist(), strict=True)
        ]
        yield drift_pb2.ObserveEventsRequest(events=events)


async def first_alert(client: predis.AsyncClient, tenant: str, ready: asyncio.Event) -> drift_pb2.Alert:
    stream = client.drift.alerts(tenant)
    waiting = asyncio.ensure_future(anext(stream))
    ready.set()
    try:
        return await asyncio.wait_for(waiting, 20)
    finally:
        await stream.aclose()


async def subscribed(observer: StreamObserver, count: int) -> None:
    while observer.feed.subscribers < count:
        await asyncio.sleep(0.01)


async def test_a_regime_change_over_grpc_alerts_watchers_and_shows_in_status() -> None:
    keys, kinds, change = regime_change()
    async with drift_service() as (client, observer, exporter):
        ready = asyncio.Event()
        watch = asyncio.create_task(first_alert(client, "shop", ready))
        await ready.wait()
        await subscribed(observer, 1)
        response = await client.drift.observe(requests("shop", keys, kinds))
        assert response.events_received == len(keys)
        alert = await watch
        assert alert.tenant == "shop" and alert.severity == drift_pb2.ALERT_SEVERITY_CRITICAL
        assert alert.detector in {"ks", "psi"} and alert.signal in {
            "reuse_distance",
            "inter_arrival",
            "popularity_rank",
        }
        assert alert.effect_size >= alert.threshold > 0 and alert.statistic > 0
        assert alert.HasField("p_value") and alert.HasField("adjusted_p_value")
        assert alert.reference_size == 50_000 and alert.window_size == 2000
        assert change < alert.tenant_events < change + 5000
        assert alert.window_start_unix_nano < alert.window_end_unix_nano
        assert "tenant 'shop'" in alert.message
        match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}", alert.traceparent)
        assert match is not None
        spans = [s for s in exporter.get_finished_spans() if s.name == "drift.alert"]
        assert any(f"{s.context.trace_id:032x}" == match.group(1) for s in spans)

        status = await client.drift.status("shop")
        assert status.events_observed == len(keys) and status.recent_alerts[-1].id == alert.id
        times = [a.time_unix_nano for a in status.recent_alerts]
        assert times == sorted(times, reverse=True)  # newest first
        (tenant,) = status.tenants
        assert tenant.tenant == "shop" and tenant.events_observed == len(keys)
        assert tenant.phase == drift_pb2.DETECTOR_PHASE_WATCHING and tenant.reference_size == 50_000
        fired = [d for d in status.detectors if d.detector == alert.detector and d.signal == alert.signal]
        assert fired[0].drifted and fired[0].detections == 1 and fired[0].tenant == "shop"
        assert fired[0].reference_size == 50_000 and fired[0].window_size == 2000 and fired[0].threshold > 0

        # The retrainer promotes a champion trained on the new traffic: its window becomes the reference.
        lo = START_NS + (change + 10_000) * PERIOD_NS
        hi = START_NS + (len(keys) - 1) * PERIOD_NS
        reset = await client.drift.reset_reference("shop", lo, hi)
        assert not reset.waiting_for_events and reset.reference_size == len(keys) - change - 10_000
        assert (reset.reference_from_unix_nano, reset.reference_to_unix_nano) == (lo, hi)
        after = await client.drift.status("shop")
        assert not any(d.drifted for d in after.detectors if d.detector != "adwin")
        waiting = await client.drift.reset_reference("shop", 0, 10)
        assert waiting.waiting_for_events and waiting.reference_size == 0
        assert waiting.retained_to_unix_nano == hi
        for bad in [("shop", 10, 5), ("", 0, 1), ("bad tenant", 0, 1)]:
            with pytest.raises(predis.InvalidArgumentError):
                await client.drift.reset_reference(*bad)
        unchanged = await client.drift.status("shop")
        assert unchanged.tenants[0].phase == drift_pb2.DETECTOR_PHASE_BUILDING_REFERENCE


async def test_a_change_in_one_tenant_over_grpc_alerts_only_its_watchers() -> None:
    async with drift_service(SMALL) as (client, observer, _):
        before, kinds_before = synthetic(2, 20_000, 3000, 1.3)
        after, kinds_after = synthetic(3, 6000, 200, 1.05)
        steady, kinds_steady = synthetic(4, 26_000, 3000, 1.3)
        ready_a, ready_b = asyncio.Event(), asyncio.Event()
        watch_a = asyncio.create_task(first_alert(client, "alpha", ready_a))
        watch_b = asyncio.create_task(first_alert(client, "beta", ready_b))
        await ready_a.wait()
        await ready_b.wait()
        await subscribed(observer, 2)
        a = list(requests("alpha", before + after, np.concatenate([kinds_before, kinds_after])))
        b = list(requests("beta", steady, kinds_steady))
        await client.drift.observe([r for pair in zip(a, b, strict=True) for r in pair])
        alert = await watch_a
        assert alert.tenant == "alpha" and alert.tenant_events > 20_000
        await asyncio.sleep(0.2)
        assert not watch_b.done()
        watch_b.cancel()
        status = await client.drift.status()
        assert {t.tenant: t.events_observed for t in status.tenants} == {"alpha": 26_000, "beta": 26_000}
        assert not any(d.drifted for d in status.detectors if d.tenant == "beta")
        assert all(r.tenant != "beta" for r in status.recent_alerts)


async def test_falling_live_gain_over_grpc_raises_a_critical_adwin_alert() -> None:
    rng = np.random.default_rng(12)

    def window(i: int, gain: float) -> drift_pb2.QualityWindow:
        shadow = int(rng.binomial(1000, 0.5))
        hits = shadow + int(rng.binomial(1000 - shadow, gain / 0.5))
        used = int(rng.binomial(50, 0.7))
        return drift_pb2.QualityWindow(
            tenant="gamma",
            reads=1000,
            hits=hits,
            shadow_hits=shadow,
            prefetches_used=used,
            prefetches_unused=50 - used,
            end_unix_nano=START_NS + i,
        )

    async with drift_service(SMALL) as (client, observer, _):
        ready = asyncio.Event()
        watch = asyncio.create_task(first_alert(client, "gamma", ready))
        await ready.wait()
        await subscribed(observer, 1)
        gains = [0.12] * 300 + [0.02] * 150
        response = await client.drift.observe(
            [drift_pb2.ObserveEventsRequest(windows=[window(i, g)]) for i, g in enumerate(gains)]
        )
        assert response.windows_received == 450
        alert = await watch
        assert (alert.detector, alert.signal, alert.severity) == (
            "adwin",
            "live_gain",
            drift_pb2.ALERT_SEVERITY_CRITICAL,
        )
        assert alert.change < -0.05 and not alert.HasField("p_value") and alert.tenant == "gamma"
        status = await client.drift.status("gamma")
        assert status.windows_observed == 450 and status.tenants[0].windows_observed == 450
        precision = next(d for d in status.detectors if d.signal == "prefetch_precision")
        assert precision.observations == 450 and precision.detections == 0


async def test_bad_input_over_grpc_is_invalid_argument_and_changes_nothing() -> None:
    async with drift_service(SMALL) as (client, observer, _):
        good = drift_pb2.ObserveEventsRequest(events=[common_pb2.AccessEvent(key=b"k", kind=1, time_unix_nano=5)])
        assert (await client.drift.observe([good])).events_received == 1
        bad_requests = [
            drift_pb2.ObserveEventsRequest(events=[common_pb2.AccessEvent(tenant="bad tenant", key=b"k", kind=1)]),
            drift_pb2.ObserveEventsRequest(events=[common_pb2.AccessEvent(key=b"k", kind=9)]),
            drift_pb2.ObserveEventsRequest(windows=[drift_pb2.QualityWindow(reads=1, hits=2)]),
        ]
        for bad in bad_requests:
            with pytest.raises(predis.InvalidArgumentError):
                await client.drift.observe([bad])
        for call in (client.drift.status("bad tenant"), client.drift.reset_reference("default", 3, 2)):
            with pytest.raises(predis.InvalidArgumentError):
                await call
        status = await client.drift.status()
        assert (status.events_observed, status.windows_observed) == (1, 0)
        assert [(t.tenant, t.events_observed) for t in status.tenants] == [("default", 1)]
