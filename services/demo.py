"""``predis demo``: starts the suite on this machine, replays a real trace through the running
cache with the SDK (read-through from a SQLite origin), prints what happened, and stops."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from predis.client import Client
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.simulate import simulate
from predis.services.replay.traces import read_trace
from predis.services.supervisor import start_suite
from predis.v1 import cache_pb2

DEMO_TRACE = Path(__file__).resolve().parent / "replay" / "data" / "cache2k-web07.trace.xz"
VALUE_SIZE = 100
CACHE_ENTRIES = 2000  # 10% of the trace's 20,484 keys; a multiple of 10 keeps S3-FIFO's split exact


def key_of(obj_id: int) -> bytes:
    return int(obj_id).to_bytes(8, "big")


def value_of(key: bytes) -> bytes:
    return (key * (VALUE_SIZE // len(key) + 1))[:VALUE_SIZE]


def _make_origin(path: Path, ids: np.ndarray) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)")
        db.executemany("INSERT INTO kv VALUES (?, ?)", ((key_of(i), value_of(key_of(i))) for i in np.unique(ids)))


def _entry_charge() -> int:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    return int(engine._charges(np.array([8]), np.array([VALUE_SIZE]))[0])


def run_demo(requests: int = 20_000) -> int:
    trace = read_trace(DEMO_TRACE)
    ids = trace.ids[:requests]
    budget = CACHE_ENTRIES * _entry_charge()
    print(f"Trace: {trace.name} (HTTP requests to product pages, cache2k, CC BY 4.0), first {len(ids):,} requests")
    with tempfile.TemporaryDirectory(prefix="predis-demo-") as tmp:
        origin = Path(tmp) / "origin.sqlite"
        _make_origin(origin, trace.ids)
        print(f"Origin: SQLite with the trace's {trace.footprint:,} keys ({VALUE_SIZE} B values)")
        env = {
            "PREDIS_ORIGIN": f"sqlite://{origin}",
            "PREDIS_CACHE_MEMORY_BYTES": str(budget),
            "PREDIS_CACHE_MAX_VALUE_BYTES": str(budget // 4),
        }
        print("Starting the four services on loopback (free ports)...")
        suite = start_suite(base_port=0, log_dir=Path(tmp), extra_env=env)
        try:
            for service in suite.services:
                print(f"  {service.name:<10} {service.address}")
            _replay(suite.addresses, ids, budget)
        finally:
            suite.stop()
            print("Stopped the suite.")
    return 0


def _replay(addresses: dict[str, str], ids: np.ndarray, budget: int) -> None:
    latencies = []
    sources = {cache_pb2.VALUE_SOURCE_CACHE: 0, cache_pb2.VALUE_SOURCE_ORIGIN: 0}
    with Client(addresses["cache"], predictor=addresses["predictor"]) as client:
        started = time.perf_counter()
        for obj in ids.tolist():
            t0 = time.perf_counter()
            answer = client.lookup(key_of(obj))
            latencies.append(time.perf_counter() - t0)
            if answer.value != value_of(key_of(obj)):
                raise RuntimeError(f"wrong value for key {obj}")
            sources[answer.source] = sources.get(answer.source, 0) + 1
        elapsed = time.perf_counter() - started
        stats = client.stats()
    ms = np.array(latencies) * 1000
    replay = simulate(ids, CACHE_ENTRIES, "s3fifo")
    t, e = stats.tenant, stats.engine
    print(f"\nReplayed {len(ids):,} GETs through the cache service in {elapsed:.1f}s (read-through on misses):")
    print(
        f"  hit ratio               {t.hit_ratio:.4f}  "
        f"({t.hits:,} hits, {t.misses:,} misses, {t.origin_fetches:,} origin reads)"
    )
    print(
        f"  same requests, replay   {replay.hit_ratio:.4f}  "
        f"(in-process S3-FIFO, {CACHE_ENTRIES:,} entries: the same code)"
    )
    print(f"  GET latency             p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms")
    print(
        f"  memory                  {e.memory_bytes:,} of {e.memory_budget_bytes:,} bytes, {e.entries:,} entries, "
        f"{t.evictions:,} evictions"
    )
    print(
        f"  engine                  {e.policy} on {e.backend}; values served from cache "
        f"{sources[cache_pb2.VALUE_SOURCE_CACHE]:,}, from origin {sources[cache_pb2.VALUE_SOURCE_ORIGIN]:,}"
    )
    print(
        f"  predictor (from Stats)  reachable={stats.predictor.reachable}, "
        f"{len(stats.predictor.model_versions)} models loaded (learned prefetching is not built yet)"
    )
