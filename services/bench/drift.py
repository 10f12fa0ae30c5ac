"""``predis bench drift --before A --after B``: a regime change replayed through the running suite,
and what the closed loop made of it.

Set-up (honest keys, ``--keys auto``): a model is trained offline with ``predis train``'s code on
the start of trace A and published as the tenant's champion. The suite starts as ``predis up``
starts it (four processes, one data directory, a synthetic read-through origin), with the cache
sized to ``--cache-fraction`` of the keys the run touches. One client then sends the rest of A
(the stationary part), then B (the change), as batch GETs of ``--batch`` keys in trace order,
each key named ``k<id>``, while a second connection watches the drift service's alerts and polls
the retrainer's jobs. Nothing is told to the services about the change: the drift service must
find it, the retrainer train on the segments the cache wrote, validate, and promote or reject.

Reported (DESIGN.md's fields, and more):

- ``detection_delay_events``: events of the tenant from the change to the first alert after it;
  ``false_alarms``: alerts over the stationary parts (before the change, and after the promotion
  once the reference was replaced); ``stationary_events``: events those parts held.
- ``promotion_seconds``: from the alert to the job's end (promoted or rejected, ``outcome``).
- Hit ratios on the part of B after the job ended, replayed in process through the cache's policy
  code with the same batching (``lines``): ``hit_ratio_after_static`` with the champion of A,
  ``hit_ratio_after_retrained`` with what the loop left as champion, ``hit_ratio_after_oracle``
  with a model trained offline on all of B before that point; ``hit_ratio_before`` the same on A's
  stationary part with A's model. ``service_hit_ratio_before`` / ``_after`` are the live cache's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.errors import PredisError
from predis.services.bench import budget_env, machine
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.simulate import LiveThreshold, simulate
from predis.services.cache.key_ids import KeyIds
from predis.services.cache.prefetcher import PrefetchSettings
from predis.services.replay.keys import load_trace
from predis.services.replay.traces import Trace
from predis.services.retrainer.training import TrainingOptions, train

TENANT = "drift-bench"
VALUE_BYTES = 64
TRAIN_ROWS = 100_000


@dataclass(frozen=True)
class DriftOptions:
    before: Path
    after: Path
    keys: str = "auto"
    train_requests: int = 50_000  # of A, for the champion; the stationary part starts after them
    stationary_requests: int = 300_000  # of A, replayed before the change (fewer if A is shorter)
    after_requests: int = 150_000  # of B, replayed after it (B is repeated if shorter)
    cache_fraction: float = 0.05
    batch: int = 16
    rate: float = 4000.0  # keys a second sent, so that the loop's seconds map to a known number of events
    promotion_timeout_s: float = 180.0
    min_events: int = 60_000  # events after the change a job waits for (PREDIS_RETRAINER_MIN_EVENTS)
    keep: Path | None = None  # a folder for the suite's logs and data, kept after the run

    def __post_init__(self) -> None:
        if self.train_requests < 1000 or self.stationary_requests < 1000 or self.after_requests < 1000:
            raise ValueError("--train, --stationary and --after-requests must each be at least 1000")
        if not 0 < self.cache_fraction < 1 or self.batch < 1 or self.rate <= 0:
            raise ValueError("--cache-fraction must be in (0, 1), --batch at least 1 and --rate positive")


@dataclass
class Scenario:
    """The requests of one run, as names the service sees and as the ids its candidate generator
    computes from them (what models are trained and replayed on)."""

    before: Trace
    after: Trace
    names: list[bytes]
    requests: np.ndarray  # index into names, one per request of the run (A's stationary part, then B)
    ids: np.ndarray  # uint64 service ids of the run's requests
    train_ids: np.ndarray  # uint64 service ids of A's training window
    change: int  # index of B's first request in the run
    cache_entries: int


def _name(key: int) -> bytes:
    return b"k%d" % key


def prepare(options: DriftOptions) -> Scenario:
    a = load_trace(options.before, keys=options.keys)
    b = load_trace(options.after, keys=options.keys)
    if a.requests <= options.train_requests + 1000:
        raise ValueError(f"{a.name} has {a.requests:,} requests: too few for --train {options.train_requests:,}")
    a_run = a.ids[options.train_requests : options.train_requests + options.stationary_requests]
    b_run = np.resize(b.ids, options.after_requests)  # a short trace repeats: a stationary regime of its own
    run = np.concatenate([a.ids[: options.train_requests], a_run, b_run])
    unique, inverse = np.unique(run, return_inverse=True)
    names = [_name(int(k)) for k in unique.tolist()]
    key_ids = KeyIds()
    service_ids = np.array([key_ids.id_of(n) for n in names], dtype=np.uint64)[inverse]
    start = options.train_requests
    footprint = max(len(np.unique(a_run)), len(np.unique(b_run)))
    return Scenario(
        before=a,
        after=b,
        names=names,
        requests=inverse[start:],
        ids=service_ids[start:],
        train_ids=service_ids[:start],
        change=len(a_run),
        cache_entries=max(100, int(options.cache_fraction * footprint)),
    )


def train_offline(ids: np.ndarray, name: str, out: Path) -> Path:
    window = Trace(name=name, ids=ids, keys="scrambled")
    train([window], out, TrainingOptions(train_fraction=1.0, max_rows=TRAIN_ROWS))
    return out


def replay_hit_ratio(ids: np.ndarray, eval_from: int, capacity: int, model_dir: Path | None, batch: int) -> float:
    """Hit ratio from ``eval_from`` on, the cache warmed by what came before: S3-FIFO with the
    model's prefetches (its cut tuned live, as the cache tunes it), requests grouped in lines of
    ``batch`` as they were sent (a prefetch cannot serve its own batch)."""
    from predis.services.replay.learned import score_proposals

    lines = np.arange(len(ids), dtype=np.int64) // batch
    if model_dir is None:
        return simulate(ids, capacity, "s3fifo", eval_from=eval_from, lines=lines).hit_ratio
    scored = score_proposals(ids, model_dir)
    tuner = LiveThreshold(scored.scores, PrefetchSettings().initial_threshold)
    counts = np.zeros(len(ids), dtype=np.int8)
    result = simulate(
        ids, capacity, "learned", eval_from=eval_from, proposals=(scored.keys, counts), live=tuner, lines=lines
    )
    return result.hit_ratio


def entry_budget(names: list[bytes], entries: int) -> int:
    """Bytes that hold ``entries`` entries of these names with VALUE_BYTES values (the mean charge:
    names differ in length, so the service holds about, not exactly, that many)."""
    engine = Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage())
    lengths = np.array([len(n) for n in names])
    return int(entries * float(engine.charges(lengths, np.full(len(names), VALUE_BYTES)).mean()))


@dataclass
class Watch:
    """What the alert watcher and the job poller saw."""

    alerts: list[tuple[float, Any]] = field(default_factory=list)  # (monotonic time, Alert)
    jobs: dict[str, Any] = field(default_factory=dict)  # id -> latest Job
    errors: list[str] = field(default_factory=list)


def watch_alerts(address: str, watch: Watch, stop: threading.Event, tenant: str = TENANT) -> None:
    """Collects ``tenant``'s alerts from the drift service until ``stop``, reconnecting."""
    while not stop.is_set():
        try:
            with Client(drift=address, config=ClientConfig(tracing=False)) as client:
                for alert in client.drift.alerts(tenant=tenant):
                    watch.alerts.append((time.monotonic(), alert))
                    if stop.is_set():
                        return
        except PredisError as error:
            if stop.is_set():  # the suite stopping ends the stream
                return
            watch.errors.append(f"alerts: {error}")
            stop.wait(0.5)


