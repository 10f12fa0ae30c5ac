"""The cache's view of the predictor, fetched over gRPC with a short deadline.

The predictor is an optimisation: when it is slow or down this answers "unreachable" quickly and
nothing else in the cache waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry import trace

from predis.aio import AsyncClient
from predis.config import ClientConfig, RetryPolicy
from predis.errors import PredisError
from predis.v1 import common_pb2


@dataclass(frozen=True)
class PredictorView:
    address: str
    reachable: bool
    model_versions: list[str] = field(default_factory=list)
    error: str = ""


class PredictorLink:
    def __init__(self, address: str, tracer_provider: trace.TracerProvider | None, timeout_s: float = 0.5) -> None:
        self.address = address
        # No retries: a caller waiting on Stats should learn fast that the predictor is away.
        config = ClientConfig(timeout_s=timeout_s, retry=RetryPolicy(max_attempts=1))
        self._client = AsyncClient(predictor=address, config=config, tracer_provider=tracer_provider)

    async def describe(self) -> PredictorView:
        try:
            models = await self._client.predictor.list_models()
        except PredisError as error:
            return PredictorView(self.address, reachable=False, error=f"{error.code.name}: {error.details}")
        versions = [f"{m.version} ({common_pb2.ModelRole.Name(m.role)})" for m in models]
        return PredictorView(self.address, reachable=True, model_versions=versions)

    async def close(self) -> None:
        await self._client.close()
