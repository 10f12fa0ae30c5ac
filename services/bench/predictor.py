"""``predis bench predictor``: scoring latency of a batch of prefetch candidates, in process and
through a running predictor service driven at a fixed request rate from this (separate) process.

The model is the real thing: ``predis train``'s code fitted on the first 30% of the shipped
cache2k-web07 trace (scikit-learn and skl2onnx: the dev extra), and the rows scored are that
trace's candidate feature rows."""

from __future__ import annotations

import asyncio
import functools
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from predis.aio import AsyncClient
from predis.config import ClientConfig
from predis.errors import ResourceExhaustedError
from predis.services.cache.engine.candidates import FEATURES as CANDIDATE_FEATURES
from predis.services.cache.engine.candidates import candidate_rows
from predis.services.replay.keys import load_trace
from predis.services.replay.traces import Trace

FEATURES = len(CANDIDATE_FEATURES)
MODELS = ("logistic", "gbdt")
SHIPPED_TRACE = Path(__file__).resolve().parents[1] / "replay" / "data" / "cache2k-web07.trace.xz"


@functools.cache
def _shipped_trace() -> Trace:
    return load_trace(SHIPPED_TRACE)  # honest keys, as predis train reads it


@functools.cache
def _shipped_rows() -> np.ndarray:
    return candidate_rows(_shipped_trace().ids).features


def _write_model(directory: Path, kind: str) -> None:
    from predis.services.retrainer.training import TrainingOptions, train

    trace = _shipped_trace()
    window = replace(trace, ids=trace.ids[: int(0.3 * trace.requests)])
    train([window], directory, TrainingOptions(train_fraction=1.0, model=kind))


def _rows(batch: int, seed: int) -> np.ndarray:
    """``batch`` consecutive candidate rows of the shipped trace, from a random place in it."""
    rows = _shipped_rows()
    start = int(np.random.default_rng(seed).integers(0, len(rows) - batch))
    return np.ascontiguousarray(rows[start : start + batch])


def _inprocess(directory: Path, batch: int, calls: int) -> tuple[float, float]:
    from predis.services.predictor.model_files import open_model_dir

    _, scorer = open_model_dir(str(directory))
    rows = _rows(batch, 1)
    for _ in range(200):
        scorer.score(rows)
    samples = np.empty(calls)
    for i in range(calls):
        started = time.perf_counter()
        scorer.score(rows)
        samples[i] = time.perf_counter() - started
    us = samples * 1e6
    return float(np.percentile(us, 50)), float(np.percentile(us, 99))


@dataclass(frozen=True)
class ServiceRun:
    """Latency of the calls served, failures other than shedding, and the calls shed
    (RESOURCE_EXHAUSTED) with how long the refusal took."""

    p50_ms: float
    p99_ms: float
    errors: int
    shed: int
    shed_p99_ms: float


async def _service(address: str, directory: Path, batch: int, rate: float, seconds: float) -> ServiceRun:
    rows = _rows(batch, 2)
    async with AsyncClient(predictor=address, config=ClientConfig(tracing=False)) as client:
        await client.predictor.load_model("bench", str(directory), role="champion")
        for _ in range(50):
            await client.predictor.predict(rows)
        latencies: list[float] = []
        shed: list[float] = []
        errors = 0

        async def one(key: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                await client.predictor.predict(rows, routing_key=b"%d" % key)
            except ResourceExhaustedError:  # shed by the service: how fast it said no matters
                shed.append(time.perf_counter() - started)
                return
            except Exception:  # noqa: BLE001 - counted, not raised: the run measures what fails
                errors += 1
                return
            latencies.append(time.perf_counter() - started)

        # Open loop: requests leave on a fixed schedule whether or not earlier ones have answered.
        tasks = []
        began = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    shed_p99 = float(np.percentile(np.array(shed) * 1000, 99)) if shed else 0.0
    return ServiceRun(float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), errors, len(shed), shed_p99)


def run_bench(batch: int, model: str, rate: float, seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="predis-bench-") as tmp:
        directory = Path(tmp) / model
        _write_model(directory, model)
        p50_us, p99_us = _inprocess(directory, batch, 5000)
        env = {**os.environ, "OTEL_SDK_DISABLED": "true", "PREDIS_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
        server = subprocess.Popen(
            [sys.executable, "-m", "predis.services.cli", "serve", "predictor", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None
            address = server.stdout.readline().strip().rsplit(" ", 1)[-1]
            run = asyncio.run(_service(address, directory, batch, rate, seconds))
        finally:
            server.terminate()
            server.wait(15)
    return {
        "batch": batch,
        "model": model,
        "features": FEATURES,
        "inprocess_p50_us": round(p50_us, 1),
        "inprocess_p99_us": round(p99_us, 1),
        "service_p50_ms": round(run.p50_ms, 3),
        "service_p99_ms": round(run.p99_ms, 3),
        "service_rate_per_s": rate,
        "service_errors": run.errors,
        "service_shed": run.shed,
        "service_shed_p99_ms": round(run.shed_p99_ms, 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