def poll_jobs(address: str, watch: Watch, stop: threading.Event, tenant: str = TENANT) -> None:
    """Keeps the latest state of the retrainer's jobs for ``tenant`` (or the global model) in ``watch``."""
    with Client(retrainer=address, config=ClientConfig(tracing=False)) as client:
        while not stop.wait(0.25):
            try:
                for job in client.retrainer.list_jobs():
                    if tenant in (job.tenant, job.requested_tenant):  # its own model's jobs, or the global one's for it
                        watch.jobs[job.id] = job
            except PredisError as error:
                watch.errors.append(f"jobs: {error}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--before", type=Path, required=True, help="trace of the traffic before the change")
    parser.add_argument("--after", type=Path, required=True, help="trace of the traffic after it")
    parser.add_argument("--keys", choices=("auto", "recorded", "scrambled"), default="auto")
    parser.add_argument("--train", type=int, default=50_000, help="requests of BEFORE the champion learns from")
    parser.add_argument("--stationary", type=int, default=300_000, help="requests of BEFORE replayed (at most)")
    parser.add_argument("--after-requests", type=int, default=150_000, help="requests of AFTER replayed")
    parser.add_argument("--cache-fraction", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=16, help="keys per BatchGet")
    parser.add_argument("--rate", type=float, default=4000.0, help="keys a second sent (4000)")
    parser.add_argument(
        "--min-events", type=int, default=60_000, help="events after the change a retraining waits for (60000)"
    )
    parser.add_argument("--keep", type=Path, help="keep the suite's logs, segments and model store in this folder")
    parser.add_argument("--json", action="store_true")


