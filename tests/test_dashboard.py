"""The ROI dashboard: its poller against the four services on loopback, its JSON API on a real
aiohttp server, its page in a real headless Chromium, and `predis dashboard` / `predis up`.

The browser tests need Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and
skip, saying so, without them. The committed screenshot docs/dashboard.png is made by the slow
test at the end: `PREDIS_DASHBOARD_SCREENSHOT=docs/dashboard.png .venv/bin/pytest
tests/test_dashboard.py -m slow`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from model_factory import make_model_dir
from prometheus_client import CollectorRegistry, generate_latest

import predis
from conftest import BackgroundSuite
from predis.services.cache.prefetcher import PrefetchSettings
from predis.services.dashboard.cache_latency import (
    CacheLatencyTracker,
    CumulativeBuckets,
    MetricsPage,
    ScrapeError,
    parse_get_buckets,
    quantile,
)
from predis.services.dashboard.history import History, TenantSample, chart_columns
from predis.services.dashboard.poller import SuitePoller
from predis.services.dashboard.roi import Prices, cost_view
from predis.services.dashboard.sdk_reader import SdkSuiteReader, dashboard_config
from predis.services.dashboard.server import RunningDashboard, start_dashboard
from predis.services.dashboard.settings import DashboardSettings
from predis.services.drift.observer import DriftAlert
from predis.services.drift.watch import Severity
from predis.services.retrainer.jobs import JobState, Trigger, TriggerKind
from predis.services.runtime.durations import DurationHistogram
from predis.services.runtime.metrics import MetricsEndpoint, ServiceMeters
from predis.services.runtime.settings import SettingsError
from predis.services.security.principal import Role
from predis.services.security.settings import AuthSettings
from predis.services.security.tokens import TokenFile

PREDIS = [sys.executable, "-m", "predis.services.cli"]
VALUE_BYTES = 100


class PageOrigin:
    """An origin that knows every key: its value is derived from the key."""

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        return (key * VALUE_BYTES)[:VALUE_BYTES]

    def close(self) -> None:
        pass


class Clock:
    """Seconds since the epoch that a test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MeteredSuite(BackgroundSuite):
    """The suite with the cache's metrics on, served at ``metrics_url`` as ``predis up`` serves them."""

    metrics_url: str

    def __init__(self, **kwargs: Any) -> None:
        self.cache_meters = ServiceMeters.create("cache", CollectorRegistry())
        super().__init__(meters={"cache": self.cache_meters}, **kwargs)

    def start(self) -> MeteredSuite:
        super().start()
        self.endpoint = MetricsEndpoint.start("127.0.0.1:0", self.cache_meters.registry)  # type: ignore[arg-type]
        self.metrics_url = self.endpoint.url
        return self

    def stop(self) -> None:
        self.endpoint.close()
        self.cache_meters.shutdown()  # before the loop stops: the last collection reads on it
        super().stop()


@pytest.fixture(scope="module")
def suite() -> Iterator[MeteredSuite]:
    # 4 MiB: few enough entries that the shadow replays every key (sample rate 1)
    running = MeteredSuite(origin=PageOrigin(), memory_bytes=4 << 20, shadow=True, export_to_drift=True).start()
    yield running
    running.stop()


def reader_for(suite: BackgroundSuite, **overrides: str) -> SdkSuiteReader:
    return SdkSuiteReader(dashboard_config(2.0), {**suite.addresses, **overrides})


def metrics_of(suite: MeteredSuite) -> MetricsPage:
    return MetricsPage(suite.metrics_url, 2.0)


def client_for(suite: BackgroundSuite, tenant: str) -> predis.Client:
    return predis.Client(**suite.client_kwargs(), config=predis.ClientConfig(tenant=tenant))


