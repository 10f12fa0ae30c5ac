"""Training a prefetch model: candidates and features from training windows of requests, labels
from what followed, a scikit-learn model exported to ONNX with its card. ``predis train`` calls
:func:`train` on the first part of traces; the retrainer calls :func:`train_windows` on the ids of
recent access segments (keys mapped through the cache's ``KeyIds``), so both run the same code.

The model never sees requests after the training window: candidates, features and labels are all
computed from the window alone (a candidate near the window's end whose follow-up falls outside it
is labelled negative).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from predis.services.cache.engine.candidates import FEATURES, candidate_rows, labels
from predis.services.replay.traces import Trace

MODELS = ("gbdt", "logistic")


@dataclass(frozen=True)
class TrainingOptions:
    """
    Attributes:
        train_fraction: share of each trace (from its start) the model may learn from.
        horizon: a candidate is positive when requested within this many requests of its trigger.
        model: ``gbdt`` (gradient-boosted trees, 50) or ``logistic``.
        max_rows: candidate rows kept for fitting, sampled evenly over all traces (memory bound).
        seed: for the sampling and the model.
    """

    train_fraction: float = 0.3
    horizon: int = 8
    model: str = "gbdt"
    max_rows: int = 400_000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.train_fraction <= 1.0:
            raise ValueError("--train-fraction must be above 0 and at most 1")
        if self.horizon < 1:
            raise ValueError("--horizon must be at least 1")
        if self.model not in MODELS:
            raise ValueError(f"--model must be one of {', '.join(MODELS)}")


@dataclass(frozen=True)
class TrainingWindow:
    """Requests a model may learn from, in order.

    Attributes:
        ids: one 64-bit id per request (uint64), as the candidate generator sees them.
        lines: a line number per request (requests one client request asked for together), or None.
        info: what the card records of where the window came from (trace or tenant, time range).
    """

    ids: np.ndarray
    lines: np.ndarray | None = None
    info: Mapping[str, object] = field(default_factory=dict)


def trace_window(trace: Trace, train_fraction: float) -> TrainingWindow:
    """The first ``train_fraction`` of a trace, with what the card says of it."""
    end = int(train_fraction * trace.requests)
    info = {
        "trace": trace.name,
        "of_requests": trace.requests,
        # Which keys the model learned from: replay refuses to score it on other ones.
        "keys": trace.keys,
        "scrambled_field": trace.scrambled_field,
        "key_seed": trace.key_seed,
    }
    return TrainingWindow(trace.ids[:end], None if trace.lines is None else trace.lines[:end], info)


def ids_digest(ids: np.ndarray) -> str:
    """The sha256 of a window's ids as uint64, which the card records to name what was learned from."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype=np.uint64).tobytes()).hexdigest()


def _window_rows(window: TrainingWindow, options: TrainingOptions) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    ids = np.ascontiguousarray(window.ids, dtype=np.uint64)
    rows = candidate_rows(ids)
    y = labels(ids, rows, options.horizon, window.lines)
    info = {
        **window.info,
        "requests": int(len(ids)),
        "sha256": ids_digest(ids),
        "candidate_rows": int(len(y)),
        "positive_share": round(float(y.mean()), 4) if len(y) else 0.0,
    }
    return rows.features, y, info


def _constant_model(y: np.ndarray) -> tuple[object, dict[str, object]]:
    """A window whose candidates were all right (a pure loop) or all wrong has one class: the
    model then answers that class's rate, smoothed (Laplace), for every row. It is a real logistic
    regression with zero weights, so it exports and serves like any other, and the live tuner and
    the next retraining take it from there."""
    from sklearn.linear_model import LogisticRegression

    rate = (float(y.sum()) + 1.0) / (len(y) + 2.0)
    model = LogisticRegression()
    model.classes_ = np.array([0, 1])
    model.coef_ = np.zeros((1, len(FEATURES)))
    model.intercept_ = np.array([np.log(rate / (1.0 - rate))])
    model.n_features_in_ = len(FEATURES)
    return model, {"constant_rate": round(rate, 6), "why": f"the training window has one class only ({int(y[0])})"}


