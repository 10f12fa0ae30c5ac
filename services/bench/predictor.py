"""``predis bench predictor``: scoring latency of a batch of prefetch candidates, in process and
through a running predictor service driven at fixed request rates by separate load processes
(``flood_client.py``), each call with a deadline: past what the service can serve, how fast the
calls it serves still are and how fast it refuses the rest.

The model is the real thing: ``predis train``'s code fitted on the first 30% of the shipped
cache2k-web07 trace (scikit-learn and skl2onnx: the dev extra), and the rows scored are that
trace's candidate feature rows."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from predis.aio import AsyncClient
from predis.config import ClientConfig
from predis.services.bench import machine
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


def candidate_batch(batch: int, seed: int) -> np.ndarray:
    """``batch`` consecutive candidate rows of the shipped trace, from a random place in it."""
    rows = _shipped_rows()
    start = int(np.random.default_rng(seed).integers(0, len(rows) - batch))
    return np.ascontiguousarray(rows[start : start + batch])


def _inprocess(directory: Path, batch: int, calls: int) -> tuple[float, float]:
    from predis.services.predictor.model_files import open_model_dir

    _, scorer = open_model_dir(str(directory))
    rows = candidate_batch(batch, 1)
    for _ in range(200):
        scorer.score(rows)
    samples = np.empty(calls)
    for i in range(calls):
        started = time.perf_counter()
        scorer.score(rows)
        samples[i] = time.perf_counter() - started
    us = samples * 1e6
    return float(np.percentile(us, 50)), float(np.percentile(us, 99))


def start_predictor(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """``predis serve predictor`` in its own process on a free port, quiet; (process, address)."""
    environ = {**os.environ, "OTEL_SDK_DISABLED": "true", "PREDIS_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "predis.services.cli", "serve", "predictor", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**environ, **(env or {})},
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip().rsplit(" ", 1)[-1]


def flood(
    address: str,
    rate: float,
    seconds: float,
    processes: int,
    deadline_ms: float,
    batch: int,
    nice: int = 0,
    cpus: set[int] | None = None,
) -> dict[str, Any]:
    """``Predict`` at ``rate`` calls/s in all from ``processes`` load processes (flood_client.py):
    served calls' latency, calls refused (and how fast), other failures. ``nice``: the load
    processes' CPU priority (a flood that comes from other machines does not take this one's CPU);
    ``cpus``: the cores they may run on (None: any)."""
    start_at = time.time() + 3.0  # every process imported, connected and warm
    clients = [
        subprocess.Popen(
            [sys.executable, "-m", "predis.services.bench.flood_client", address, "--rate", str(rate / processes)]
            + ["--seconds", str(seconds), "--deadline-ms", str(deadline_ms), "--batch", str(batch)]
            + ["--seed", str(2 + i), "--start-at", str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    for client in clients:
        if nice:
            os.setpriority(os.PRIO_PROCESS, client.pid, nice)
        if cpus is not None:
            os.sched_setaffinity(client.pid, cpus)
    outputs = [json.loads(client.communicate(timeout=seconds + 120)[0]) for client in clients]
    served = np.concatenate([np.array(o["served_ms"], dtype=float) for o in outputs])
    refused = np.concatenate([np.array(o["refused_ms"], dtype=float) for o in outputs])
    failed: dict[str, int] = {}
    for o in outputs:
        for code, count in o["failed"].items():
            failed[code] = failed.get(code, 0) + count

    def pct(values: np.ndarray, q: float) -> float:
        return round(float(np.percentile(values, q)), 3) if len(values) else 0.0

    return {
        "rate_per_s": rate,
        "processes": processes,
        "deadline_ms": deadline_ms,
        "sent": sum(int(o["sent"]) for o in outputs),
        "served": int(len(served)),
        "served_per_s": round(len(served) / seconds, 1),
        "served_p50_ms": pct(served, 50),
        "served_p99_ms": pct(served, 99),
        "refused": int(len(refused)),
        "refused_p99_ms": pct(refused, 99),
        "failed": failed,
        "client_late_ms": max(float(o["client_late_ms"]) for o in outputs),
    }


async def load_model(address: str, directory: Path) -> None:
    async with AsyncClient(predictor=address, config=ClientConfig(tracing=False)) as client:
        await client.predictor.load_model("bench", str(directory), role="champion")


def run_bench(
    batch: int, model: str, rates: list[float], seconds: float, processes: int = 2, deadline_ms: float = 250.0
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="predis-bench-") as tmp:
        directory = Path(tmp) / model
        _write_model(directory, model)
        p50_us, p99_us = _inprocess(directory, batch, 5000)
        server, address = start_predictor()
        try:
            asyncio.run(load_model(address, directory))
            runs = []
            for rate in rates:
                runs.append(flood(address, rate, seconds, processes, deadline_ms, batch))
                time.sleep(1.0)  # the queue of the last run drains
        finally:
            server.terminate()
            server.wait(15)
    return {
        "batch": batch,
        "model": model,
        "features": FEATURES,
        "inprocess_p50_us": round(p50_us, 1),
        "inprocess_p99_us": round(p99_us, 1),
        "service": runs,
        "machine": machine(),
    }
