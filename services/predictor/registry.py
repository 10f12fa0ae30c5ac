"""The predictor's model registry: loaded versions, their scopes, roles and traffic weights, and
live metrics per version. Plain Python (and ONNX Runtime through ``model_files``), no gRPC.

Scopes: every version belongs to the global scope (tenant ``""``) or to one tenant's scope. A
tenant's calls go to its own scope when that scope has a champion, else to the global scope.
Version names are unique across scopes (outcomes and statuses name only the version).

Roles, within a scope: one champion answers the traffic no challenger takes; challengers answer
the share ``SetTraffic`` gives them, picked by a stable hash of tenant and routing key (a key
always goes to the same version); shadows score a copy of the scope's traffic and answer nobody
(a tenant scope's shadows score that tenant's calls even while the global scope answers them). A
version is loaded and warmed before it joins, and the routing tables of all scopes are replaced in
one assignment, so a swap never fails or delays a request, and making an already loaded version
champion again (a rollback) reloads nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from predis.services.models.store import GLOBAL_FOLDER, StoredVersion, scope_folder
from predis.services.predictor.manifest import LoadedEntry, LoadedManifest
from predis.services.predictor.model_files import ModelCard, OnnxScorer, open_model_dir
from predis.services.runtime.durations import DurationHistogram
from predis.services.runtime.errors import FailedPrecondition, InvalidInput, NotFound

log = logging.getLogger(__name__)
LATENCY_WINDOW = 4096
GLOBAL_SCOPE = ""


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
    tenant: str  # its scope; GLOBAL_SCOPE ("") for the global one
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
    """Who answers one scope's calls; the tables of all scopes are replaced together on every change."""

    champion: ModelVersion | None = None
    challengers: tuple[tuple[ModelVersion, float], ...] = ()
    shadows: tuple[ModelVersion, ...] = ()


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray
    model: ModelVersion
    shadows: tuple[ModelVersion, ...]


def scope_of(tenant: str) -> str:
    """The scope ``tenant`` names: "" is the global scope, anything else must be a valid tenant
    name that the model store can keep (``_global``, its global folder, is reserved)."""
    scope_folder(tenant)  # InvalidInput for a bad or reserved name
    return tenant


def scope_label(scope: str) -> str:
    return "the global scope" if scope == GLOBAL_SCOPE else f"the scope of tenant {scope!r}"


