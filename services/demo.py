"""``predis demo``: starts the suite on this machine, trains a prefetch model on the start of a real
trace, then replays the next part of the trace through the running cache twice (read-through from
a SQLite origin): once without a model (plain S3-FIFO) and once with learned prefetching, and
prints both side by side with what the cache learned. Stops the suite at the end."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.simulate import simulate
from predis.services.replay.traces import Trace, read_trace
from predis.services.retrainer.training import TrainingOptions, train
from predis.services.supervisor import start_suite
from predis.v1 import cache_pb2, predictor_pb2

DEMO_TRACE = Path(__file__).resolve().parent / "replay" / "data" / "cache2k-web07.trace.xz"
VALUE_SIZE = 100
CACHE_ENTRIES = 2000  # 10% of the trace's 20,484 keys; a multiple of 10 keeps S3-FIFO's split exact
TRAIN_FRACTION = 0.3


def key_of(obj_id: int) -> bytes:
    return b"page:%d" % obj_id  # every key costs the same: see _entry_charge


def value_of(key: bytes) -> bytes:
    return (key * (VALUE_SIZE // len(key) + 1))[:VALUE_SIZE]


def _make_origin(path: Path, ids: np.ndarray) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)")
        db.executemany("INSERT INTO kv VALUES (?, ?)", ((key_of(i), value_of(key_of(i))) for i in np.unique(ids)))


def _entry_charge() -> int:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    return int(engine._charges(np.array([len(key_of(20_483))]), np.array([VALUE_SIZE]))[0])


@dataclass
class RunResult:
    tenant: str
    seconds: float
    latencies_ms: np.ndarray
    stats: cache_pb2.StatsResponse


def run_demo(requests: int = 5000, rate: float = 250.0, env_extra: dict[str, str] | None = None) -> int:
    """``rate``: GETs a second, paced like users who pause between pages (a prefetch has a few
    milliseconds to land); ``env_extra``: more settings for the services (``PREDIS_*``)."""
    trace = read_trace(DEMO_TRACE)
    train_end = int(TRAIN_FRACTION * trace.requests)
    ids = trace.ids[train_end : train_end + requests]
    budget = CACHE_ENTRIES * _entry_charge()
    print(f"Trace: {trace.name} (HTTP requests to product pages, cache2k, CC BY 4.0), {trace.requests:,} requests")
    with tempfile.TemporaryDirectory(prefix="predis-demo-") as tmp:
        model_dir = Path(tmp) / "model"
        started = time.perf_counter()
        card = train([Trace(trace.name, trace.ids[:train_end])], model_dir, TrainingOptions(train_fraction=1.0))
        metrics = card["offline_metrics"]
        print(
            f"Trained a prefetch model on its first {train_end:,} requests in {time.perf_counter() - started:.1f}s "
            f"(predis train: {card['model']}, held-out AUC {metrics['auc']:.3f})"  # type: ignore[index]
        )
        origin = Path(tmp) / "origin.sqlite"
        _make_origin(origin, trace.ids)
        print(f"Origin: SQLite with the trace's {trace.footprint:,} keys ({VALUE_SIZE} B values)")
        env = {
            "PREDIS_ORIGIN": f"sqlite://{origin}",
            "PREDIS_CACHE_MEMORY_BYTES": str(budget),
            "PREDIS_CACHE_MAX_VALUE_BYTES": str(budget // 4),
            **(env_extra or {}),
        }
        print("Starting the four services on loopback (free ports)...")
        suite = start_suite(base_port=0, log_dir=Path(tmp), extra_env=env)
        try:
            for service in suite.services:
                print(f"  {service.name:<10} {service.address}")
            addresses = suite.addresses
            print(f"\nReplaying the next {len(ids):,} requests at {rate:,.0f} GETs/s, twice:")
            print("  1. tenant 'plain': no model loaded, so the cache is plain S3-FIFO")
            plain = _replay(addresses["cache"], "plain", ids, rate)
            with Client(addresses["cache"], config=ClientConfig(tenant="plain")) as client:
                client.flush()  # a tenant only evicts its own entries: give the memory back
            with Client(predictor=addresses["predictor"]) as client:
                client.predictor.load_model("web07-v1", str(model_dir))
            print("  2. tenant 'learned': model loaded in the predictor, learned prefetching on")
            learned = _replay(addresses["cache"], "learned", ids, rate)
            with Client(predictor=addresses["predictor"]) as client:
                status = client.predictor.model_status("web07-v1")
            _report(ids, plain, learned, status)
        finally:
            suite.stop()
            print("Stopped the suite.")
    return 0


def _replay(cache: str, tenant: str, ids: np.ndarray, rate: float) -> RunResult:
    """GETs in trace order, one every 1/rate seconds (a late one goes at once)."""
    latencies = np.empty(len(ids))
    with Client(cache, config=ClientConfig(tenant=tenant)) as client:
        started = time.perf_counter()
        for i, obj in enumerate(ids.tolist()):
            wait = started + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t0 = time.perf_counter()
            value = client.get(key_of(obj))
            latencies[i] = time.perf_counter() - t0
            if value != value_of(key_of(obj)):
                raise RuntimeError(f"wrong value for key {obj}")
        elapsed = time.perf_counter() - started
        time.sleep(0.6)  # let the prefetcher settle and report its last outcomes
        return RunResult(tenant, elapsed, latencies * 1000, client.stats())


def _report(
    ids: np.ndarray, plain: RunResult, learned: RunResult, status: predictor_pb2.GetModelStatusResponse
) -> None:
    replay = simulate(ids, CACHE_ENTRIES, "s3fifo")
    rows = [
        ("hit ratio", lambda r: f"{r.stats.tenant.hit_ratio:.4f}"),
        ("hits", lambda r: f"{r.stats.tenant.hits:,}"),
        ("misses", lambda r: f"{r.stats.tenant.misses:,}"),
        ("origin reads (all)", lambda r: f"{r.stats.tenant.origin_fetches:,}"),
        ("prefetches loaded", lambda r: f"{r.stats.tenant.prefetches:,}"),
        ("  read before eviction", lambda r: f"{r.stats.tenant.prefetches_used:,}"),
        ("  evicted unread", lambda r: f"{r.stats.tenant.prefetches_unused:,}"),
        (
            "GET p50 / p99 (ms)",
            lambda r: f"{np.percentile(r.latencies_ms, 50):.2f} / {np.percentile(r.latencies_ms, 99):.2f}",
        ),
        ("seconds", lambda r: f"{r.seconds:.1f}"),
    ]
    print(f"\nReplayed {len(ids):,} GETs through the cache service, {CACHE_ENTRIES:,}-entry budget:")
    print(f"  {'':<24}{'plain':>16}{'learned':>16}")
    for label, cell in rows:
        print(f"  {label:<24}{cell(plain):>16}{cell(learned):>16}")
    gain = learned.stats.tenant.hit_ratio - plain.stats.tenant.hit_ratio
    print(f"  learned prefetching: {gain * 100:+.1f} points of hit ratio")
    print(
        f"  same requests, replay   {replay.hit_ratio:.4f}  "
        f"(in-process S3-FIFO, {CACHE_ENTRIES:,} entries: the same code as 'plain')"
    )
    p = learned.stats.prefetcher
    print("\nWhat the cache learned (tenant 'learned'):")
    print(
        f"  prefetcher              {p.state}; threshold tuned to {p.threshold:.2f} "
        f"(target precision {p.precision_target:.2f})"
    )
    print(
        f"  its prefetches          {p.prefetches_started:,} started, {p.prefetches_used:,} used, "
        f"{p.prefetches_unused:,} unused, of which {p.prefetches_late:,} too late (recent precision "
        f"{p.recent_precision:.2f})"
    )
    print(
        f"  candidates scored       {p.candidates_scored:,}; held back by budgets: memory {p.held_back_memory:,}, "
        f"origin rate {p.held_back_rate:,}; events skipped {p.events_skipped:,}"
    )
    print(
        f"  predictor (web07-v1)    {status.requests:,} Predict calls, {status.rows:,} rows, "
        f"scoring p50 {status.latency_p50_us:.0f} us, p99 {status.latency_p99_us:.0f} us, "
        f"precision from outcomes {status.precision:.2f}"
    )
