"""``predis.AsyncClient``: the asyncio SDK (grpc.aio), the same methods as :class:`predis.Client`."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import grpc
import numpy as np
from opentelemetry import trace

from predis import requests as rq
from predis.channels import open_aio_channel, service_targets
from predis.config import ClientConfig
from predis.errors import from_rpc_error
from predis.requests import Key
from predis.v1 import cache_pb2, drift_pb2, predictor_pb2, retrainer_pb2


class _AsyncEndpoint:
    """One service's channel and stub, opened on first use (inside the running loop)."""

    def __init__(
        self, address: str, stub_class: type, config: ClientConfig, tracer_provider: trace.TracerProvider | None
    ) -> None:
        self.address = address
        self._stub_class = stub_class
        self._config = config
        self._tracer_provider = tracer_provider
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    def _get_stub(self) -> Any:
        if self._stub is None:
            self._channel = open_aio_channel(self.address, self._config, self._tracer_provider)
            self._stub = self._stub_class(self._channel)
        return self._stub

    async def unary(self, method: str, request: Any, timeout: float | None, tenant: str | None = None) -> Any:
        try:
            return await getattr(self._get_stub(), method)(
                request, timeout=timeout or self._config.timeout_s, metadata=self._config.metadata_for(tenant)
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, method) from None

    async def server_stream(self, method: str, request: Any, timeout: float | None) -> AsyncIterator[Any]:
        try:
            async for item in getattr(self._get_stub(), method)(
                request, timeout=timeout, metadata=self._config.metadata
            ):
                yield item
        except grpc.RpcError as error:
            raise from_rpc_error(error, method) from None

    async def client_stream(
        self, method: str, requests: AsyncIterable[Any] | Iterable[Any], timeout: float | None
    ) -> Any:
        try:
            return await getattr(self._get_stub(), method)(requests, timeout=timeout, metadata=self._config.metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error, method) from None

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None


class AsyncPredictorApi:
    """The predictor service's RPCs (``client.predictor``)."""

    def __init__(self, endpoint: _AsyncEndpoint) -> None:
        self._ep = endpoint

    async def predict(
        self,
        features: np.ndarray,
        routing_key: Key = b"",
        *,
        groups: Sequence[tuple[Key, int]] = (),
        tenant: str | None = None,
        timeout: float | None = None,
    ) -> predictor_pb2.PredictResponse:
        """Scores feature rows; ``groups`` ((routing key, rows), ...) scores many triggers' rows in
        one call, each group routed by its own key (see ``group_model_versions``). ``tenant``
        scores for another tenant than the client's (the traffic split hashes tenant and key)."""
        request = rq.predict_request(features, routing_key, groups)
        return await self._ep.unary("Predict", request, timeout, tenant)

    async def load_model(
        self, version: str, path: str, role: str | None = None, *, tenant: str = "", timeout: float | None = None
    ) -> predictor_pb2.ModelInfo:
        """Loads a model directory on the predictor's machine as ``version`` into ``tenant``'s scope
        (empty: the global scope, which serves every tenant without a champion of its own)."""
        request = predictor_pb2.LoadModelRequest(version=version, path=path, role=rq.role_value(role), tenant=tenant)
        return (await self._ep.unary("LoadModel", request, timeout)).model

    async def unload_model(self, version: str, *, timeout: float | None = None) -> None:
        await self._ep.unary("UnloadModel", predictor_pb2.UnloadModelRequest(version=version), timeout)

    async def list_models(
        self, *, tenant: str | None = None, timeout: float | None = None
    ) -> list[predictor_pb2.ModelInfo]:
        """The loaded versions of every scope, or of ``tenant``'s ("": the global scope)."""
        request = predictor_pb2.ListModelsRequest(tenant=tenant)
        return list((await self._ep.unary("ListModels", request, timeout)).models)

    async def set_traffic(
        self, assignments: Mapping[str, tuple[str, float]], *, tenant: str = "", timeout: float | None = None
    ) -> list[predictor_pb2.ModelInfo]:
        """Sets roles and weights within ``tenant``'s scope ("": the global scope); answers that
        scope's versions."""
        request = rq.traffic_request(assignments)
        request.tenant = tenant
        return list((await self._ep.unary("SetTraffic", request, timeout)).models)

    async def model_status(self, version: str, *, timeout: float | None = None) -> predictor_pb2.GetModelStatusResponse:
        return await self._ep.unary("GetModelStatus", predictor_pb2.GetModelStatusRequest(version=version), timeout)

    async def report_outcomes(self, outcomes: Sequence[Any], *, timeout: float | None = None) -> int:
        request = predictor_pb2.ReportOutcomesRequest(outcomes=outcomes)
        return int((await self._ep.unary("ReportOutcomes", request, timeout)).accepted)