def metrics_scope(scope: str) -> str:
    """A scope as metrics label it: the tenant's name, or ``_global``, the model store's folder
    of the global scope (a name it reserves, so no tenant has it)."""
    return GLOBAL_FOLDER if scope == GLOBAL_SCOPE else scope


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
        # Scoring time per session run, by (version, scope): the predictor's latency histogram
        # (predictor/metrics.py); ``VersionMetrics.latencies_us`` keeps the recent window for p50/p99.
        self.score_durations = DurationHistogram(["version", "scope"])
        self.versions: dict[str, ModelVersion] = {}
        # What a tenant's calls get, by scope: the global scope's table, and one for each tenant
        # scope that has a champion or shadows of its own. Replaced whole, never changed in place.
        self._routes: Mapping[str, Routing] = {GLOBAL_SCOPE: Routing()}

    def restore(self, champions: Sequence[StoredVersion] = ()) -> list[str]:
        """After a restart: loads what the manifest says was loaded, then makes each of
        ``champions`` (the model store's champion aliases) its scope's champion, loading it when
        it is not loaded yet: the store's champion wins over the manifest's. Returns the versions
        that came back; one that no longer opens is skipped with a log line."""
        manifest, self._manifest = self._manifest, None  # saved once at the end, not entry by entry
        restored = self._restore_manifest(manifest) if manifest is not None else []
        for champion in champions:
            try:
                self._make_champion(champion)
            except Exception as error:  # noqa: BLE001 - a lost model must not stop the predictor
                log.warning(
                    "could not make %s the champion of %s from the model store (%s): %s",
                    champion.version,
                    scope_label(champion.tenant),
                    champion.path,
                    error,
                )
                continue
            if champion.version not in restored:
                restored.append(champion.version)
        self._manifest = manifest
        self._saved()
        return restored

    def _restore_manifest(self, manifest: LoadedManifest) -> list[str]:
        entries = manifest.read()
        restored: list[str] = []
        for entry in entries:
            try:
                self.load(entry.version, entry.path, Role(entry.role), tenant=entry.tenant)
            except Exception as error:  # noqa: BLE001 - a lost model must not stop the predictor
                log.warning("could not load %s again from %s: %s", entry.version, entry.path, error)
                continue
            restored.append(entry.version)
        for scope in dict.fromkeys(e.tenant for e in entries if e.version in restored):
            weights = {
                e.version: (Role(e.role), e.traffic_weight)
                for e in entries
                if e.version in restored and e.tenant == scope
            }
            if not any(role is Role.CHAMPION for role, _ in weights.values()):
                continue
            try:
                self.set_traffic(weights, scope)
            except InvalidInput as error:
                log.warning("restored versions of %s, but not their traffic split: %s", scope_label(scope), error)
        return restored

    def _make_champion(self, champion: StoredVersion) -> None:
        scope = scope_of(champion.tenant)
        model = self.versions.get(champion.version)
        if model is None:
            self.load(champion.version, str(champion.path), Role.CHAMPION, tenant=scope)
            return
        if model.tenant != scope:
            raise InvalidInput(f"version {champion.version!r} is already loaded in {scope_label(model.tenant)}")
        if model.role is not Role.CHAMPION:
            self.set_traffic(self._champion_swap(model), scope)

    def _champion_swap(self, model: ModelVersion) -> dict[str, tuple[Role, float]]:
        """The assignment that makes ``model`` champion of its scope and its champion a challenger."""
        current = self._champion_of(model.tenant)
        demoted = {current.version: (Role.CHALLENGER, 0.0)} if current is not None else {}
        return {**demoted, model.version: (Role.CHAMPION, 0.0)}

    def _saved(self) -> None:
        if self._manifest is not None:
            self._manifest.save(
                [LoadedEntry(m.version, m.source_path, m.role.value, m.traffic_weight, m.tenant) for m in self.loaded()]
            )

    # -- changes -----------------------------------------------------------------------------

    def load(self, version: str, path: str, role: Role | None, *, tenant: str = GLOBAL_SCOPE) -> ModelVersion:
        """Loads and warms a version into ``tenant``'s scope ("" the global one), then gives it
        ``role`` (None: champion if the scope has none, else shadow). A champion's predecessor
        stays loaded as a challenger with no traffic."""
        scope = scope_of(tenant)
        self.check_new_version(version)
        return self.add(version, path, role, *self.open(path), tenant=scope)

    def open(self, path: str) -> tuple[ModelCard, OnnxScorer]:
        """Opens and warms a model directory; touches no state (callers may run it in a thread)."""
        return self._open(path)

    def add(
        self,
        version: str,
        path: str,
        role: Role | None,
        card: ModelCard,
        scorer: OnnxScorer,
        *,
        tenant: str = GLOBAL_SCOPE,
    ) -> ModelVersion:
        """Adds an opened model under ``version`` to ``tenant``'s scope and rebuilds the routing in one step."""
        scope = scope_of(tenant)
        self.check_new_version(version)
        if self.features is not None and card.features != self.features:
            raise InvalidInput(f"model {version!r} at {path}: {feature_difference(card.features, self.features)}")
        if role is None:
            role = Role.SHADOW if self._champion_of(scope) else Role.CHAMPION
        model = ModelVersion(
            version=version,
            tenant=scope,
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
            self._demote_champion(scope)
        self.versions[version] = model
        self._reroute()
        self._saved()
        return model

    def check_new_version(self, version: str) -> None:
        if not version:
            raise InvalidInput("a model version name is required")
        if version in self.versions:
            where = scope_label(self.versions[version].tenant)
            raise InvalidInput(
                f"model version {version!r} is already loaded (in {where}); version names are unique "
                "across scopes: unload it or use another name"
            )

    def unload(self, version: str) -> None:
        model = self._get(version)
        others = [m for m in self.versions.values() if m.tenant == model.tenant and m is not model]
        if model.role is Role.CHAMPION and others:
            raise FailedPrecondition(
                f"{version!r} is the champion of {scope_label(model.tenant)}; make another version of "
                "that scope champion, or unload the others, before unloading it"
            )
        del self.versions[version]
        self.score_durations.forget((version, metrics_scope(model.tenant)))
        self._reroute()
        self._saved()

    def set_traffic(
        self, assignments: Mapping[str, tuple[Role, float]], tenant: str = GLOBAL_SCOPE
    ) -> list[ModelVersion]:
        """Applies every assignment, within ``tenant``'s scope, or none of them; returns the
        scope's versions. Only the routing tables change: no model is opened or reloaded."""
        scope = scope_of(tenant)
        for version, (_, weight) in assignments.items():
            model = self._get(version)
            if model.tenant != scope:
                raise InvalidInput(
                    f"{version!r} is in {scope_label(model.tenant)}, not {scope_label(scope)}; "
                    "SetTraffic changes one scope at a time: name its tenant"
                )
            if not 0.0 <= weight <= 1.0:
                raise InvalidInput(f"traffic weight of {version!r} is {weight}; weights are 0 to 1")
        members = {v: m for v, m in self.versions.items() if m.tenant == scope}
        roles = {v: m.role for v, m in members.items()} | {v: r for v, (r, _) in assignments.items()}
        weights = {v: m.traffic_weight for v, m in members.items()} | {v: w for v, (_, w) in assignments.items()}
        champions = [v for v, r in roles.items() if r is Role.CHAMPION]
        if len(champions) != 1:
            raise InvalidInput(
                f"exactly one version must be champion after SetTraffic, not {len(champions)}, in {scope_label(scope)}"
            )
        challenger_share = sum(weights[v] for v, r in roles.items() if r is Role.CHALLENGER)
        if challenger_share > 1.0:
            raise InvalidInput(
                f"challengers would take {challenger_share:.3f} of the traffic of {scope_label(scope)}; at most 1"
            )
        for version, model in members.items():
            model.role = roles[version]
            model.traffic_weight = weights[version] if model.role is Role.CHALLENGER else 0.0
        self._reroute()
        self._saved()
        return self.loaded(scope)

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

    def loaded(self, tenant: str | None = None) -> list[ModelVersion]:
        """The loaded versions by name: of every scope, or of ``tenant``'s ("" the global one)."""
        scope = None if tenant is None else scope_of(tenant)
        return sorted(
            (m for m in self.versions.values() if scope is None or m.tenant == scope), key=lambda m: m.version
        )

    def status(self, version: str) -> ModelVersion:
        return self._get(version)

    def route(self, tenant: str, routing_key: bytes) -> tuple[ModelVersion, tuple[ModelVersion, ...]]:
        """The version that answers this tenant and key, and the shadows that score a copy: from
        the tenant's own scope when it has a champion, else from the global scope."""
        routes = self._routes  # one read: a concurrent swap cannot mix two tables
        routing = routes.get(tenant) or routes[GLOBAL_SCOPE]
        if routing.champion is None:
            raise FailedPrecondition(
                f"no model is loaded for tenant {tenant!r}: neither its scope nor the global scope has a "
                "champion; load one with LoadModel first"
            )
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
        started = time.perf_counter_ns()
        probabilities = model.scorer.score(features)
        elapsed_ns = time.perf_counter_ns() - started
        metrics = model.metrics
        metrics.latencies_us.append(elapsed_ns / 1e3)
        self.score_durations.record_ns((model.version, metrics_scope(model.tenant)), elapsed_ns)
        metrics.requests += calls
        metrics.runs += 1
        metrics.rows += len(features)
        return probabilities

    # -- internals ---------------------------------------------------------------------------

    def _champion_of(self, scope: str) -> ModelVersion | None:
        """The scope's own champion (not the global one a tenant without a champion falls back to)."""
        return next((m for m in self.versions.values() if m.tenant == scope and m.role is Role.CHAMPION), None)

    def _demote_champion(self, scope: str) -> None:
        for model in self.versions.values():
            if model.tenant == scope and model.role is Role.CHAMPION:
                model.role, model.traffic_weight = Role.CHALLENGER, 0.0

    def _reroute(self) -> None:
        by_scope: dict[str, list[ModelVersion]] = {GLOBAL_SCOPE: []}
        for model in self.loaded():
            by_scope.setdefault(model.tenant, []).append(model)
        tables = {scope: _table_of(models) for scope, models in by_scope.items()}
        shared = tables[GLOBAL_SCOPE]
        routes = {GLOBAL_SCOPE: shared}
        for scope, own in tables.items():
            if scope == GLOBAL_SCOPE or own.champion is not None:
                routes[scope] = own
            elif own.shadows:  # answered by the global scope, watched by its own shadows too
                routes[scope] = Routing(shared.champion, shared.challengers, shared.shadows + own.shadows)
        self._routes = routes

    def _get(self, version: str) -> ModelVersion:
        model = self.versions.get(version)
        if model is None:
            loaded = ", ".join(sorted(self.versions)) or "none"
            raise NotFound(f"model version {version!r} is not loaded (loaded: {loaded})")
        return model


def _table_of(models: Sequence[ModelVersion]) -> Routing:
    """One scope's routing table; the champion's weight becomes the share its challengers leave."""
    ordered = sorted(models, key=lambda m: m.version)
    champion = next((m for m in ordered if m.role is Role.CHAMPION), None)
    challengers = tuple((m, m.traffic_weight) for m in ordered if m.role is Role.CHALLENGER and m.traffic_weight > 0)
    shadows = tuple(m for m in ordered if m.role is Role.SHADOW)
    if champion is not None:
        champion.traffic_weight = 1.0 - sum(weight for _, weight in challengers)
    return Routing(champion, challengers, shadows)
