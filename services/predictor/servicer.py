"""The predictor's gRPC servicer: decode, call the registry, encode."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
from opentelemetry import trace

from predis.services.predictor.batching import MicroBatcher
from predis.services.predictor.registry import ModelRegistry, ModelVersion, Role, scope_of
from predis.services.runtime.errors import InvalidInput, NotFound
from predis.services.runtime.status import maps_domain_errors
from predis.services.runtime.tenancy import tenant_from_metadata
from predis.services.security.principal import check_may_act_for, visible_tenant
from predis.v1 import common_pb2, predictor_pb2, predictor_pb2_grpc

_ROLE_TO_PB = {
    Role.CHAMPION: common_pb2.MODEL_ROLE_CHAMPION,
    Role.CHALLENGER: common_pb2.MODEL_ROLE_CHALLENGER,
    Role.SHADOW: common_pb2.MODEL_ROLE_SHADOW,
}
_PB_TO_ROLE = {pb: role for role, pb in _ROLE_TO_PB.items()}


def _role(value: int) -> Role | None:
    if value == common_pb2.MODEL_ROLE_UNSPECIFIED:
        return None
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
        tenant=model.tenant,
    )


def _features(request: predictor_pb2.PredictRequest) -> np.ndarray:
    width = request.feature_count
    if width == 0 or not request.features or len(request.features) % width:
        raise InvalidInput(f"{len(request.features)} feature values do not form rows of feature_count={width}")
    return np.asarray(request.features, dtype=np.float32).reshape(-1, width)


def _trace_prediction(tenant: str, rows: int, versions: set[str]) -> None:
    """What a person debugging a prediction searches for, on the call's span."""
    trace.get_current_span().set_attributes(
        {"predis.tenant": tenant, "predis.predict.rows": rows, "predis.model.version": ",".join(sorted(versions))}
    )


class PredictorServicer(predictor_pb2_grpc.PredictorServiceServicer):
    def __init__(self, registry: ModelRegistry, batcher: MicroBatcher) -> None:
        self.registry = registry
        self.batcher = batcher

    @maps_domain_errors
    async def Predict(
        self, request: predictor_pb2.PredictRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.PredictResponse:
        tenant = tenant_from_metadata(context.invocation_metadata())  # who first: a refusal says nothing of the input
        features = _features(request)
        if not request.group_sizes and not request.group_routing_keys:
            prediction = await self.batcher.predict(tenant, request.routing_key, features)
            _trace_prediction(tenant, len(features), {prediction.model.version})
            return predictor_pb2.PredictResponse(
                probabilities=prediction.probabilities.tolist(),
                model_version=prediction.model.version,
                role=_ROLE_TO_PB[prediction.model.role],
            )
        probabilities, routes = await self.batcher.predict_groups(
            tenant, list(request.group_routing_keys), list(request.group_sizes), features
        )
        _trace_prediction(tenant, len(features), {model.version for model, _ in routes})
        return predictor_pb2.PredictResponse(
            probabilities=probabilities.tolist(),
            model_version=routes[0][0].version,
            role=_ROLE_TO_PB[routes[0][0].role],
            group_model_versions=[model.version for model, _ in routes],
        )

    @maps_domain_errors
    async def LoadModel(
        self, request: predictor_pb2.LoadModelRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.LoadModelResponse:
        # Loading reads files and compiles a session: off the event loop, so serving goes on.
        role = _role(request.role)
        scope = scope_of(request.tenant)  # checked before the slow part: a bad request opens nothing
        self.registry.check_new_version(request.version)
        loop = asyncio.get_running_loop()
        card_and_scorer = await loop.run_in_executor(None, self.registry.open, request.path)
        model = self.registry.add(request.version, request.path, role, *card_and_scorer, tenant=scope)
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
        tenant = request.tenant if request.HasField("tenant") else None
        visible = visible_tenant()
        if visible is not None:  # a tenant token lists its own scope's models only
            if tenant is not None:
                check_may_act_for(tenant)
            tenant = visible
        return predictor_pb2.ListModelsResponse(models=[_info(m) for m in self.registry.loaded(tenant)])

    @maps_domain_errors
    async def SetTraffic(
        self, request: predictor_pb2.SetTrafficRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.SetTrafficResponse:
        assignments = {}
        for a in request.assignments:
            role = _role(a.role)
            if role is None:
                raise InvalidInput(f"SetTraffic needs a role for {a.version!r}")
            assignments[a.version] = (role, a.weight)
        if not assignments:
            raise InvalidInput("SetTraffic needs at least one assignment")
        models = self.registry.set_traffic(assignments, request.tenant)
        return predictor_pb2.SetTrafficResponse(models=[_info(m) for m in models])

    @maps_domain_errors
    async def GetModelStatus(
        self, request: predictor_pb2.GetModelStatusRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.GetModelStatusResponse:
        visible = visible_tenant()
        if visible is None:
            model = self.registry.status(request.version)
        else:  # another scope's version is as if absent, and the error lists no other scope's versions
            found = self.registry.versions.get(request.version)
            if found is None or found.tenant != visible:
                raise NotFound(f"model version {request.version!r} is not loaded for tenant {visible!r}")
            model = found
        m = model.metrics
        return predictor_pb2.GetModelStatusResponse(
            model=_info(model),
            requests=m.requests,
            rows=m.rows,
            latency_p50_us=m.latency_percentile(50),
            latency_p99_us=m.latency_percentile(99),
            prefetches_used=m.prefetches_used,
            prefetches_unused=m.prefetches_unused,
            prefetches_late=m.prefetches_late,
            precision=m.precision,
        )

    @maps_domain_errors
    async def ReportOutcomes(
        self, request: predictor_pb2.ReportOutcomesRequest, context: grpc.aio.ServicerContext
    ) -> predictor_pb2.ReportOutcomesResponse:
        accepted = sum(
            self.registry.record_outcome(
                o.model_version,
                o.outcome == common_pb2.PREFETCH_OUTCOME_KIND_USED,
                o.outcome == common_pb2.PREFETCH_OUTCOME_KIND_LATE,
            )
            for o in request.outcomes
        )
        return predictor_pb2.ReportOutcomesResponse(accepted=accepted)
