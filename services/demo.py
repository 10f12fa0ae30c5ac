"""``predis demo``: starts the suite on this machine, trains a prefetch model on the start of a real
trace, then replays the next part of the trace through the running cache twice (read-through from
a SQLite origin): once without a model (plain S3-FIFO) and once with learned prefetching, and
prints both side by side with what the cache learned. Then the traffic changes under the running
suite (``demo_switch.py``): the drift service's alert, the retrainer's job, its validation and the
promotion or rejection are printed as they happen. Stops the suite at the end.

The trace is cache2k-orm-busy (database objects of an e-commerce application), with honest keys:
its object ids were numbered in the order they first appear, so they are scrambled (``--keys
auto``, see replay/keys.py), and each key goes to the service as a name an application would use,
``type<t>:<object id>:<index>``. What the model gains here is the object graph (the same objects
keep being read together), not the numbering."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.services.bench import budget_env
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.simulate import LiveThreshold, SimulationResult, simulate
from predis.services.cache.key_ids import KeyIds
from predis.services.cache.prefetcher import PrefetchSettings
from predis.services.demo_switch import SWITCH_ENV, run_switch, switch_names
from predis.services.replay.keys import load_trace
from predis.services.retrainer.training import TrainingOptions, train
from predis.services.supervisor import start_suite
from predis.v1 import cache_pb2, predictor_pb2

DEMO_TRACE = Path(__file__).resolve().parent / "replay" / "data" / "cache2k-orm-busy.trace.xz"
ENTRY_BYTES = 128  # key + value: every entry costs the same, so the budget is a number of entries
CACHE_ENTRIES = 500  # a multiple of 10 keeps S3-FIFO's split exact
TRAIN_REQUESTS = 100_000  # the model learns from these; the replay starts right after them
TRAIN_ROWS = 100_000  # candidate rows fitted (keeps training to seconds)
MODEL_VERSION = "orm-v1"
WARM_REQUESTS = 10_000  # the end of the training window, served before the scored part
DEMO_KEYS = "object ids scrambled"
SWITCH_BEFORE = 25_000  # more of the old traffic before the switch: the drift service's reference


def key_name(key: int) -> bytes:
    """A cache2k orm key (type in bits 27-31, object id in 9-26, index in 0-8) as an application
    would name it."""
    k = key & 0xFFFFFFFF
    return b"type%d:%d:%d" % (k >> 27, (k >> 9) & 0x3FFFF, k & 0x1FF)


def value_of(key: bytes) -> bytes:
    size = ENTRY_BYTES - len(key)
    return (key * (size // len(key) + 1))[:size]


def make_origin(path: Path, names: list[bytes]) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)")
        db.executemany("INSERT INTO kv VALUES (?, ?)", ((n, value_of(n)) for n in names))


def entry_charge(names: list[bytes]) -> int:
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    lengths = np.array([len(n) for n in names])
    charges = engine.charges(lengths, ENTRY_BYTES - lengths)
    assert charges.min() == charges.max(), "every demo entry must cost the same"
    return int(charges[0])


def service_ids(ids: np.ndarray) -> tuple[np.ndarray, list[bytes], np.ndarray]:
    """The names of the trace's keys, each request's name (as an index into them), and the ids
    the cache's candidate generator gives those names: the model is trained on what the cache
    will compute."""
    unique, inverse = np.unique(ids, return_inverse=True)
    names = [key_name(k) for k in unique.tolist()]
    key_ids = KeyIds()
    ids_of_names = np.array([key_ids.id_of(n) for n in names], dtype=np.uint64)
    return ids_of_names[inverse], names, inverse


@dataclass
class RunResult:
    """One tenant's replay: the counters of its scored requests (Stats after the warm-up
    subtracted from Stats at the end) and the state the prefetcher ended in."""

    tenant: str
    seconds: float
    latencies_ms: np.ndarray
    scored: dict[str, int]
    end: cache_pb2.StatsResponse

    @property
    def hit_ratio(self) -> float:
        reads = self.scored["hits"] + self.scored["misses"]
        return self.scored["hits"] / reads if reads else 0.0


TENANT_COUNTERS = ("hits", "misses", "origin_fetches", "prefetches", "prefetches_used", "prefetches_unused")
PREFETCHER_COUNTERS = (
    "prefetches_started",
    "prefetches_used",
    "prefetches_unused",
    "prefetches_late",
    "candidates_scored",
    "held_back_memory",
    "held_back_rate",
    "events_skipped",
)


def run_demo(
    requests: int = 5000,
    rate: float = 250.0,
    env_extra: dict[str, str] | None = None,
    warm: int = WARM_REQUESTS,
    switch: bool = True,
) -> int:
    """``rate``: GETs a second, paced like users who pause between pages (a prefetch has a few
    milliseconds to land); ``env_extra``: more settings for the services (``PREDIS_*``); ``warm``:
    requests of the end of the training window served first, at full speed and not scored, so
    that the cache starts the scored part as a cache that served that traffic would; ``switch``:
    then change the traffic and show the closed loop's answer (``demo_switch.py``)."""
    said: list[str] = []
    full = load_trace(DEMO_TRACE, keys="auto", say=said.append)
    trace = replace(full, ids=full.ids[: TRAIN_REQUESTS + requests])
    train_end = TRAIN_REQUESTS
    ids_of_names, names, name_of = service_ids(trace.ids)
    warm_up, replayed = name_of[train_end - warm : train_end], name_of[train_end:]
    budget = CACHE_ENTRIES * entry_charge(names)
    print(
        f"Trace: {trace.name} (database objects of an e-commerce application, cache2k, CC BY 4.0), "
        f"its first {trace.requests:,} requests"
    )
    print(f"Keys: {said[-1].split(': ', 1)[1]}; sent as names such as {names[name_of[train_end]].decode()}")
    with tempfile.TemporaryDirectory(prefix="predis-demo-") as tmp:
        model_dir = Path(tmp) / "model"
        started = time.perf_counter()
        window = replace(trace, ids=ids_of_names[:train_end])
        card = train([window], model_dir, TrainingOptions(train_fraction=1.0, max_rows=TRAIN_ROWS))
        metrics = card["offline_metrics"]
        print(
            f"Trained a prefetch model on its first {train_end:,} requests in {time.perf_counter() - started:.1f}s "
            f"(predis train: {card['model']}, held-out AUC {metrics.get('auc', float('nan')):.3f})"  # type: ignore[attr-defined]
        )
        origin = Path(tmp) / "origin.sqlite"
        more = [key_name(int(k)) for k in full.ids[trace.requests : trace.requests + SWITCH_BEFORE].tolist()]
        switch_trace, switch_keys = switch_names()
        make_origin(origin, sorted(set(names) | set(more) | set(switch_keys)))
        print(
            f"Origin: SQLite with the keys of these requests and of the traffic switch at the end "
            f"({ENTRY_BYTES} B per key and value)"
        )
        env = {
            **SWITCH_ENV,
            "PREDIS_ORIGIN": f"sqlite://{origin}",
            **budget_env(budget),
            **(env_extra or {}),
        }
        print("Starting the four services on loopback (free ports)...")
        suite = start_suite(base_port=0, log_dir=Path(tmp), extra_env=env)
        try:
            for service in suite.services:
                print(f"  {service.name:<10} {service.address}")
            addresses = suite.addresses
            print(
                f"\nServing the last {len(warm_up):,} training requests at full speed (warm-up, not scored), then "
                f"the next {len(replayed):,} at {rate:,.0f} GETs/s; twice:"
            )
            print("  1. tenant 'plain': no model loaded, so the cache is plain S3-FIFO")
            plain = _replay(addresses["cache"], "plain", names, warm_up, replayed, rate)
            with Client(addresses["cache"], config=ClientConfig(tenant="plain")) as client:
                client.flush()  # a tenant only evicts its own entries: give the memory back
            with Client(predictor=addresses["predictor"]) as client:
                client.predictor.load_model(MODEL_VERSION, str(model_dir))
            print("  2. tenant 'learned': model loaded in the predictor, learned prefetching on")
            learned = _replay(addresses["cache"], "learned", names, warm_up, replayed, rate)
            with Client(predictor=addresses["predictor"]) as client:
                status = client.predictor.model_status(MODEL_VERSION)
            in_process = _replay_learned(ids_of_names[train_end - warm :], warm, model_dir)
            _report(np.concatenate([warm_up, replayed]), len(warm_up), plain, learned, status, in_process)
            if switch:
                run_switch(addresses, more)
        finally:
            suite.stop()
            print("Stopped the suite.")
    return 0