def wait_for(condition: Callable[[], object], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def plain_reads(suite: BackgroundSuite, tenant: str, keys: int = 20) -> None:
    """Every key read twice: a miss then a hit, in the cache and in its shadow alike."""
    with client_for(suite, tenant) as client:
        for _ in range(2):
            for k in range(keys):
                client.get(b"plain:%d" % k)


def prefetched_reads(suite: BackgroundSuite, tenant: str, keys: int = 30) -> None:
    """Keys prefetched, then read: hits in the cache, misses in the shadow, which never prefetches."""
    names = [b"next:%d" % k for k in range(keys)]
    with client_for(suite, tenant) as client:
        before = client.stats().tenant.prefetches
        assert client.prefetch(*names) == keys
        wait_for(lambda: client.stats().tenant.prefetches == before + keys, what="the prefetches to load")
        for name in names:
            client.get(name)


def steady_traffic(suite: BackgroundSuite, tenant: str, seconds: float) -> None:
    """Rounds of 10 keys prefetched then read and 10 plain keys read again, for ``seconds``."""
    deadline = time.monotonic() + seconds
    with client_for(suite, tenant) as client:
        for round_ in itertools.count():
            if time.monotonic() >= deadline:
                return
            names = [b"steady:%d:%d" % (round_, k) for k in range(10)]
            loaded = client.stats().tenant.prefetches + client.prefetch(*names)
            wait_for(lambda n=loaded: client.stats().tenant.prefetches >= n, what="the prefetches to load")
            for key in names + [b"plain:%d" % k for k in range(10)]:
                client.get(key)


# -- the poller against real services ---------------------------------------------------------


async def test_a_poll_measures_the_shadow_baseline_and_the_misses_prefetching_avoided(
    suite: MeteredSuite,
) -> None:
    clock = Clock()
    poller = SuitePoller(reader_for(suite), History(10), ["shop"], cache_metrics=metrics_of(suite), clock=clock)
    try:
        await asyncio.to_thread(plain_reads, suite, "shop")
        await poller.poll_once()
        await asyncio.to_thread(prefetched_reads, suite, "shop")
        clock.now += 5
        await poller.poll_once()
    finally:
        await poller.close()
    first, second = poller.history.samples("shop")
    assert (first.quality_reads, first.quality_hits, first.shadow_hits) == (40, 20, 20)
    assert first.misses_avoided == 0 and first.net_origin_reads_saved == 0
    assert (second.quality_reads, second.quality_hits, second.shadow_hits) == (70, 50, 20)
    assert second.misses_avoided == 30  # the shadow's 50 misses less the cache's 20
    assert second.prefetches == 30 and second.net_origin_reads_saved == 0  # each prefetch was an origin read
    assert second.origin_fetches == 50 and second.sample_rate == 1.0
    columns = chart_columns(poller.history.samples("shop"))
    assert columns["time"] == [clock.now - 5, clock.now]
    assert columns["hit_ratio"] == [None, 1.0]  # the 30 reads between the polls all hit...
    assert columns["shadow_hit_ratio"] == [None, 0.0]  # ...and none would have without prefetching
    assert columns["misses_avoided"] == [0, 30]
    assert poller.services["cache"].ok and poller.services["cache metrics"].ok and poller.polls == 2
    # The read latency of the 30 GETs between the polls, off the cache's own histogram; none for
    # the first poll, which has no scrape before it.
    assert (first.gets_timed, first.get_p50_us) == (None, None)
    assert second.gets_timed == 30
    assert second.get_p50_us is not None and second.get_p99_us is not None
    assert 0 < second.get_p50_us <= second.get_p99_us < 2.5e6  # below the origin's timeout (2 s)
    assert columns["get_p50_us"] == [None, second.get_p50_us]


async def test_tenants_are_the_named_ones_and_those_drift_saw(suite: BackgroundSuite) -> None:
    with client_for(suite, "found-by-drift") as client:
        client.get(b"anything")
    wait_for(lambda: "found-by-drift" in {t.tenant for t in suite.observer.status().tenants}, what="drift")
    poller = SuitePoller(reader_for(suite), History(10), ["default"])
    small = SuitePoller(reader_for(suite), History(10), ["default"], max_tenants=1)
    try:
        await poller.poll_once()
        await small.poll_once()
    finally:
        await poller.reader.close()
        await small.reader.close()
    assert poller.tenants[0] == "default" and "found-by-drift" in poller.tenants
    assert poller.history.latest("found-by-drift") is not None
    assert small.tenants == ["default"] and small.tenants_left_out >= 1
    assert "found-by-drift" in small.suite_view()["tenants_from_drift"]


async def test_models_jobs_and_alerts_reach_the_tenant_view(suite: BackgroundSuite, tmp_path: Path) -> None:
    model = make_model_dir(tmp_path / "m")
    with predis.Client(**suite.client_kwargs()) as client:
        client.predictor.load_model("dash-v1", str(model))
        for _ in range(5):
            client.predictor.predict(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32), b"k")

    def book_jobs() -> None:
        book = suite.book
        promoted = book.submit(Trigger(TriggerKind.MANUAL, tenant="jobs"), "jobs", "per-tenant", True)
        book.begin(promoted)
        book.move(promoted, JobState.PROMOTED, candidate_version="jobs-2", note="promoted after A/B")
        rejected = book.submit(Trigger(TriggerKind.DRIFT_ALERT, tenant="jobs"), "", "global", True)
        book.begin(rejected)
        book.move(rejected, JobState.REJECTED, candidate_version="global-7", note="gain below the margin")
        suite.observer.feed.publish(
            DriftAlert(
                id="test-1",
                tenant="jobs",
                detector="ks",
                signal="reuse_distance",
                severity=Severity.CRITICAL,
                statistic=0.3,
                effect_size=0.3,
                threshold=0.1,
                p_value=1e-9,
                adjusted_p_value=1e-8,
                reference_size=50_000,
                window_size=2_000,
                tenant_events=70_000,
                window_start_unix_nano=1,
                window_end_unix_nano=2,
                change=0.0,
                time_unix_nano=time.time_ns(),
                message="reuse distance changed",
                traceparent="",
            )
        )

    suite.call(book_jobs)
    poller = SuitePoller(reader_for(suite), History(10), ["jobs"])
    try:
        await poller.poll_once()
    finally:
        await poller.reader.close()
        with predis.Client(**suite.client_kwargs()) as client:
            client.predictor.unload_model("dash-v1")
    view = poller.tenant_view("jobs")
    assert view["serving"]["version"] == "dash-v1" and view["serving"]["role"] == "champion"
    assert view["serving"]["requests"] == 5 and view["serving"]["latency_p50_us"] > 0
    assert view["latest"]["serving_version"] == "dash-v1"
    assert view["series"]["latency_p50_us"] == [view["serving"]["latency_p50_us"]]
    states = {j["candidate_version"]: (j["state"], j["scope"]) for j in view["jobs"]}
    assert states["jobs-2"] == ("promoted", "jobs") and states["global-7"] == ("rejected", "")
    assert [(a["id"], a["severity"], a["signal"]) for a in view["alerts"]] == [("test-1", "critical", "reuse_distance")]


