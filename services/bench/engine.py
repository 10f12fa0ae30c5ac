"""``predis bench engine``: batch reads and writes per second of the cache engine in process, per
storage backend (NumPy; CuPy where a CUDA device is present). No gRPC: this is what the engine
itself can do, the ceiling of the service's batch path. Reads alternate rounds with no read
listener, the access collector, and the live-quality shadow; each overhead is the ratio of medians."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from predis.services.bench import machine
from predis.services.cache.collector import AccessRing
from predis.services.cache.engine.backends import cuda_available, make_storage
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.storage import KeyBatch
from predis.services.cache.shadow import ShadowCache


def _keys(ids: np.ndarray) -> KeyBatch:
    return KeyBatch.of([b"key:%012d" % int(i) for i in ids])


def bench_backend(backend: str, keys: int, batch: int, value_size: int, seconds: float) -> dict[str, object]:
    engine = Engine(EngineConfig(memory_bytes=max(256 << 20, keys * (value_size + 400) * 2)), make_storage(backend, 64))
    rng = np.random.default_rng(0)
    value = rng.bytes(value_size)
    started = time.perf_counter()
    for start in range(0, keys, batch):
        ids = np.arange(start, min(keys, start + batch))
        engine.set_many("bench", _keys(ids), KeyBatch.of([value] * len(ids)))
    load_s = time.perf_counter() - started
    batches = [_keys(rng.integers(0, keys, batch)) for _ in range(64)]
    engine.get_many("bench", batches[0])
    ring = AccessRing()
    shadow = ShadowCache(engine.capacity_of, engine.charge_terms(), engine.mean_charge, 1 << 20)
    # Alternate the listeners (none, the access collector, the live-quality shadow) in short
    # rounds so all see the same machine.
    listeners = {"off": None, "collector": ring.append, "shadow": shadow.observe}
    timings: dict[str, list[float]] = {name: [] for name in listeners}
    rounds = 10
    for r in range(rounds):
        order = list(listeners) if r % 2 == 0 else list(reversed(listeners))
        for name in order:
            engine.listener = listeners[name]
            started = time.perf_counter()
            n = 0
            while time.perf_counter() - started < seconds / rounds:
                read = engine.get_many("bench", batches[n % len(batches)])
                n += 1
            timings[name].append((time.perf_counter() - started) / n)
            if not read.found.all():
                raise RuntimeError("loaded keys were missing; the budget is too small")
    off, on, shadowed = (float(np.median(timings[name])) for name in listeners)
    return {
        "backend": engine.storage.name,
        "keys": keys,
        "batch": batch,
        "value_size": value_size,
        "get_keys_per_s": round(batch / off),
        "get_batch_us": round(off * 1e6, 1),
        "collector_overhead": round(on / off - 1, 4),
        "shadow_overhead": round(shadowed / off - 1, 4),
        "shadow_sample_rate": round(shadow.sample_rate(engine.tenant_id("bench")), 5),
        "set_keys_per_s": round(keys / load_s),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="numpy,cupy", help="comma-separated; cupy is skipped without a GPU")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    rows = []
    for backend in args.backend.split(","):
        if backend == "cupy" and not cuda_available():
            if not args.json:
                print("skipping cupy: no CUDA device")
            continue
        rows.append(bench_backend(backend, args.keys, args.batch, args.value_size, args.seconds))
    where = machine()
    if args.json:
        print(json.dumps({"rows": rows, "machine": where}))
        return 0
    print(f"{args.keys:,} keys of {args.value_size} B, batches of {args.batch}, in process ({where})")
    for row in rows:
        print(
            f"  {row['backend']:<6} get {row['get_keys_per_s']:>12,} keys/s ({row['get_batch_us']} us/batch)"
            f"   set {row['set_keys_per_s']:>12,} keys/s   collector {row['collector_overhead']:+.1%}"
            f"   shadow {row['shadow_overhead']:+.1%} (sample {row['shadow_sample_rate']:.4f})"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="predis bench engine", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
