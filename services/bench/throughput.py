"""``predis bench throughput``: batch GET keys per second through the cache's gRPC service, from
separate client processes, next to Redis MGET measured in the same run on the same machine.

What it does, in order: starts two cache processes, one with a feature on and one with it off
(``--compare``: the access collector, by default, or the live-quality shadow cache), and loads the
same keys into both; starts ``redis-server`` and loads them there too; then alternates timed runs
(on, off, on, off, ...) so that the feature's overhead is a ratio of medians measured side by
side; measures Redis with ``redis-benchmark`` (C client, MGET of ``batch`` random keys);
and times single-key GETs through the Python SDK.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.services.bench import machine
from predis.services.bench.load_client import key_name

LOAD_CHUNK = 20_000
# What each compared feature's off side sets (the on side keeps the defaults: both on).
COMPARED = {"collector": {"PREDIS_CACHE_COLLECTOR_EVENTS": "0"}, "shadow": {"PREDIS_CACHE_SHADOW": "off"}}


@dataclass(frozen=True)
class ThroughputOptions:
    keys: int = 1_000_000
    batch: int = 1000
    value_size: int = 100
    seconds: float = 5.0
    rounds: int = 6
    clients: int = 1
    concurrency: int = 4
    backend: str = "numpy"
    vs_redis: bool = True
    compare: str = "collector"  # the feature the second cache runs without: collector or shadow

    def __post_init__(self) -> None:
        if self.compare not in COMPARED:
            raise ValueError(f"--compare must be one of {', '.join(COMPARED)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_cache(stack: ExitStack, options: ThroughputOptions, feature_on: bool, log_dir: Path) -> str:
    memory = max(256 << 20, options.keys * (options.value_size + 400) * 2)
    env = {
        **os.environ,
        "PREDIS_CACHE_MEMORY_BYTES": str(memory),
        "PREDIS_CACHE_BACKEND": options.backend,
        "PREDIS_CACHE_COLLECTOR_EVENTS": str(1 << 16),
        "PREDIS_CACHE_SHADOW": "on",
        "PREDIS_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        "OTEL_SDK_DISABLED": "true",
        **({} if feature_on else COMPARED[options.compare]),
    }
    log = (log_dir / f"cache-{options.compare}-{'on' if feature_on else 'off'}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "predis.services.cli", "serve", "cache", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    stack.callback(_stop, process)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if " listening on " not in line:
        raise RuntimeError(f"the cache did not start; see {log.name}")
    return line.rsplit(" ", 1)[-1]


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def _values(options: ThroughputOptions) -> bytes:
    return np.random.default_rng(7).integers(0, 256, options.keys * options.value_size, dtype=np.uint8).tobytes()


def _load_cache(address: str, options: ThroughputOptions, values: bytes) -> None:
    size = options.value_size
    with Client(address, config=ClientConfig(timeout_s=120, tracing=False)) as client:
        for start in range(0, options.keys, LOAD_CHUNK):
            ids = range(start, min(options.keys, start + LOAD_CHUNK))
            items = [(key_name(i), values[i * size : (i + 1) * size]) for i in ids]
            if client.batch_set(items) != len(items):
                raise RuntimeError("the cache refused some keys while loading; raise its memory budget")


def _measure_cache(address: str, options: ThroughputOptions, seed: int) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "predis.services.bench.load_client",
        address,
        "--keys",
        str(options.keys),
        "--batch",
        str(options.batch),
        "--seconds",
        str(options.seconds),
        "--concurrency",
        str(options.concurrency),
    ]
    procs = [
        subprocess.Popen([*command, "--seed", str(seed * 100 + c)], stdout=subprocess.PIPE, text=True)
        for c in range(options.clients)
    ]
    results = [json.loads(p.communicate()[0]) for p in procs]
    if any(r["found_ratio"] < 0.999 for r in results):
        raise RuntimeError("the cache answered misses for loaded keys; its budget is too small")
    return {
        "keys_per_s": sum(r["keys_per_s"] for r in results),
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
    }


def _single_get_latency(address: str, options: ThroughputOptions, calls: int = 5000) -> dict[str, float]:
    rng = np.random.default_rng(3)
    latencies = []
    with Client(address, config=ClientConfig(tracing=False)) as client:
        for k in rng.integers(0, options.keys, calls):
            started = time.perf_counter()
            client.get(key_name(int(k)), skip_origin=True)
            latencies.append(time.perf_counter() - started)
    ms = np.array(latencies) * 1000
    return {"get_p50_ms": float(np.percentile(ms, 50)), "get_p99_ms": float(np.percentile(ms, 99))}


def _start_redis(stack: ExitStack, log_dir: Path) -> int:
    port = _free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
            "--dir",
            str(log_dir),
        ],
        stdout=(log_dir / "redis.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    stack.callback(_stop, process)  # type: ignore[arg-type]
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def _load_redis(port: int, options: ThroughputOptions, values: bytes) -> None:
    import redis

    client = redis.Redis(port=port)
    size = options.value_size
    for start in range(0, options.keys, LOAD_CHUNK):
        ids = range(start, min(options.keys, start + LOAD_CHUNK))
        client.mset({key_name(i): values[i * size : (i + 1) * size] for i in ids})


def _measure_redis(port: int, options: ThroughputOptions) -> float:
    # Each __rand_int__ is replaced by its own random 12-digit number below -r, as key_name() writes them.
    calls = max(1000, int(options.seconds * 1500))
    command = [
        "redis-benchmark",
        "-p",
        str(port),
        "-c",
        str(max(1, options.concurrency * options.clients)),
        "-n",
        str(calls),
        "-r",
        str(options.keys),
        "--csv",
        "MGET",
        *(["key:__rand_int__"] * options.batch),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    row = [line for line in output.splitlines() if line.startswith('"MGET')][-1]
    return float(row.split(",")[1].strip('"')) * options.batch


def run_throughput(options: ThroughputOptions) -> dict[str, object]:
    values = _values(options)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="predis-bench-") as tmp:
        log_dir = Path(tmp)
        on = _start_cache(stack, options, feature_on=True, log_dir=log_dir)
        off = _start_cache(stack, options, feature_on=False, log_dir=log_dir)
        for address in (on, off):
            _load_cache(address, options, values)
        runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
        for r in range(options.rounds):
            # Alternate which goes first, so neither side always runs on a warmer machine.
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                runs[mode].append(_measure_cache(on if mode == "on" else off, options, r))
        redis_keys_per_s = None
        if options.vs_redis:
            if shutil.which("redis-server") is None or shutil.which("redis-benchmark") is None:
                raise RuntimeError("--vs-redis needs redis-server and redis-benchmark (apt-get install redis-server)")
            port = _start_redis(stack, log_dir)
            _load_redis(port, options, values)
            redis_keys_per_s = _measure_redis(port, options)
        latency = _single_get_latency(on, options)
    best_on = statistics.median(r["keys_per_s"] for r in runs["on"])
    best_off = statistics.median(r["keys_per_s"] for r in runs["off"])
    return {
        "backend": options.backend,
        "predis_keys_per_s": round(best_on),
        "redis_keys_per_s": round(redis_keys_per_s) if redis_keys_per_s else None,
        "ratio": round(best_on / redis_keys_per_s, 3) if redis_keys_per_s else None,
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs["on"]), 3),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs["on"]), 3),
        "get_p50_ms": round(latency["get_p50_ms"], 3),
        "get_p99_ms": round(latency["get_p99_ms"], 3),
        "compared": options.compare,
        f"{options.compare}_off_keys_per_s": round(best_off),
        f"{options.compare}_overhead": round(1 - best_on / best_off, 4),
        "keys": options.keys,
        "batch": options.batch,
        "value_size": options.value_size,
        "clients": options.clients,
        "concurrency": options.concurrency,
        "rounds": options.rounds,
        "seconds_per_round": options.seconds,
        "machine": machine(),
    }


def print_table(result: dict[str, object]) -> None:
    compared = result["compared"]
    rows = [
        (f"Predis BatchGet ({compared} on)", f"{result['predis_keys_per_s']:,} keys/s"),
        (f"Predis BatchGet ({compared} off)", f"{result[f'{compared}_off_keys_per_s']:,} keys/s"),
        (f"{compared} overhead", f"{100 * float(result[f'{compared}_overhead']):.2f}%"),  # type: ignore[arg-type]
        (
            "Redis MGET (redis-benchmark)",
            f"{result['redis_keys_per_s']:,} keys/s" if result["redis_keys_per_s"] else "not run",
        ),
        ("Predis / Redis", f"{result['ratio']}x" if result["ratio"] else "-"),
        ("BatchGet latency p50 / p99", f"{result['p50_ms']} / {result['p99_ms']} ms"),
        ("single GET via SDK p50 / p99", f"{result['get_p50_ms']} / {result['get_p99_ms']} ms"),
    ]
    print(
        f"{result['keys']:,} keys of {result['value_size']} B, batches of {result['batch']}, "
        f"backend {result['backend']}"
    )
    for name, value in rows:
        print(f"  {name:<32} {value}")
