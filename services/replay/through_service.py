"""``predis replay --through-service ADDR``: a trace replayed through a running cache service with
the SDK, for end-to-end numbers. Each request is a GET that skips the origin; a miss is followed by
a SET of a value of ``value_size`` bytes (cache-aside), so the hit ratio is the service's own with
its configured budget and policy. The replay uses its own tenant, flushed first. The keys sent are
the trace's ids as 8 big-endian bytes: the same (scrambled or recorded) ids the in-process replay
uses."""

from __future__ import annotations

import os
import time

import numpy as np

from predis.client import Client
from predis.config import ClientConfig
from predis.errors import PredisError
from predis.services.replay.libcachesim_runner import per_percent
from predis.services.replay.runner import Progress, Row, timeline_of
from predis.services.replay.traces import Trace


def replay_through_service(
    trace: Trace, address: str, train_fraction: float, value_size: int = 100, progress: Progress | None = None
) -> Row:
    eval_from = int(train_fraction * trace.requests)
    value = bytes(value_size)
    config = ClientConfig(tenant=f"replay-{os.getpid()}", tracing=False)
    hit_flags = np.zeros(trace.requests, dtype=np.bool_)
    latencies = np.zeros(trace.requests, dtype=np.float64)
    errors = 0
    with Client(address, config=config) as client:
        client.flush()
        for i, obj in enumerate(trace.ids.tolist()):
            key = int(obj).to_bytes(8, "big")
            started = time.perf_counter()
            try:
                answer = client.lookup(key, skip_origin=True)
                latencies[i] = time.perf_counter() - started
            except PredisError:
                errors += 1
                continue
            hit_flags[i] = answer.found
            if not answer.found:
                try:
                    client.set(key, value)
                except PredisError:
                    errors += 1
            if progress is not None and i % 10_000 == 0:
                progress.step(f"{trace.name} through {address}")
        stats = client.stats()
    scored = trace.requests - eval_from
    hits = int(hit_flags[eval_from:].sum())
    t_hits, t_requests = per_percent(hit_flags, eval_from)
    ms = latencies * 1000
    return Row(
        trace=trace.name,
        requests=trace.requests,
        footprint=trace.footprint,
        cache_size=stats.tenant.entries,
        policy=stats.engine.policy,
        source="service",
        hit_ratio=hits / scored if scored else 0.0,
        hits=hits,
        misses=scored - hits,
        prefetches=stats.tenant.prefetches,
        prefetch_used=stats.tenant.prefetches_used,
        origin_fetches=scored - hits,
        eval_from=eval_from,
        timeline=timeline_of(t_hits, t_requests),
        latency_p50_ms=round(float(np.percentile(ms, 50)), 3),
        latency_p99_ms=round(float(np.percentile(ms, 99)), 3),
        errors=errors,
        keys=trace.keys,
        scrambled_field=trace.scrambled_field,
        format=trace.format,
    )