def _counters(stats: cache_pb2.StatsResponse) -> dict[str, int]:
    tenant = {name: int(getattr(stats.tenant, name)) for name in TENANT_COUNTERS}
    prefetcher = {f"prefetcher.{name}": int(getattr(stats.prefetcher, name)) for name in PREFETCHER_COUNTERS}
    return tenant | prefetcher


def _replay(
    cache: str, tenant: str, names: list[bytes], warm_up: np.ndarray, requests: np.ndarray, rate: float
) -> RunResult:
    """GETs of ``names[r]`` for each r of ``warm_up`` at full speed, then of ``requests`` in
    order, one every 1/rate seconds (a late one goes at once)."""
    latencies = np.empty(len(requests))
    with Client(cache, config=ClientConfig(tenant=tenant)) as client:
        for r in warm_up.tolist():
            client.get(names[r])
        time.sleep(0.6)  # let the prefetcher catch up, so the scored part starts from a settled cache
        before = _counters(client.stats())
        started = time.perf_counter()
        for i, r in enumerate(requests.tolist()):
            wait = started + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t0 = time.perf_counter()
            value = client.get(names[r])
            latencies[i] = time.perf_counter() - t0
            if value != value_of(names[r]):
                raise RuntimeError(f"wrong value for key {names[r]!r}")
        elapsed = time.perf_counter() - started
        time.sleep(0.6)  # let the prefetcher settle and report its last outcomes
        end = client.stats()
        after = _counters(end)
        return RunResult(tenant, elapsed, latencies * 1000, {k: after[k] - before[k] for k in after}, end)