def _fit(x: np.ndarray, y: np.ndarray, options: TrainingOptions) -> tuple[object, dict[str, object]]:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return _constant_model(y)

    if options.model == "gbdt":
        params: dict[str, object] = {"n_estimators": 50, "max_depth": 3, "learning_rate": 0.1}
        model: object = GradientBoostingClassifier(random_state=options.seed, **params)  # type: ignore[arg-type]
    else:
        params = {"C": 1.0, "max_iter": 500}
        model = LogisticRegression(**params)  # type: ignore[arg-type]
    model.fit(x, y)  # type: ignore[attr-defined]
    return model, params


TARGET_PRECISION = 0.6  # above the 50% a prefetch must reach live, for the drift between windows


def _threshold(model: object, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The lowest score cut whose held-out precision reaches TARGET_PRECISION (1.0, never
    prefetch, when none does), and that precision."""
    p = model.predict_proba(x)[:, 1]  # type: ignore[attr-defined]
    for cut in np.arange(0.3, 0.96, 0.05):
        chosen = p >= cut
        if chosen.sum() >= max(10, 0.001 * len(y)) and y[chosen].mean() >= TARGET_PRECISION:
            return round(float(cut), 2), round(float(y[chosen].mean()), 4)
    return 1.0, 0.0


def _offline_metrics(model: object, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    p = model.predict_proba(x)[:, 1]  # type: ignore[attr-defined]
    chosen = p >= 0.5
    metrics = {"validation_rows": int(len(y)), "positive_share": round(float(y.mean()), 4)}
    if 0 < y.sum() < len(y):
        metrics["auc"] = round(float(roc_auc_score(y, p)), 4)
    metrics["precision_at_0.5"] = round(float(y[chosen].mean()), 4) if chosen.any() else 0.0
    metrics["recall_at_0.5"] = round(float(chosen[y == 1].mean()), 4) if y.any() else 0.0
    return metrics


def train(traces: list[Trace], out: Path, options: TrainingOptions) -> dict[str, object]:
    """``predis train``: learns from the first ``options.train_fraction`` of each trace; writes
    ``out/model.onnx`` and ``out/model.json``; returns the card."""
    windows = [trace_window(trace, options.train_fraction) for trace in traces]
    return train_windows(windows, out, options, {"train_fraction": options.train_fraction})


def train_windows(
    windows: Sequence[TrainingWindow],
    out: Path,
    options: TrainingOptions,
    card_extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Learns from every window whole (``options.train_fraction`` is not applied); writes
    ``out/model.onnx`` and ``out/model.json``; returns the card (``card_extra`` added to it).
    ValueError when the windows give too few candidate rows to learn from."""
    import onnx
    import skl2onnx
    import sklearn
    from skl2onnx import to_onnx

    started = time.time()
    parts = [_window_rows(window, options) for window in windows]
    x = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, len(FEATURES)), np.float32)
    y = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int8)
    if len(y) < 100:
        raise ValueError(f"the training windows gave {len(y)} candidate rows, too few to learn from (100 or more)")
    if len(y) > options.max_rows:
        keep = np.sort(np.random.default_rng(options.seed).choice(len(y), options.max_rows, replace=False))
        x, y = x[keep], y[keep]
    # Hold out the latest fifth (rows are in time order within each trace) to measure the model.
    cut = int(0.8 * len(y))
    model, params = _fit(x[:cut], y[:cut], options)
    threshold, threshold_precision = _threshold(model, x[cut:], y[cut:])
    card: dict[str, object] = {
        "format": "predis-prefetch-model/1",
        "features": list(FEATURES),
        "label": f"candidate requested within the next {options.horizon} requests of its trigger",
        "model": "constant" if "constant_rate" in params else options.model,
        "hyperparameters": params,
        "training_windows": [p[2] for p in parts],
        **(card_extra or {}),
        "training_rows": cut,
        "offline_metrics": _offline_metrics(model, x[cut:], y[cut:]),
        "threshold": threshold,
        "threshold_precision": threshold_precision,
        "libraries": {
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "created_unix": int(started),
        "training_seconds": round(time.time() - started, 1),
    }
    onnx_model = to_onnx(model, x[:1], options={id(model): {"zipmap": False}})
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(onnx_model.SerializeToString())
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    return card