def options_from(args: argparse.Namespace) -> DriftOptions:
    return DriftOptions(
        before=args.before,
        after=args.after,
        keys=args.keys,
        train_requests=args.train,
        stationary_requests=args.stationary,
        after_requests=args.after_requests,
        cache_fraction=args.cache_fraction,
        batch=args.batch,
        rate=args.rate,
        min_events=args.min_events,
        keep=args.keep,
    )


def _send(cache: str, scenario: Scenario, options: DriftOptions, sent_at: np.ndarray, stats: dict[str, Any]) -> None:
    """The run's requests in order, ``options.batch`` keys per BatchGet, paced to ``options.rate``;
    ``sent_at[i]`` is when request i left (monotonic); Stats taken at the change and at the end."""
    names, batch = scenario.names, options.batch
    with Client(cache, config=ClientConfig(tenant=TENANT, tracing=False, timeout_s=30)) as client:
        stats["start"] = client.stats()
        began = time.monotonic()
        for start in range(0, len(scenario.requests), batch):
            if start <= scenario.change < start + batch:
                stats["at_change"] = client.stats()
            wait = began + start / options.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent_at[start : start + batch] = time.monotonic()
            client.batch_get([names[r] for r in scenario.requests[start : start + batch].tolist()])
        stats["at_end"] = client.stats()


def _finished_job(watch: Watch, alert_id: str | None) -> Any:
    """The ended job that the alert ``alert_id`` started, or the first that ended after it was
    made (an alert can find its scope's job already queued: it is then skipped, pointing at it)."""
    ended = ("PROMOTED", "REJECTED", "FAILED", "VALIDATED")
    if alert_id is None:
        return None
    jobs = sorted(watch.jobs.values(), key=lambda j: j.created_unix_nano)
    alert_time = next((a.time_unix_nano for _, a in watch.alerts if a.id == alert_id), 0)
    for job in jobs:
        if job.alert_id == alert_id or (
            job.created_unix_nano >= alert_time and retrainer_state(job.state) != "SKIPPED"
        ):
            return job if retrainer_state(job.state) in ended and job.finished_unix_nano else None
    return None


def _detection(watch: Watch, change: int) -> Any:
    """The first alert raised after the change."""
    return next((a for _, a in watch.alerts if a.tenant_events > change), None)


def retrainer_state(value: int) -> str:
    from predis.v1 import retrainer_pb2

    return str(retrainer_pb2.JobState.Name(value)).removeprefix("JOB_STATE_")


