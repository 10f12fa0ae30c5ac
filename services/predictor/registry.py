"""The predictor's model registry: loaded versions, their roles and traffic weights, and live
metrics per version. Plain Python (and ONNX Runtime through ``model_files``), no gRPC.

Roles: one champion answers the traffic no challenger takes; challengers answer the share
``SetTraffic`` gives them, picked by a stable hash of tenant and routing key (a key always goes to
the same version); shadows score a copy of the traffic and answer nobody. A version is loaded and
warmed before it joins, and the routing table is replaced in one assignment, so a swap never
fails or delays a request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from predis.services.predictor.manifest import LoadedEntry, LoadedManifest
from predis.services.predictor.model_files import ModelCard, OnnxScorer, open_model_dir
from predis.services.runtime.errors import FailedPrecondition, InvalidInput, NotFound

log = logging.getLogger(__name__)
LATENCY_WINDOW = 4096


class Role(Enum):
    CHAMPION = "champion"
    CHALLENGER = "challenger"
    SHADOW = "shadow"


@dataclass
class VersionMetrics:
    requests: int = 0
    rows: int = 0
    runs: int = 0  # session runs: fewer than requests when micro-batching joined calls
    prefetches_used: int = 0
    prefetches_unused: int = 0
    prefetches_late: int = 0  # right guesses that loaded after their key was read
    latencies_us: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    @property
    def precision(self) -> float:
        right = self.prefetches_used + self.prefetches_late
        total = right + self.prefetches_unused
        return right / total if total else 0.0

    def latency_percentile(self, q: float) -> float:
        return float(np.percentile(np.fromiter(self.latencies_us, float), q)) if self.latencies_us else 0.0


@dataclass
class ModelVersion:
    version: str
    role: Role
    traffic_weight: float
    feature_names: list[str]
    source_path: str
    loaded_unix_nano: int
    execution_provider: str
    scorer: OnnxScorer = field(repr=False)
    card: ModelCard = field(repr=False)
    metrics: VersionMetrics = field(default_factory=VersionMetrics, repr=False)


@dataclass(frozen=True)
class Routing:
    """Who answers what; replaced whole on every change."""

    champion: ModelVersion | None = None
    challengers: tuple[tuple[ModelVersion, float], ...] = ()
    shadows: tuple[ModelVersion, ...] = ()


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray
    model: ModelVersion
    shadows: tuple[ModelVersion, ...]


def traffic_position(tenant: str, routing_key: bytes) -> float:
    """A stable number in [0, 1) for a tenant and key: the same key always lands in the same place."""
    digest = hashlib.blake2b(tenant.encode() + b"\0" + routing_key, digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def feature_difference(card: tuple[str, ...], expected: tuple[str, ...]) -> str:
    """What differs between the features a model's card names and those its callers send."""
    missing = [f for f in expected if f not in card]
    extra = [f for f in card if f not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks {', '.join(missing)}")
        if extra:
            parts.append(f"names {', '.join(extra)}, which callers do not send")
        return f"its card {' and '.join(parts)} (callers send {', '.join(expected)})"
    at = next(i for i, (a, b) in enumerate(zip(card, expected, strict=True)) if a != b)
    return (
        f"its card names the callers' features in another order: position {at + 1} is {card[at]!r}, "
        f"callers send {expected[at]!r} there (callers send {', '.join(expected)})"
    )


class ModelRegistry:
    def __init__(
        self,
        opener: Callable[[str], tuple[ModelCard, OnnxScorer]] = open_model_dir,
        manifest: LoadedManifest | None = None,
        features: tuple[str, ...] | None = None,
    ) -> None:
        """``manifest``: where the loaded versions are kept after every change, for :meth:`restore`.
        ``features``: the feature names, in order, that callers send; a model whose card names
        others is refused (None: any model is taken, and only the row width is checked)."""
        self._open = opener
        self._manifest = manifest
        self.features = features
        self.versions: dict[str, ModelVersion] = {}
        self._routing = Routing()

    def restore(self) -> list[str]:
        """Loads what the manifest says was loaded (after a restart); returns the versions that
        came back. One that no longer opens is skipped with a log line."""
        manifest, self._manifest = self._manifest, None  # saved once at the end, not entry by entry
        if manifest is None:
            return []
        entries = manifest.read()
        restored: list[str] = []
        for entry in entries:
            try:
                self.load(entry.version, entry.path, Role(entry.role))
            except Exception as error:  # noqa: BLE001 - a lost model must not stop the predictor
                log.warning("could not load %s again from %s: %s", entry.version, entry.path, error)
                continue
            restored.append(entry.version)
        weights = {e.version: (Role(e.role), e.traffic_weight) for e in entries if e.version in restored}
        if any(role is Role.CHAMPION for role, _ in weights.values()):
            try:
                self.set_traffic(weights)
            except InvalidInput as error:
                log.warning("restored versions, but not their traffic split: %s", error)
        self._manifest = manifest
        self._saved()
        return restored

    def _saved(self) -> None:
        if self._manifest is not None:
            self._manifest.save(
                [LoadedEntry(m.version, m.source_path, m.role.value, m.traffic_weight) for m in self.loaded()]
            )

    # -- changes -----------------------------------------------------------------------------

    def load(self, version: str, path: str, role: Role | None) -> ModelVersion:
        """Loads and warms a version, then gives it ``role`` (None: champion if there is none,
        else shadow). A champion's predecessor stays loaded as a challenger with no traffic."""
        self.check_new_version(version)
        return self.add(version, path, role, *self.open(path))

    def open(self, path: str) -> tuple[ModelCard, OnnxScorer]:
        """Opens and warms a model directory; touches no state (callers may run it in a thread)."""
        return self._open(path)

    def add(self, version: str, path: str, role: Role | None, card: ModelCard, scorer: OnnxScorer) -> ModelVersion:
        """Adds an opened model under ``version`` and rebuilds the routing in one step."""
        self.check_new_version(version)
        if self.features is not None and card.features != self.features:
            raise InvalidInput(f"model {version!r} at {path}: {feature_difference(card.features, self.features)}")
        if role is None:
            role = Role.SHADOW if self._routing.champion else Role.CHAMPION
        model = ModelVersion(
            version=version,
            role=role,
            traffic_weight=0.0,  # the champion's share is derived when the routing is rebuilt
            feature_names=list(card.features),
            source_path=path,
            loaded_unix_nano=time.time_ns(),
            execution_provider=scorer.execution_provider,
            scorer=scorer,
            card=card,
        )
        if role is Role.CHAMPION:
            self._demote_champion()
        self.versions[version] = model
        self._reroute()
        self._saved()
        return model

    def check_new_version(self, version: str) -> None:
        if not version:
            raise InvalidInput("a model version name is required")
        if version in self.versions:
            raise InvalidInput(f"model version {version!r} is already loaded; unload it or use another name")

    def unload(self, version: str) -> None:
        model = self._get(version)
        if model.role is Role.CHAMPION and len(self.versions) > 1:
            raise FailedPrecondition(f"{version!r} is the champion; make another version champion before unloading it")
        del self.versions[version]
        self._reroute()
        self._saved()

    def set_traffic(self, assignments: Mapping[str, tuple[Role, float]]) -> list[ModelVersion]:
        """Applies every assignment or none of them."""
        for version, (_, weight) in assignments.items():
            self._get(version)
            if not 0.0 <= weight <= 1.0:
                raise InvalidInput(f"traffic weight of {version!r} is {weight}; weights are 0 to 1")
        roles = {v: m.role for v, m in self.versions.items()} | {v: r for v, (r, _) in assignments.items()}
        weights = {v: m.traffic_weight for v, m in self.versions.items()} | {v: w for v, (_, w) in assignments.items()}
        champions = [v for v, r in roles.items() if r is Role.CHAMPION]
        if len(champions) != 1:
            raise InvalidInput(f"exactly one version must be champion after SetTraffic, not {len(champions)}")
        challenger_share = sum(weights[v] for v, r in roles.items() if r is Role.CHALLENGER)
        if challenger_share > 1.0:
            raise InvalidInput(f"challengers would take {challenger_share:.3f} of the traffic; at most 1")
        for version, model in self.versions.items():
            model.role = roles[version]
            model.traffic_weight = weights[version] if model.role is Role.CHALLENGER else 0.0
        self._reroute()
        self._saved()
        return self.loaded()

    def record_outcome(self, version: str, used: bool, late: bool = False) -> bool:
        model = self.versions.get(version)
        if model is None:
            return False
        if used:
            model.metrics.prefetches_used += 1
        elif late:
            model.metrics.prefetches_late += 1
        else:
            model.metrics.prefetches_unused += 1
        return True

    # -- reads -------------------------------------------------------------------------------

    def loaded(self) -> list[ModelVersion]:
        return sorted(self.versions.values(), key=lambda m: m.version)

    def status(self, version: str) -> ModelVersion:
        return self._get(version)

    def route(self, tenant: str, routing_key: bytes) -> tuple[ModelVersion, tuple[ModelVersion, ...]]:
        """The version that answers this tenant and key, and the shadows that score a copy."""
        routing = self._routing  # one read: a concurrent swap cannot mix two tables
        if routing.champion is None:
            raise FailedPrecondition("no model is loaded in the predictor; load one with LoadModel first")
        model = routing.champion
        position = traffic_position(tenant, routing_key)
        for challenger, weight in routing.challengers:
            if position < weight:
                model = challenger
                break
            position -= weight
        return model, routing.shadows

    def predict(self, tenant: str, routing_key: bytes, features: np.ndarray) -> Prediction:
        model, shadows = self.route(tenant, routing_key)
        return Prediction(self.score(model, features), model, shadows)

    @staticmethod
    def check_width(model: ModelVersion, features: np.ndarray) -> None:
        if features.shape[1] != model.scorer.feature_count:
            raise InvalidInput(
                f"rows have {features.shape[1]} features but model {model.version!r} takes "
                f"{model.scorer.feature_count} ({', '.join(model.feature_names)})"
            )

    def score(self, model: ModelVersion, features: np.ndarray, calls: int = 1) -> np.ndarray:
        """Scores rows with one version; ``calls`` is how many Predict calls the rows came from."""
        self.check_width(model, features)
        started = time.perf_counter()
        probabilities = model.scorer.score(features)
        metrics = model.metrics
        metrics.latencies_us.append((time.perf_counter() - started) * 1e6)
        metrics.requests += calls
        metrics.runs += 1
        metrics.rows += len(features)
        return probabilities

    # -- internals ---------------------------------------------------------------------------

    def _demote_champion(self) -> None:
        for model in self.versions.values():
            if model.role is Role.CHAMPION:
                model.role, model.traffic_weight = Role.CHALLENGER, 0.0

    def _reroute(self) -> None:
        models = self.loaded()
        champion = next((m for m in models if m.role is Role.CHAMPION), None)
        challengers = tuple((m, m.traffic_weight) for m in models if m.role is Role.CHALLENGER and m.traffic_weight > 0)
        shadows = tuple(m for m in models if m.role is Role.SHADOW)
        if champion is not None:
            champion.traffic_weight = 1.0 - sum(weight for _, weight in challengers)
        self._routing = Routing(champion, challengers, shadows)

    def _get(self, version: str) -> ModelVersion:
        model = self.versions.get(version)
        if model is None:
            loaded = ", ".join(sorted(self.versions)) or "none"
            raise NotFound(f"model version {version!r} is not loaded (loaded: {loaded})")
        return model