class AsyncDriftApi:
    """The drift service's RPCs (``client.drift``)."""

    def __init__(self, endpoint: _AsyncEndpoint) -> None:
        self._ep = endpoint

    async def observe(
        self,
        batches: AsyncIterable[drift_pb2.ObserveEventsRequest] | Iterable[drift_pb2.ObserveEventsRequest],
        *,
        timeout: float | None = None,
    ) -> drift_pb2.ObserveEventsResponse:
        return await self._ep.client_stream("ObserveEvents", batches, timeout)

    async def status(self, tenant: str = "", *, timeout: float | None = None) -> drift_pb2.GetStatusResponse:
        """What the service observed, its detectors and recent alerts (of ``tenant``, or all)."""
        return await self._ep.unary("GetStatus", drift_pb2.GetStatusRequest(tenant=tenant), timeout)

    async def alerts(self, tenant: str = "", *, timeout: float | None = None) -> AsyncIterator[drift_pb2.Alert]:
        """Alerts as they are raised (of ``tenant``, or all)."""
        request = drift_pb2.WatchAlertsRequest(tenant=tenant)
        async for response in self._ep.server_stream("WatchAlerts", request, timeout):
            yield response.alert

    async def reset_reference(
        self, tenant: str, from_unix_nano: int, to_unix_nano: int, *, timeout: float | None = None
    ) -> drift_pb2.ResetReferenceResponse:
        """Makes the new champion's training window [from, to] ``tenant``'s reference window."""
        request = drift_pb2.ResetReferenceRequest(
            tenant=tenant, from_unix_nano=from_unix_nano, to_unix_nano=to_unix_nano
        )
        return await self._ep.unary("ResetReference", request, timeout)


class AsyncRetrainerApi:
    """The retrainer service's RPCs (``client.retrainer``)."""

    def __init__(self, endpoint: _AsyncEndpoint) -> None:
        self._ep = endpoint

    async def start_training(
        self, reason: str = "manual", auto_promote: bool = False, *, tenant: str = "", timeout: float | None = None
    ) -> retrainer_pb2.Job:
        """Queues a training job for ``tenant``'s model ("": the global model)."""
        request = retrainer_pb2.StartTrainingRequest(reason=reason, auto_promote=auto_promote, tenant=tenant)
        return (await self._ep.unary("StartTraining", request, timeout)).job

    async def get_job(self, job_id: str, *, timeout: float | None = None) -> retrainer_pb2.Job:
        return (await self._ep.unary("GetJob", retrainer_pb2.GetJobRequest(id=job_id), timeout)).job

    async def list_jobs(self, limit: int = 0, *, timeout: float | None = None) -> list[retrainer_pb2.Job]:
        return list((await self._ep.unary("ListJobs", retrainer_pb2.ListJobsRequest(limit=limit), timeout)).jobs)

    async def promote(self, version: str, *, timeout: float | None = None) -> retrainer_pb2.PromoteResponse:
        return await self._ep.unary("Promote", retrainer_pb2.PromoteRequest(version=version), timeout)

    async def rollback(
        self, version: str = "", *, tenant: str = "", timeout: float | None = None
    ) -> retrainer_pb2.RollbackResponse:
        """Makes ``version`` (empty: the previous champion) ``tenant``'s champion again."""
        request = retrainer_pb2.RollbackRequest(version=version, tenant=tenant)
        return await self._ep.unary("Rollback", request, timeout)