def _replay_learned(ids: np.ndarray, warm: int, model_dir: Path) -> SimulationResult:
    """The learned policy on the same requests in process (``predis replay``'s code, on the ids the
    cache computes candidates on): the cut starts where the cache's does and is tuned live."""
    from predis.services.replay.learned import score_proposals

    scored = score_proposals(ids, model_dir)
    tuner = LiveThreshold(scored.scores, PrefetchSettings().initial_threshold)
    no_counts = np.zeros(len(ids), dtype=np.int8)
    return simulate(ids, CACHE_ENTRIES, "learned", eval_from=warm, proposals=(scored.keys, no_counts), live=tuner)


def _report(
    requests: np.ndarray,
    warm: int,
    plain: RunResult,
    learned: RunResult,
    status: predictor_pb2.GetModelStatusResponse,
    in_process: SimulationResult,
) -> None:
    replay = simulate(requests.astype(np.uint64), CACHE_ENTRIES, "s3fifo", eval_from=warm)
    rows = [
        ("hit ratio", lambda r: f"{r.hit_ratio:.4f}"),
        ("hits", lambda r: f"{r.scored['hits']:,}"),
        ("misses", lambda r: f"{r.scored['misses']:,}"),
        ("origin reads (all)", lambda r: f"{r.scored['origin_fetches']:,}"),
        ("prefetches loaded", lambda r: f"{r.scored['prefetches']:,}"),
        ("  read before eviction", lambda r: f"{r.scored['prefetches_used']:,}"),
        ("  wasted (never read)", lambda r: f"{r.scored['prefetches_unused']:,}"),
        (
            "GET p50 / p99 (ms)",
            lambda r: f"{np.percentile(r.latencies_ms, 50):.2f} / {np.percentile(r.latencies_ms, 99):.2f}",
        ),
        ("seconds", lambda r: f"{r.seconds:.1f}"),
    ]
    scored = len(requests) - warm
    print(f"\nScored {scored:,} GETs through the cache service, {CACHE_ENTRIES:,}-entry budget:")
    print(f"  {'':<24}{'plain':>16}{'learned':>16}")
    for label, cell in rows:
        print(f"  {label:<24}{cell(plain):>16}{cell(learned):>16}")
    gain = learned.hit_ratio - plain.hit_ratio
    print(f"  learned prefetching: {gain * 100:+.1f} points of hit ratio (honest keys: {DEMO_KEYS})")
    print(
        f"  same requests, replay   {replay.hit_ratio:.4f}  "
        f"(in-process S3-FIFO, {CACHE_ENTRIES:,} entries, same warm-up: the same code as 'plain')"
    )
    print(
        f"  learned, in process     {in_process.hit_ratio:.4f}  (predis replay's code, same model and warm-up; "
        "a prefetch there lands at once)"
    )
    p, d = learned.end.prefetcher, learned.scored
    print("\nWhat the cache learned (tenant 'learned', scored part):")
    print(
        f"  prefetcher              {p.state}; threshold tuned to {p.threshold:.2f} "
        f"(target precision {p.precision_target:.2f})"
    )
    print(
        f"  its prefetches          {d['prefetcher.prefetches_started']:,} started, "
        f"{d['prefetcher.prefetches_used']:,} used, {d['prefetcher.prefetches_late']:,} too late, "
        f"{d['prefetcher.prefetches_unused']:,} wasted "
        f"(recent precision {p.recent_precision:.2f})"
    )
    print(
        f"  candidates scored       {d['prefetcher.candidates_scored']:,}; held back by budgets: memory "
        f"{d['prefetcher.held_back_memory']:,}, origin rate {d['prefetcher.held_back_rate']:,}; events skipped "
        f"{d['prefetcher.events_skipped']:,}"
    )
    print(
        f"  predictor ({MODEL_VERSION})     {status.requests:,} Predict calls, {status.rows:,} rows, "
        f"scoring p50 {status.latency_p50_us:.0f} us, p99 {status.latency_p99_us:.0f} us, "
        f"precision from outcomes {status.precision:.2f} (warm-up included)"
    )
