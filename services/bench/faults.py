"""``predis bench faults``: the suite under ``predis up``'s supervision, serving steady GETs with
learned prefetching on, while its helpers are slowed, flooded and killed one phase at a time.

The set-up is ``predis demo``'s (``soak.prepare_demo_suite``). The cache reaches the predictor
through a TCP proxy (``delay_proxy.py``) that can delay every byte. GETs leave on a fixed schedule
(open loop) from one client the whole time; the cache's prefetcher counters are read four times a
second. Phases, in order:

- ``steady``: nothing wrong.
- ``predictor slow``: every byte between cache and predictor delayed by ``--delay-ms`` (longer than
  the cache's 250 ms scoring deadline: every Predict times out).
- ``predictor flooded``: ``--flood-rate`` Predict calls a second sent straight to the predictor by
  two load processes (``flood_client.py``), as a misbehaving client would. They run at nice 10,
  as ``predis up`` runs the helpers: a flood from other machines would not take this one's CPU,
  and a flood from this machine must not outrank the cache either.
- ``control: a bystander flooded``: the same flood sent to a predictor the cache does not use:
  what the flood costs the cache's reads through the shared machine alone.
- ``kill -9 predictor``, ``drift``, ``retrainer``, then all three at once: the supervisor restarts
  them; the phase ends when each is back and, for the predictor, when the cache scores
  candidates again (or after ``--recover-timeout``).

Per phase: GETs sent, failed, their p50/p99, candidates the predictor scored for the cache, and
for the kills how long until the service was back and until prefetching resumed.

``--split-cores`` puts the cache and this process (the GET client) on the first core and
everything else on the others, as separate hosts or container cpusets would: what a flood costs
the cache then, without the two sharing a core. (Helpers restarted in the kill phases, which come
last, start from this process and so share the cache's core.)"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.errors import PredisError
from predis.services.bench import machine

TENANT = "faults"


@dataclass
class Timeline:
    """What the load and the poller saw, stamped with ``time.monotonic()``."""

    gets: list[tuple[float, float]] = field(default_factory=list)  # (sent at, ms or nan when it failed)
    scored: list[tuple[float, int]] = field(default_factory=list)  # (at, candidates scored so far)


def _get_load(address: str, keys: list[bytes], rate: float, stop: threading.Event, timeline: Timeline) -> None:
    with Client(address, config=ClientConfig(tenant=TENANT, tracing=False)) as client:
        began = time.monotonic()
        i = 0
        while not stop.is_set():
            wait = began + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            try:
                client.get(keys[i % len(keys)])
                timeline.gets.append((sent, (time.monotonic() - sent) * 1000))
            except PredisError:
                timeline.gets.append((sent, float("nan")))
            i += 1


def _poll_prefetcher(address: str, stop: threading.Event, timeline: Timeline) -> None:
    with Client(address, config=ClientConfig(tenant=TENANT, tracing=False)) as client:
        while not stop.wait(0.25):
            try:
                timeline.scored.append((time.monotonic(), int(client.stats().prefetcher.candidates_scored)))
            except PredisError:
                continue


def _scored_by(timeline: Timeline, at: float) -> int:
    """Candidates scored by the last reading at or before ``at``."""
    return next((n for t, n in reversed(timeline.scored) if t <= at), 0)


def _scored_since(timeline: Timeline, at: float) -> int:
    return _scored_by(timeline, time.monotonic()) - _scored_by(timeline, at)


def _phase_row(name: str, timeline: Timeline, began: float, ended: float, **extra: Any) -> dict[str, Any]:
    ms = np.array([v for t, v in timeline.gets if began <= t < ended])
    ok = ms[~np.isnan(ms)]
    return {
        "phase": name,
        "seconds": round(ended - began, 1),
        "gets": int(len(ms)),
        "failed": int(np.isnan(ms).sum()),
        "p50_ms": round(float(np.percentile(ok, 50)), 3) if len(ok) else 0.0,
        "p99_ms": round(float(np.percentile(ok, 99)), 3) if len(ok) else 0.0,
        "candidates_scored": _scored_by(timeline, ended) - _scored_by(timeline, began),
        **extra,
    }


def _until_scoring_resumes(timeline: Timeline, phase_s: float, timeout_s: float) -> dict[str, Any]:
    """Waits ``phase_s``, and on until the cache has candidates scored again (the prefetcher backs
    off for up to 10 s after failed calls) or ``timeout_s``."""
    began = time.monotonic()
    resumed = None
    while True:
        elapsed = time.monotonic() - began
        if resumed is None and _scored_since(timeline, began) > 0:
            resumed = round(elapsed, 1)
        if elapsed >= phase_s and (resumed is not None or elapsed >= timeout_s):
            break
        time.sleep(0.1)
    return {"prefetching_resumed_after_s": resumed}


def _kill_and_recover(suite: Any, names: list[str], timeline: Timeline, timeout_s: float) -> dict[str, Any]:
    """kill -9 each named service; waits until the supervisor has each back and, when the predictor
    was among them, until the cache has candidates scored again."""
    killed_at = time.monotonic()
    services = [s for s in suite.services if s.name in names]
    restarts = {s.name: s.restarts for s in services}
    for service in services:
        os.kill(service.process.pid, signal.SIGKILL)
    back: dict[str, float] = {}
    resumed = None
    deadline = killed_at + timeout_s
    while time.monotonic() < deadline:
        for service in services:
            if service.name not in back and service.restarts > restarts[service.name]:
                back[service.name] = round(time.monotonic() - killed_at, 1)
        if "predictor" in names and "predictor" in back and resumed is None:
            restart_at = killed_at + back["predictor"]
            if _scored_since(timeline, restart_at) > 0:
                resumed = round(time.monotonic() - killed_at, 1)
        if len(back) == len(services) and ("predictor" not in names or resumed is not None):
            break
        time.sleep(0.1)
    return {"back_after_s": back, "prefetching_resumed_after_s": resumed}


def _flood_a_bystander(model_dir: Path, rate: float, seconds: float, cpus: set[int] | None) -> dict[str, Any]:
    """The same flood sent to a predictor the cache does not use, at the same priority as the
    suite's: what the flood costs the cache through the machine alone (CPU, loopback)."""
    import asyncio

    from predis.services.bench.predictor import flood, load_model, start_predictor

    server, address = start_predictor()
    try:
        os.setpriority(os.PRIO_PROCESS, server.pid, 10)
        if cpus is not None:
            os.sched_setaffinity(server.pid, cpus)
        asyncio.run(load_model(address, model_dir))
        return flood(address, rate, seconds, 2, 250.0, 64, nice=10, cpus=cpus)
    finally:
        server.terminate()
        server.wait(15)


