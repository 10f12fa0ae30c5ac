"""Promoting a validated version through the predictor, and flipping the champion back.

A promotion goes through three stages in the predictor (``StageSettings``): the challenger is
loaded as a shadow (it scores live traffic without answering; its counterfactual precision is read
from the predictor), then answers an A/B share of its scope's traffic as a challenger, then
becomes champion. The champion it replaces stays loaded as a challenger with no traffic, so a
rollback is one routing swap in the predictor. The store's aliases follow the predictor: champion
is set only once the predictor serves it, and the replaced champion becomes ``previous``.

Plain Python: the predictor and the drift service are reached through the :class:`ModelServing`
and :class:`DriftReference` interfaces (``links.py`` implements them over gRPC).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from predis.services.models.store import ModelStore, StoredVersion, describe_scope
from predis.services.retrainer.settings import StageSettings
from predis.services.runtime.errors import DomainError, FailedPrecondition, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    version: str
    role: str  # "champion", "challenger" or "shadow"
    traffic_weight: float
    source_path: str


@dataclass(frozen=True)
class LiveStatus:
    """A version's live counts in the predictor."""

    requests: int = 0
    used: int = 0
    unused: int = 0
    late: int = 0

    @property
    def outcomes(self) -> int:
        return self.used + self.unused + self.late

    @property
    def precision(self) -> float:
        return (self.used + self.late) / self.outcomes if self.outcomes else 0.0

    def since(self, before: LiveStatus) -> LiveStatus:
        return LiveStatus(
            self.requests - before.requests,
            self.used - before.used,
            self.unused - before.unused,
            self.late - before.late,
        )


class ModelServing(Protocol):
    """The predictor, as promotion needs it. Errors are domain errors (Unavailable when it
    cannot be reached)."""

    async def models(self, tenant: str) -> list[ServedModel]: ...

    async def load(self, version: str, path: str, role: str, tenant: str) -> None: ...

    async def set_traffic(self, tenant: str, assignments: Mapping[str, tuple[str, float]]) -> None: ...

    async def unload(self, version: str) -> None: ...

    async def status(self, version: str) -> LiveStatus: ...


class DriftReference(Protocol):
    async def reset_reference(self, tenant: str, from_unix_nano: int, to_unix_nano: int) -> str:
        """Resets the drift service's reference window of ``tenant``; returns "" when done, else
        why it was not (the service lacks the call, or cannot be reached)."""
        ...


@dataclass
class PromotionReport:
    previous_champion: str = ""
    shadow_seconds: float = 0.0
    shadow_precision: float = 0.0
    shadow_outcomes: int = 0
    ab_share: float = 0.0
    ab_seconds: float = 0.0
    challenger_precision: float = 0.0
    champion_precision: float = 0.0
    drift_reference_reset: bool = False
    note: str = ""
    seconds: float = 0.0

    def add_note(self, sentence: str) -> None:
        self.note = f"{self.note} {sentence}".strip()

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class PromotionOutcome:
    promoted: bool
    reason: str
    report: PromotionReport = field(default_factory=PromotionReport)


@dataclass(frozen=True)
class Flip:
    previous_champion: str
    champion: str
    seconds: float


def champion_of(models: list[ServedModel]) -> ServedModel | None:
    return next((m for m in models if m.role == "champion"), None)


