"""The drift service's domain: every tenant's drift pipeline (``watch.py``), the tenant mix across
them, the alarm gate they share, and the feed alerts go out through.

Plain Python, no gRPC. The cache streams access events, prefetch outcomes and quality windows
(live gain and precision per export batch); ``StreamObserver.observe`` takes one batch of them,
checks all of it before changing anything (a bad batch changes nothing), and returns the alerts
it raised, which it has also published to the feed. Each alert is raised in a span of its own,
the root of a new trace (linked to the call that carried the events), whose W3C context the alert
carries, so that the retrainer continues one trace from alert to job, validation and promotion.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from predis.services.drift.alarms import AlarmGate
from predis.services.drift.feed import AlertFeed
from predis.services.drift.settings import DriftSettings
from predis.services.drift.signals import key_ids
from predis.services.drift.watch import (
    KINDS,
    DetectorFactory,
    DetectorState,
    Finding,
    Phase,
    QualityWindow,
    ResetOutcome,
    Severity,
    TenantMixWatch,
    TenantWatch,
)
from predis.services.runtime.errors import InvalidInput, Overloaded
from predis.services.runtime.tenancy import DEFAULT_TENANT, validate_tenant

log = logging.getLogger(__name__)

BUILT_IN_DETECTORS = frozenset({"ks", "psi", "chi2", "adwin"})


@dataclass(frozen=True)
class AccessBatch:
    """Access events in the order they happened: tenant ("" for the default one), key, access
    kind (the AccessKind values) and event time in ns, one entry an event."""

    tenants: Sequence[str]
    keys: Sequence[bytes]
    kinds: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class DriftAlert:
    """An alert as the service sends it (see ``Alert`` in drift.proto for every field)."""

    id: str
    tenant: str
    detector: str
    signal: str
    severity: Severity
    statistic: float
    effect_size: float
    threshold: float
    p_value: float | None
    adjusted_p_value: float | None
    reference_size: int
    window_size: int
    tenant_events: int
    window_start_unix_nano: int
    window_end_unix_nano: int
    change: float
    time_unix_nano: int
    message: str
    traceparent: str


@dataclass(frozen=True)
class TenantState:
    tenant: str
    events: int
    windows: int
    outcomes: int
    phase: Phase
    reference_size: int
    reference_from_ns: int
    reference_to_ns: int


@dataclass(frozen=True)
class ObserverStatus:
    events: int
    outcomes: int
    windows: int
    events_not_watched: int
    tenants: list[TenantState]
    detectors: list[DetectorState]
    recent_alerts: list[DriftAlert]


class StreamObserver:
    """Watches every tenant's stream. ``detector_factories``: plugin detectors by name (see
    ``predis_register_drift_detectors``)."""

    def __init__(
        self,
        settings: DriftSettings | None = None,
        detector_factories: Mapping[str, DetectorFactory] | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings or DriftSettings()
        factories = dict(detector_factories or {})
        clash = sorted(BUILT_IN_DETECTORS & set(factories))
        if clash:
            raise InvalidInput(f"drift detector plugins may not take a built-in detector's name: {', '.join(clash)}")
        self.factories = factories
        self.gate = AlarmGate(q=self.settings.fdr_q, cooldown_events=self.settings.cooldown_events)
        self.feed: AlertFeed[DriftAlert] = AlertFeed(self.settings.alert_queue, self.settings.recent_alerts)
        self.tenant_mix = TenantMixWatch(self.settings, self.gate)
        self._tenants: dict[str, TenantWatch] = {}
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._clock = clock
        self._boot = f"{clock() // 1_000_000:x}"
        self._alerts = itertools.count(1)
        self.events_observed = 0
        self.outcomes_observed = 0
        self.windows_observed = 0
        self.events_not_watched = 0
        # Alerts raised since the start, by (tenant, detector, signal, severity): drift/metrics.py.
        self.alerts_raised: collections.Counter[tuple[str, str, str, str]] = collections.Counter()

    def observe(
        self,
        events: AccessBatch | None = None,
        windows: Sequence[QualityWindow] = (),
        outcome_tenants: Sequence[str] = (),
    ) -> list[DriftAlert]:
        """One batch from the cache: access events, quality windows, and the tenants of its
        prefetch outcomes (counted). Refuses the whole batch, changing nothing, when any part is
        invalid."""
        groups = self._check_events(events) if events is not None else {}
        windows = [self._check_window(w) for w in windows]
        outcome_names = [_tenant(t) for t in outcome_tenants]
        for name in set(outcome_names):
            validate_tenant(name)
        findings: list[Finding] = []
        if events is not None and len(events):
            findings.extend(self._observe_events(events, groups))
        for window in windows:
            watch = self._watch(window.tenant)
            if watch is not None:
                findings.extend(watch.observe_window(window))
        self.windows_observed += len(windows)
        for name in outcome_names:
            watch = self._watch(name)
            if watch is not None:
                watch.outcomes += 1
        self.outcomes_observed += len(outcome_names)
        alerts = [self._raise(f) for f in findings]
        for alert in alerts:
            self.alerts_raised[alert.tenant, alert.detector, alert.signal, alert.severity.value] += 1
            self.feed.publish(alert)
        return alerts

    def _check_events(self, events: AccessBatch) -> dict[str, list[int] | None]:
        n = len(events)
        if len(events.tenants) != n or len(events.kinds) != n or len(events.times) != n:
            raise InvalidInput("access events: tenants, keys, kinds and times must be as many")
        if n and (int(events.kinds.min()) < 0 or int(events.kinds.max()) >= KINDS):
            raise InvalidInput(f"access events: a kind is not an AccessKind (0 to {KINDS - 1})")
        distinct = set(events.tenants)
        for name in distinct:
            validate_tenant(_tenant(name))
        if len(distinct) == 1:
            return {_tenant(next(iter(distinct))): None}  # the whole batch
        positions: dict[str, list[int]] = {}
        for i, name in enumerate(events.tenants):
            positions.setdefault(_tenant(name), []).append(i)
        return dict(positions)

    def _check_window(self, window: QualityWindow) -> QualityWindow:
        name = validate_tenant(_tenant(window.tenant))
        problem = window.problem()
        if problem is not None:
            raise InvalidInput(f"quality window of tenant {name!r}: {problem}")
        return window if name == window.tenant else replace(window, tenant=name)

    def _observe_events(self, events: AccessBatch, groups: Mapping[str, list[int] | None]) -> list[Finding]:
        ids = key_ids(events.keys)
        kinds = np.asarray(events.kinds, dtype=np.int8)
        times = np.asarray(events.times, dtype=np.int64)
        codes = np.empty(len(events), dtype=np.int64)
        findings: list[Finding] = []
        for name, where in groups.items():
            at = slice(None) if where is None else np.array(where)
            watch = self._watch(name)
            codes[at] = self.tenant_mix.code(name if watch is not None else None)
            if watch is None:
                if not self.events_not_watched:
                    log.warning("tenant %r and any after it are not watched: %d tenants are", name, len(self._tenants))
                self.events_not_watched += len(events) if where is None else len(where)
                continue
            findings.extend(watch.observe(ids[at], times[at], kinds[at]))
        self.events_observed += len(events)
        findings.extend(self.tenant_mix.observe(codes, times))
        return findings

    def _watch(self, tenant: str) -> TenantWatch | None:
        """The tenant's pipeline, made on its first event while fewer than ``max_tenants`` are;
        None for a tenant beyond them (its events are counted, not watched)."""
        watch = self._tenants.get(tenant)
        if watch is None and len(self._tenants) < self.settings.max_tenants:
            watch = self._tenants[tenant] = TenantWatch(tenant, self.settings, self.gate, self.factories)
        return watch

    def _raise(self, finding: Finding) -> DriftAlert:
        a = finding.alert
        attributes = {
            "predis.tenant": a.tenant,
            "predis.drift.detector": finding.detector,
            "predis.drift.signal": finding.signal,
            "predis.drift.statistic": a.reading.statistic,
            "predis.drift.effect_size": a.reading.effect,
            "predis.drift.threshold": a.threshold,
            "predis.drift.severity": finding.severity.value,
        }
        carrier: dict[str, str] = {}
        caller = trace.get_current_span().get_span_context()
        links = [trace.Link(caller)] if caller.is_valid else []
        # A trace of its own: the events' stream is one long call, and the alert starts a story.
        with self._tracer.start_as_current_span("drift.alert", context=Context(), links=links, attributes=attributes):
            TraceContextTextMapPropagator().inject(carrier)
        return DriftAlert(
            id=f"{self._boot}-{next(self._alerts)}",
            tenant=a.tenant,
            detector=finding.detector,
            signal=finding.signal,
            severity=finding.severity,
            statistic=a.reading.statistic,
            effect_size=a.reading.effect,
            threshold=a.threshold,
            p_value=a.reading.p_value,
            adjusted_p_value=a.adjusted_p_value,
            reference_size=a.reading.reference_size,
            window_size=a.reading.window_size,
            tenant_events=finding.tenant_events,
            window_start_unix_nano=finding.window_start_ns,
            window_end_unix_nano=finding.window_end_ns,
            change=finding.change,
            time_unix_nano=self._clock(),
            message=_message(finding),
            traceparent=carrier.get("traceparent", ""),
        )

    def reset_reference(self, tenant: str, from_unix_nano: int, to_unix_nano: int) -> ResetOutcome:
        """The new champion's training window [from, to] becomes ``tenant``'s reference (see
        ``TenantWatch.reset_reference``)."""
        if not tenant:
            raise InvalidInput("ResetReference needs the tenant whose champion changed")
        validate_tenant(tenant)
        if from_unix_nano < 0 or to_unix_nano < 0 or from_unix_nano > to_unix_nano:
            raise InvalidInput(
                f"ResetReference: the training window must have 0 <= from_unix_nano ({from_unix_nano}) "
                f"<= to_unix_nano ({to_unix_nano})"
            )
        watch = self._watch(tenant)
        if watch is None:
            raise Overloaded(f"tenant {tenant!r} is not watched: the drift service watches {self.settings.max_tenants}")
        attributes: dict[str, str | int] = {
            "predis.tenant": tenant,
            "predis.drift.from_unix_nano": from_unix_nano,
            "predis.drift.to_unix_nano": to_unix_nano,
        }
        with self._tracer.start_as_current_span("drift.reset_reference", attributes=attributes) as span:
            outcome = watch.reset_reference(from_unix_nano, to_unix_nano)
            span.set_attribute("predis.drift.reference_size", outcome.reference_size)
        return outcome

    def status(self, tenant: str = "") -> ObserverStatus:
        watches = [w for name, w in self._tenants.items() if not tenant or name == tenant]
        tenants = [
            TenantState(
                w.tenant,
                w.events,
                w.windows,
                w.outcomes,
                w.phase,
                w.reference.size if w.reference else 0,
                w.reference.from_ns if w.reference else 0,
                w.reference.to_ns if w.reference else 0,
            )
            for w in watches
        ]
        detectors = [s for w in watches for s in w.detector_states()]
        if not tenant:
            detectors.append(self.tenant_mix.detector_state())
        return ObserverStatus(
            self.events_observed,
            self.outcomes_observed,
            self.windows_observed,
            self.events_not_watched,
            tenants,
            detectors,
            self.feed.recent(tenant),
        )


def _tenant(name: str) -> str:
    return name or DEFAULT_TENANT


def _message(f: Finding) -> str:
    a = f.alert
    who = f"tenant {a.tenant!r}" if a.tenant else "all tenants"
    if f.detector == "adwin":
        direction = "fell" if f.change < 0 else "rose"
        return (
            f"{who}: {f.signal.replace('_', ' ')} {direction} to {a.reading.statistic:.4f} "
            f"(adwin: change {f.change:+.4f}, at least {a.threshold:.4f} needed) over the last "
            f"{a.reading.window_size} quality windows"
        )
    p = "" if a.reading.p_value is None else f"; p {a.reading.p_value:.2g}, adjusted {a.adjusted_p_value or 0:.2g}"
    agreeing = f"; also {', '.join(a.agreeing)}" if a.agreeing else ""
    return (
        f"{who}: {f.signal.replace('_', ' ')} changed ({f.detector} {a.reading.effect:.3f} >= {a.threshold:.3f}: "
        f"the reference's own windows reach {f.baseline:.3f}{p}) in the last {a.reading.window_size} events "
        f"against a reference of {a.reading.reference_size}{agreeing}"
    )
