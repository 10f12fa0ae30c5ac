"""``predis bench soak``: the whole suite under steady load for a long time, with learned
prefetching on, watching for leaks and drift in latency.

It starts the four services (``predis up``'s code) as ``predis demo`` does (a SQLite origin, a
500-entry cache), loads a model that
``predis train``'s code fits on the start of the shipped cache2k-orm-busy trace (honest keys, named
as the demo names them), measures the most GETs per second
one client reaches (closed loop), then sends GETs at ``--load`` (0.8) of that rate (open loop) for
``--seconds``, keys from the rest of that trace in order, while it samples every
service's resident memory once a second. Last it loads and unloads a model ``--model-cycles``
times in the predictor. It reports errors, GET latency in the first and the last tenth of the run
side by side, and each service's memory growth; CI runs it at toy size to keep it working.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.errors import PredisError
from predis.services.bench import budget_env, machine
from predis.services.replay.keys import load_trace

TRAIN_REQUESTS = 100_000  # the model learns from these; the soak replays the requests after them


def _status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc), 0 when it is gone."""
    return _status_field(pid, "VmRSS") * 1024


class MemoryWatch:
    """Samples the resident memory of some processes once a second, in a thread."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: dict[str, list[int]] = {name: [] for name in pids}
        self.threads: dict[str, list[int]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            for name, pid in self.pids.items():
                self.samples[name].append(rss_bytes(pid))
                self.threads[name].append(_status_field(pid, "Threads"))
            if self._stop.wait(1.0):
                return

    def curve(self, points: int = 10) -> dict[str, list[dict[str, int]]]:
        """Per process: resident memory and threads at ``points`` evenly spaced moments."""
        out = {}
        for name, values in self.samples.items():
            if not values:
                continue
            at = sorted({round(i * (len(values) - 1) / (points - 1)) for i in range(points)})
            out[name] = [{"second": i, "rss": values[i], "threads": self.threads[name][i]} for i in at]
        return out

    def growth(self) -> dict[str, float]:
        """Per process: last sample over the median of the first tenth, minus one."""
        out = {}
        for name, values in self.samples.items():
            if len(values) < 2:
                continue
            head = float(np.median(values[: max(1, len(values) // 10)]))
            out[name] = round(values[-1] / head - 1, 4) if head else 0.0
        return out


def _percentiles(ms: np.ndarray) -> dict[str, float]:
    if not len(ms):
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def _closed_loop_rate(client: Client, keys: list[bytes], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        client.get(keys[done % len(keys)])
        done += 1
    return done / (time.perf_counter() - started)


def _open_loop(client: Client, keys: list[bytes], rate: float, seconds: float) -> tuple[np.ndarray, int]:
    """GETs leave on a fixed schedule; a late one goes at once. Latency in ms per sent GET."""
    count = int(rate * seconds)
    latencies = np.full(count, np.nan)
    errors = 0
    started = time.perf_counter()
    for i in range(count):
        wait = started + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t0 = time.perf_counter()
        try:
            client.get(keys[i % len(keys)])
        except PredisError:
            errors += 1
            continue
        latencies[i] = (time.perf_counter() - t0) * 1000
    return latencies, errors


def _model_cycles(predictor: str, model_dir: Path, cycles: int, pid: int) -> dict[str, object]:
    with Client(predictor=predictor) as client:
        before = rss_bytes(pid)
        for i in range(cycles):
            client.predictor.load_model(f"cycle-{i}", str(model_dir), role="shadow")
            client.predictor.unload_model(f"cycle-{i}")
        after = rss_bytes(pid)
    return {"model_cycles": cycles, "predictor_rss_before": before, "predictor_rss_after": after}


def prepare_demo_suite(tmp: Path) -> tuple[Path, dict[str, str], list[bytes]]:
    """``predis demo``'s set-up in ``tmp``: a model ``predis train``'s code fits on the start of
    cache2k-orm-busy (honest keys), a SQLite origin holding every key, a cache far smaller than
    the working set. Returns the model's directory, the services' environment, and the keys of the
    requests after the training window, in order."""
    from predis.services.demo import CACHE_ENTRIES, DEMO_TRACE, entry_charge, make_origin, service_ids
    from predis.services.retrainer.training import TrainingOptions, train

    orm = load_trace(DEMO_TRACE)  # honest keys: the object ids scrambled
    ids_seen, names, name_of = service_ids(orm.ids[: TRAIN_REQUESTS + 200_000])
    keys = [names[i] for i in name_of[TRAIN_REQUESTS:].tolist()]
    model_dir = tmp / "model"
    window = replace(orm, ids=ids_seen[:TRAIN_REQUESTS])
    train([window], model_dir, TrainingOptions(train_fraction=1.0, max_rows=50_000))
    origin = tmp / "origin.sqlite"
    make_origin(origin, names)
    budget = CACHE_ENTRIES * entry_charge(names)
    env = {
        "PREDIS_ORIGIN": f"sqlite://{origin}",
        **budget_env(budget),
    }
    return model_dir, env, keys


def run_soak(seconds: float, load: float, calibrate_s: float, model_cycles: int) -> dict[str, Any]:
    from predis.services.supervisor import start_suite

    with tempfile.TemporaryDirectory(prefix="predis-soak-") as tmp:
        model_dir, env, keys = prepare_demo_suite(Path(tmp))
        suite = start_suite(base_port=0, log_dir=Path(tmp), extra_env=env)
        try:
            pids = {s.name: s.process.pid for s in suite.services}
            with Client(predictor=suite.addresses["predictor"]) as admin:
                admin.predictor.load_model("soak", str(model_dir))
            with Client(suite.addresses["cache"], config=ClientConfig(tenant="soak")) as client:
                max_rate = _closed_loop_rate(client, keys, calibrate_s)
                rate = load * max_rate
                with MemoryWatch(pids) as memory:
                    latencies, errors = _open_loop(client, keys, rate, seconds)
                prefetcher = client.stats().prefetcher
            cycles = _model_cycles(suite.addresses["predictor"], model_dir, model_cycles, pids["predictor"])
        finally:
            suite.stop()
    tenth = max(1, len(latencies) // 10)
    return {
        "seconds": seconds,
        "max_rate_per_s": round(max_rate, 1),
        "rate_per_s": round(rate, 1),
        "requests": int(len(latencies)),
        "errors": errors,
        "first_tenth": _percentiles(latencies[:tenth][~np.isnan(latencies[:tenth])]),
        "last_tenth": _percentiles(latencies[-tenth:][~np.isnan(latencies[-tenth:])]),
        "rss_growth": memory.growth(),
        "rss_last_bytes": {name: values[-1] for name, values in memory.samples.items() if values},
        "rss_curve": memory.curve(),
        "prefetcher_state": prefetcher.state,
        "prefetches_started": int(prefetcher.prefetches_started),
        **cycles,
        "machine": machine(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the steady run (600)")
    parser.add_argument("--load", type=float, default=0.8, help="share of the measured maximum GET rate (0.8)")
    parser.add_argument("--calibrate-seconds", type=float, default=10.0, help="closed-loop run that measures it")
    parser.add_argument("--model-cycles", type=int, default=500, help="model loads and unloads at the end")
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if not 0 < args.load <= 1 or args.seconds <= 0 or args.calibrate_seconds <= 0 or args.model_cycles < 0:
        raise SystemExit("predis bench soak: --load must be in (0, 1], times positive, --model-cycles >= 0")
    result = run_soak(args.seconds, args.load, args.calibrate_seconds, args.model_cycles)
    if args.json:
        print(json.dumps(result))
        return 0
    first, last = result["first_tenth"], result["last_tenth"]
    print(
        f"soak: {result['requests']:,} GETs in {result['seconds']:g}s at {result['rate_per_s']:.0f}/s "
        f"({args.load:g} of the measured {result['max_rate_per_s']:.0f}/s), {result['errors']} errors; "
        f"prefetcher {result['prefetcher_state']}, {result['prefetches_started']:,} prefetches"
    )
    print(f"  GET latency, first tenth: p50 {first['p50_ms']} ms, p99 {first['p99_ms']} ms")
    print(f"  GET latency, last tenth:  p50 {last['p50_ms']} ms, p99 {last['p99_ms']} ms")
    for name, growth in result["rss_growth"].items():
        print(f"  {name:<10} RSS {result['rss_last_bytes'][name] / 2**20:.1f} MiB at the end, growth {growth:+.1%}")
    cache_curve = result["rss_curve"].get("cache", [])
    print(
        "  cache RSS (MiB) and threads over the run: "
        + ", ".join(f"{p['second']}s {p['rss'] / 2**20:.0f}/{p['threads']}" for p in cache_curve)
    )
    before, after = result["predictor_rss_before"], result["predictor_rss_after"]
    print(
        f"  {result['model_cycles']} model loads and unloads: predictor RSS {before / 2**20:.1f} -> "
        f"{after / 2**20:.1f} MiB"
    )
    return 0