async def test_a_service_that_does_not_answer_is_marked_and_the_poll_goes_on(suite: BackgroundSuite) -> None:
    nobody = "127.0.0.1:1"
    poller = SuitePoller(
        reader_for(suite, retrainer=nobody, predictor=nobody),
        History(10),
        ["default"],
        cache_metrics=MetricsPage(f"http://{nobody}/metrics", 2.0),
    )
    try:
        await poller.poll_once()
        await poller.poll_once()
    finally:
        await poller.close()
    view = poller.suite_view()
    for name in ("retrainer", "predictor"):
        assert not view["services"][name]["ok"] and "UNAVAILABLE" in view["services"][name]["error"]
    assert not view["services"]["cache metrics"]["ok"] and nobody in view["services"]["cache metrics"]["error"]
    assert view["services"]["cache"]["ok"] and view["services"]["drift"]["ok"]
    latest = poller.history.latest("default")
    assert latest is not None and latest.serving_version == "" and latest.latency_p50_us is None
    assert latest.get_p50_us is None and len(poller.history.samples("default")) == 2


async def test_with_auth_required_the_dashboard_reads_with_the_admin_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenFile(tmp_path / "tokens.json")
    admin, _ = store.create("ops", Role.ADMIN)
    tenant_token, _ = store.create("a", Role.TENANT)
    secured = BackgroundSuite(auth=AuthSettings(required=True, tokens_file=store.path), shadow=True).start()
    try:
        for token, tenant in ((tenant_token, "a"), (admin, "b")):
            config = predis.ClientConfig(tenant=tenant, token=token)
            with predis.Client(secured.addresses["cache"], config=config) as client:
                client.set(b"k", b"v")
                client.get(b"k")
        polled = {}
        for token in (admin, ""):
            monkeypatch.setenv("PREDIS_TOKEN", token)  # read by ClientConfig, as for every SDK client
            poller = SuitePoller(SdkSuiteReader(dashboard_config(2.0), secured.addresses), History(4), ["a", "b"])
            try:
                await poller.poll_once()
            finally:
                await poller.reader.close()
            polled[token] = poller
    finally:
        secured.stop()
    with_admin, without = polled[admin], polled[""]
    assert all(s.ok for s in with_admin.services.values()), with_admin.suite_view()
    assert with_admin.history.latest("a").hits == 1 and with_admin.history.latest("b").hits == 1  # type: ignore[union-attr]
    assert "UNAUTHENTICATED" in without.services["cache"].error and without.history.latest("a") is None


# -- counts and prices --------------------------------------------------------------------------


def sample(time_s: float, **counts: Any) -> TenantSample:
    defaults: dict[str, Any] = {
        "hits": 0,
        "misses": 0,
        "entries": 0,
        "memory_bytes": 0,
        "evictions": 0,
        "prefetches": 0,
        "prefetches_used": 0,
        "prefetches_unused": 0,
        "origin_fetches": 0,
        "origin_errors": 0,
        "quality_enabled": True,
        "quality_reads": 0,
        "quality_hits": 0,
        "shadow_hits": 0,
        "sample_rate": 1.0,
        "prefetcher_enabled": True,
        "prefetcher_state": "active",
        "precision_target": 0.5,
        "recent_precision": 0.0,
        "learned_settled": 0,
        "unread_prefetch_bytes": 0,
        "backend": "numpy",
    }
    return TenantSample(time_s=time_s, **(defaults | counts))


def two_hours() -> list[TenantSample]:
    """Two hours of one tenant: 10,000 reads, 7,000 hits (1,000 more than the shadow's), 300
    prefetches, 3,300 origin reads; 2 GB held throughout."""
    start = sample(0.0, memory_bytes=2_000_000_000)
    end = sample(
        7200.0,
        hits=7_000,
        misses=3_000,
        quality_reads=10_000,
        quality_hits=7_000,
        shadow_hits=6_000,
        prefetches=300,
        origin_fetches=3_300,
        memory_bytes=2_000_000_000,
    )
    return [start, end]


def lines_of(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["key"]: line for line in view["lines"]}


