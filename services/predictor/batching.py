"""Micro-batching: the Predict calls that are waiting at the same moment are scored as one ONNX
run per model version, then each call gets its own rows back.

grpc.aio hands over new calls one loop turn at a time, so a flush on the very next turn finds only
one. So when calls are arriving close together (the previous one came less than
``BUSY_GAP * max_wait_s`` ago: the cache's prefetch loop sends many at a time), the first call of a batch waits at most
``max_wait_s`` for others, and they share one session run; a call that arrives alone is scored on
the next loop turn, without waiting. One run of 64 rows costs about what one run of 4 rows costs,
so this keeps the predictor's cost per call flat as its request rate grows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from predis.services.predictor.registry import ModelRegistry, ModelVersion, Prediction
from predis.services.runtime.errors import DomainError, InvalidInput

log = logging.getLogger(__name__)
BUSY_GAP = 5  # decoding one call takes a few hundred microseconds: arrivals are spread out


@dataclass
class _Waiting:
    model: ModelVersion
    shadows: tuple[ModelVersion, ...]
    features: list[np.ndarray] = field(default_factory=list)
    answers: list[asyncio.Future[np.ndarray]] = field(default_factory=list)


class MicroBatcher:
    """Scores concurrent requests together; a run holds at most ``max_rows`` rows."""

    def __init__(self, registry: ModelRegistry, max_wait_s: float = 0.0, max_rows: int = 8192) -> None:
        self.registry = registry
        self.max_wait_s = max_wait_s
        self.max_rows = max_rows
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._last_arrival = 0.0
        # By the loaded object, not the version name: a version unloaded and loaded again under
        # the same name is another model, and the calls already waiting keep the one they got.
        self._waiting: dict[int, _Waiting] = {}
        self._rows = 0

    async def predict(self, tenant: str, routing_key: bytes, features: np.ndarray) -> Prediction:
        probabilities, routes = await self.predict_groups(tenant, [routing_key], [len(features)], features)
        return Prediction(probabilities, *routes[0])

    async def predict_groups(
        self, tenant: str, routing_keys: Sequence[bytes], sizes: Sequence[int], features: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[ModelVersion, tuple[ModelVersion, ...]]]]:
        """Rows in consecutive groups (``sizes[i]`` rows routed by ``routing_keys[i]``): each group's
        version scores it, every version once for all the groups it got. Checks everything first,
        so a bad call fails alone and changes nothing."""
        if len(routing_keys) != len(sizes) or sum(sizes) != len(features):
            raise InvalidInput(
                f"{len(routing_keys)} routing keys and group sizes adding up to {sum(sizes)} do not "
                f"describe {len(features)} rows"
            )
        routes = [self.registry.route(tenant, key) for key in routing_keys]
        for model, _ in routes:
            self.registry.check_width(model, features)
        loop = asyncio.get_running_loop()
        answers = []
        start = 0
        for (model, shadows), size in zip(routes, sizes, strict=True):
            answers.append(self._enqueue(loop, model, shadows, features[start : start + size]))
            start += size
        self._schedule(loop)
        parts = await asyncio.gather(*answers)
        probabilities = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return probabilities, routes

    def _enqueue(
        self,
        loop: asyncio.AbstractEventLoop,
        model: ModelVersion,
        shadows: tuple[ModelVersion, ...],
        rows: np.ndarray,
    ) -> asyncio.Future[np.ndarray]:
        answer: asyncio.Future[np.ndarray] = loop.create_future()
        waiting = self._waiting.get(id(model))
        if waiting is None:
            waiting = self._waiting[id(model)] = _Waiting(model, shadows)
        waiting.features.append(rows)
        waiting.answers.append(answer)
        self._rows += len(rows)
        return answer

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        busy, self._last_arrival = now - self._last_arrival < BUSY_GAP * self.max_wait_s, now
        if self._rows >= self.max_rows:
            self._flush()
        elif self._timer is None and busy:
            self._timer = loop.call_later(self.max_wait_s, self._flush)
        elif self._timer is None:
            self._timer = loop.call_soon(self._flush)

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        self._rows = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for batch in waiting.values():
            features = batch.features[0] if len(batch.features) == 1 else np.concatenate(batch.features)
            try:
                probabilities = self.registry.score(batch.model, features, calls=len(batch.answers))
            except Exception as error:  # noqa: BLE001 - every waiting caller gets the same failure
                for answer in batch.answers:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            start = 0
            for rows, answer in zip(batch.features, batch.answers, strict=True):
                if not answer.done():  # the caller may have given up (deadline, cancel)
                    answer.set_result(probabilities[start : start + len(rows)])
                start += len(rows)
            if batch.shadows:
                # Shadows score after the callers have their answers: they never delay them.
                asyncio.get_running_loop().call_soon(self._score_shadows, batch.shadows, features, len(batch.answers))

    def _score_shadows(self, shadows: tuple[ModelVersion, ...], features: np.ndarray, calls: int) -> None:
        for shadow in shadows:
            try:
                self.registry.score(shadow, features, calls)
            except DomainError as error:
                log.warning("shadow %s could not score a batch: %s", shadow.version, error)