class AsyncClient:
    """An asyncio client of a Predis suite; see :class:`predis.Client` for addresses and errors.

    Use it inside a running event loop, ideally as ``async with AsyncClient(...) as client``.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        predictor: str | None = None,
        drift: str | None = None,
        retrainer: str | None = None,
        config: ClientConfig | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.config = config or ClientConfig()
        targets = service_targets({"cache": address, "predictor": predictor, "drift": drift, "retrainer": retrainer})
        endpoints = {
            name: _AsyncEndpoint(addr, stub, self.config, tracer_provider) for name, (addr, stub) in targets.items()
        }
        self._cache = endpoints["cache"]
        self._endpoints = list(endpoints.values())
        self.predictor = AsyncPredictorApi(endpoints["predictor"])
        self.drift = AsyncDriftApi(endpoints["drift"])
        self.retrainer = AsyncRetrainerApi(endpoints["retrainer"])

    # -- cache -----------------------------------------------------------------------------

    async def get(self, key: Key, *, skip_origin: bool = False, timeout: float | None = None) -> bytes | None:
        response = await self.lookup(key, skip_origin=skip_origin, timeout=timeout)
        return response.value if response.found else None

    async def lookup(
        self, key: Key, *, skip_origin: bool = False, timeout: float | None = None
    ) -> cache_pb2.GetResponse:
        request = cache_pb2.GetRequest(key=rq.key_bytes(key), skip_origin=skip_origin)
        return await self._cache.unary("Get", request, timeout)

    async def set(
        self, key: Key, value: bytes, *, ttl_ms: int = 0, condition: str | None = None, timeout: float | None = None
    ) -> bool:
        return bool((await self._cache.unary("Set", rq.set_request(key, value, ttl_ms, condition), timeout)).stored)

    async def delete(self, *keys: Key, timeout: float | None = None) -> int:
        request = cache_pb2.DeleteRequest(keys=rq.keys_bytes(keys))
        return int((await self._cache.unary("Delete", request, timeout)).deleted)

    async def exists(self, *keys: Key, timeout: float | None = None) -> int:
        request = cache_pb2.ExistsRequest(keys=rq.keys_bytes(keys))
        return int((await self._cache.unary("Exists", request, timeout)).count)

    async def expire(self, key: Key, ttl_ms: int, *, timeout: float | None = None) -> bool:
        request = cache_pb2.ExpireRequest(key=rq.key_bytes(key), ttl_ms=rq.ttl_value(ttl_ms))
        return bool((await self._cache.unary("Expire", request, timeout)).applied)

    async def persist(self, key: Key, *, timeout: float | None = None) -> bool:
        request = cache_pb2.ExpireRequest(key=rq.key_bytes(key), persist=True)
        return bool((await self._cache.unary("Expire", request, timeout)).applied)

    async def ttl(self, key: Key, *, timeout: float | None = None) -> int:
        return int((await self._cache.unary("Ttl", cache_pb2.TtlRequest(key=rq.key_bytes(key)), timeout)).ttl_ms)

    async def batch_get(
        self, keys: Sequence[Key], *, skip_origin: bool = False, timeout: float | None = None
    ) -> list[bytes | None]:
        response = await self._cache.unary("BatchGet", rq.batch_get_request(keys, skip_origin), timeout)
        return rq.batch_get_values(response)

    async def batch_set(
        self,
        items: Mapping[Key, bytes] | Iterable[tuple[Key, bytes]],
        *,
        ttl_ms: int = 0,
        timeout: float | None = None,
    ) -> int:
        return int((await self._cache.unary("BatchSet", rq.batch_set_request(items, ttl_ms), timeout)).stored)

    async def prefetch(self, *keys: Key, timeout: float | None = None) -> int:
        request = cache_pb2.PrefetchRequest(keys=rq.keys_bytes(keys))
        return int((await self._cache.unary("Prefetch", request, timeout)).queued)

    async def hint(self, kind: str, keys: Sequence[Key], *, timeout: float | None = None) -> int:
        return int((await self._cache.unary("Hint", rq.hint_request(kind, keys), timeout)).links_added)

    async def stats(self, *, timeout: float | None = None) -> cache_pb2.StatsResponse:
        return await self._cache.unary("Stats", cache_pb2.StatsRequest(), timeout)

    async def flush(self, *, timeout: float | None = None) -> int:
        return int((await self._cache.unary("Flush", cache_pb2.FlushRequest(), timeout)).removed)

    def access_events(
        self, *, max_batch: int = 0, timeout: float | None = None
    ) -> AsyncIterator[cache_pb2.StreamAccessEventsResponse]:
        request = cache_pb2.StreamAccessEventsRequest(max_batch=max_batch)
        return self._cache.server_stream("StreamAccessEvents", request, timeout)

    # -- lifecycle -------------------------------------------------------------------------

    async def close(self) -> None:
        for endpoint in self._endpoints:
            await endpoint.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