def test_without_prices_the_cost_view_shows_counts_and_no_money() -> None:
    view = cost_view(two_hours(), Prices())
    q = {k: v["value"] for k, v in view["quantities"].items()}
    assert q["hours"] == 2 and q["reads"] == 10_000 and q["origin_fetches"] == 3_300
    assert q["misses_avoided"] == 1_000 and q["prefetch_loads"] == 300
    assert q["memory_gb_hours"] == pytest.approx(4.0) and q["gpus"] == 0 and q["gpu_hours"] == 0
    lines = lines_of(view)
    assert lines["cache_saved"]["count"] == 6_700 and lines["prefetch_saved"]["count"] == 700
    assert all(line["money"] is None for line in lines.values())
    assert lines["cache_saved"]["missing"] == ["origin_read"] and lines["net"]["missing"] == ["origin_read", "gb_hour"]


def test_money_is_each_count_times_its_price_and_the_net_needs_every_price_used() -> None:
    only_reads = lines_of(cost_view(two_hours(), Prices(origin_read=0.001)))
    assert only_reads["cache_saved"]["money"] == pytest.approx(6.7)
    assert only_reads["prefetch_saved"]["money"] == pytest.approx(0.7)
    assert only_reads["memory"]["money"] is None and only_reads["net"]["money"] is None
    full = lines_of(cost_view(two_hours(), Prices(origin_read=0.001, gb_hour=0.5)))
    assert full["memory"]["money"] == pytest.approx(2.0)
    assert full["net"]["money"] == pytest.approx(6.7 - 2.0)  # no GPU in use: its price is not needed
    gpu = lines_of(cost_view(two_hours(), Prices(origin_read=0.001, gb_hour=0.5, gpus=1)))
    assert gpu["gpu"]["count"] == 2 and gpu["net"]["money"] is None and gpu["net"]["missing"] == ["gpu_hour"]
    priced = lines_of(cost_view(two_hours(), Prices(origin_read=0.001, gb_hour=0.5, gpus=1, gpu_hour=1.5)))
    assert priced["net"]["money"] == pytest.approx(6.7 - 2.0 - 3.0)


def test_a_cache_restart_and_a_sampled_shadow_are_not_turned_into_numbers() -> None:
    start, end = two_hours()
    restarted = sample(8000.0, hits=100, misses=50, origin_fetches=50, quality_reads=150, quality_hits=100)
    view = cost_view([start, end, restarted], Prices())
    assert view["quantities"]["reads"]["value"] == 10_150  # counted again from 0 after the restart
    assert chart_columns([start, end, restarted])["hit_ratio"][2] is None
    sampled = [sample(0.0, sample_rate=0.25), sample(60.0, sample_rate=0.25, quality_reads=10, quality_hits=5)]
    lines = lines_of(cost_view(sampled, Prices(origin_read=1.0)))
    assert lines["prefetch_saved"]["count"] is None and "sampled" in lines["prefetch_saved"]["note"]
    assert sampled[1].net_origin_reads_saved is None
    no_origin = [sample(0.0), sample(60.0, hits=5, misses=5)]  # clients Set what they miss
    assert lines_of(cost_view(no_origin, Prices(origin_read=1.0)))["cache_saved"]["money"] is None
    assert cost_view([start], Prices())["note"].startswith("the cost view needs two samples")


@pytest.mark.parametrize("raw", ["-1", "abc", "inf", "nan"])
def test_bad_prices_are_refused_naming_the_parameter(raw: str) -> None:
    with pytest.raises(ValueError, match="origin_read"):
        Prices.from_query({"origin_read": raw})


# -- read latency off the cache's histogram ---------------------------------------------------------


def buckets(*pairs: tuple[float, float]) -> CumulativeBuckets:
    return CumulativeBuckets(tuple(b for b, _ in pairs), tuple(c for _, c in pairs))


def test_quantiles_are_read_off_the_buckets_as_prometheus_does() -> None:
    inf = float("inf")
    b = buckets((0.001, 10), (0.002, 20), (inf, 20))
    assert quantile(0.5, b) == pytest.approx(0.001)  # rank 10: the top of the first bucket
    assert quantile(0.99, b) == pytest.approx(0.001 + 0.001 * 9.8 / 10)  # linear within the second
    assert quantile(0.25, b) == pytest.approx(0.0005)
    # A rank in the unbounded bucket answers the highest finite bound, as histogram_quantile does.
    assert quantile(0.99, buckets((0.001, 1), (0.002, 1), (inf, 10))) == 0.002
    assert quantile(0.5, buckets((0.001, 0), (inf, 0))) is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantile(1.5, b)


