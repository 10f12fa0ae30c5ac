"""One load process of ``predis bench predictor`` and ``predis bench faults``: sends ``Predict``
calls to a predictor on a fixed schedule (open loop: a call leaves on time whether or not the
earlier ones have answered) for a fixed time, each with a deadline, and prints one JSON line.

The request is encoded once and sent as bytes, and answers are not decoded, so that this process
spends as little of the machine as it can: the benchmark measures the service, not its client.
It prints each served and refused call's latency. Calls refused (RESOURCE_EXHAUSTED from the
service, or CANCELLED unanswered from gRPC's core when its queue of pending calls is full:
``predis.errors.RefusedError``) are counted apart from failures."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import grpc

from predis.errors import ResourceExhaustedError, from_rpc_error
from predis.v1 import predictor_pb2

METHOD = "/predis.v1.PredictorService/Predict"


def request_bytes(batch: int, seed: int) -> bytes:
    from predis.services.bench.predictor import candidate_batch

    rows = candidate_batch(batch, seed)
    return predictor_pb2.PredictRequest(features=rows.ravel().tolist(), feature_count=rows.shape[1]).SerializeToString()


def _ms(values: list[float]) -> list[float]:
    return [round(v * 1000, 3) for v in values]


async def _warm_up(call: grpc.aio.UnaryUnaryMultiCallable, request: bytes) -> None:
    """One call served before the clock starts (connected, warm); refusals are waited out: the
    service may be busy with another process's flood."""
    give_up = time.monotonic() + 60
    while True:
        try:
            await call(request, timeout=10)
            return
        except grpc.aio.AioRpcError as error:
            if not isinstance(from_rpc_error(error), ResourceExhaustedError) or time.monotonic() > give_up:
                raise
            await asyncio.sleep(0.1)


async def flood(
    address: str, request: bytes, rate: float, seconds: float, deadline_s: float, start_at: float = 0.0
) -> dict[str, object]:
    """``start_at``: the wall-clock time to begin at, so that several processes begin together."""
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        await _warm_up(call, request)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        served: list[float] = []
        refused: list[float] = []
        failed: dict[str, int] = {}

        async def one() -> None:
            started = time.perf_counter()
            try:
                await call(request, timeout=deadline_s)
            except grpc.aio.AioRpcError as error:
                if isinstance(from_rpc_error(error), ResourceExhaustedError):
                    refused.append(time.perf_counter() - started)
                else:
                    failed[error.code().name] = failed.get(error.code().name, 0) + 1
                return
            served.append(time.perf_counter() - started)

        tasks = []
        began = time.perf_counter()
        late = 0.0
        for i in range(int(rate * seconds)):
            wait = began + i / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                late = max(late, -wait)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return {
        "sent": len(tasks),
        "served_ms": _ms(served),
        "refused_ms": _ms(refused),
        "failed": failed,
        "client_late_ms": round(late * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("address")
    parser.add_argument("--rate", type=float, required=True, help="calls per second from this process")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--deadline-ms", type=float, default=250.0)
    parser.add_argument("--batch", type=int, default=64, help="candidate rows a call")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--start-at", type=float, default=0.0, help="wall-clock time (Unix seconds) to begin at")
    args = parser.parse_args()
    request = request_bytes(args.batch, args.seed)
    result = asyncio.run(flood(args.address, request, args.rate, args.seconds, args.deadline_ms / 1000, args.start_at))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
