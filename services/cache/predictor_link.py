"""The cache's link to the predictor over gRPC: its view for Stats, and the scorer the prefetch
loop uses (Predict, ReportOutcomes), all with short deadlines and no retries.

The predictor is an optimisation: when it is slow or down this answers "unreachable" quickly and
nothing else in the cache waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
import numpy as np
from opentelemetry import trace

from predis.aio import AsyncClient
from predis.config import ClientConfig, RetryPolicy
from predis.errors import FailedPreconditionError, PredisError
from predis.services.cache.prefetcher import NoModel, Outcome, ScorerUnavailable
from predis.v1 import common_pb2

# A restarted predictor is noticed within about this long (gRPC's own default is up to 120 s).
RECONNECT_BACKOFF_S = 2.0


@dataclass(frozen=True)
class PredictorView:
    address: str
    reachable: bool
    model_versions: list[str] = field(default_factory=list)
    error: str = ""


class PredictorLink:
    def __init__(
        self,
        address: str,
        tracer_provider: trace.TracerProvider | None,
        timeout_s: float = 0.5,
        score_timeout_s: float = 0.25,
    ) -> None:
        self.address = address
        self.score_timeout_s = score_timeout_s
        # No retries: a caller waiting on Stats, or the prefetch loop, should learn fast that the
        # predictor is away.
        config = ClientConfig(
            timeout_s=timeout_s, retry=RetryPolicy(max_attempts=1), max_reconnect_backoff_s=RECONNECT_BACKOFF_S
        )
        self._client = AsyncClient(predictor=address, config=config, tracer_provider=tracer_provider)

    async def score(
        self, tenant: str, triggers: Sequence[bytes], sizes: Sequence[int], features: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        try:
            answer = await self._client.predictor.predict(
                features, groups=list(zip(triggers, sizes, strict=True)), tenant=tenant, timeout=self.score_timeout_s
            )
        except FailedPreconditionError as error:
            raise NoModel(error.details) from None
        except PredisError as error:
            refused = error.code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            raise ScorerUnavailable(f"{error.code.name}: {error.details}", refused) from None
        return np.asarray(answer.probabilities, dtype=np.float32), list(answer.group_model_versions)

    async def report(self, outcomes: Sequence[Outcome]) -> None:
        messages = [
            common_pb2.PrefetchOutcome(
                tenant=o.tenant,
                key=o.key,
                outcome=_outcome_kind(o),
                model_version=o.model_version,
                time_unix_nano=o.time_unix_nano,
            )
            for o in outcomes
        ]
        try:
            await self._client.predictor.report_outcomes(messages)
        except PredisError as error:
            raise ScorerUnavailable(f"{error.code.name}: {error.details}") from None

    async def describe(self) -> PredictorView:
        try:
            models = await self._client.predictor.list_models()
        except PredisError as error:
            return PredictorView(self.address, reachable=False, error=f"{error.code.name}: {error.details}")
        versions = [f"{m.version} ({common_pb2.ModelRole.Name(m.role)})" for m in models]
        return PredictorView(self.address, reachable=True, model_versions=versions)

    async def close(self) -> None:
        await self._client.close()


def _outcome_kind(outcome: Outcome) -> int:
    if outcome.used:
        return common_pb2.PREFETCH_OUTCOME_KIND_USED
    if outcome.late:
        return common_pb2.PREFETCH_OUTCOME_KIND_LATE
    return common_pb2.PREFETCH_OUTCOME_KIND_EVICTED_UNUSED
