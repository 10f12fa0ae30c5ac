"""The retrainer's connections to the predictor and the drift service, through the SDK
(``predis.AsyncClient``: its channel options, retry policy and tracing interceptors), turning
the SDK's errors into domain errors. Calls made inside a span carry its trace context, so the
predictor's spans of a promotion join the job's trace."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import grpc
from opentelemetry import trace

import predis
import predis.errors
from predis.channels import open_aio_channel
from predis.services.retrainer.promotion import LiveStatus, ServedModel
from predis.services.retrainer.triggers import DriftAlert
from predis.services.runtime.errors import DomainError, FailedPrecondition, InvalidInput, NotFound, Unavailable
from predis.v1 import common_pb2, drift_pb2, drift_pb2_grpc

_ROLES = {
    common_pb2.MODEL_ROLE_CHAMPION: "champion",
    common_pb2.MODEL_ROLE_CHALLENGER: "challenger",
    common_pb2.MODEL_ROLE_SHADOW: "shadow",
}
LOAD_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 5.0


def domain_error(error: predis.PredisError, service: str) -> DomainError:
    message = f"the {service} answered {error.code.name}: {error.details}"
    if isinstance(error, predis.NotFoundError):
        return NotFound(message)
    if isinstance(error, predis.InvalidArgumentError):
        return InvalidInput(message)
    if isinstance(error, predis.FailedPreconditionError):
        return FailedPrecondition(message)
    return Unavailable(message)


def _client(tracer_provider: trace.TracerProvider | None, **addresses: str) -> predis.AsyncClient:
    return predis.AsyncClient(
        config=predis.ClientConfig(timeout_s=CALL_TIMEOUT_S), tracer_provider=tracer_provider, **addresses
    )


class PredictorLink:
    """:class:`~predis.services.retrainer.promotion.ModelServing` over gRPC."""

    def __init__(self, address: str, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.address = address
        self._client = _client(tracer_provider, predictor=address)

    async def models(self, tenant: str) -> list[ServedModel]:
        try:
            infos = await self._client.predictor.list_models(tenant=tenant)
        except predis.PredisError as error:
            raise domain_error(error, "predictor") from None
        return [ServedModel(m.version, _ROLES.get(m.role, "shadow"), m.traffic_weight, m.source_path) for m in infos]

    async def load(self, version: str, path: str, role: str, tenant: str) -> None:
        try:
            await self._client.predictor.load_model(version, path, role, tenant=tenant, timeout=LOAD_TIMEOUT_S)
        except predis.PredisError as error:
            raise domain_error(error, "predictor") from None

    async def set_traffic(self, tenant: str, assignments: Mapping[str, tuple[str, float]]) -> None:
        try:
            await self._client.predictor.set_traffic(assignments, tenant=tenant)
        except predis.PredisError as error:
            raise domain_error(error, "predictor") from None

    async def unload(self, version: str) -> None:
        try:
            await self._client.predictor.unload_model(version)
        except predis.PredisError as error:
            raise domain_error(error, "predictor") from None

    async def status(self, version: str) -> LiveStatus:
        try:
            s = await self._client.predictor.model_status(version)
        except predis.PredisError as error:
            raise domain_error(error, "predictor") from None
        return LiveStatus(int(s.requests), int(s.prefetches_used), int(s.prefetches_unused), int(s.prefetches_late))

    async def close(self) -> None:
        await self._client.close()


def _alert(alert: drift_pb2.Alert) -> DriftAlert:
    severity = "critical" if alert.severity == drift_pb2.ALERT_SEVERITY_CRITICAL else "warning"
    return DriftAlert(
        id=alert.id,
        tenant=alert.tenant,
        detector=alert.detector,
        signal=alert.signal,
        severity=severity,
        message=alert.message,
        traceparent=alert.traceparent,
        change=alert.change if alert.detector == "adwin" else None,
        window_start_unix_nano=alert.window_start_unix_nano,
    )


class DriftLink:
    """The drift service: its alert stream, and the reset of its reference window."""

    def __init__(self, address: str, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.address = address
        self._tracer_provider = tracer_provider
        self._client = _client(tracer_provider, drift=address)
        self._channel: grpc.aio.Channel | None = None

    async def alerts(self) -> AsyncIterator[DriftAlert]:
        """The live alerts, until the stream ends; Unavailable (or the domain error of the
        status) when it cannot be opened or breaks."""
        try:
            async for alert in self._client.drift.alerts():
                yield _alert(alert)
        except predis.PredisError as error:
            raise domain_error(error, "drift service") from None

    async def reset_reference(self, tenant: str, from_unix_nano: int, to_unix_nano: int) -> str:
        request = drift_pb2.ResetReferenceRequest(
            tenant=tenant, from_unix_nano=from_unix_nano, to_unix_nano=to_unix_nano
        )
        try:
            await self._stub().ResetReference(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as error:
            failed = predis.errors.from_rpc_error(error, "ResetReference")
            return f"the drift service answered {failed.code.name}: {failed.details}"
        return ""

    def _stub(self) -> drift_pb2_grpc.DriftServiceStub:
        # The SDK's channel (options, retry policy, tracing); its drift API has no ResetReference yet.
        if self._channel is None:
            self._channel = open_aio_channel(self.address, self._client.config, self._tracer_provider)
        return drift_pb2_grpc.DriftServiceStub(self._channel)

    async def close(self) -> None:
        await self._client.close()
        if self._channel is not None:
            await self._channel.close()
