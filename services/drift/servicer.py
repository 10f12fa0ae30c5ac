"""The drift service's gRPC servicer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from predis.services.drift.observer import StreamObserver
from predis.services.runtime.status import maps_domain_errors, maps_domain_errors_stream
from predis.v1 import drift_pb2, drift_pb2_grpc


class DriftServicer(drift_pb2_grpc.DriftServiceServicer):
    def __init__(self, observer: StreamObserver) -> None:
        self.observer = observer

    @maps_domain_errors
    async def ObserveEvents(
        self, request_iterator: AsyncIterator[drift_pb2.ObserveEventsRequest], context: grpc.aio.ServicerContext
    ) -> drift_pb2.ObserveEventsResponse:
        events = outcomes = 0
        async for batch in request_iterator:
            self.observer.observe(len(batch.events), len(batch.outcomes))
            events += len(batch.events)
            outcomes += len(batch.outcomes)
        return drift_pb2.ObserveEventsResponse(events_received=events, outcomes_received=outcomes)

    @maps_domain_errors
    async def GetStatus(
        self, request: drift_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> drift_pb2.GetStatusResponse:
        return drift_pb2.GetStatusResponse(
            events_observed=self.observer.events_observed, outcomes_observed=self.observer.outcomes_observed
        )

    @maps_domain_errors_stream
    async def WatchAlerts(
        self, request: drift_pb2.WatchAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[drift_pb2.WatchAlertsResponse]:
        self.observer.watch_alerts()
        yield drift_pb2.WatchAlertsResponse()  # pragma: no cover - watch_alerts raises until detectors exist
