"""The client side of ``predis bench throughput``, run as its own process so that client and
server do not share an interpreter. Sends random BatchGet calls for a fixed time with several in
flight and prints one JSON line: keys per second and call latencies."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import grpc
import numpy as np

from predis.packing import pack
from predis.v1 import cache_pb2, cache_pb2_grpc


def key_name(i: int) -> bytes:
    # The same names redis-benchmark's __rand_int__ produces, so both stores hold the same keys.
    return b"key:%012d" % i


def _requests(keys: int, batch: int, count: int, seed: int) -> list[cache_pb2.BatchGetRequest]:
    rng = np.random.default_rng(seed)
    return [
        cache_pb2.BatchGetRequest(keys=pack([key_name(int(k)) for k in rng.integers(0, keys, batch)]), skip_origin=True)
        for _ in range(count)
    ]


async def _run(address: str, keys: int, batch: int, seconds: float, concurrency: int, seed: int) -> dict[str, float]:
    requests = _requests(keys, batch, 256, seed)
    options = [("grpc.max_receive_message_length", 256 << 20), ("grpc.max_send_message_length", 256 << 20)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = cache_pb2_grpc.CacheServiceStub(channel)
        await stub.BatchGet(requests[0])  # connect and warm up
        latencies: list[float] = []
        found = 0
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal found
            i = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await stub.BatchGet(requests[i % len(requests)])
                latencies.append(time.perf_counter() - started)
                found += response.found.count(1)
                i += concurrency

        began = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        elapsed = time.perf_counter() - began
    lat = np.array(latencies) * 1000
    return {
        "keys_per_s": len(latencies) * batch / elapsed,
        "calls": len(latencies),
        "found_ratio": found / (len(latencies) * batch),
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("address")
    parser.add_argument("--keys", type=int, required=True)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = asyncio.run(_run(args.address, args.keys, args.batch, args.seconds, args.concurrency, args.seed))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
