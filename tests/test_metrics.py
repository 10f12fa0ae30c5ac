"""Metrics: the four services on loopback, scraped over HTTP from their /metrics endpoints and
parsed with prometheus_client's own text parser; the numbers are compared with what the services'
status calls (Stats, GetModelStatus, GetStatus, ListJobs) say, which read the same counters.
No timing assertions: only counts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from model_factory import make_model_dir
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import predis
from conftest import BackgroundSuite
from predis.services import cli
from predis.services.drift.observer import StreamObserver
from predis.services.drift.settings import DriftSettings
from predis.services.resp.server import create_resp_server
from predis.services.resp.settings import RespSettings
from predis.services.retrainer.jobs import Trigger, TriggerKind
from predis.services.runtime.durations import DurationHistogram
from predis.services.runtime.metrics import MetricsEndpoint, MetricsSettings, ServiceMeters
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.services.supervisor import _wait_ready, metrics_listen
from predis.v1 import common_pb2, drift_pb2

SERVICES = ("cache", "predictor", "drift", "retrainer")
ROWS = np.array([[2.0, 0, 0, 0], [-2.0, 0, 0, 0], [0.1, 1, 1, 1]], dtype=np.float32)
START_NS = 1_700_000_000_000_000_000
DRIFT = DriftSettings(
    horizon=1024,
    warmup_events=1024,
    reference_events=8000,
    min_reference_events=4000,
    window_events=1000,
    check_every=250,
    history_events=20_000,
    max_reference_events=20_000,
)


class PagesOrigin:
    """Every key has a value, except those starting with ``fail``, whose fetch raises."""

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        if key.startswith(b"fail"):
            raise RuntimeError("the origin is down for this key")
        return b"page:" + key

    def close(self) -> None:
        pass


class Metered:
    """The suite with a meter provider per service, each on its own /metrics endpoint."""

    def __init__(self) -> None:
        self.meters = {name: ServiceMeters.create(name, CollectorRegistry()) for name in SERVICES}
        self.suite = BackgroundSuite(origin=PagesOrigin(), shadow=True, meters=self.meters)
        self.suite.observer = StreamObserver(DRIFT)
        self.suite.start()
        self.endpoints = {
            name: MetricsEndpoint.start("127.0.0.1:0", meters.registry)  # type: ignore[arg-type]
            for name, meters in self.meters.items()
        }

    def client(self, tenant: str | None = None) -> predis.Client:
        # No retries: a read the origin fails is one origin call, so the counts below are exact.
        config = predis.ClientConfig(tenant=tenant, retry=predis.RetryPolicy(max_attempts=1))
        return predis.Client(**self.suite.client_kwargs(), config=config)

    def scrape(self, service: str) -> dict[str, Any]:
        """Every sample of the service's /metrics, by sample name: a list of (labels, value)."""
        url = self.endpoints[service].url
        assert url.endswith("/metrics")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            text = response.read().decode()
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        return samples

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.close()
        for meters in self.meters.values():
            meters.shutdown()  # before the loop stops: the last collection reads on it
        self.suite.stop()