def test_the_exported_histogram_parses_per_tenant_front_ends_added() -> None:
    """The cache's own exporter, as /metrics serves it: GETs of two tenants through two front ends."""
    grpc = DurationHistogram(["tenant"], {"frontend": "grpc"})
    resp = DurationHistogram(["tenant"], {"frontend": "resp"})
    meters = ServiceMeters.create("cache", CollectorRegistry())
    meters.histogram("predis.cache.get.duration", "Time inside one GET", "s", grpc, resp)
    # The SDK collects the durations with its own instruments' data; a service always has some.
    meters.gauge("predis.cache.entries", "Entries", "1", lambda: [(0.0, {"tenant": "shop"})])
    for _ in range(90):
        grpc.record_ns("shop", 20_000)  # 20 µs: the (10 µs, 25 µs] bucket
    for _ in range(10):
        resp.record_ns("shop", 3_000_000)  # 3 ms: (2.5 ms, 5 ms]
    resp.record_ns("acme", 7_000)
    try:
        assert meters.registry is not None
        scraped = parse_get_buckets(generate_latest(meters.registry).decode())
    finally:
        meters.shutdown()
    assert set(scraped) == {"shop", "acme"} and scraped["shop"].total == 100 and scraped["acme"].total == 1
    p50, p99 = quantile(0.5, scraped["shop"]), quantile(0.99, scraped["shop"])
    assert p50 is not None and 10e-6 < p50 <= 25e-6
    assert p99 is not None and 2.5e-3 < p99 <= 5e-3
    with pytest.raises(ScrapeError, match="text format"):
        parse_get_buckets('predis_cache_get_duration_seconds_bucket{le="x"} 1\n')
    with pytest.raises(ScrapeError, match="count nan"):
        parse_get_buckets('predis_cache_get_duration_seconds_bucket{tenant="t",le="+Inf"} NaN\n')


async def test_a_metrics_page_that_is_not_text_is_a_scrape_error_and_the_poll_goes_on(suite: MeteredSuite) -> None:
    from aiohttp import web

    async def not_text(_: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xfe\x00garbage", content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", not_text)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    poller = SuitePoller(
        reader_for(suite), History(10), ["default"], cache_metrics=MetricsPage(f"http://127.0.0.1:{port}/metrics", 2.0)
    )
    try:
        await poller.poll_once()
    finally:
        await poller.close()
        await runner.cleanup()
    state = poller.suite_view()["services"]["cache metrics"]
    assert not state["ok"] and "not a text page" in state["error"]
    assert poller.history.latest("default") is not None  # Stats was still read


def test_each_interval_counts_the_gets_between_two_scrapes_and_survives_a_restart() -> None:
    inf = float("inf")
    tracker = CacheLatencyTracker()
    first = tracker.update({"shop": buckets((0.001, 5), (0.002, 5), (inf, 5))}, ["shop", "acme"])
    assert first == {}  # no interval yet
    second = tracker.update({"shop": buckets((0.001, 8), (0.002, 8), (inf, 9))}, ["shop", "acme"])
    assert second["shop"].gets == 4 and second["acme"].gets == 0 and second["acme"].p50_us is None
    # The cache restarted: its counts start again from 0, so this scrape's counts are the interval's.
    third = tracker.update({"shop": buckets((0.001, 2), (0.002, 2), (inf, 2))}, ["shop"])
    assert third["shop"].gets == 2 and third["shop"].p99_us == pytest.approx(990.0)


# -- settings -----------------------------------------------------------------------------------


def test_settings_defaults_and_what_is_refused() -> None:
    defaults = DashboardSettings.from_env({})
    assert (defaults.listen, defaults.tenants, defaults.poll_s) == ("127.0.0.1:8080", ("default",), 5.0)
    named = DashboardSettings.from_env({"PREDIS_DASHBOARD_TENANTS": "shop, acme,shop"}, "127.0.0.1:0")
    assert named.tenants == ("shop", "acme") and named.listen == "127.0.0.1:0"
    # compose runs `predis dashboard --listen 0.0.0.0:8080` with PREDIS_ALLOW_INSECURE=on
    assert DashboardSettings.from_env({"PREDIS_ALLOW_INSECURE": "on"}, "0.0.0.0:8080").listen == "0.0.0.0:8080"
    with pytest.raises(SettingsError, match="PREDIS_ALLOW_INSECURE"):
        DashboardSettings.from_env({}, "0.0.0.0:8080")
    with pytest.raises(SettingsError, match="PREDIS_TOKEN"):
        DashboardSettings.from_env({"PREDIS_AUTH": "required"})
    with pytest.raises(SettingsError, match="PREDIS_DASHBOARD_TENANTS"):
        DashboardSettings.from_env({"PREDIS_DASHBOARD_TENANTS": "no spaces allowed"})
    with pytest.raises(SettingsError, match="PREDIS_DASHBOARD_POLL_S"):
        DashboardSettings.from_env({"PREDIS_DASHBOARD_POLL_S": "0"})
    assert defaults.cache_metrics_url is None
    assert DashboardSettings.from_env({"PREDIS_DASHBOARD_CACHE_METRICS": "off"}).cache_metrics_url is None
    url = "http://cache:9451/metrics"
    assert DashboardSettings.from_env({"PREDIS_DASHBOARD_CACHE_METRICS": url}).cache_metrics_url == url
    with pytest.raises(SettingsError, match="PREDIS_DASHBOARD_CACHE_METRICS=cache:9451"):
        DashboardSettings.from_env({"PREDIS_DASHBOARD_CACHE_METRICS": "cache:9451"})