def run_drift(options: DriftOptions) -> dict[str, Any]:
    from predis.services.models.store import ModelStore
    from predis.services.supervisor import start_suite

    scenario = prepare(options)
    with tempfile.TemporaryDirectory(prefix="predis-drift-") as tmp:
        root = Path(tmp) if options.keep is None else options.keep
        root.mkdir(parents=True, exist_ok=True)
        data = root / "data"
        champion_dir = train_offline(scenario.train_ids, scenario.before.name, root / "champion")
        store = ModelStore(data)
        stored = store.adopt(TENANT, f"{TENANT}.0-offline", champion_dir, {"trigger": {"kind": "bench"}})
        store.set_aliases(TENANT, champion=stored.version)
        budget = entry_budget(scenario.names, scenario.cache_entries)
        env = {
            "PREDIS_ORIGIN": f"synthetic:?value_size={VALUE_BYTES}",
            **budget_env(budget),
            "PREDIS_DATA_DIR": str(data),
            "PREDIS_SEGMENT_AGE_S": "2",
            "PREDIS_RETRAINER_VOLUME_EVENTS": "0",  # only the drift service's alerts start jobs here
            "PREDIS_RETRAINER_CACHE_SIZE": str(scenario.cache_entries),
            "PREDIS_RETRAINER_TENANT_MIN_EVENTS": "1000",
            # Right after a change the new traffic is mostly first requests, with nothing to gain on:
            # a job waits for this many events of it (a held-out quarter validates the challenger).
            "PREDIS_RETRAINER_MIN_EVENTS": str(options.min_events),
            "PREDIS_RETRAINER_MIN_INTERVAL_S": "30",
            "PREDIS_LOG_LEVEL": "info",
        }
        suite = start_suite(base_port=0, log_dir=root, extra_env=env)
        watch, stop = Watch(), threading.Event()
        sent_at = np.zeros(len(scenario.requests))
        stats: dict[str, Any] = {}
        try:
            addresses = suite.addresses
            threads = [
                threading.Thread(target=watch_alerts, args=(addresses["drift"], watch, stop), daemon=True),
                threading.Thread(target=poll_jobs, args=(addresses["retrainer"], watch, stop), daemon=True),
            ]
            for thread in threads:
                thread.start()
            time.sleep(0.5)  # the watch is open before the first event
            _send(addresses["cache"], scenario, options, sent_at, stats)
            deadline = time.monotonic() + options.promotion_timeout_s
            while time.monotonic() < deadline:
                detected = _detection(watch, scenario.change)
                if detected is None or _finished_job(watch, detected.id) is not None:
                    break
                time.sleep(0.5)
            time.sleep(1.0)
            detected = _detection(watch, scenario.change)
            job = _finished_job(watch, detected.id if detected is not None else None)
            promoted_dir = None
            if job is not None and retrainer_state(job.state) == "PROMOTED":
                promoted_dir = ModelStore(data).get(job.candidate_version, TENANT).path
                shutil.copytree(promoted_dir, root / "promoted")  # the store prunes; the copy stays
                promoted_dir = root / "promoted"
        finally:
            stop.set()
            suite.stop()
        return _report(options, scenario, watch, job, sent_at, stats, champion_dir, promoted_dir, root)


