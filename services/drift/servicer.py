"""The drift service's gRPC servicer: decodes requests into the domain's types, calls the
observer, encodes its answers; domain errors become status codes through ``runtime/status.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import numpy as np
from opentelemetry import trace

from predis.services.drift.observer import AccessBatch, DriftAlert, StreamObserver
from predis.services.drift.watch import DetectorState, Phase, QualityWindow, Severity
from predis.services.runtime.status import maps_domain_errors, maps_domain_errors_stream
from predis.services.runtime.tenancy import validate_tenant
from predis.services.security.principal import listing_tenant, visible_tenant
from predis.v1 import drift_pb2, drift_pb2_grpc

_SEVERITY = {Severity.WARNING: drift_pb2.ALERT_SEVERITY_WARNING, Severity.CRITICAL: drift_pb2.ALERT_SEVERITY_CRITICAL}
_PHASE = {
    Phase.WARMING_UP: drift_pb2.DETECTOR_PHASE_WARMING_UP,
    Phase.BUILDING_REFERENCE: drift_pb2.DETECTOR_PHASE_BUILDING_REFERENCE,
    Phase.WATCHING: drift_pb2.DETECTOR_PHASE_WATCHING,
}


def _events(request: drift_pb2.ObserveEventsRequest) -> AccessBatch | None:
    events = request.events
    if not events:
        return None
    n = len(events)
    return AccessBatch(
        tenants=[e.tenant for e in events],
        keys=[e.key for e in events],
        kinds=np.fromiter((e.kind for e in events), dtype=np.int64, count=n),
        times=np.fromiter((e.time_unix_nano for e in events), dtype=np.int64, count=n),
    )


def _window(w: drift_pb2.QualityWindow) -> QualityWindow:
    return QualityWindow(
        w.tenant,
        w.reads,
        w.hits,
        w.shadow_hits,
        w.prefetches_used,
        w.prefetches_unused,
        w.prefetches_late,
        w.end_unix_nano,
    )


def encode_alert(a: DriftAlert) -> drift_pb2.Alert:
    alert = drift_pb2.Alert(
        id=a.id,
        detector=a.detector,
        signal=a.signal,
        tenant=a.tenant,
        statistic=a.statistic,
        threshold=a.threshold,
        severity=_SEVERITY[a.severity],
        time_unix_nano=a.time_unix_nano,
        message=a.message,
        effect_size=a.effect_size,
        reference_size=a.reference_size,
        window_size=a.window_size,
        tenant_events=a.tenant_events,
        window_start_unix_nano=a.window_start_unix_nano,
        window_end_unix_nano=a.window_end_unix_nano,
        traceparent=a.traceparent,
        change=a.change,
    )
    if a.p_value is not None:
        alert.p_value = a.p_value
    if a.adjusted_p_value is not None:
        alert.adjusted_p_value = a.adjusted_p_value
    return alert


def _detector(s: DetectorState) -> drift_pb2.DetectorStatus:
    status = drift_pb2.DetectorStatus(
        detector=s.detector,
        signal=s.signal,
        observations=s.observations,
        detections=s.detections,
        tenant=s.tenant,
        phase=_PHASE[s.phase],
        threshold=s.threshold if np.isfinite(s.threshold) else 0.0,
        drifted=s.drifted,
    )
    if s.reading is not None:
        status.statistic = s.reading.statistic
        status.effect_size = s.reading.effect
        status.reference_size = s.reading.reference_size
        status.window_size = s.reading.window_size
        if s.reading.p_value is not None:
            status.p_value = s.reading.p_value
    return status


class DriftServicer(drift_pb2_grpc.DriftServiceServicer):
    def __init__(self, observer: StreamObserver) -> None:
        self.observer = observer

    @maps_domain_errors
    async def ObserveEvents(
        self, request_iterator: AsyncIterator[drift_pb2.ObserveEventsRequest], context: grpc.aio.ServicerContext
    ) -> drift_pb2.ObserveEventsResponse:
        events = outcomes = windows = 0
        async for batch in request_iterator:
            self.observer.observe(
                _events(batch), [_window(w) for w in batch.windows], [o.tenant for o in batch.outcomes]
            )
            events += len(batch.events)
            outcomes += len(batch.outcomes)
            windows += len(batch.windows)
        trace.get_current_span().set_attributes(
            {"predis.export.events": events, "predis.export.windows": windows, "predis.export.outcomes": outcomes}
        )
        return drift_pb2.ObserveEventsResponse(
            events_received=events, outcomes_received=outcomes, windows_received=windows
        )

    @maps_domain_errors
    async def GetStatus(
        self, request: drift_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> drift_pb2.GetStatusResponse:
        if request.tenant:
            validate_tenant(request.tenant)
        tenant = listing_tenant(request.tenant)
        status = self.observer.status(tenant)
        if visible_tenant() is not None:
            # A tenant token sees its own counts, not the service's totals over every tenant.
            mine = status.tenants[0] if status.tenants else None
            totals = (mine.events, mine.outcomes, mine.windows, 0) if mine else (0, 0, 0, 0)
        else:
            totals = (status.events, status.outcomes, status.windows, status.events_not_watched)
        return drift_pb2.GetStatusResponse(
            events_observed=totals[0],
            outcomes_observed=totals[1],
            windows_observed=totals[2],
            events_not_watched=totals[3],
            detectors=[_detector(s) for s in status.detectors],
            recent_alerts=[encode_alert(a) for a in status.recent_alerts],
            tenants=[
                drift_pb2.TenantStatus(
                    tenant=t.tenant,
                    events_observed=t.events,
                    windows_observed=t.windows,
                    outcomes_observed=t.outcomes,
                    phase=_PHASE[t.phase],
                    reference_size=t.reference_size,
                    reference_from_unix_nano=t.reference_from_ns,
                    reference_to_unix_nano=t.reference_to_ns,
                )
                for t in status.tenants
            ],
        )

    @maps_domain_errors_stream
    async def WatchAlerts(
        self, request: drift_pb2.WatchAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[drift_pb2.WatchAlertsResponse]:
        if request.tenant:
            validate_tenant(request.tenant)
        subscription = self.observer.feed.subscribe(listing_tenant(request.tenant))
        more = asyncio.Event()
        subscription.waker = more.set
        try:
            while True:
                await more.wait()
                more.clear()
                alerts, dropped = subscription.drain()
                for alert in alerts:
                    yield drift_pb2.WatchAlertsResponse(alert=encode_alert(alert), alerts_dropped=dropped)
                    dropped = 0
        finally:
            self.observer.feed.unsubscribe(subscription)

    @maps_domain_errors
    async def ResetReference(
        self, request: drift_pb2.ResetReferenceRequest, context: grpc.aio.ServicerContext
    ) -> drift_pb2.ResetReferenceResponse:
        outcome = self.observer.reset_reference(request.tenant, request.from_unix_nano, request.to_unix_nano)
        return drift_pb2.ResetReferenceResponse(
            reference_size=outcome.reference_size,
            waiting_for_events=outcome.waiting,
            reference_from_unix_nano=outcome.reference_from_ns,
            reference_to_unix_nano=outcome.reference_to_ns,
            retained_from_unix_nano=outcome.retained_from_ns,
            retained_to_unix_nano=outcome.retained_to_ns,
        )
