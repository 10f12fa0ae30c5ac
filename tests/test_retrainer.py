"""The retrainer: its job book's rules, validation by replay with a paired bootstrap on real
traffic, adaptation strategies, the drift alert watch, and the whole loop on loopback with a real
predictor (train on segments, validate, promote through shadow and A/B, roll back), plus a
retrainer process killed mid-job."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from model_factory import make_model_dir
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import predis
from predis.plugins import PluginError, Plugins, build_plugin_manager, hookimpl
from predis.services.cache.features import FEATURES
from predis.services.cache.segments import SegmentWriter
from predis.services.models.store import Aliases, ModelStore
from predis.services.replay.keys import load_trace
from predis.services.retrainer.adaptation import BUILT_IN, AdaptationRequest, PerTenantThreshold
from predis.services.retrainer.jobs import JobBook, JobState, Trigger, TriggerKind
from predis.services.retrainer.links import DriftLink
from predis.services.retrainer.loop import RetrainingLoop
from predis.services.retrainer.settings import RetrainerSettings, StageSettings
from predis.services.retrainer.traffic import TenantTraffic, split
from predis.services.retrainer.training import TrainingOptions, TrainingWindow, train_windows
from predis.services.retrainer.triggers import DriftAlert, WatchState, watch_alerts
from predis.services.retrainer.validation import ReplayWindow, ValidationSettings, decide, paired_bootstrap, validate
from predis.services.runtime.errors import FailedPrecondition
from predis.services.runtime.server import ServiceBinding, start_server
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.v1 import common_pb2, drift_pb2, drift_pb2_grpc, retrainer_pb2, retrainer_pb2_grpc

LOOPBACK = ServerSettings(listen="127.0.0.1:0")
ORM = Path(__file__).resolve().parent.parent / "services" / "replay" / "data" / "cache2k-orm-busy.trace.xz"
S = 1_000_000_000


@pytest.fixture(scope="module")
def orm() -> np.ndarray:
    """Real traffic with a learnable structure: cache2k's orm-busy, its id field scrambled."""
    return load_trace(ORM).ids


def write_segments(data_dir: Path, tenant: str, ids: np.ndarray, start_ns: int | None = None) -> None:
    """The events as the cache writes them: decimal keys, one every microsecond, ending now."""
    n = len(ids)
    start = time.time_ns() - n * 1_000 if start_ns is None else start_ns
    writer = SegmentWriter(data_dir / "segments", max_rows=25_000)
    keys = [str(int(i)).encode() for i in ids]
    writer.append(tenant, keys, np.ones(n, np.int8), start + np.arange(n, dtype=np.int64) * 1_000, np.full(n, 64))
    writer.flush()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * S

    def __call__(self) -> int:
        return self.now


# -- the job book ------------------------------------------------------------------------------


def test_one_job_per_scope_manual_requests_refused_automatic_ones_queued_or_skipped(tmp_path: Path) -> None:
    clock = Clock()
    book = JobBook(tmp_path / "jobs.json", min_interval_s=60, clock=clock)
    first = book.submit(Trigger(TriggerKind.MANUAL, reason="by hand"), "", "global", False)
    assert first.state is JobState.QUEUED and book.due() == [first]
    with pytest.raises(FailedPrecondition, match=f"job {first.id} for the global model is queued"):
        book.submit(Trigger(TriggerKind.MANUAL), "", "global", False)
    other = book.submit(Trigger(TriggerKind.MANUAL, "acme"), "acme", "per-tenant-model", False)
    assert book.due() == [first, other]  # scopes are independent
    book.begin(first)
    alert = book.submit(Trigger(TriggerKind.DRIFT_ALERT, alert_id="a1"), "", "global", True)
    assert alert.state is JobState.QUEUED and "waits for job" in alert.note  # never lost
    assert alert.not_before_unix_nano == first.started_unix_nano + 60 * S
    again = book.submit(Trigger(TriggerKind.DRIFT_ALERT, alert_id="a2"), "", "global", True)
    assert again.state is JobState.SKIPPED and alert.id in again.note
    assert [j.id for j in book.due()] == [other.id]  # the global scope is busy
    book.move(first, JobState.REJECTED)
    assert book.due() == [other]  # the queued alert job waits out the minimum interval
    clock.now += 60 * S
    assert book.due() == [other, alert]


