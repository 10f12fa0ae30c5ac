"""Validating a challenger against the champion: both replayed through the cache engine's policy
code over the same held-out recent requests, at the same capacity, and compared with a paired
bootstrap over blocks of requests.

Each arm is the learned policy as the cache runs it: every request's candidates scored by the
model (ONNX Runtime), the live threshold tuned as the replay goes with the cache's own tuner from
the cache's starting cut, at most ``per_read`` prefetches a read (``replay/learned.py``,
``engine/simulate.py``). A champion of None is the cache without a model (plain S3-FIFO, no
prefetching). The counterfactual hit ratio, prefetch precision and origin fetches (misses plus
prefetches) are counted on the held-out requests only; the cache is warmed on the requests before.

The decision: the challenger's hit ratio minus the champion's must reach ``margin`` and the lower
end of the bootstrap confidence interval of that difference must be above zero. The blocks are the
engine's timeline buckets (1% of each replayed window); resampling whole blocks, the same ones for
both arms, keeps the dependence between nearby requests and between the two arms.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from predis.services.cache.engine.threshold import TunerSettings

if TYPE_CHECKING:
    from predis.services.cache.engine.simulate import SimulationResult


@dataclass(frozen=True)
class ValidationSettings:
    """
    Attributes:
        margin: hit-ratio gain (a fraction: 0.01 is one point) the challenger must show.
        confidence: of the bootstrap interval (0.95: the 2.5th to 97.5th percentile).
        resamples: bootstrap resamples.
        cache_size: replay capacity: below 1, a share of each window's distinct keys; else objects.
        initial_threshold: the cut the live tuner starts at (the cache's ``PREDIS_PREFETCH_THRESHOLD``).
        tuning: the live tuner's settings (the cache's precision target and lowest cut).
        per_read: most prefetches one read starts (the cache's ``PREDIS_PREFETCH_PER_READ``).
        seed: of the bootstrap.
    """

    margin: float = 0.01
    confidence: float = 0.95
    resamples: int = 2000
    cache_size: float = 0.1
    initial_threshold: float = 0.5
    tuning: TunerSettings = field(default_factory=TunerSettings)
    per_read: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin < 1.0:
            raise ValueError("the validation margin must be at least 0 and below 1")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError("the confidence must be at least 0.5 and below 1")
        if self.resamples < 100:
            raise ValueError("the bootstrap needs at least 100 resamples")
        if self.cache_size <= 0:
            raise ValueError("the validation cache size must be positive")


@dataclass(frozen=True)
class ReplayWindow:
    """Requests to replay: the first ``eval_from`` warm the cache, the rest are scored."""

    name: str
    ids: np.ndarray
    eval_from: int


@dataclass(frozen=True)
class ArmMetrics:
    """One arm's counts over the scored requests of every window."""

    version: str  # "" for the cache without a model
    requests: int
    hits: int
    prefetches: int
    prefetch_used: int

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def precision(self) -> float:
        return self.prefetch_used / self.prefetches if self.prefetches else 0.0

    @property
    def origin_fetches(self) -> int:
        return self.requests - self.hits + self.prefetches


@dataclass(frozen=True)
class Validation:
    champion: ArmMetrics
    challenger: ArmMetrics
    difference: float  # challenger's hit ratio minus the champion's
    ci_low: float
    ci_high: float
    confidence: float
    margin: float
    blocks: int
    cache_size: int  # objects, summed over the windows
    passed: bool
    reason: str
    seconds: float

    @property
    def requests(self) -> int:
        return self.challenger.requests


def capacity_for(ids: np.ndarray, cache_size: float) -> int:
    return max(1, int(cache_size * len(np.unique(ids)))) if cache_size < 1 else int(cache_size)


def paired_bootstrap(
    difference_hits: np.ndarray, requests: np.ndarray, resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """The percentile interval of the hit-ratio difference, resampling blocks with replacement:
    ``difference_hits[b]`` is the challenger's hits minus the champion's in block ``b``, which
    both arms replayed, ``requests[b]`` its scored requests."""
    if len(requests) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(requests), size=(resamples, len(requests)))
    totals = requests[picks].sum(axis=1)
    samples = difference_hits[picks].sum(axis=1) / np.maximum(totals, 1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return float(low), float(high)


def _replay(
    window: ReplayWindow, capacity: int, model_dir: Path | None, settings: ValidationSettings
) -> SimulationResult:
    from predis.services.cache.engine.simulate import LiveThreshold, simulate

    if model_dir is None:
        return simulate(window.ids, capacity, "s3fifo", eval_from=window.eval_from)
    from predis.services.replay.learned import score_proposals

    scored = score_proposals(window.ids, model_dir)
    return simulate(
        window.ids,
        capacity,
        "learned",
        eval_from=window.eval_from,
        proposals=scored.at(1.0),
        live=LiveThreshold(scored.scores, settings.initial_threshold, settings.tuning),
        per_request=settings.per_read,
    )


def _points(value: float) -> str:
    return f"{100 * value:+.2f}"


def decide(difference: float, low: float, high: float, settings: ValidationSettings) -> tuple[bool, str]:
    """Whether the challenger is promoted, and why, in a sentence."""
    interval = f"{settings.confidence:.0%} CI {_points(low)} to {_points(high)} points"
    if difference < settings.margin:
        return False, (
            f"hit ratio {_points(difference)} points ({interval}) is below the margin of "
            f"{100 * settings.margin:.2f} points: no gain to prove"
        )
    if low <= 0.0:
        return False, (
            f"hit ratio {_points(difference)} points reaches the margin, but the {interval} does not "
            "exclude zero: the gain is not established"
        )
    return True, f"hit ratio {_points(difference)} points ({interval}) beats the margin of {100 * settings.margin:.2f}"


def validate(
    windows: Sequence[ReplayWindow],
    champion: tuple[str, Path] | None,
    challenger: tuple[str, Path],
    settings: ValidationSettings,
) -> Validation:
    """Replays every window with the champion (``(version, directory)``, or None for no model)
    and the challenger at the same capacity, and decides."""
    started = time.perf_counter()
    counts = {"champion": np.zeros(3, np.int64), "challenger": np.zeros(3, np.int64)}
    hits_by_block: dict[str, list[np.ndarray]] = {"champion": [], "challenger": []}
    requests_by_block: list[np.ndarray] = []
    capacity_total = 0
    for window in windows:
        if len(window.ids) <= window.eval_from:
            continue
        capacity = capacity_for(window.ids, settings.cache_size)
        capacity_total += capacity
        for arm, model in (("champion", champion), ("challenger", challenger)):
            result = _replay(window, capacity, None if model is None else model[1], settings)
            counts[arm] += (result.hits, result.prefetches, result.prefetch_used)
            scored = result.timeline_requests > 0
            hits_by_block[arm].append(result.timeline_hits[scored])
            if arm == "champion":
                requests_by_block.append(result.timeline_requests[scored])
    requests = np.concatenate(requests_by_block) if requests_by_block else np.zeros(0, np.int64)
    block_hits = {arm: np.concatenate(h) if h else np.zeros(0, np.int64) for arm, h in hits_by_block.items()}
    total = int(requests.sum())
    arms = {
        arm: ArmMetrics(
            version="" if model is None else model[0],
            requests=total,
            hits=int(counts[arm][0]),
            prefetches=int(counts[arm][1]),
            prefetch_used=int(counts[arm][2]),
        )
        for arm, model in (("champion", champion), ("challenger", challenger))
    }
    if total == 0:
        raise ValueError("the held-out window is empty: there is nothing to validate on")
    difference = arms["challenger"].hit_ratio - arms["champion"].hit_ratio
    low, high = paired_bootstrap(
        block_hits["challenger"] - block_hits["champion"],
        requests,
        settings.resamples,
        settings.confidence,
        settings.seed,
    )
    passed, reason = decide(difference, low, high, settings)
    return Validation(
        champion=arms["champion"],
        challenger=arms["challenger"],
        difference=difference,
        ci_low=low,
        ci_high=high,
        confidence=settings.confidence,
        margin=settings.margin,
        blocks=len(requests),
        cache_size=capacity_total,
        passed=passed,
        reason=reason,
        seconds=time.perf_counter() - started,
    )
