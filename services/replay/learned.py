"""The ``learned`` replay policy's proposals: every request's candidates scored by a trained
model (ONNX Runtime, in large batches), keeping the best ones above the model's threshold."""

from __future__ import annotations

import json
from pathlib import Path

import numba
import numpy as np

from predis.services.cache.engine.candidates import CandidateStream
from predis.services.predictor.model_files import open_model_dir

PER_REQUEST = 2
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


def model_threshold(model_dir: Path) -> float:
    card = json.loads((model_dir / "model.json").read_text())
    return float(card.get("threshold", 0.5))


def learned_proposals(ids: np.ndarray, model_dir: Path, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    _, scorer = open_model_dir(str(model_dir))
    keys = np.zeros((len(ids), PER_REQUEST), dtype=np.uint64)
    counts = np.zeros(len(ids), dtype=np.int8)
    best = np.zeros((len(ids), PER_REQUEST), dtype=np.float32)
    stream = CandidateStream(len(ids))
    for start in range(0, len(ids), CHUNK):
        rows = stream.rows(ids[start : start + CHUNK])
        scores = np.concatenate(
            [scorer.score(rows.features[b : b + SCORE_BATCH]) for b in range(0, len(rows.request), SCORE_BATCH)]
            or [np.zeros(0, np.float32)]
        )
        _keep_best(rows.request, rows.candidate, scores, threshold, keys, counts, best)
    return keys, counts
