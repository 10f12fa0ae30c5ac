"""The dashboard's calls to the suite, through ``predis.AsyncClient``.

``Stats`` answers for the calling tenant only, so each tenant has a client of its own naming it
(a channel to the cache alone; the SDK opens channels on first use). The token, TLS and addresses
come from the environment as for any SDK client: ``PREDIS_TOKEN`` (an admin token, which may name
any tenant, when the suite runs with ``PREDIS_AUTH=required``), ``PREDIS_TLS_CA``,
``PREDIS_<SERVICE>_ADDRESS``.
"""

from __future__ import annotations

import dataclasses

from predis.aio import AsyncClient
from predis.config import ClientConfig, RetryPolicy
from predis.v1 import cache_pb2, drift_pb2, predictor_pb2, retrainer_pb2


def dashboard_config(timeout_s: float) -> ClientConfig:
    """One try per call (the next poll is the retry), no trace per poll, and a short reconnect
    back-off so that a restarted service is seen again at the next poll."""
    return ClientConfig(
        timeout_s=timeout_s, retry=RetryPolicy(max_attempts=1), tracing=False, max_reconnect_backoff_s=2.0
    )


class SdkSuiteReader:
    """``poller.SuiteReader`` over the SDK; ``addresses`` by service name override the defaults."""

    def __init__(self, config: ClientConfig, addresses: dict[str, str] | None = None) -> None:
        self._config = config
        self._addresses = addresses or {}
        self._suite = self._client(config)
        self._tenants: dict[str, AsyncClient] = {}

    def _client(self, config: ClientConfig) -> AsyncClient:
        a = self._addresses.get
        return AsyncClient(
            a("cache"), predictor=a("predictor"), drift=a("drift"), retrainer=a("retrainer"), config=config
        )

    def _for(self, tenant: str) -> AsyncClient:
        client = self._tenants.get(tenant)
        if client is None:
            client = self._tenants[tenant] = self._client(dataclasses.replace(self._config, tenant=tenant))
        return client

    async def stats(self, tenant: str) -> cache_pb2.StatsResponse:
        return await self._for(tenant).stats()

    async def models(self) -> list[predictor_pb2.ModelInfo]:
        return await self._suite.predictor.list_models()

    async def model_status(self, version: str) -> predictor_pb2.GetModelStatusResponse:
        return await self._suite.predictor.model_status(version)

    async def drift_status(self, tenant: str) -> drift_pb2.GetStatusResponse:
        return await self._suite.drift.status(tenant)

    async def jobs(self, limit: int) -> list[retrainer_pb2.Job]:
        return await self._suite.retrainer.list_jobs(limit)

    async def close(self) -> None:
        for client in [self._suite, *self._tenants.values()]:
            await client.close()