def test_the_minimum_interval_refuses_a_manual_start_with_when_to_retry(tmp_path: Path) -> None:
    clock = Clock()
    book = JobBook(tmp_path / "jobs.json", min_interval_s=300, clock=clock)
    job = book.submit(Trigger(TriggerKind.MANUAL), "acme", "per-tenant-model", False)
    book.begin(job)
    book.move(job, JobState.PROMOTED)
    clock.now += 100 * S
    with pytest.raises(FailedPrecondition, match=r"started 100s ago .* try again in 200s"):
        book.submit(Trigger(TriggerKind.MANUAL), "acme", "per-tenant-model", False)
    deferred = book.submit(Trigger(TriggerKind.VOLUME, "acme"), "acme", "per-tenant-model", True)
    assert deferred.state is JobState.QUEUED and deferred.note.startswith("deferred 200s")
    assert not book.may_start_now("acme") and book.may_start_now("")


def test_the_book_survives_a_restart_and_an_interrupted_job_is_retried_once_then_failed(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    book = JobBook(path, min_interval_s=0)
    job = book.submit(Trigger(TriggerKind.DRIFT_ALERT, alert_id="a1", traceparent="00-ab-cd-01"), "", "global", True)
    book.begin(job)
    reopened = JobBook(path, min_interval_s=0)
    again = reopened.get(job.id)
    assert again.state is JobState.QUEUED and again.attempts == 1 and again.alert_id == "a1"
    assert "interrupted while training" in again.note and "attempt 2 of 2" in again.note
    assert reopened.recovered == [again]
    reopened.begin(again)
    reopened.move(again, JobState.VALIDATING)
    last = JobBook(path, min_interval_s=0).get(job.id)
    assert last.state is JobState.FAILED and "interrupted while validating on attempt 2 of 2" in last.error


def test_an_unreadable_book_is_set_aside_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    path.write_text('{"format": "predis-retrainer-jobs/1", "jobs": [{"id"')
    book = JobBook(path)
    assert book.jobs == {} and len(list(tmp_path.glob("jobs.json.unreadable-*"))) == 1


# -- validation --------------------------------------------------------------------------------


def test_validation_promotes_a_real_gain_and_rejects_no_gain_on_real_traffic(tmp_path: Path, orm: np.ndarray) -> None:
    recent = orm[1_000_000:1_080_000]
    cut = split(TenantTraffic("t", recent, np.arange(len(recent))), 0.25)
    options = TrainingOptions(max_rows=30_000)
    train_windows([TrainingWindow(cut.train)], tmp_path / "fresh", options)
    train_windows([TrainingWindow(orm[900_000:960_000])], tmp_path / "older", options)  # the same traffic, earlier
    window = [ReplayWindow("t", cut.replay, cut.eval_from)]
    settings = ValidationSettings()
    gain = validate(window, None, ("fresh", tmp_path / "fresh"), settings)
    assert gain.passed and gain.ci_low > 0 and gain.difference >= settings.margin, gain.reason
    assert gain.challenger.prefetches > 0 and gain.challenger.origin_fetches == (
        gain.requests - gain.challenger.hits + gain.challenger.prefetches
    )
    assert gain.champion.prefetches == 0 and gain.blocks == 50  # no model: plain S3-FIFO
    same = validate(window, ("older", tmp_path / "older"), ("fresh", tmp_path / "fresh"), settings)
    assert not same.passed and "no gain to prove" in same.reason, same.reason
    assert same.difference < settings.margin  # the older model of the same traffic is as good or better


def test_the_decision_needs_the_margin_and_an_interval_above_zero() -> None:
    settings = ValidationSettings(margin=0.01)
    assert decide(0.02, 0.004, 0.03, settings)[0]
    passed, reason = decide(0.02, -0.001, 0.04, settings)
    assert not passed and "does not exclude zero" in reason
    assert not decide(0.005, 0.001, 0.009, settings)[0]
    same = paired_bootstrap(np.zeros(40), np.full(40, 100), 500, 0.95, 0)
    assert same == (0.0, 0.0)
    low, high = paired_bootstrap(np.full(40, 5.0), np.full(40, 100), 500, 0.95, 0)
    assert low == pytest.approx(0.05) and high == pytest.approx(0.05)


# -- adaptation strategies ---------------------------------------------------------------------


class FixedScopePlugin:
    class Strategy:
        def scope(self, tenant: str, tenant_events: int, min_events: int) -> str:
            return tenant

        def build(self, request: AdaptationRequest) -> dict[str, object]:
            return {}

    @hookimpl
    def predis_register_adaptation_strategies(self, register):  # type: ignore[no-untyped-def]
        register("always-own", self.Strategy())


def test_adaptation_strategies_are_a_hook_with_three_built_in() -> None:
    pm = build_plugin_manager({})
    plugin = FixedScopePlugin()
    pm.register(plugin)
    try:
        strategies = Plugins(pm).adaptation_strategies()
        assert {"global", "per-tenant-model", "per-tenant-threshold", "always-own"} <= set(strategies)
        assert strategies["always-own"].scope("acme", 1, 10) == "acme"
        pm.register(type("Twice", (FixedScopePlugin,), {})())
        with pytest.raises(PluginError, match="two plugins register an adaptation strategy named 'always-own'"):
            Plugins(pm).adaptation_strategies()
    finally:
        for registered in list(pm.get_plugins()):
            if isinstance(registered, FixedScopePlugin):
                pm.unregister(registered)
    assert BUILT_IN["global"].scope("acme", 10**6, 10) == ""
    assert BUILT_IN["per-tenant-model"].scope("acme", 10, 10) == "acme"
    assert BUILT_IN["per-tenant-model"].scope("acme", 9, 10) == ""  # too little data: the global model


def test_per_tenant_threshold_calibration_recalibrates_the_serving_model(tmp_path: Path, orm: np.ndarray) -> None:
    from predis.services.cache.engine.candidates import candidate_rows
    from predis.services.predictor.model_files import open_model_dir

    base = tmp_path / "global"
    train_windows([TrainingWindow(orm[:20_000])], base, TrainingOptions(model="logistic", max_rows=20_000))
    request = AdaptationRequest(
        "acme", [TrainingWindow(orm[2_000_000:2_020_000])], tmp_path / "acme", TrainingOptions(), base
    )
    card = PerTenantThreshold().build(request)
    assert card["adaptation"] == "per-tenant-threshold" and card["features"] == list(FEATURES)
    rows = candidate_rows(orm[2_030_000:2_031_000]).features
    before, after = open_model_dir(str(base))[1].score(rows), open_model_dir(str(tmp_path / "acme"))[1].score(rows)
    assert not np.allclose(before, after)  # recalibrated...
    # ...same ranking: in float32 two scores 1e-7 apart may become one, so the order is kept, not the ties
    assert np.all(np.diff(after[np.argsort(before, kind="stable")]) >= 0)


# -- settings ----------------------------------------------------------------------------------


def test_settings_are_read_once_and_bad_values_name_their_variable(tmp_path: Path) -> None:
    env = {
        "PREDIS_DATA_DIR": str(tmp_path),
        "PREDIS_PREDICTOR_ADDRESS": "127.0.0.1:1",
        "PREDIS_RETRAINER_MIN_INTERVAL_S": "30",
        "PREDIS_RETRAINER_MARGIN": "0.02",
        "PREDIS_RETRAINER_SHADOW_S": "1.5",
        "PREDIS_PREFETCH_PER_READ": "3",
    }
    settings = RetrainerSettings.from_env(env)
    assert settings.data_dir == tmp_path and settings.min_interval_s == 30 and settings.predictor_address
    assert settings.validation.margin == 0.02 and settings.validation.per_read == 3 and settings.stages.shadow_s == 1.5
    for name, value in [
        ("PREDIS_RETRAINER_HOLDOUT_SHARE", "0.9"),
        ("PREDIS_RETRAINER_MODEL", "forest"),
        ("PREDIS_RETRAINER_AUTO_PROMOTE", "maybe"),
        ("PREDIS_RETRAINER_AB_SHARE", "2"),
        ("PREDIS_RETRAINER_MARGIN", "x"),
    ]:
        with pytest.raises(SettingsError, match=name.removeprefix("PREDIS_RETRAINER_")):
            RetrainerSettings.from_env({name: value})


# -- the drift alert watch ---------------------------------------------------------------------


class AlertFeed(drift_pb2_grpc.DriftServiceServicer):
    """A drift service whose alerts the test sends (the real one's detectors are not needed)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[drift_pb2.Alert] = asyncio.Queue()
        self.resets: list[drift_pb2.ResetReferenceRequest] = []

    async def WatchAlerts(self, request, context) -> AsyncIterator[drift_pb2.WatchAlertsResponse]:  # type: ignore[no-untyped-def,override]
        while True:
            yield drift_pb2.WatchAlertsResponse(alert=await self.queue.get())

    async def ResetReference(self, request, context) -> drift_pb2.ResetReferenceResponse:  # type: ignore[no-untyped-def,override]
        self.resets.append(request)
        return drift_pb2.ResetReferenceResponse()


async def start_feed(feed: AlertFeed, listen: str = "127.0.0.1:0"):  # type: ignore[no-untyped-def]
    binding = ServiceBinding(
        "predis.v1.DriftService", lambda s: drift_pb2_grpc.add_DriftServiceServicer_to_server(feed, s)
    )
    return await start_server(ServerSettings(listen=listen), [binding], TracerProvider())


def critical(alert_id: str, detector: str, signal_name: str, tenant: str = "default", **fields) -> drift_pb2.Alert:  # type: ignore[no-untyped-def]
    """A critical alert; ADWIN's say the live label fell."""
    change = -0.05 if detector == "adwin" else 0.0
    return drift_pb2.Alert(
        id=alert_id,
        detector=detector,
        signal=signal_name,
        tenant=tenant,
        severity=drift_pb2.ALERT_SEVERITY_CRITICAL,
        change=change,
        **fields,
    )


async def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_alert_watch_survives_the_drift_service_going_down_and_resumes() -> None:
    feed = AlertFeed()
    server = await start_feed(feed)
    address = f"127.0.0.1:{server.port}"
    link = DriftLink(address)
    seen: list[DriftAlert] = []
    state = WatchState()

    async def handle(alert: DriftAlert) -> None:
        seen.append(alert)

    watch = asyncio.create_task(watch_alerts(link, handle, state, first_delay_s=0.05, max_delay_s=0.2))
    try:
        await feed.queue.put(critical("a1", "ks", "inter_arrival"))
        await wait_for(lambda: len(seen) == 1)
        assert seen[0].critical and not seen[0].quality_fell and seen[0].tenant == "default"
        await server.stop(0)  # drift down: the watch keeps retrying, never raises
        await wait_for(lambda: state.failures >= 2)
        assert not watch.done()
        feed = AlertFeed()
        server = await start_feed(feed, address)  # back on its address
        await feed.queue.put(critical("a2", "adwin", "live_gain"))
        await wait_for(lambda: len(seen) == 2)
        assert seen[1].quality_fell and state.connected
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        await server.stop(0)
        await link.close()


# -- the whole loop on loopback ----------------------------------------------------------------


def test_without_a_data_directory_start_training_says_what_is_missing(suite) -> None:  # type: ignore[no-untyped-def]
    with predis.Client(**suite.client_kwargs()) as client:
        with pytest.raises(predis.FailedPreconditionError, match="PREDIS_DATA_DIR"):
            client.retrainer.start_training()
        assert client.retrainer.list_jobs() == []


async def _finished(stub: retrainer_pb2_grpc.RetrainerServiceStub, job_id: str, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    """Polls the job until it ends; every call must answer fast while the worker trains."""
    deadline = time.monotonic() + timeout
    slowest = 0.0
    while True:
        started = time.perf_counter()
        job = (await stub.GetJob(retrainer_pb2.GetJobRequest(id=job_id), timeout=5)).job
        slowest = max(slowest, time.perf_counter() - started)
        if job.state in (
            retrainer_pb2.JOB_STATE_PROMOTED,
            retrainer_pb2.JOB_STATE_REJECTED,
            retrainer_pb2.JOB_STATE_FAILED,
            retrainer_pb2.JOB_STATE_VALIDATED,
        ):
            return job, slowest
        assert time.monotonic() < deadline, f"job still {retrainer_pb2.JobState.Name(job.state)}"
        await asyncio.sleep(0.1)


async def test_alert_to_promotion_then_rollback_on_loopback_with_a_real_predictor(
    tmp_path: Path, orm: np.ndarray
) -> None:
    from predis.services.predictor import server as predictor_server
    from predis.services.predictor.registry import ModelRegistry
    from predis.services.retrainer.server import build_loop, create_server

    data = tmp_path / "data"
    write_segments(data, "default", orm[1_000_000:1_060_000])
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = ModelRegistry()
    predictor = await predictor_server.create_server(LOOPBACK, registry, provider)
    feed = AlertFeed()
    drift = await start_feed(feed)
    settings = RetrainerSettings(
        server=LOOPBACK,
        data_dir=data,
        predictor_address=f"127.0.0.1:{predictor.port}",
        drift_address=f"127.0.0.1:{drift.port}",
        min_interval_s=0,
        volume_events=0,
        window_events=60_000,
        min_events=5_000,
        max_rows=30_000,
        adaptation="global",
        stages=StageSettings(shadow_s=0.3, ab_s=0.3, ab_share=0.2),
    )
    loop = build_loop(settings, provider)
    await loop.start()
    retrainer = await create_server(LOOPBACK, loop, provider)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{retrainer.port}")
    stub = retrainer_pb2_grpc.RetrainerServiceStub(channel)
    client = predis.AsyncClient(predictor=settings.predictor_address)
    try:
        # What serves now: a stale model (it ranks candidates backwards), loaded by hand from outside the store.
        stale = make_model_dir(tmp_path / "seed", names=FEATURES, flip=True, seed=1)
        await client.predictor.load_model("seed", str(stale), "champion")
        traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        started = time.perf_counter()
        await feed.queue.put(critical("a-1", "ks", "inter_arrival", traceparent=traceparent))
        await wait_for(lambda: bool(loop.book.jobs))
        job_id = loop.book.newest_first(1)[0].id
        job, slowest = await _finished(stub, job_id)
        alarm_to_promotion = time.perf_counter() - started
        assert job.state == retrainer_pb2.JOB_STATE_PROMOTED, (job.error, job.note)
        assert job.trigger == retrainer_pb2.TRIGGER_KIND_DRIFT_ALERT and job.alert_id == "a-1"
        assert job.parent_version == "seed" and job.validation.passed and job.validation.champion.version == "seed"
        assert job.validation.ci_low > 0 and job.validation.candidate.origin_fetches > 0
        assert job.promotion.previous_champion == "seed" and job.promotion.ab_share == 0.2
        assert job.promotion.drift_reference_reset  # to the new champion's training window
        assert [(r.tenant, r.from_unix_nano, r.to_unix_nano) for r in feed.resets] == [
            ("default", job.window_from_unix_nano, job.window_to_unix_nano)  # the one tenant it learned from
        ]
        assert slowest < 0.5 and alarm_to_promotion < 60
        candidate = job.candidate_version
        roles = {m.version: m.role for m in await client.predictor.list_models()}
        assert roles == {candidate: common_pb2.MODEL_ROLE_CHAMPION, "seed": common_pb2.MODEL_ROLE_CHALLENGER}
        store = ModelStore(data)
        assert store.aliases("") == Aliases(champion=candidate, previous="seed")  # seed adopted into the store

        # One trace: the alert's, then the job, then its validation and promotion.
        spans = {s.name: s for s in exporter.get_finished_spans()}
        job_span = spans["retrainer.job"]
        assert format(job_span.context.trace_id, "032x") == traceparent.split("-")[1] == job.trace_id
        assert job_span.parent is not None and format(job_span.parent.span_id, "016x") == traceparent.split("-")[2]
        for name in ("retrainer.train", "retrainer.validation", "retrainer.promotion"):
            assert spans[name].parent.span_id == job_span.context.span_id, name  # type: ignore[union-attr]

        # Rollback by hand: a routing swap, under a second.
        started = time.perf_counter()
        back = await stub.Rollback(retrainer_pb2.RollbackRequest())
        elapsed = time.perf_counter() - started
        assert (back.previous_champion, back.champion) == (candidate, "seed") and back.seconds < 1 and elapsed < 1
        assert (await loop.promoter.champion("")).version == "seed"  # type: ignore[union-attr]
        assert (
            await stub.GetJob(retrainer_pb2.GetJobRequest(id=job_id))
        ).job.state == retrainer_pb2.JOB_STATE_ROLLED_BACK

        # Promoted again by hand, then ADWIN sees live gain fall: rolled back by itself.
        await stub.Promote(retrainer_pb2.PromoteRequest(version=candidate))
        await feed.queue.put(critical("a-2", "adwin", "live_gain"))
        await wait_for(lambda: ModelStore(data).aliases("").champion == "seed")
        assert (await loop.promoter.champion("")).version == "seed"  # type: ignore[union-attr]
        rolled = (await stub.GetJob(retrainer_pb2.GetJobRequest(id=job_id))).job
        assert rolled.state == retrainer_pb2.JOB_STATE_ROLLED_BACK and "automatically on drift alert a-2" in rolled.note

        # Bad input: a clear status, and nothing changes.
        aliases_before = (data / "models" / "_global" / "aliases.json").read_bytes()
        model = data / "models" / "_global" / candidate / "model.onnx"
        model.write_bytes(model.read_bytes()[:-5] + b"xxxxx")
        bad = [
            (
                stub.Rollback(retrainer_pb2.RollbackRequest(version="nope")),
                grpc.StatusCode.NOT_FOUND,
                "not in the model store",
            ),
            (stub.Promote(retrainer_pb2.PromoteRequest(version=candidate)), grpc.StatusCode.INVALID_ARGUMENT, "digest"),
            (
                stub.StartTraining(retrainer_pb2.StartTrainingRequest(tenant="bad tenant")),
                grpc.StatusCode.INVALID_ARGUMENT,
                "not valid",
            ),
            (
                stub.StartTraining(retrainer_pb2.StartTrainingRequest(tenant="_global")),
                grpc.StatusCode.INVALID_ARGUMENT,
                "reserved",
            ),
            (
                stub.Rollback(retrainer_pb2.RollbackRequest(tenant="acme")),
                grpc.StatusCode.FAILED_PRECONDITION,
                "no previous champion",
            ),
        ]
        for call, code, needle in bad:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            assert raised.value.code() == code and needle in (raised.value.details() or ""), raised.value.details()
            assert "Traceback" not in (raised.value.details() or "")
        assert (data / "models" / "_global" / "aliases.json").read_bytes() == aliases_before
        assert (await loop.promoter.champion("")).version == "seed"  # type: ignore[union-attr]
    finally:
        await client.close()
        await channel.close()
        await retrainer.stop(0)
        await loop.stop()
        for link in (loop.serving, loop.alerts):
            await link.close()  # type: ignore[union-attr]
        await drift.stop(0)
        await predictor.stop(0)


async def test_a_tenant_with_enough_new_data_gets_its_own_model_and_a_rollback_returns_it_to_the_global_one(
    tmp_path: Path, orm: np.ndarray
) -> None:
    from predis.services.predictor import server as predictor_server
    from predis.services.predictor.registry import ModelRegistry
    from predis.services.retrainer.server import build_loop

    data = tmp_path / "data"
    write_segments(data, "big", orm[1_000_000:1_060_000])
    write_segments(data, "small", orm[3_000_000:3_003_000])
    registry = ModelRegistry()
    predictor = await predictor_server.create_server(LOOPBACK, registry, TracerProvider())
    settings = RetrainerSettings(
        server=LOOPBACK,
        data_dir=data,
        predictor_address=f"127.0.0.1:{predictor.port}",
        min_interval_s=0,
        volume_events=50_000,
        poll_s=3600,  # the test checks the volume itself
        window_events=60_000,
        min_events=2_000,
        max_rows=30_000,
        tenant_min_events=50_000,
        adaptation="per-tenant-model",
        stages=StageSettings(shadow_s=0.2, ab_s=0.2),
    )
    loop = build_loop(settings, TracerProvider())
    client = predis.AsyncClient(predictor=settings.predictor_address)
    await loop.start()
    try:
        stale = make_model_dir(tmp_path / "stale", names=FEATURES, flip=True, seed=1)
        await client.predictor.load_model("stale", str(stale), "champion")  # the global model
        started = await loop.check_schedule_and_volume()
        assert [(j.tenant, j.trigger) for j in started] == [("big", TriggerKind.VOLUME)]  # small: too few
        assert await loop.check_schedule_and_volume() == []  # one job per scope
        job = started[0]
        await wait_for(
            lambda: job.state not in (JobState.QUEUED, JobState.TRAINING, JobState.VALIDATING, JobState.PROMOTING), 60
        )
        assert job.state is JobState.PROMOTED, (job.error, job.note)
        assert job.parent_version == "stale"  # validated against what served the tenant: the global model
        assert "no A/B share" in job.promotion["note"]  # the tenant's scope had no champion of its own
        own = {m.version: m.role for m in await client.predictor.list_models(tenant="big")}
        assert own == {job.candidate_version: common_pb2.MODEL_ROLE_CHAMPION}
        assert [m.version for m in await client.predictor.list_models(tenant="")] == ["stale"]
        assert ModelStore(data).aliases("big") == Aliases(champion=job.candidate_version)
        assert await loop.check_schedule_and_volume() == []  # no new data since its window

        # ADWIN sees the tenant's live gain fall: its own model goes, the global one serves it again.
        await loop.on_alert(DriftAlert("a-9", "big", "adwin", "precision", "critical"))
        assert await client.predictor.list_models(tenant="big") == []
        assert ModelStore(data).aliases("big") == Aliases(previous=job.candidate_version)
        assert job.state is JobState.ROLLED_BACK and "the global model serves the tenant again" in job.note
    finally:
        await client.close()
        await loop.stop()
        await loop.serving.close()  # type: ignore[union-attr]
        await predictor.stop(0)


async def test_the_schedule_starts_a_job_per_scope_once_its_period_has_passed(tmp_path: Path, orm: np.ndarray) -> None:
    data = tmp_path / "data"
    write_segments(data, "default", orm[:3_000])
    settings = RetrainerSettings(server=LOOPBACK, data_dir=data, schedule_s=60, volume_events=0, min_interval_s=0)
    clock = Clock()
    clock.now = time.time_ns()
    book = JobBook(None, min_interval_s=0, clock=clock)
    loop = RetrainingLoop(settings, book, ModelStore(data), BUILT_IN, TracerProvider())
    first = await loop.check_schedule_and_volume()
    # Too few events for a model of its own (per-tenant-model): the global model's scope.
    assert [(j.tenant, j.requested_tenant, j.trigger) for j in first] == [("", "default", TriggerKind.SCHEDULE)]
    book.begin(first[0])
    book.move(first[0], JobState.REJECTED, window_to_unix_nano=clock.now)
    clock.now += 59 * S
    assert await loop.check_schedule_and_volume() == []
    clock.now += 2 * S
    assert [j.trigger for j in await loop.check_schedule_and_volume()] == [TriggerKind.SCHEDULE]


# -- a retrainer killed mid-job ----------------------------------------------------------------

READY = re.compile(r"predis-retrainer listening on 127\.0\.0\.1:(\d+)")


def _start_retrainer(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "predis.services.cli", "serve", "retrainer", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        match = READY.search(line)
        if match:
            return process, f"127.0.0.1:{match.group(1)}"
    raise AssertionError("the retrainer did not start")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_retrainer_killed_mid_job_leaves_the_champion_and_retries_the_job(tmp_path: Path, orm: np.ndarray) -> None:
    data = tmp_path / "data"
    write_segments(data, "default", orm[1_000_000:1_060_000])
    store = ModelStore(data)
    staging = store.staging("", "seed")
    make_model_dir(staging, names=FEATURES, flip=True, seed=1)  # stale: the retried job beats it
    seed = store.commit("", staging, {"trigger": {"kind": "manual"}})
    store.set_aliases("", champion=seed.version)
    aliases = data / "models" / "_global" / "aliases.json"
    before = aliases.read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREDIS_", "OTEL_"))}
    env |= {
        "PREDIS_DATA_DIR": str(data),
        "PREDIS_RETRAINER_WINDOW_EVENTS": "60000",
        "PREDIS_RETRAINER_MIN_EVENTS": "5000",
        "PREDIS_RETRAINER_MAX_ROWS": "30000",
        "PREDIS_RETRAINER_MIN_INTERVAL_S": "0",
        "PREDIS_RETRAINER_ADAPTATION": "global",
        "PREDIS_RETRAINER_VOLUME_EVENTS": "0",
    }
    process, address = _start_retrainer(env)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = retrainer_pb2_grpc.RetrainerServiceStub(channel)
            job = stub.StartTraining(retrainer_pb2.StartTrainingRequest(reason="kill me", auto_promote=True)).job
            deadline = time.monotonic() + 20
            while stub.GetJob(retrainer_pb2.GetJobRequest(id=job.id)).job.state != retrainer_pb2.JOB_STATE_TRAINING:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            workers = _children(process.pid)
            worker = next(pid for pid in workers if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes())
            while _cpu_seconds(worker) < 2.5:  # past its start (~1.5 s of CPU), well into training
                assert (
                    time.monotonic() < deadline
                    and stub.GetJob(retrainer_pb2.GetJobRequest(id=job.id)).job.state
                    == retrainer_pb2.JOB_STATE_TRAINING
                )
                time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(5)
    finally:
        process.kill()
    for worker in workers:  # the worker dies with it (parent-death signal), it writes nothing more
        deadline = time.monotonic() + 5
        while Path(f"/proc/{worker}").exists() and "zombie" not in Path(f"/proc/{worker}/status").read_text():
            assert time.monotonic() < deadline, "the worker outlived the retrainer"
            time.sleep(0.05)
    assert aliases.read_bytes() == before and [v.version for v in store.versions("")] == [seed.version]
    book = json.loads((data / "retrainer" / "jobs.json").read_text())["jobs"]
    assert [j["state"] for j in book if j["id"] == job.id] == ["training"]

    process, address = _start_retrainer(env)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = retrainer_pb2_grpc.RetrainerServiceStub(channel)
            deadline = time.monotonic() + 60
            while True:
                again = stub.GetJob(retrainer_pb2.GetJobRequest(id=job.id)).job
                if again.state not in (
                    retrainer_pb2.JOB_STATE_QUEUED,
                    retrainer_pb2.JOB_STATE_TRAINING,
                    retrainer_pb2.JOB_STATE_VALIDATING,
                ):
                    break
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    assert again.attempts == 2 and "interrupted while training" in again.note
    # No predictor here: the retried job validates and waits for a person; the champion is untouched.
    assert again.state == retrainer_pb2.JOB_STATE_VALIDATED, (again.error, again.note)
    assert store.aliases("").champion == seed.version and store.aliases("").challenger == again.candidate_version
    assert list((data / "models" / "_global").glob(".staging-*")) == []


def test_a_job_after_a_change_waits_for_and_trains_on_the_traffic_after_it(tmp_path: Path, orm: np.ndarray) -> None:
    from predis.services.retrainer.traffic import recent_traffic

    start = time.time_ns() - 10 * S
    write_segments(tmp_path, "acme", orm[:30_000], start_ns=start)
    change = start + 20_000 * 1_000  # event 20,000 of those
    after = recent_traffic(tmp_path, "acme", 200_000, since_unix_nano=change)
    assert after.requests == 9_999 and np.array_equal(after.ids, recent_traffic(tmp_path, "acme", 9_999).ids)
    assert recent_traffic(tmp_path, "acme", 5_000, since_unix_nano=change).requests == 5_000  # the newest
    clock = Clock()
    book = JobBook(tmp_path / "jobs.json", clock=clock)
    job = book.submit(Trigger(TriggerKind.DRIFT_ALERT, "acme", data_from_unix_nano=change), "acme", "global", True)
    assert job.data_from_unix_nano == change
    book.defer(job, 1.0, "waiting for traffic after the change: 9,999 of 20,000 events so far")
    assert book.due() == []
    clock.now += 1 * S
    assert book.due() == [job]
    assert JobBook(tmp_path / "jobs.json").get(job.id).data_from_unix_nano == change  # kept across restarts


class RecordedReferences:
    """The drift service's ResetReference as one layer's stand-in: what the loop asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    async def reset_reference(self, tenant: str, from_unix_nano: int, to_unix_nano: int) -> str:
        self.calls.append((tenant, from_unix_nano, to_unix_nano))
        return ""


async def test_a_rejection_that_answered_an_alert_makes_the_new_traffic_the_drift_reference(tmp_path: Path) -> None:
    drift = RecordedReferences()
    settings = RetrainerSettings(server=ServerSettings(listen="127.0.0.1:0"), data_dir=tmp_path)
    loop = RetrainingLoop(settings, JobBook(), ModelStore(tmp_path), BUILT_IN, TracerProvider(), drift=drift)
    model = make_model_dir(tmp_path / "challenger", features=len(FEATURES), names=FEATURES)
    window = {"tenants": [{"tenant": "acme", "first_unix_nano": 10, "last_unix_nano": 20, "requests": 5}]}
    stored = ModelStore(tmp_path).adopt("acme", "acme.1-test", model, {"training_window": window})
    note = await loop._accept_new_traffic(stored)
    assert drift.calls == [("acme", 10, 20)]
    assert note == "; the new traffic is now the drift service's reference"
