"""Per-tenant adaptation strategies: for a tenant's retraining, which scope gets the challenger
(the global model, or the tenant's own) and how it is built. Strategies are plugins
(``predis_register_adaptation_strategies``); these three are built in, registered by this module
as a default plugin:

- ``global``: one model for everyone, trained on every tenant's recent traffic.
- ``per-tenant-model``: a tenant with at least ``tenant_min_events`` events gets its own model,
  trained on its traffic alone; other tenants retrain the global one.
- ``per-tenant-threshold``: a tenant with enough events gets the model serving it now with its
  probabilities recalibrated on its traffic (Platt scaling, added to the ONNX graph), so the
  cache's live threshold starts where that tenant's precision is; cheaper than a model of its own.

Whatever a strategy builds is validated against the champion like any challenger: a strategy
proposes, the replay decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from predis.plugins.hookspecs import hookimpl

if TYPE_CHECKING:  # kept out of the import: the cache loads this module with its plugins
    import numpy as np
    import onnx

    from predis.services.retrainer.training import TrainingOptions, TrainingWindow

GLOBAL = ""


def _train(request: AdaptationRequest, adaptation: str) -> dict[str, object]:
    from predis.services.retrainer.training import train_windows

    return train_windows(request.windows, request.out, request.options, {"adaptation": adaptation})


@dataclass(frozen=True)
class AdaptationRequest:
    """What a strategy builds from.

    Attributes:
        scope: the scope the challenger is for: a tenant's name, or "" for the global scope.
        windows: the training windows (one per tenant whose traffic is used), oldest request first.
        out: the directory to write ``model.onnx`` and ``model.json`` into.
        options: training options (model kind, horizon, rows).
        champion_dir: the model that serves the scope now (its own champion, else the global
            one), or None when none does.
    """

    scope: str
    windows: Sequence[TrainingWindow]
    out: Path
    options: TrainingOptions
    champion_dir: Path | None


@runtime_checkable
class AdaptationStrategy(Protocol):
    """How a tenant's retraining adapts to it. Both methods must be safe to call in a worker
    process (the retrainer looks the strategy up there again by name)."""

    def scope(self, tenant: str, tenant_events: int, min_events: int) -> str:
        """The scope a retraining asked for ``tenant`` trains: ``tenant`` for its own challenger,
        "" for the global model. ``tenant_events``: its events in the segments; ``min_events``:
        the ``PREDIS_RETRAINER_TENANT_MIN_EVENTS`` setting."""
        ...

    def build(self, request: AdaptationRequest) -> dict[str, object]:
        """Writes the challenger into ``request.out`` (model.onnx and model.json, a card naming
        the features in order); returns the card. ValueError when the data cannot make one."""
        ...


class GlobalModelOnly:
    def scope(self, tenant: str, tenant_events: int, min_events: int) -> str:
        return GLOBAL

    def build(self, request: AdaptationRequest) -> dict[str, object]:
        return _train(request, "global")


class PerTenantModel:
    def scope(self, tenant: str, tenant_events: int, min_events: int) -> str:
        return tenant if tenant and tenant_events >= min_events else GLOBAL

    def build(self, request: AdaptationRequest) -> dict[str, object]:
        return _train(request, "per-tenant-model" if request.scope else "global")


class PerTenantThreshold:
    def scope(self, tenant: str, tenant_events: int, min_events: int) -> str:
        return tenant if tenant and tenant_events >= min_events else GLOBAL

    def build(self, request: AdaptationRequest) -> dict[str, object]:
        if not request.scope or request.champion_dir is None:
            # Nothing to calibrate: the global scope, or a tenant before any model serves it.
            return _train(request, "global")
        return calibrate(request.champion_dir, request.windows, request.out, request.options)


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``a, b`` such that sigmoid(a * logit(score) + b) is calibrated on (scores, y)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return 1.0, 0.0
    p = np.clip(scores.astype(np.float64), 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p)).reshape(-1, 1)
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit, y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def _calibrated_graph(model_path: Path, a: float, b: float) -> onnx.ModelProto:
    """The ONNX model with its probabilities passed through sigmoid(a * logit(p) + b)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    graph = model.graph
    source = graph.output[-1].name
    vectors = {"cal_start": 1, "cal_end": 2, "cal_axis": 1}  # Slice's int64 arguments
    scalars = {"cal_low": 1e-6, "cal_high": 1 - 1e-6, "cal_one": 1.0, "cal_a": a, "cal_b": b}
    for name, index in vectors.items():
        graph.initializer.append(helper.make_tensor(name, TensorProto.INT64, [1], [index]))
    for name, value in scalars.items():
        graph.initializer.append(helper.make_tensor(name, TensorProto.FLOAT, [], [value]))
    graph.node.extend(
        [
            helper.make_node("Slice", [source, "cal_start", "cal_end", "cal_axis"], ["cal_p"]),
            helper.make_node("Clip", ["cal_p", "cal_low", "cal_high"], ["cal_clipped"]),
            helper.make_node("Sub", ["cal_one", "cal_clipped"], ["cal_q"]),
            helper.make_node("Div", ["cal_clipped", "cal_q"], ["cal_odds"]),
            helper.make_node("Log", ["cal_odds"], ["cal_logit"]),
            helper.make_node("Mul", ["cal_logit", "cal_a"], ["cal_scaled"]),
            helper.make_node("Add", ["cal_scaled", "cal_b"], ["cal_z"]),
            helper.make_node("Sigmoid", ["cal_z"], ["cal_positive"]),
            helper.make_node("Sub", ["cal_one", "cal_positive"], ["cal_negative"]),
            helper.make_node("Concat", ["cal_negative", "cal_positive"], ["calibrated_probabilities"], axis=1),
        ]
    )
    output = helper.make_tensor_value_info("calibrated_probabilities", TensorProto.FLOAT, [None, 2])
    del graph.output[:]
    graph.output.append(output)
    onnx.checker.check_model(model)
    return model