class Promoter:
    """Changes which version serves a scope, in the predictor and the store, one change per scope
    at a time."""

    def __init__(
        self,
        serving: ModelServing,
        store: ModelStore,
        stages: StageSettings,
        drift: DriftReference | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.serving = serving
        self.store = store
        self.stages = stages
        self.drift = drift
        self.sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, tenant: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant, asyncio.Lock())

    async def champion(self, tenant: str) -> ServedModel | None:
        return champion_of(await self.serving.models(tenant))

    async def staged(self, tenant: str, candidate: StoredVersion) -> PromotionOutcome:
        """Shadow, A/B share, champion. Any failure unloads the candidate (unless it became
        champion) and re-raises: the champion is then unchanged."""
        async with self._lock(tenant):
            await asyncio.to_thread(self.store.verify, candidate)
            report = PromotionReport()
            started = time.perf_counter()
            served = await self.serving.models(tenant)
            champion = champion_of(served)
            report.previous_champion = champion.version if champion else ""
            try:
                outcome = await self._stages(tenant, candidate, champion, report, served)
            except BaseException:
                await self._unload_quietly(candidate.version, tenant)
                raise
            if not outcome.promoted:
                await self._unload_quietly(candidate.version, tenant)
                return outcome
            report.seconds = time.perf_counter() - started
            self._record(tenant, candidate.version, champion, report)
            await self._unload_stale(tenant, served, keep={candidate.version, report.previous_champion})
            await self._reset_drift(tenant, candidate, report)
            return outcome

    async def _stages(
        self,
        tenant: str,
        candidate: StoredVersion,
        champion: ServedModel | None,
        report: PromotionReport,
        served: list[ServedModel],
    ) -> PromotionOutcome:
        stages = self.stages
        if any(m.version == candidate.version for m in served):  # loaded by an interrupted attempt
            await self.serving.set_traffic(tenant, {candidate.version: ("shadow", 0.0)})
        else:
            await self.serving.load(candidate.version, str(candidate.path), "shadow", tenant)
        shadow_started = time.perf_counter()
        await self.sleep(stages.shadow_s)
        shadow = await self.serving.status(candidate.version)
        report.shadow_seconds = time.perf_counter() - shadow_started
        report.shadow_precision, report.shadow_outcomes = shadow.precision, shadow.outcomes
        judged = stages.shadow_min_precision > 0 and shadow.outcomes >= stages.shadow_min_outcomes
        if judged and shadow.precision < stages.shadow_min_precision:
            reason = (
                f"as a shadow its live precision was {shadow.precision:.3f} over {shadow.outcomes} outcomes, "
                f"below {stages.shadow_min_precision} (PREDIS_RETRAINER_SHADOW_MIN_PRECISION)"
            )
            return PromotionOutcome(False, reason, report)
        if shadow.outcomes < stages.shadow_min_outcomes:
            report.add_note(f"The shadow stage saw {shadow.outcomes} outcomes, too few to judge its precision.")
        if champion is None:
            report.add_note(f"{describe_scope(tenant).capitalize()} had no champion: no A/B share to give.")
        elif stages.ab_share > 0 and stages.ab_s > 0:
            await self._ab_stage(tenant, candidate.version, champion.version, report)
        else:
            report.add_note("The A/B stage is off (PREDIS_RETRAINER_AB_S or _AB_SHARE is 0).")
        assignments = {candidate.version: ("champion", 1.0)}
        if champion is not None:
            assignments[champion.version] = ("challenger", 0.0)  # kept loaded: rollback is a swap
        await self.serving.set_traffic(tenant, assignments)
        return PromotionOutcome(True, "promoted through shadow, A/B share and champion", report)

    async def _ab_stage(self, tenant: str, candidate: str, champion: str, report: PromotionReport) -> None:
        share = self.stages.ab_share
        await self.serving.set_traffic(tenant, {candidate: ("challenger", share)})
        before = {v: await self.serving.status(v) for v in (candidate, champion)}
        ab_started = time.perf_counter()
        await self.sleep(self.stages.ab_s)
        after = {v: await self.serving.status(v) for v in (candidate, champion)}
        report.ab_share, report.ab_seconds = share, time.perf_counter() - ab_started
        report.challenger_precision = after[candidate].since(before[candidate]).precision
        report.champion_precision = after[champion].since(before[champion]).precision

    async def flip(self, tenant: str, target: StoredVersion) -> Flip:
        """Makes ``target`` the scope's champion at once (rollback, or a promotion by hand):
        a routing swap when the predictor still holds it, else a load as champion. The version is
        checked first (CorruptModel: nothing changes)."""
        async with self._lock(tenant):
            started = time.perf_counter()
            await asyncio.to_thread(self.store.verify, target)
            served = await self.serving.models(tenant)
            champion = champion_of(served)
            if champion is not None and champion.version == target.version:
                raise FailedPrecondition(f"{target.version!r} is already the champion of {describe_scope(tenant)}")
            if any(m.version == target.version for m in served):
                assignments = {target.version: ("champion", 1.0)}
                if champion is not None:
                    assignments[champion.version] = ("challenger", 0.0)
                await self.serving.set_traffic(tenant, assignments)
            else:
                await self.serving.load(target.version, str(target.path), "champion", tenant)
            seconds = time.perf_counter() - started
            report = PromotionReport(previous_champion=champion.version if champion else "")
            self._record(tenant, target.version, champion, report)
            await self._reset_drift(tenant, target, report)
            return Flip(report.previous_champion, target.version, seconds)

    async def retire(self, tenant: str) -> Flip:
        """Takes a tenant's own models out of the predictor, so the global model serves it again
        (the rollback of a tenant's first model of its own, which has no previous one)."""
        async with self._lock(tenant):
            started = time.perf_counter()
            served = await self.serving.models(tenant)
            champion = champion_of(served)
            if champion is None:
                raise FailedPrecondition(f"{describe_scope(tenant)} has no model of its own to roll back")
            for model in sorted(served, key=lambda m: m.role == "champion"):  # the champion last
                await self.serving.unload(model.version)
            seconds = time.perf_counter() - started
            previous = self._stored_name(tenant, champion, PromotionReport())
            self.store.set_aliases(tenant, champion=None, challenger=None, previous=previous)
            serving_again = self.store.champion("")
            if serving_again is not None:
                await self._reset_drift(tenant, serving_again, PromotionReport())
            return Flip(champion.version, "", seconds)

    def _record(self, tenant: str, version: str, replaced: ServedModel | None, report: PromotionReport) -> None:
        """The store's aliases after the predictor changed: champion, and the replaced one as
        previous (copied into the store first when it was loaded from elsewhere)."""
        previous: str | None = None
        if replaced is not None:
            previous = self._stored_name(tenant, replaced, report)
        self.store.set_aliases(tenant, champion=version, previous=previous, challenger=None)

    def _stored_name(self, tenant: str, served: ServedModel, report: PromotionReport) -> str | None:
        try:
            return self.store.get(served.version, tenant).version
        except NotFound:
            pass
        try:
            adopted = self.store.adopt(
                tenant, served.version, Path(served.source_path), {"trigger": {"kind": "adopted"}}
            )
        except DomainError as error:
            report.add_note(f"The replaced champion {served.version!r} is not in the store ({error}).")
            return None
        return adopted.version

    async def _unload_stale(self, tenant: str, served: list[ServedModel], keep: set[str]) -> None:
        """Unloads the scope's older store versions (not the ones kept, not shadows loaded by hand)."""
        stored = {v.version for v in self.store.versions(tenant)}
        for model in served:
            if model.version not in keep and model.version in stored and model.role != "champion":
                await self._unload_quietly(model.version, tenant)

    async def _unload_quietly(self, version: str, tenant: str) -> None:
        try:
            await self.serving.unload(version)
        except (TimeoutError, DomainError) as error:
            log.info("could not unload %s from the predictor (%s): %s", version, describe_scope(tenant), error)

    async def _reset_drift(self, scope: str, stored: StoredVersion, report: PromotionReport) -> None:
        """Points the drift service's reference of each tenant the version now serves at that
        tenant's part of its training window (for the global scope: every tenant it learned from
        that has no champion of its own)."""
        if self.drift is None:
            report.add_note("No drift service is configured: its reference window was not reset.")
            return
        windows = [w for w in tenant_windows(stored) if (w[0] == scope if scope else not self._has_own(w[0]))]
        if not windows:
            report.add_note("No training window is recorded for the tenants it serves: the drift reference stays.")
            return
        problems = []
        for tenant, first, last in windows:
            problem = await self.drift.reset_reference(tenant, first, last)
            if problem:
                problems.append(f"{tenant}: {problem}")
        report.drift_reference_reset = not problems
        if problems:
            report.add_note(f"The drift reference window was not reset ({'; '.join(problems)}).")

    def _has_own(self, tenant: str) -> bool:
        try:
            return self.store.aliases(tenant).champion is not None
        except DomainError:
            return True  # unreadable: do not point its reference at a model that may not serve it


def tenant_windows(stored: StoredVersion) -> list[tuple[str, int, int]]:
    """(tenant, first, last event time) of each tenant's part of a version's training window."""
    window = stored.record.get("training_window")
    parts = window.get("tenants", []) if isinstance(window, dict) else []
    found = []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and part.get("tenant") and part.get("last_unix_nano"):
            found.append((str(part["tenant"]), int(part.get("first_unix_nano", 0)), int(part["last_unix_nano"])))
    return found