# -- the HTTP API -------------------------------------------------------------------------------


async def serve(suite: MeteredSuite, tenants: tuple[str, ...], poll_s: float = 0.3) -> RunningDashboard:
    settings = DashboardSettings(
        listen="127.0.0.1:0",
        tenants=tenants,
        poll_s=poll_s,
        discover_tenants=False,
        cache_metrics_url=suite.metrics_url,
    )
    return await start_dashboard(settings, reader_for(suite))


async def wait_polls(running: RunningDashboard, polls: int) -> None:
    deadline = time.monotonic() + 10
    while running.poller.polls < polls:
        assert time.monotonic() < deadline, "the dashboard did not poll"
        await asyncio.sleep(0.05)


API_TENANTS = itertools.count(1)


@dataclass
class Api:
    running: RunningDashboard
    http: aiohttp.ClientSession
    tenant: str


@pytest.fixture
async def api(suite: MeteredSuite) -> AsyncIterator[Api]:
    """A dashboard on port 0 over a tenant of its own with plain and prefetched reads, polled
    before and after the prefetched ones."""
    tenant = f"api-{next(API_TENANTS)}"
    await asyncio.to_thread(plain_reads, suite, tenant)
    running = await serve(suite, (tenant,))
    await wait_polls(running, 1)
    await asyncio.to_thread(prefetched_reads, suite, tenant)
    polls = running.poller.polls
    await wait_polls(running, polls + 2)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{running.port}") as session:
        yield Api(running, session, tenant)
    await running.stop()


async def test_the_api_serves_what_the_poller_measured(api: Api) -> None:
    http, tenant = api.http, api.tenant
    async with http.get("/api/suite") as response:
        suite_view = await response.json()
    assert suite_view["tenants"] == [tenant] and suite_view["services"]["cache"]["ok"]
    async with http.get(f"/api/tenants/{tenant}") as response:
        assert response.headers["Cache-Control"] == "no-store"
        view = await response.json()
    assert view["latest"]["misses_avoided"] == 30 and view["latest"]["quality_reads"] == 70
    assert view["latest"]["shadow_hit_ratio"] == pytest.approx(20 / 70)
    assert len(view["series"]["time"]) == len(api.running.poller.history.samples(tenant))
    assert max(v for v in view["series"]["hit_ratio"] if v is not None) == 1.0
    async with http.get(f"/api/tenants/{tenant}/cost", params={"origin_read": "0.5"}) as response:
        cost = await response.json()
    lines = lines_of(cost)
    assert cost["prices"]["origin_read"] == 0.5 and cost["prices"]["gb_hour"] is None
    assert lines["cache_saved"]["money"] == pytest.approx(0.5 * lines["cache_saved"]["count"])
    assert lines["memory"]["money"] is None and lines["memory"]["missing"] == ["gb_hour"]
    async with http.get(f"/api/tenants/{tenant}/cost", params={"gb_hour": "-2"}) as response:
        assert response.status == 400 and "gb_hour" in (await response.json())["error"]
    async with http.get("/api/tenants/nobody") as response:
        assert response.status == 404


async def test_the_page_and_its_vendored_chart_library_are_served(api: Api) -> None:
    http = api.http
    async with http.get("/") as response:
        page = await response.text()
    assert response.status == 200 and "/static/vendor/uPlot.iife.min.js" in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere: works offline
    for path in ("/static/vendor/uPlot.iife.min.js", "/static/vendor/uPlot.LICENSE", "/static/dashboard.js"):
        async with http.get(path) as response:
            assert response.status == 200, path
    async with http.get("/static/../settings.py") as response:
        assert response.status in (403, 404)


# -- the commands -------------------------------------------------------------------------------