def value(samples: dict[str, Any], name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels``."""
    found = [v for got, v in samples.get(name, []) if all(got.get(k) == want for k, want in labels.items())]
    assert len(found) == 1, f"{name}{labels}: {found} among {samples.get(name)}"
    return found[0]


def total(samples: dict[str, Any], name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == want for k, want in labels.items()))


@pytest.fixture(scope="module")
def metered() -> Iterator[Metered]:
    running = Metered()
    yield running
    running.close()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("models") / "up")


def settled(client: predis.Client) -> Any:
    """Stats once the tenant's prefetches have all loaded or failed (polled, not timed)."""
    for _ in range(1000):
        stats = client.stats()
        if stats.tenant.prefetches >= 2:
            return stats
        time.sleep(0.005)
    raise AssertionError(f"the prefetches never loaded: {stats.tenant}")


def test_cache_counters_move_after_sdk_calls_and_match_stats(metered: Metered) -> None:
    with metered.client("acme") as client:
        client.set(b"a", b"1")
        client.set(b"b", b"2")
        assert client.get(b"a") == b"1"  # hit
        assert client.get(b"k1") == b"page:k1"  # miss, read through
        with pytest.raises(predis.UnavailableError):
            client.get(b"fail-1")  # miss, the origin fails
        assert client.prefetch(b"p1", b"p2") == 2
        settled(client)
        assert client.get(b"p1") == b"page:p1"  # a prefetch used
        stats = client.stats()
    s = metered.scrape("cache")
    t = stats.tenant
    assert value(s, "predis_cache_hits_total", tenant="acme") == t.hits == 2
    assert value(s, "predis_cache_misses_total", tenant="acme") == t.misses == 2
    assert value(s, "predis_cache_origin_fetches_total", tenant="acme") == t.origin_fetches == 4
    assert value(s, "predis_cache_origin_errors_total", tenant="acme") == t.origin_errors == 1
    assert value(s, "predis_cache_entries", tenant="acme") == t.entries
    assert value(s, "predis_cache_memory_bytes", tenant="acme") == t.memory_bytes > 0
    assert value(s, "predis_cache_evictions_total", tenant="acme") == t.evictions
    # Prefetch outcomes by issuer; together they are what Stats says.
    assert total(s, "predis_cache_prefetches_loaded_total", tenant="acme") == t.prefetches == 2
    assert value(s, "predis_cache_prefetches_issued_total", tenant="acme", issuer="client") == 2
    assert value(s, "predis_cache_prefetches_used_total", tenant="acme", issuer="client") == t.prefetches_used == 1
    assert total(s, "predis_cache_prefetches_wasted_total", tenant="acme") == t.prefetches_unused == 0
    assert value(s, "predis_cache_prefetches_used_total", tenant="acme", issuer="loop") == 0
    # The live-quality shadow, as Stats.quality.
    assert value(s, "predis_cache_quality_reads_total", tenant="acme") == stats.quality.reads
    assert value(s, "predis_cache_quality_live_gain", tenant="acme") == pytest.approx(stats.quality.live_gain)
    # The engine as a whole.
    assert value(s, "predis_cache_engine_memory_budget_bytes") == stats.engine.memory_budget_bytes
    assert value(s, "predis_cache_engine_entries", policy="s3fifo", backend="numpy") == stats.engine.entries
    # Every Get and Set was timed, the failed one included; every origin call, by outcome.
    assert value(s, "predis_cache_get_duration_seconds_count", tenant="acme", frontend="grpc") == 4
    assert value(s, "predis_cache_set_duration_seconds_count", tenant="acme", frontend="grpc") == 2
    assert value(s, "predis_cache_get_duration_seconds_bucket", tenant="acme", frontend="grpc", le="+Inf") == 4
    assert value(s, "predis_cache_get_duration_seconds_sum", tenant="acme", frontend="grpc") > 0
    assert value(s, "predis_cache_origin_duration_seconds_count", tenant="acme", outcome="ok") == 3
    assert value(s, "predis_cache_origin_duration_seconds_count", tenant="acme", outcome="error") == 1

    with metered.client("acme") as client:
        client.get(b"a")
    assert value(metered.scrape("cache"), "predis_cache_hits_total", tenant="acme") == 3


def test_series_are_per_tenant(metered: Metered) -> None:
    for tenant, reads in (("north", 3), ("south", 5)):
        with metered.client(tenant) as client:
            client.set(b"x", tenant.encode())
            for _ in range(reads):
                client.get(b"x", skip_origin=True)
            client.get(b"absent", skip_origin=True)
    s = metered.scrape("cache")
    for tenant, reads in (("north", 3), ("south", 5)):
        with metered.client(tenant) as client:
            t = client.stats().tenant
        assert value(s, "predis_cache_hits_total", tenant=tenant) == t.hits == reads
        assert value(s, "predis_cache_misses_total", tenant=tenant) == t.misses == 1
        assert value(s, "predis_cache_memory_bytes", tenant=tenant) == t.memory_bytes
        assert value(s, "predis_cache_get_duration_seconds_count", tenant=tenant, frontend="grpc") == reads + 1
    tenants = {labels["tenant"] for labels, _ in s["predis_cache_hits_total"]}
    assert {"north", "south", "acme"} <= tenants


def test_resp_get_and_set_are_timed_too(metered: Metered) -> None:
    import redis

    suite = metered.suite
    assert suite.cache is not None
    server, port = suite.run(create_resp_server(RespSettings(listen="127.0.0.1:0"), suite.cache))
    try:
        r = redis.Redis(port=port)
        before = metered.scrape("cache")
        gets = total(before, "predis_cache_get_duration_seconds_count", tenant="default", frontend="resp")
        sets = total(before, "predis_cache_set_duration_seconds_count", tenant="default", frontend="resp")
        r.set("rk", "v")
        assert r.get("rk") == b"v"
        assert r.get("rk2") == b"page:rk2"  # a miss, read through the origin
        r.exists("rk")  # not timed
        r.close()
    finally:
        suite.run(server.close())
    after = metered.scrape("cache")
    assert value(after, "predis_cache_get_duration_seconds_count", tenant="default", frontend="resp") == gets + 2
    assert value(after, "predis_cache_set_duration_seconds_count", tenant="default", frontend="resp") == sets + 1


def test_predictor_series_per_version_after_predict(metered: Metered, model_dir: Path) -> None:
    with metered.client() as client:
        client.predictor.load_model("metrics-v1", str(model_dir))
        for i in range(3):
            client.predictor.predict(ROWS, routing_key=b"k%d" % i)
        status = client.predictor.model_status("metrics-v1")
    s = metered.scrape("predictor")
    labels = {"version": "metrics-v1", "scope": "_global"}
    assert value(s, "predis_predictor_requests_total", **labels) == status.requests == 3
    assert value(s, "predis_predictor_rows_total", **labels) == status.rows == 3 * len(ROWS)
    runs = value(s, "predis_predictor_runs_total", **labels)
    assert value(s, "predis_predictor_score_duration_seconds_count", **labels) == runs >= 1
    assert value(s, "predis_predictor_traffic_weight", **labels, role="champion") == 1.0
    assert value(s, "predis_predictor_models") >= 1
    with metered.client() as client:
        client.predictor.unload_model("metrics-v1")
    gone = metered.scrape("predictor")
    assert not [v for got, v in gone.get("predis_predictor_requests_total", []) if got["version"] == "metrics-v1"]


def _window(rng: np.random.Generator, i: int, gain: float) -> drift_pb2.QualityWindow:
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


def test_drift_series_count_events_windows_and_alerts(metered: Metered) -> None:
    events = [common_pb2.AccessEvent(tenant="delta", key=b"k%d" % i, kind=1, time_unix_nano=i) for i in range(40)]
    rng = np.random.default_rng(9)
    windows = [_window(rng, i, g) for i, g in enumerate([0.12] * 300 + [0.02] * 150)]  # live gain falls
    with metered.client() as client:
        client.drift.observe([drift_pb2.ObserveEventsRequest(events=events)])
        client.drift.observe([drift_pb2.ObserveEventsRequest(windows=[w]) for w in windows])
        status = {t.tenant: t for t in client.drift.status().tenants}
        alerts = list(client.drift.status("gamma").recent_alerts)
    s = metered.scrape("drift")
    assert value(s, "predis_drift_events_total", tenant="delta") == status["delta"].events_observed == 40
    assert value(s, "predis_drift_windows_total", tenant="gamma") == status["gamma"].windows_observed == 450
    assert alerts, "the fall of live gain raised an alert"
    raised = total(s, "predis_drift_alerts_total", tenant="gamma", detector="adwin", signal="live_gain")
    assert raised == len([a for a in alerts if a.detector == "adwin" and a.signal == "live_gain"]) >= 1
    assert value(s, "predis_drift_alerts_total", tenant="gamma", signal="live_gain", severity="critical") >= 1
    assert value(s, "predis_drift_phase", tenant="delta", phase="warming_up") == 1
    assert value(s, "predis_drift_phase", tenant="delta", phase="watching") == 0
    assert value(s, "predis_drift_detector_drifted", tenant="gamma", detector="adwin", signal="live_gain") in (0, 1)
    assert value(s, "predis_drift_detector_detections_total", tenant="", signal="tenant_mix") >= 0


def test_retrainer_series_count_jobs_by_state(metered: Metered) -> None:
    book = metered.suite.book
    job = metered.suite.call(
        lambda: book.submit(Trigger(TriggerKind.MANUAL, "omega", "for metrics"), "omega", "", False)
    )
    with metered.client() as client:
        listed = {j.id: j for j in client.retrainer.list_jobs()}
    assert job.id in listed
    s = metered.scrape("retrainer")
    assert value(s, "predis_retrainer_jobs", state="queued", scope="omega") == 1
    assert value(s, "predis_retrainer_jobs", state="promoted", scope="omega") == 0
    assert value(s, "predis_retrainer_jobs", state="queued", scope="_global") == 0
    for name in ("promotions", "rejections", "rollbacks"):
        assert value(s, f"predis_retrainer_{name}_total", scope="_global") == 0


def test_predis_stats_and_models_commands(
    metered: Metered, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    addresses = metered.suite.addresses
    with metered.client("stats-t") as client:
        client.set(b"a", b"1")
        client.get(b"a")
        client.get(b"gone", skip_origin=True)
        client.predictor.load_model("stats-v1", str(model_dir))
        client.predictor.predict(ROWS)
    try:
        cache, predictor = addresses["cache"], addresses["predictor"]
        assert cli.main(["stats", "--cache", cache, "--predictor", predictor, "--tenant", "stats-t", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["tenant"], report["hits"], report["misses"], report["hit_ratio"]) == ("stats-t", 1, 1, 0.5)
        assert report["quality"] is not None and 0 < report["quality"]["sample_rate"] <= 1  # the shadow is on
        assert report["origin"] == {"fetches": 0, "errors": 0}
        assert [m["version"] for m in report["models"]["versions"]] == ["stats-v1"]
        assert report["models"]["versions"][0]["requests"] == 1

        assert cli.main(["stats", "--cache", cache, "--predictor", predictor, "--tenant", "stats-t"]) == 0
        text = capsys.readouterr().out
        assert "tenant stats-t" in text and "hit ratio 50.0%" in text and "plain S3-FIFO" in text
        assert "stats-v1" in text and "champion" in text

        retrainer = addresses["retrainer"]
        assert cli.main(["models", "--predictor", predictor, "--retrainer", retrainer, "--json"]) == 0
        models = json.loads(capsys.readouterr().out)
        (row,) = [m for m in models["models"] if m["version"] == "stats-v1"]
        assert (row["scope"], row["role"], row["weight"], row["requests"]) == ("global", "champion", 1.0, 1)
        assert cli.main(["models", "--predictor", predictor, "--retrainer", retrainer]) == 0
        assert "stats-v1" in capsys.readouterr().out
    finally:
        with metered.client() as client:
            client.predictor.unload_model("stats-v1")


def test_an_unreachable_service_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["stats", "--cache", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the cache at 127.0.0.1:1" in err
    assert cli.main(["models", "--predictor", "127.0.0.1:1", "--retrainer", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the predictor at 127.0.0.1:1" in err


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({"PREDIS_METRICS_LISTEN": "nine"}, "PREDIS_METRICS_LISTEN='nine' is not HOST:PORT"),
        ({"PREDIS_METRICS_LISTEN": "127.0.0.1:99999"}, "PREDIS_METRICS_LISTEN='127.0.0.1:99999'"),
        ({"PREDIS_METRICS_LISTEN": "0.0.0.0:9451"}, "PREDIS_METRICS_LISTEN=0.0.0.0:9451 listens beyond"),
        ({"OTEL_METRICS_EXPORTER": "carrier-pigeon"}, "OTEL_METRICS_EXPORTER names 'carrier-pigeon'"),
        ({"OTEL_METRICS_EXPORTER": "prometheus"}, "PREDIS_METRICS_LISTEN"),
    ],
)
def test_bad_metrics_settings_fail_naming_the_variable(environ: dict[str, str], wanted: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(wanted)):
        ServerSettings.from_env("cache", environ)


def test_predis_serve_refuses_a_bad_metrics_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREDIS_METRICS_LISTEN", "localhost")
    assert cli.main(["serve", "drift", "--listen", "127.0.0.1:0"]) == 2
    assert "predis serve drift: PREDIS_METRICS_LISTEN='localhost' is not HOST:PORT" in capsys.readouterr().err


def test_metrics_settings_defaults() -> None:
    assert MetricsSettings.from_env("cache", {}) == MetricsSettings()
    assert not MetricsSettings.from_env("drift", {"PREDIS_METRICS_LISTEN": "off"}).enabled
    assert MetricsSettings.from_env("drift", {"PREDIS_METRICS_LISTEN": "on"}).listen == "127.0.0.1:9453"
    allowed = {"PREDIS_METRICS_LISTEN": "0.0.0.0:9451", "PREDIS_ALLOW_INSECURE": "on"}
    assert MetricsSettings.from_env("cache", allowed).listen == "0.0.0.0:9451"
    # A trace-only OTLP endpoint does not turn metrics export on; the metrics one does.
    assert MetricsSettings.from_env("cache", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://j:4317"}).exporters == ()
    otlp = MetricsSettings.from_env("cache", {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4317"})
    assert otlp.exporters == ("otlp",)
    assert MetricsSettings.from_env("cache", {"OTEL_METRICS_EXPORTER": "otlp,console"}).exporters == ("otlp", "console")
    assert MetricsSettings.from_env("cache", {"OTEL_METRICS_EXPORTER": "none"}).exporters == ()
    # predis up: the fixed ports, free ones with --base-port 0, none when switched off.
    assert metrics_listen("retrainer", "127.0.0.1", 50051, {}) == "127.0.0.1:9454"
    assert metrics_listen("cache", "127.0.0.1", 0, {}) == "127.0.0.1:0"
    assert metrics_listen("cache", "127.0.0.1", 0, {"PREDIS_METRICS_LISTEN": "off"}) == "off"


class Captured(MetricExporter):
    """An SDK exporter that keeps what it is given (in place of OTLP)."""

    def __init__(self, histograms: AggregationTemporality) -> None:
        super().__init__(preferred_temporality={HistogramInstrument: histograms})
        self.exports: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        self.exports.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def _histogram_counts(data: MetricsData, name: str) -> tuple[AggregationTemporality, dict[str, int]]:
    metric = next(m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name)
    assert isinstance(metric.data, Histogram)
    return metric.data.aggregation_temporality, {str(p.attributes["tenant"]): p.count for p in metric.data.data_points}


@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_sdk_exporters_get_the_duration_histograms(temporality: AggregationTemporality) -> None:
    exporter = Captured(temporality)
    meters = ServiceMeters.create("cache", exporters=[exporter])
    durations = DurationHistogram(["tenant"], {"frontend": "resp"})
    meters.histogram("predis.cache.get.duration", "GET", "s", durations)
    meters.counter("predis.cache.hits", "hits", "{read}", lambda: [(7, {"tenant": "a"})])
    durations.record_ns("a", 20_000)
    durations.record_ns("a", 3_000_000)
    meters.provider.force_flush()
    durations.record_ns("a", 40_000)
    meters.provider.force_flush()
    meters.shutdown()
    first, second = exporter.exports[0], exporter.exports[1]
    assert _histogram_counts(first, "predis.cache.get.duration") == (temporality, {"a": 2})
    later = 1 if temporality is AggregationTemporality.DELTA else 3
    assert _histogram_counts(second, "predis.cache.get.duration") == (temporality, {"a": later})
    names = {m.name for rm in first.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "predis.cache.hits" in names


def test_duration_histogram_buckets() -> None:
    h = DurationHistogram(["tenant", "outcome"], bounds_s=(0.001, 0.01))
    for ns in (1_000_000, 1_000_001, 50_000_000, 10):
        h.record_ns(("t", "ok"), ns)
    (point,) = h.snapshot()
    assert point.bucket_counts == (2, 1, 1)  # at most 1 ms (inclusive), at most 10 ms, above
    assert point.count == 4 and point.sum_s == pytest.approx(0.052000011)
    assert h.label_values(point.key) == {"tenant": "t", "outcome": "ok"}
    with pytest.raises(ValueError):
        DurationHistogram(["tenant"], bounds_s=(0.01, 0.001))


def test_predis_up_reads_the_metrics_line_before_the_ready_line(tmp_path: Path) -> None:
    lines = "predis-cache metrics on http://127.0.0.1:9451/metrics", "predis-cache listening on 127.0.0.1:50051"
    script = "; ".join(f"print({line!r})" for line in lines)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    seen: dict[str, str] = {}
    try:
        assert _wait_ready(process, "cache", tmp_path / "cache.log", 30, seen) == "127.0.0.1:50051"
    finally:
        process.wait()
    assert seen == {"metrics": "127.0.0.1:9451"}


def test_predis_serve_prints_and_serves_its_metrics(tmp_path: Path) -> None:
    env = {**os.environ, "PREDIS_METRICS_LISTEN": "127.0.0.1:0", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "predis.services.cli", "serve", "retrainer", "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert process.stdout is not None
        announced = process.stdout.readline().strip()
        assert re.fullmatch(r"predis-retrainer metrics on http://127\.0\.0\.1:\d+/metrics", announced)
        assert process.stdout.readline().startswith("predis-retrainer listening on 127.0.0.1:")
        with urllib.request.urlopen(announced.rsplit(" ", 1)[1], timeout=10) as response:
            families = {f.name for f in text_string_to_metric_families(response.read().decode())}
        assert {"predis_retrainer_jobs", "predis_retrainer_promotions", "target_info"} <= families
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
