"""The predictor's model registry: which versions are loaded, their roles and traffic weights.

Plain Python, no gRPC. Loading ONNX models is not built yet in this version, so the registry
is empty and says so: Predict fails with a precondition error, lookups of a version fail with
not-found, and LoadModel reports that loading is not built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from predis.services.runtime.errors import FailedPrecondition, InvalidInput, NotBuilt, NotFound


class Role(Enum):
    CHAMPION = "champion"
    CHALLENGER = "challenger"
    SHADOW = "shadow"


@dataclass
class ModelVersion:
    version: str
    role: Role
    traffic_weight: float
    feature_names: list[str]
    source_path: str
    loaded_unix_nano: int
    execution_provider: str


@dataclass
class VersionMetrics:
    requests: int = 0
    rows: int = 0
    prefetches_used: int = 0
    prefetches_unused: int = 0

    @property
    def precision(self) -> float:
        total = self.prefetches_used + self.prefetches_unused
        return self.prefetches_used / total if total else 0.0


@dataclass
class ModelRegistry:
    versions: dict[str, ModelVersion] = field(default_factory=dict)
    metrics: dict[str, VersionMetrics] = field(default_factory=dict)

    def load(self, version: str, path: str, role: Role) -> ModelVersion:
        if not version:
            raise InvalidInput("a model version name is required")
        raise NotBuilt("loading ONNX models is not built yet in this version of the predictor")

    def unload(self, version: str) -> None:
        self._get(version)
        del self.versions[version]
        self.metrics.pop(version, None)

    def loaded(self) -> list[ModelVersion]:
        return sorted(self.versions.values(), key=lambda m: m.version)

    def status(self, version: str) -> tuple[ModelVersion, VersionMetrics]:
        return self._get(version), self.metrics.setdefault(version, VersionMetrics())

    def set_traffic(self, assignments: Mapping[str, tuple[Role, float]]) -> list[ModelVersion]:
        """Applies every assignment or none of them."""
        for version, (_, weight) in assignments.items():
            self._get(version)
            if not 0.0 <= weight <= 1.0:
                raise InvalidInput(f"traffic weight of {version!r} is {weight}; weights are 0 to 1")
        for version, (role, weight) in assignments.items():
            model = self.versions[version]
            model.role, model.traffic_weight = role, weight
        return self.loaded()

    def predict(self, routing_key: bytes, tenant: str, rows: int) -> ModelVersion:
        if not self.versions:
            raise FailedPrecondition("no model is loaded in the predictor; load one with LoadModel first")
        raise NotBuilt("scoring with ONNX models is not built yet in this version of the predictor")

    def record_outcome(self, version: str, used: bool) -> bool:
        if version not in self.versions:
            return False
        metrics = self.metrics.setdefault(version, VersionMetrics())
        if used:
            metrics.prefetches_used += 1
        else:
            metrics.prefetches_unused += 1
        return True

    def _get(self, version: str) -> ModelVersion:
        model = self.versions.get(version)
        if model is None:
            loaded = ", ".join(sorted(self.versions)) or "none"
            raise NotFound(f"model version {version!r} is not loaded (loaded: {loaded})")
        return model