def _report(
    options: DriftOptions,
    scenario: Scenario,
    watch: Watch,
    job: Any,
    sent_at: np.ndarray,
    stats: dict[str, Any],
    champion_dir: Path,
    promoted_dir: Path | None,
    root: Path,
) -> dict[str, Any]:
    change, n = scenario.change, len(scenario.requests)
    change_ns = int(time.time_ns() - (time.monotonic() - sent_at[change]) * 1e9) if change < n else 0
    alerts = [(at, a) for at, a in watch.alerts]
    before = [a for _, a in alerts if a.tenant_events <= change]
    after_change = [(at, a) for at, a in alerts if a.tenant_events > change]
    detection = after_change[0] if after_change else None
    end_at = job.finished_unix_nano / 1e9 if job is not None else None
    # The job's end on the sender's clock: the request that was leaving then.
    finished_mono = None
    if job is not None and detection is not None:
        finished_mono = detection[0] + (job.finished_unix_nano - detection[1].time_unix_nano) / 1e9
    p = int(np.searchsorted(sent_at, finished_mono)) if finished_mono is not None else n
    after_promotion = [a for at, a in after_change if finished_mono is not None and at > finished_mono]
    stationary = change + (n - p if job is not None else 0)
    evaluated = n - p
    warm = max(0, p - 20_000)
    ids = scenario.ids[warm:]
    hit: dict[str, float | None] = {"static": None, "retrained": None, "oracle": None}
    if evaluated >= 1000:
        hit["static"] = replay_hit_ratio(ids, p - warm, scenario.cache_entries, champion_dir, options.batch)
        new_model = promoted_dir or champion_dir
        hit["retrained"] = replay_hit_ratio(ids, p - warm, scenario.cache_entries, new_model, options.batch)
        if p - change >= 1000:
            oracle = train_offline(scenario.ids[change:p], scenario.after.name, root / "oracle")
            hit["oracle"] = replay_hit_ratio(ids, p - warm, scenario.cache_entries, oracle, options.batch)
    warm_before = min(20_000, change // 10)
    before_ratio = replay_hit_ratio(
        scenario.ids[:change], warm_before, scenario.cache_entries, champion_dir, options.batch
    )

    def service_ratio(a: Any, b: Any) -> float | None:
        if a is None or b is None:
            return None
        hits, reads = b.quality.hits - a.quality.hits, b.quality.reads - a.quality.reads
        return round(hits / reads, 4) if reads else None

    def rounded(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return {
        "before": scenario.before.name,
        "after": scenario.after.name,
        "keys": f"{scenario.before.keys} / {scenario.after.keys}",
        "requests": n,
        "change_at": change,
        "cache_entries": scenario.cache_entries,
        "detection_delay_events": int(detection[1].tenant_events - change) if detection else None,
        "detector": f"{detection[1].detector} on {detection[1].signal}" if detection else None,
        "false_alarms": len(before) + len(after_promotion),
        # CRITICAL ones start retrainings; WARNINGs (the hit/miss mix, ADWIN rises) only inform.
        "false_alarms_critical": sum(a.severity == 2 for a in [*before, *after_promotion]),
        "stationary_events": int(stationary),
        "alerts_during_change": len(after_change) - len(after_promotion),
        "promotion_seconds": round(end_at - detection[1].time_unix_nano / 1e9, 1) if detection and end_at else None,
        "outcome": retrainer_state(job.state) if job is not None else "no job",
        "job_note": (job.error or job.note) if job is not None else "",
        "validation": {
            "difference": round(job.validation.hit_ratio_difference, 4),
            "ci_low": round(job.validation.ci_low, 4),
            "ci_high": round(job.validation.ci_high, 4),
            "reason": job.validation.reason,
        }
        if job is not None and job.HasField("validation")
        else None,
        "training_events": int(job.training_events) if job is not None else 0,
        "training_starts_after_change_s": round((job.window_from_unix_nano - change_ns) / 1e9, 1)
        if job is not None and job.window_from_unix_nano and change_ns
        else None,
        "evaluated_requests": int(evaluated),
        "hit_ratio_before": rounded(before_ratio),
        "hit_ratio_after_static": rounded(hit["static"]),
        "hit_ratio_after_retrained": rounded(hit["retrained"]),
        "hit_ratio_after_oracle": rounded(hit["oracle"]),
        "service_hit_ratio_before": service_ratio(stats.get("start"), stats.get("at_change")),
        "service_hit_ratio_after_change": service_ratio(stats.get("at_change"), stats.get("at_end")),
        "alerts": [
            f"{a.tenant_events - change:+d} events: {a.detector} on {a.signal} "
            f"({'critical' if a.severity == 2 else 'warning'}, effect {a.effect_size:.3f} > {a.threshold:.3f})"
            for _, a in alerts
        ],
        "watch_errors": watch.errors[:3],
        "machine": machine(),
    }


def run(args: argparse.Namespace) -> int:
    try:
        options = options_from(args)
    except ValueError as error:
        raise SystemExit(f"predis bench drift: {error}") from None
    result = run_drift(options)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"predis bench drift: {result['before']} -> {result['after']} ({result['keys']} keys)")
    for name, value in result.items():
        if name not in ("before", "after", "keys"):
            print(f"  {name:<32} {value}")
    return 0
