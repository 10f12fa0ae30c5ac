"""The predictor's gRPC servicer: decode, call the registry, encode."""

from __future__ import annotations

import grpc

from predis.services.predictor.registry import ModelRegistry, ModelVersion, Role
from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.status import maps_domain_errors
from predis.services.runtime.tenancy import tenant_from_metadata
from predis.v1 import common_pb2, predictor_pb2, predictor_pb2_grpc

_ROLE_TO_PB = {
    Role.CHAMPION: common_pb2.MODEL_ROLE_CHAMPION,
    Role.CHALLENGER: common_pb2.MODEL_ROLE_CHALLENGER,
    Role.SHADOW: common_pb2.MODEL_ROLE_SHADOW,
}
_PB_TO_ROLE = {pb: role for role, pb in _ROLE_TO_PB.items()}


def _role(value: int, default: Role | None = None) -> Role:
    if value == common_pb2.MODEL_ROLE_UNSPECIFIED and default is not None:
        return default
    if value not in _PB_TO_ROLE:
        raise InvalidInput(f"model role {value} is not champion, challenger or shadow")
    return _PB_TO_ROLE[value]


def _info(model: ModelVersion) -> predictor_pb2.ModelInfo:
    return predictor_pb2.ModelInfo(
        version=model.version,
        role=_ROLE_TO_PB[model.role],
        traffic_weight=model.traffic_weight,
        feature_names=model.feature_names,
        source_path=model.source_path,
        loaded_unix_nano=model.loaded_unix_nano,
        execution_provider=model.execution_provider,
    )


class PredictorServicer(predictor_pb2_grpc.PredictorServiceServicer):
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    @maps_domain_errors
    async def Predict(
        self, request: predictor_pb2.PredictRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.PredictResponse:
        if request.feature_count == 0 or len(request.features) % request.feature_count:
            raise InvalidInput(
                f"{len(request.features)} feature values do not form rows of feature_count={request.feature_count}"
            )
        tenant = tenant_from_metadata(context.invocation_metadata())
        self.registry.predict(request.routing_key, tenant, len(request.features) // request.feature_count)
        return predictor_pb2.PredictResponse()

    @maps_domain_errors
    async def LoadModel(
        self, request: predictor_pb2.LoadModelRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.LoadModelResponse:
        model = self.registry.load(request.version, request.path, _role(request.role, default=Role.SHADOW))
        return predictor_pb2.LoadModelResponse(model=_info(model))

    @maps_domain_errors
    async def UnloadModel(
        self, request: predictor_pb2.UnloadModelRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.UnloadModelResponse:
        self.registry.unload(request.version)
        return predictor_pb2.UnloadModelResponse()

    @maps_domain_errors
    async def ListModels(
        self, request: predictor_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.ListModelsResponse:
        return predictor_pb2.ListModelsResponse(models=[_info(m) for m in self.registry.loaded()])

    @maps_domain_errors
    async def SetTraffic(
        self, request: predictor_pb2.SetTrafficRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.SetTrafficResponse:
        assignments = {a.version: (_role(a.role), a.weight) for a in request.assignments}
        if not assignments:
            raise InvalidInput("SetTraffic needs at least one assignment")
        models = self.registry.set_traffic(assignments)
        return predictor_pb2.SetTrafficResponse(models=[_info(m) for m in models])

    @maps_domain_errors
    async def GetModelStatus(
        self, request: predictor_pb2.GetModelStatusRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.GetModelStatusResponse:
        model, metrics = self.registry.status(request.version)
        return predictor_pb2.GetModelStatusResponse(
            model=_info(model),
            requests=metrics.requests,
            rows=metrics.rows,
            prefetches_used=metrics.prefetches_used,
            prefetches_unused=metrics.prefetches_unused,
            precision=metrics.precision,
        )

    @maps_domain_errors
    async def ReportOutcomes(
        self, request: predictor_pb2.ReportOutcomesRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.ReportOutcomesResponse:
        accepted = sum(
            self.registry.record_outcome(o.model_version, o.outcome == common_pb2.PREFETCH_OUTCOME_KIND_USED)
            for o in request.outcomes
        )
        return predictor_pb2.ReportOutcomesResponse(accepted=accepted)