def _split_cores(suite: Any) -> set[int] | None:
    """The cache and this process (its GET client) on the first core, the helpers (and later the
    floods) on the others, as separate hosts or container cpusets would have them; None when
    this machine has a single core."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    serving, rest = {cores[0]}, set(cores[1:])
    os.sched_setaffinity(0, serving)
    for service in suite.services:
        os.sched_setaffinity(service.process.pid, serving if service.name == "cache" else rest)
    return rest


def run_faults(
    phase_s: float,
    rate: float,
    delay_ms: float,
    flood_rate: float,
    recover_timeout_s: float,
    split_cores: bool = False,
) -> dict[str, Any]:
    from predis.services.bench.delay_proxy import DelayProxy
    from predis.services.bench.predictor import flood
    from predis.services.bench.soak import prepare_demo_suite
    from predis.services.supervisor import start_suite, supervise

    timeline = Timeline()
    phases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="predis-faults-") as tmp:
        model_dir, env, keys = prepare_demo_suite(Path(tmp))
        proxy = DelayProxy()
        proxy_address = proxy.start()
        suite = start_suite(base_port=0, log_dir=Path(tmp), extra_env=env, dial={"predictor": proxy_address})
        proxy.target = suite.addresses["predictor"]
        others = _split_cores(suite) if split_cores else None
        predictor = suite.addresses["predictor"]
        stop_supervising, stop_load = threading.Event(), threading.Event()
        supervisor = threading.Thread(target=supervise, args=(suite, stop_supervising), daemon=True)
        threads = [
            threading.Thread(target=_get_load, args=(suite.addresses["cache"], keys, rate, stop_load, timeline)),
            threading.Thread(target=_poll_prefetcher, args=(suite.addresses["cache"], stop_load, timeline)),
        ]
        try:
            supervisor.start()
            with Client(predictor=suite.addresses["predictor"]) as admin:
                admin.predictor.load_model("faults", str(model_dir))
            for thread in threads:
                thread.start()
            time.sleep(phase_s)  # warm-up: the cache fills, the prefetcher starts

            def timed(name: str, action: Any) -> None:
                began = time.monotonic()
                extra = action() or {}
                phases.append(_phase_row(name, timeline, began, time.monotonic(), **extra))

            timed("steady", lambda: time.sleep(phase_s))

            def slow() -> None:
                proxy.delay_s = delay_ms / 1000
                time.sleep(phase_s)
                proxy.delay_s = 0.0

            timed(f"predictor slow (+{delay_ms:g} ms)", slow)
            timed("steady again", lambda: _until_scoring_resumes(timeline, phase_s, recover_timeout_s))
            timed(
                f"predictor flooded ({flood_rate:g}/s)",
                lambda: {"flood": flood(predictor, flood_rate, phase_s, 2, 250.0, 64, nice=10, cpus=others)},
            )
            timed(
                f"control: a bystander flooded ({flood_rate:g}/s)",
                lambda: {"flood": _flood_a_bystander(model_dir, flood_rate, phase_s, others)},
            )
            for names in (["predictor"], ["drift"], ["retrainer"], ["predictor", "drift", "retrainer"]):
                label = "kill -9 " + ("all three" if len(names) > 1 else names[0])
                timed(label, lambda names=names: _kill_and_recover(suite, names, timeline, recover_timeout_s))
                time.sleep(1.0)
        finally:
            stop_load.set()
            for thread in threads:
                if thread.is_alive():
                    thread.join(30)
            stop_supervising.set()
            supervisor.join(10)
            suite.stop()
            proxy.stop()
    return {
        "rate_per_s": rate,
        "phase_seconds": phase_s,
        "split_cores": others is not None,
        "phases": phases,
        "machine": machine(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--phase-seconds", type=float, default=20.0, help="length of each timed phase (20)")
    parser.add_argument("--rate", type=float, default=100.0, help="GETs per second, all phases (100)")
    parser.add_argument("--delay-ms", type=float, default=300.0, help="delay added to the predictor (300)")
    parser.add_argument("--flood-rate", type=float, default=3000.0, help="Predict calls/s of the flood (3000)")
    parser.add_argument("--recover-timeout", type=float, default=60.0, help="longest wait for a restart (60)")
    parser.add_argument(
        "--split-cores",
        action="store_true",
        help="the cache and the GET client on one core, the helpers and the floods on the others",
    )
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if min(args.phase_seconds, args.rate, args.flood_rate, args.recover_timeout) <= 0 or args.delay_ms < 0:
        raise SystemExit("predis bench faults: times and rates must be positive, --delay-ms >= 0")
    result = run_faults(
        args.phase_seconds, args.rate, args.delay_ms, args.flood_rate, args.recover_timeout, args.split_cores
    )
    if args.json:
        print(json.dumps(result))
        return 0
    where = "; cache and GET client on one core, the rest on the others" if result["split_cores"] else ""
    print(f"faults: GETs at {result['rate_per_s']:g}/s through every phase, learned prefetching on{where}")
    print(f"  {'phase':<28}{'secs':>6}{'GETs':>7}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}{'scored':>9}  recovery")
    for p in result["phases"]:
        recovery = ""
        if "prefetching_resumed_after_s" in p:
            back = [f"{n} back {s}s" for n, s in p.get("back_after_s", {}).items()]
            resumed = p["prefetching_resumed_after_s"]
            if resumed is not None or "predictor" in p.get("back_after_s", {}) or not back:
                back.append(f"prefetching resumed {resumed}s" if resumed is not None else "prefetching NOT resumed")
            recovery = ", ".join(back)
        if "flood" in p:
            f = p["flood"]
            recovery = (
                f"flood served {f['served_per_s']:g}/s p50 {f['served_p50_ms']} ms p99 {f['served_p99_ms']} ms, "
                f"refused {f['refused']} of {f['sent']} (p99 {f['refused_p99_ms']} ms)"
            )
        print(
            f"  {p['phase']:<28}{p['seconds']:>6}{p['gets']:>7}{p['failed']:>8}{p['p50_ms']:>9}{p['p99_ms']:>9}"
            f"{p['candidates_scored']:>9}  {recovery}"
        )
    return 0
