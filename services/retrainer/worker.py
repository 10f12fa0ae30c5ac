"""The work of a job that takes CPU: reading segments, training, replaying. It runs in one worker
process (spawned, so it shares no gRPC or event-loop state with the service), which keeps the
service's event loop free to answer calls while a job trains. The worker dies with the service
(Linux parent-death signal), so a killed retrainer leaves no worker writing into the store.

Requests and results are plain dataclasses (pickled across the process boundary).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from predis.services.retrainer.training import TrainingOptions, TrainingWindow
from predis.services.retrainer.validation import ReplayWindow, Validation, ValidationSettings

log = logging.getLogger(__name__)
REPLAY_FILE = "replay.npz"  # the held-out windows, beside the model in its staging folder


@dataclass(frozen=True)
class BuildRequest:
    """
    Attributes:
        scope: the scope the challenger is for ("" global, else a tenant).
        tenants: whose recent traffic to use.
        data_dir: the data directory (segments are under ``segments/``).
        staging: the folder to write the model into.
        strategy: the adaptation strategy's name.
        window_events: most recent events per job, shared among ``tenants`` by their volume.
        holdout_share: the latest share of each tenant's events held out for validation.
        min_events: fewer events in all than this and the build fails saying so.
        options: training options.
        champion_dir: the model serving the scope now, or None.
        since_unix_nano: only events after this time (0: the most recent, whenever they came).
    """

    scope: str
    tenants: tuple[str, ...]
    data_dir: Path
    staging: Path
    strategy: str
    window_events: int
    holdout_share: float
    min_events: int
    options: TrainingOptions
    champion_dir: Path | None
    since_unix_nano: int = 0


@dataclass(frozen=True)
class BuildResult:
    card: dict[str, Any]
    events: int  # recent events used, training and held-out
    training_window: dict[str, Any]  # first/last event time, requests, sha256 of the ids, per tenant
    window_from_unix_nano: int
    window_to_unix_nano: int
    seconds: float


@dataclass(frozen=True)
class ValidateRequest:
    staging: Path  # holds the challenger and the held-out windows
    version: str  # what the challenger will be called in the report ("" until committed)
    champion: tuple[str, Path] | None
    settings: ValidationSettings


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _warm_up() -> None:
    """Compiles (or loads from numba's cache) what a job runs, so the first job does not wait."""
    from predis.services.cache.engine.candidates import candidate_rows
    from predis.services.cache.engine.simulate import simulate

    ids = np.arange(64, dtype=np.uint64) % 8
    candidate_rows(ids)
    simulate(ids, 4, "s3fifo")


def _initialize() -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the service, which stops us
    _warm_up()


def worker_pool() -> ProcessPoolExecutor:
    """The one worker process jobs run in."""
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_initialize)


def ready() -> bool:
    """Returns once the worker has started (a call to make it start early)."""
    return True


def _shares(counts: dict[str, int], total: int) -> dict[str, int]:
    """Events to take from each tenant: all when they fit ``total``, else in proportion."""
    available = sum(counts.values())
    if available <= total:
        return dict(counts)
    return {t: int(total * n / available) for t, n in counts.items()}


def build_candidate(request: BuildRequest) -> BuildResult:
    """Reads the tenants' recent traffic, holds out the latest part, builds the challenger with
    the strategy into ``request.staging`` and saves the held-out windows beside it."""
    from predis.plugins import plugins
    from predis.services.retrainer.adaptation import AdaptationRequest
    from predis.services.retrainer.traffic import event_count, recent_traffic, split
    from predis.services.retrainer.training import ids_digest

    started = time.perf_counter()
    since = request.since_unix_nano
    counts = {t: event_count(request.data_dir, t, since) for t in request.tenants}
    shares = _shares(counts, request.window_events)
    splits = [
        split(recent_traffic(request.data_dir, t, n, since), request.holdout_share) for t, n in shares.items() if n > 1
    ]
    events = sum(len(s.train) + len(s.replay) - s.eval_from for s in splits)
    if events < request.min_events:
        described = ", ".join(f"{t or 'global'} {n:,}" for t, n in counts.items()) or "no tenant has segments"
        raise ValueError(
            f"too little recent traffic to retrain on: {events:,} events, and a job needs "
            f"{request.min_events:,} (PREDIS_RETRAINER_MIN_EVENTS); events kept per tenant: {described}"
        )
    windows = []
    per_tenant = []
    for s in splits:
        info = {
            "tenant": s.tenant,
            "keys": "key_ids",  # keys mapped through the cache's KeyIds
            "first_unix_nano": int(s.train_times[0]) if len(s.train_times) else 0,
            "last_unix_nano": int(s.train_times[-1]) if len(s.train_times) else 0,
        }
        windows.append(TrainingWindow(s.train, None, info))
        per_tenant.append({**info, "requests": int(len(s.train)), "sha256": ids_digest(s.train)})
    strategy = plugins().adaptation_strategies()[request.strategy]
    card = strategy.build(
        AdaptationRequest(request.scope, windows, request.staging, request.options, request.champion_dir)
    )
    np.savez(
        request.staging / REPLAY_FILE,
        **{f"ids_{i}": s.replay for i, s in enumerate(splits)},
        eval_from=np.array([s.eval_from for s in splits], dtype=np.int64),
        tenants=np.array([s.tenant for s in splits]),
    )
    first = min((int(s.train_times[0]) for s in splits if len(s.train_times)), default=0)
    last = max((int(s.train_times[-1]) for s in splits if len(s.train_times)), default=0)
    digest = ids_digest(np.concatenate([s.train for s in splits])) if splits else ""
    window = {
        "first_unix_nano": first,
        "last_unix_nano": last,
        "requests": int(sum(len(s.train) for s in splits)),
        "sha256": digest,
        "tenants": per_tenant,
        "held_out": [
            {"tenant": s.tenant, "from_unix_nano": s.holdout_from_unix_nano, "to_unix_nano": s.holdout_to_unix_nano}
            for s in splits
        ],
    }
    return BuildResult(
        card=card,
        events=events,
        training_window=window,
        window_from_unix_nano=first,
        window_to_unix_nano=last,
        seconds=time.perf_counter() - started,
    )


def validate_candidate(request: ValidateRequest) -> Validation:
    """Replays the held-out windows saved beside the challenger with the champion and it."""
    from predis.services.retrainer.validation import validate

    with np.load(request.staging / REPLAY_FILE) as saved:
        names = [str(t) for t in saved["tenants"]]
        windows = [ReplayWindow(name, saved[f"ids_{i}"], int(saved["eval_from"][i])) for i, name in enumerate(names)]
    return validate(windows, request.champion, (request.version, request.staging), request.settings)
