"""The predictor's metrics: each loaded version's own counts (``VersionMetrics``, what
``GetModelStatus`` answers), read at each collection, and its scoring-time histogram
(``ModelRegistry.score_durations``). Series are labelled ``version`` and ``scope`` (a tenant, or
``_global``); a version's series end when it is unloaded. docs/metrics.md lists every name.
"""

from __future__ import annotations

from collections.abc import Callable

from predis.services.predictor.registry import ModelRegistry, ModelVersion, VersionMetrics, metrics_scope
from predis.services.runtime.metrics import Readings, ServiceMeters

_COUNTERS: dict[str, tuple[str, str, Callable[[VersionMetrics], int]]] = {
    "predis.predictor.requests": (
        "Predict calls the version answered (or scored, as a shadow)",
        "{call}",
        lambda m: m.requests,
    ),
    "predis.predictor.rows": ("Candidate rows the version scored", "{row}", lambda m: m.rows),
    "predis.predictor.runs": (
        "ONNX Runtime session runs (micro-batching joins calls into one)",
        "{run}",
        lambda m: m.runs,
    ),
    "predis.predictor.prefetches.used": (
        "Prefetches the version proposed that were used (ReportOutcomes)",
        "{prefetch}",
        lambda m: m.prefetches_used,
    ),
    "predis.predictor.prefetches.late": (
        "Prefetches the version proposed whose key was read while they loaded",
        "{prefetch}",
        lambda m: m.prefetches_late,
    ),
    "predis.predictor.prefetches.wasted": (
        "Prefetches the version proposed that went unused",
        "{prefetch}",
        lambda m: m.prefetches_unused,
    ),
}


def _labels(model: ModelVersion) -> dict[str, str]:
    return {"version": model.version, "scope": metrics_scope(model.tenant)}


def _of_metrics(count: Callable[[VersionMetrics], int]) -> Callable[[ModelVersion], float]:
    return lambda model: count(model.metrics)


def register_predictor_metrics(meters: ServiceMeters, registry: ModelRegistry) -> None:
    """Registers the predictor's instruments on ``meters``."""

    def per_version(pick: Callable[[ModelVersion], float]) -> Callable[[], Readings]:
        def read() -> list[tuple[float, dict[str, str]]]:
            return [(pick(model), _labels(model)) for model in list(registry.versions.values())]

        return read

    for name, (description, unit, count) in _COUNTERS.items():
        meters.counter(name, description, unit, per_version(_of_metrics(count)))
    meters.gauge(
        "predis.predictor.precision",
        "Share of the version's reported prefetches that were right: (used + late) / (used + late + wasted)",
        "1",
        per_version(lambda model: model.metrics.precision),
    )

    def roles() -> list[tuple[float, dict[str, str]]]:
        return [
            (model.traffic_weight, {**_labels(model), "role": model.role.value})
            for model in list(registry.versions.values())
        ]

    meters.gauge(
        "predis.predictor.traffic_weight",
        "Share of its scope's traffic the version answers, labelled with its role (shadows answer none)",
        "1",
        roles,
    )
    meters.gauge(
        "predis.predictor.models",
        "Versions loaded",
        "{version}",
        lambda: [(len(registry.versions), {})],
    )
    meters.histogram(
        "predis.predictor.score.duration",
        "Time of one ONNX Runtime session run (one or more Predict calls' rows)",
        "s",
        registry.score_durations,
    )