def _version_of(card: dict[str, object]) -> str:
    registry = card.get("registry")
    return str(registry.get("version", "")) if isinstance(registry, dict) else ""


def calibrate(
    champion_dir: Path, windows: Sequence[TrainingWindow], out: Path, options: TrainingOptions
) -> dict[str, object]:
    """The champion's model recalibrated on the windows' candidates (Platt scaling)."""
    import numpy as np

    from predis.services.cache.engine.candidates import candidate_rows, labels
    from predis.services.predictor.model_files import open_model_dir
    from predis.services.retrainer.training import ids_digest

    card, scorer = open_model_dir(str(champion_dir))
    scores, ys = [], []
    for window in windows:
        ids = np.ascontiguousarray(window.ids, dtype=np.uint64)
        rows = candidate_rows(ids)
        scores.append(scorer.score(rows.features))
        ys.append(labels(ids, rows, options.horizon, window.lines))
    y = np.concatenate(ys) if ys else np.zeros(0, np.int8)
    if len(y) < 100:
        raise ValueError(f"the training windows gave {len(y)} candidate rows, too few to calibrate on (100 or more)")
    a, b = _platt(np.concatenate(scores), y)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(_calibrated_graph(champion_dir / "model.onnx", a, b).SerializeToString())
    new_card: dict[str, object] = {
        **{k: v for k, v in card.raw.items() if k != "registry"},
        "adaptation": "per-tenant-threshold",
        "calibration": {"method": "platt", "a": round(a, 6), "b": round(b, 6), "rows": int(len(y))},
        "calibrated_from": {"path": str(champion_dir), "version": _version_of(card.raw)},
        "training_windows": [{**w.info, "requests": int(len(w.ids)), "sha256": ids_digest(w.ids)} for w in windows],
    }
    (out / "model.json").write_text(json.dumps(new_card, indent=2) + "\n")
    return new_card


BUILT_IN: dict[str, AdaptationStrategy] = {
    "global": GlobalModelOnly(),
    "per-tenant-model": PerTenantModel(),
    "per-tenant-threshold": PerTenantThreshold(),
}


@hookimpl
def predis_register_adaptation_strategies(register: Callable[[str, AdaptationStrategy], None]) -> None:
    for name, strategy in BUILT_IN.items():
        register(name, strategy)
