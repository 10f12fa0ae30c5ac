"""The ``learned`` replay policy's proposals: every request's candidates scored by a trained
model (ONNX Runtime, in large batches), the best ones kept, and a threshold per cache size tuned
on the training window to a precision target, as the cache would tune it live."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from predis.services.cache.engine.candidates import PER_REQUEST as CANDIDATES_PER_REQUEST
from predis.services.cache.engine.candidates import CandidateStream
from predis.services.cache.engine.simulate import simulate
from predis.services.predictor.model_files import open_model_dir
from predis.services.replay.traces import Trace

# Every candidate of a request is kept: the simulation skips those already cached, as the cache
# does before scoring, and starts at most two prefetches per request.
PER_REQUEST = CANDIDATES_PER_REQUEST
CHUNK = 200_000
SCORE_BATCH = 1 << 16


@numba.njit(cache=True)
def _keep_best(
    requests: np.ndarray,
    candidates: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    keys: np.ndarray,
    counts: np.ndarray,
    best: np.ndarray,
) -> None:
    """For each request, the (up to) PER_REQUEST distinct candidates scoring highest above the threshold."""
    for r in range(len(requests)):
        if scores[r] < threshold:
            continue
        i = requests[r]
        duplicate = False
        for p in range(counts[i]):
            if keys[i, p] == candidates[r]:
                duplicate = True
                if scores[r] > best[i, p]:
                    best[i, p] = scores[r]
        if duplicate:
            continue
        if counts[i] < keys.shape[1]:
            keys[i, counts[i]] = candidates[r]
            best[i, counts[i]] = scores[r]
            counts[i] += 1
            continue
        weakest = 0
        for p in range(1, keys.shape[1]):
            if best[i, p] < best[i, weakest]:
                weakest = p
        if scores[r] > best[i, weakest]:
            keys[i, weakest] = candidates[r]
            best[i, weakest] = scores[r]


THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TARGET_PRECISION = 0.6  # on the training window; the live target is 0.5


@dataclass(frozen=True)
class ScoredProposals:
    """Each request's best PER_REQUEST candidates, best first, with their scores."""

    keys: np.ndarray  # uint64[n, PER_REQUEST]
    scores: np.ndarray  # float32[n, PER_REQUEST]; -1 where there is no candidate

    def at(self, threshold: float, upto: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Proposals above ``threshold`` (for the first ``upto`` requests only, when given)."""
        keys, scores = (self.keys, self.scores) if upto is None else (self.keys[:upto], self.scores[:upto])
        return keys, (scores >= threshold).sum(axis=1).astype(np.int8)


def score_proposals(ids: np.ndarray, model_dir: Path) -> ScoredProposals:
    _, scorer = open_model_dir(str(model_dir))
    keys = np.zeros((len(ids), PER_REQUEST), dtype=np.uint64)
    counts = np.zeros(len(ids), dtype=np.int8)
    best = np.full((len(ids), PER_REQUEST), -1.0, dtype=np.float32)
    stream = CandidateStream(len(ids))
    for start in range(0, len(ids), CHUNK):
        rows = stream.rows(ids[start : start + CHUNK])
        scores = np.concatenate(
            [scorer.score(rows.features[b : b + SCORE_BATCH]) for b in range(0, len(rows.request), SCORE_BATCH)]
            or [np.zeros(0, np.float32)]
        )
        _keep_best(rows.request, rows.candidate, scores, 0.0, keys, counts, best)
    # Best first, so that a threshold keeps a prefix of each row.
    order = np.argsort(-best, axis=1)
    return ScoredProposals(np.take_along_axis(keys, order, 1), np.take_along_axis(best, order, 1))


def read_card(model_dir: Path) -> dict[str, object]:
    """The model card ``predis train`` wrote beside the model."""
    card: dict[str, object] = json.loads((Path(model_dir) / "model.json").read_text())
    return card


def tuned_threshold(trace: Trace, proposals: ScoredProposals, capacity: int, train_end: int, model_dir: Path) -> float:
    """The lowest threshold whose prefetches, replayed over the training window at this cache
    size, reach TARGET_PRECISION (the cache never sees the scored requests while tuning);
    above 1 (never prefetch) when none does."""
    if train_end == 0:  # nothing before the scored window to tune on: the model card's cut
        return float(read_card(model_dir).get("threshold", 0.5))  # type: ignore[arg-type]
    window = trace.ids[:train_end]
    lines = None if trace.lines is None else trace.lines[:train_end]
    for threshold in THRESHOLDS:
        result = simulate(window, capacity, "learned", proposals=proposals.at(threshold, train_end), lines=lines)
        if result.prefetches and result.prefetch_used / result.prefetches >= TARGET_PRECISION:
            return threshold
    return 1.01