def test_predis_dashboard_serves_until_sigterm(suite: MeteredSuite) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PREDIS_DASHBOARD_POLL_S": "0.2"}
    env["PREDIS_DASHBOARD_CACHE_METRICS"] = suite.metrics_url
    env |= {f"PREDIS_{name.upper()}_ADDRESS": address for name, address in suite.addresses.items()}
    process = subprocess.Popen(
        [*PREDIS, "dashboard", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"predis-dashboard listening on 127\.0\.0\.1:(\d+)\n", line)
        assert match, line + (process.stderr.read() if process.poll() is not None else "")  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{match.group(1)}/api/suite"

        def polled() -> bool:
            import urllib.request

            with urllib.request.urlopen(url, timeout=5) as response:
                view = json.load(response)
            return bool(view["polls"]) and view["services"]["cache metrics"]["ok"]

        wait_for(polled, what="a poll that read the cache's metrics")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0


def test_predis_up_starts_the_dashboard_and_prints_its_url(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*PREDIS, "up", "--base-port", "0", "--log-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        url = next((line.split()[1] for line in lines if line.startswith("Dashboard: ")), None)
        assert url, "".join(lines)
        import urllib.request

        with urllib.request.urlopen(url + "api/suite", timeout=5) as response:
            view = json.load(response)
        assert view["tenants"][0] == "default"
        # predis up turns the cache's metrics on and points the dashboard at them.
        metrics = next(line.split()[-1] for line in lines if line.strip().startswith("cache") and "/metrics" in line)
        assert view["cache_metrics_url"] == metrics, "".join(lines)
        assert not any("PREDIS_DASHBOARD_ADDRESS" in line for line in lines)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0


# -- the page in a real browser -----------------------------------------------------------------


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for program in ("chromium", "chromedriver"):
        if shutil.which(program) is None:
            return f"{program} is not on PATH (Debian: apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        pytest.skip(f"browser tests need Chromium and its driver: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,2200")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or ""))
    driver.set_script_timeout(10)
    yield driver
    driver.quit()


def wait_in_page(driver: Any, script: str, timeout_s: float = 10.0) -> Any:
    """Runs ``script`` (a JavaScript expression) until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        assert time.monotonic() < deadline, f"the page never had {script}"
        time.sleep(0.1)


# How many pixels of a chart's canvas have about a series' colour: drawn lines, not only axes.
COLOUR_PIXELS = """
const [canvas, hex] = arguments;
const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let n = 0;
for (let i = 0; i < data.length; i += 4) {
  const near = Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40;
  if (data[i + 3] > 200 && near) n++;
}
return n;
"""


class PageServer:
    """A dashboard over the module's suite, served from the suite's loop thread for the browser,
    after a second and a half of steady traffic (so that every chart has lines, not points)."""

    def __init__(self, suite: MeteredSuite, tenant: str) -> None:
        self.suite = suite
        plain_reads(suite, tenant)
        self.running: RunningDashboard = suite.run(serve(suite, (tenant,), poll_s=0.25))
        wait_for(lambda: self.running.poller.polls >= 1, what="a poll")
        steady_traffic(suite, tenant, seconds=1.5)
        polls = self.running.poller.polls
        wait_for(lambda: self.running.poller.polls >= polls + 1, what="one more poll")
        self.url = f"http://127.0.0.1:{self.running.port}/"

    def api(self, path: str) -> Any:
        import urllib.request

        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=5) as response:
            return json.load(response)

    def stop(self) -> None:
        self.suite.run(self.running.stop())


@pytest.fixture(scope="module")
def page(suite: MeteredSuite) -> Iterator[PageServer]:
    server = PageServer(suite, "web")
    yield server
    server.stop()


def test_the_page_draws_the_suites_live_numbers(browser: Any, page: PageServer) -> None:
    browser.get(page.url + "?tenant=web")
    wait_in_page(browser, "window.predisDashboard && window.predisDashboard.refreshes >= 1")
    from selenium.webdriver.common.by import By

    assert browser.find_element(By.ID, "tenant").get_attribute("value") == "web"
    shown = browser.find_element(By.ID, "v-misses_avoided")
    latest = page.api("/api/tenants/web")["latest"]
    assert latest["misses_avoided"] > 30  # the traffic has stopped: the page and the API agree
    assert shown.get_attribute("data-value") == str(latest["misses_avoided"])
    assert shown.text == f"{latest['misses_avoided']:,}"
    assert browser.find_element(By.ID, "v-shadow_hit_ratio").text == f"{100 * latest['shadow_hit_ratio']:.1f}%"
    canvases = browser.find_elements(By.CSS_SELECTOR, ".plot canvas")
    assert len(canvases) == 5 and all(c.size["width"] > 300 and c.size["height"] > 100 for c in canvases)
    # The hit ratio chart holds the API's series and has drawn both lines in their colours.
    fetched = browser.execute_script("return window.predisDashboard.view.series;")
    charted = browser.execute_script("return window.predisDashboard.charts.hitRatio.data;")
    assert charted == [fetched["time"], fetched["hit_ratio"], fetched["shadow_hit_ratio"]]
    assert sum(v is not None for v in fetched["shadow_hit_ratio"]) >= 3
    series, n = page.api("/api/tenants/web")["series"], len(fetched["time"])  # the poller went on since
    assert [series[c][:n] for c in ("time", "hit_ratio", "shadow_hit_ratio")] == charted
    hit_canvas = browser.find_element(By.CSS_SELECTOR, "#chart-hit-ratio canvas")
    assert browser.execute_script(COLOUR_PIXELS, hit_canvas, "#1f6fd1") > 50  # with prefetching
    assert browser.execute_script(COLOUR_PIXELS, hit_canvas, "#e8730c") > 50  # the shadow
    saved_canvas = browser.find_element(By.CSS_SELECTOR, "#chart-saved canvas")
    assert browser.execute_script(COLOUR_PIXELS, saved_canvas, "#1f6fd1") > 50  # misses avoided
    # The read latency chart holds the p50 and p99 the poller read off the cache's histogram.
    read_latency = browser.execute_script("return window.predisDashboard.charts.readLatency.data;")
    assert read_latency == [fetched["time"], fetched["get_p50_us"], fetched["get_p99_us"]]
    assert sum(v is not None for v in fetched["get_p99_us"]) >= 3
    read_canvas = browser.find_element(By.CSS_SELECTOR, "#chart-read-latency canvas")
    assert browser.execute_script(COLOUR_PIXELS, read_canvas, "#1f6fd1") > 50  # p50
    assert browser.execute_script(COLOUR_PIXELS, read_canvas, "#e8730c") > 50  # p99
    assert not browser.find_element(By.ID, "read-latency-note").is_displayed()
    assert "no drift alerts" in browser.find_element(By.ID, "alerts").text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []  # no script error, no CSP refusal


def test_the_cost_view_computes_from_the_prices_entered(browser: Any, page: PageServer) -> None:
    from selenium.webdriver.common.by import By

    browser.get(page.url + "?tenant=web&gb_hour=0.25")
    wait_in_page(browser, "window.predisDashboard && window.predisDashboard.costRefreshes >= 1")
    assert browser.find_element(By.NAME, "gb_hour").get_attribute("value") == "0.25"  # from the URL
    cell = browser.find_element(By.CSS_SELECTOR, "#cost-lines td[data-key=cache_saved]")
    assert cell.get_attribute("data-value") == "" and cell.text == "enter origin_read"  # no price, no money
    browser.find_element(By.NAME, "origin_read").send_keys("0.01")
    wait_in_page(browser, "document.querySelector('#cost-lines td[data-key=cache_saved]').dataset.value !== ''")
    cost = page.api("/api/tenants/web/cost?origin_read=0.01&gb_hour=0.25")
    expected = lines_of(cost)["cache_saved"]
    assert expected["money"] == pytest.approx(0.01 * expected["count"])
    cell = browser.find_element(By.CSS_SELECTOR, "#cost-lines td[data-key=cache_saved]")
    assert float(cell.get_attribute("data-value")) == pytest.approx(expected["money"])
    assert "origin_read=0.01" in browser.current_url  # the view can be shared as a link
    memory = browser.find_element(By.CSS_SELECTOR, "#cost-lines td[data-key=memory]")
    assert memory.get_attribute("data-value") != ""  # priced from the URL's gb_hour


# -- the screenshot: learned prefetching on the page ----------------------------------------------


@pytest.mark.slow
def test_learned_prefetching_beats_the_baseline_on_the_page(browser: Any, tmp_path: Path) -> None:
    """A model trained as `predis train` does, served by the predictor, prefetching for the cache,
    with the dashboard polling every second. Saves the page to $PREDIS_DASHBOARD_SCREENSHOT when
    set (how docs/dashboard.png is made)."""
    from selenium.webdriver.common.by import By

    from predis.services.replay.traces import Trace
    from predis.services.retrainer.training import TrainingOptions, train

    rng = np.random.default_rng(1)

    def sessions(requests: int) -> np.ndarray:
        picks = rng.integers(0, 300, requests // 4 + 1)
        return (picks[:, None] * 10 + np.arange(4)).ravel()[:requests].astype(np.uint64)

    model = tmp_path / "sessions"
    train([Trace("sessions", sessions(20_000))], model, TrainingOptions(train_fraction=1.0))
    learning = MeteredSuite(
        origin=PageOrigin(),
        memory_bytes=96 * 1024,
        prefetch=PrefetchSettings(memory_share=0.25),
        shadow=True,
        export_to_drift=True,
    ).start()
    settings = DashboardSettings(
        listen="127.0.0.1:0",
        tenants=("shop",),
        poll_s=1.0,
        discover_tenants=False,
        cache_metrics_url=learning.metrics_url,
    )
    running: RunningDashboard = learning.run(start_dashboard(settings, reader_for(learning)))
    try:
        with client_for(learning, "shop") as client:
            for obj in sessions(1_500).tolist():  # no model yet: plain S3-FIFO, like its shadow
                client.get(b"page:%d" % obj)
                time.sleep(0.003)
            client.predictor.load_model("sessions-v1", str(model))
            for obj in sessions(4_000).tolist():
                client.get(b"page:%d" % obj)
                time.sleep(0.004)
        time.sleep(2.5)
        url = f"http://127.0.0.1:{running.port}/"
        browser.get(url + "?tenant=shop&origin_read=0.0004&gb_hour=0.006")
        wait_in_page(browser, "window.predisDashboard && window.predisDashboard.costRefreshes >= 1")
        time.sleep(0.5)
        gain = float(browser.find_element(By.ID, "v-live_gain").get_attribute("data-value"))
        assert gain > 0.05, gain
        target = os.environ.get("PREDIS_DASHBOARD_SCREENSHOT")
        if target:
            height = browser.execute_script("return document.body.scrollHeight;")
            browser.set_window_size(1400, height + 40)
            time.sleep(0.5)
            browser.save_screenshot(target)
    finally:
        learning.run(running.stop())
        learning.stop()
