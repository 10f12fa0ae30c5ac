"""The last part of ``predis demo``: the traffic changes under the running suite, and the closed
loop reacts by itself. Tenant ``learned`` keeps reading cache2k-orm-busy (the traffic its model
learned) until the drift service has a reference of it, then switches to cache2k-web07 (product
pages of another shop, also shipped with Predis, honest keys). Nothing tells the services of the
switch: the demo only watches and prints the drift service's alerts and the retrainer's job as it
trains on the new traffic, validates the challenger against the champion by replay, and promotes
or rejects it.

The drift service and retrainer run with smaller windows than their defaults here (see
``SWITCH_ENV``) so that the demo fits in a minute; ``predis bench drift`` runs the defaults.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from predis.client import Client
from predis.config import ClientConfig
from predis.services.bench.drift import Watch, poll_jobs, retrainer_state, watch_alerts
from predis.services.replay.keys import load_trace
from predis.v1 import retrainer_pb2

SWITCH_TRACE = Path(__file__).resolve().parent / "replay" / "data" / "cache2k-web07.trace.xz"
# Settings the suite starts with when the demo switches traffic (the services' defaults need
# 66,000 events before they watch and 20,000 after a change before they train).
SWITCH_ENV = {
    "PREDIS_DRIFT_HORIZON": "4096",
    "PREDIS_DRIFT_REFERENCE_EVENTS": "20000",
    "PREDIS_DRIFT_MIN_REFERENCE_EVENTS": "5000",
    "PREDIS_RETRAINER_MIN_EVENTS": "15000",
    "PREDIS_RETRAINER_TENANT_MIN_EVENTS": "5000",
    "PREDIS_RETRAINER_VOLUME_EVENTS": "0",
    "PREDIS_RETRAINER_MIN_INTERVAL_S": "5",
    "PREDIS_RETRAINER_CACHE_SIZE": "500",
    "PREDIS_SEGMENT_AGE_S": "2",
}
TENANT = "learned"
BATCH = 16
RATE = 3000.0  # keys a second: fast enough for the windows, slow enough for the loop to be seen


def _send(client: Client, names: list[bytes], rate: float, stop_when: threading.Event | None = None) -> None:
    began = time.monotonic()
    for start in range(0, len(names), BATCH):
        if stop_when is not None and stop_when.is_set():
            return
        wait = began + start / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        client.batch_get(names[start : start + BATCH])


def switch_names() -> tuple[str, list[bytes]]:
    """The new traffic: its trace's name and each request's key, as the demo names them."""
    trace = load_trace(SWITCH_TRACE, keys="auto")
    return trace.name, [b"page:%d" % (int(k) & 0xFFFFFFFF) for k in trace.ids.tolist()]


def run_switch(addresses: dict[str, str], before: list[bytes], timeout_s: float = 120.0) -> None:
    """``before``: more of the tenant's old traffic (its names, in order), sent first."""
    after_name, after = switch_names()
    print(
        f"\nThe traffic changes. Tenant '{TENANT}' reads {len(before):,} more requests of its old traffic, "
        f"then switches to {after_name} ({len(after):,} requests, another shop's product pages), "
        f"{RATE:,.0f} keys/s. Nobody tells the services; watching them:"
    )
    watch, stop = Watch(), threading.Event()
    threads = [
        threading.Thread(target=watch_alerts, args=(addresses["drift"], watch, stop, TENANT), daemon=True),
        threading.Thread(target=poll_jobs, args=(addresses["retrainer"], watch, stop, TENANT), daemon=True),
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    shown_alerts, shown_states = 0, dict[str, str]()
    done = threading.Event()
    finished = False
    switched_ns = [0]  # when the new traffic began (wall clock): only a job after it ends the demo

    def traffic() -> None:
        with Client(addresses["cache"], config=ClientConfig(tenant=TENANT, tracing=False)) as client:
            _send(client, before, RATE)
            switched_ns[0] = time.time_ns()
            print(f"  {time.monotonic() - started:5.1f}s  switched to {after_name}", flush=True)
            while not done.is_set():  # the new traffic goes on until the loop has finished
                _send(client, after, RATE, done)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    deadline = started + timeout_s
    while time.monotonic() < deadline and not done.is_set():
        time.sleep(0.25)
        for _, alert in watch.alerts[shown_alerts:]:
            print(
                f"  {time.monotonic() - started:5.1f}s  alert {alert.id}: {alert.detector} on {alert.signal}, "
                f"statistic {alert.statistic:.3f}, effect {alert.effect_size:.3f} (needs {alert.threshold:.3f}), "
                f"window of {alert.window_size:,} events against a reference of {alert.reference_size:,}",
                flush=True,
            )
        shown_alerts = len(watch.alerts)
        for job in list(watch.jobs.values()):
            state = retrainer_state(job.state)
            if shown_states.get(job.id) == state or state == "SKIPPED":
                continue
            shown_states[job.id] = state
            print(f"  {time.monotonic() - started:5.1f}s  job {job.id} {state.lower()}: {_job_line(job)}", flush=True)
            after_switch = switched_ns[0] and job.created_unix_nano >= switched_ns[0]
            if state in ("PROMOTED", "REJECTED", "FAILED") and after_switch:
                finished = True
                done.set()
    done.set()
    stop.set()
    sender.join(10)
    if not finished:
        print(f"  no job after the switch ended within {timeout_s:.0f}s (see the drift service's GetStatus)")


def _job_line(j: retrainer_pb2.Job) -> str:
    state = retrainer_state(j.state)
    if state == "QUEUED":
        return f"{j.reason} ({j.note or 'waiting'})"
    if state == "TRAINING":
        return f"training a challenger on the traffic since the change ({j.note or 'segments'})"
    if state == "VALIDATING":
        return f"trained on {j.training_events:,} events in {j.training_seconds:.1f}s; replaying held-out traffic"
    v = j.validation
    replay = (
        f"replayed {v.requests:,} held-out requests: champion {v.champion.hit_ratio:.4f}, challenger "
        f"{v.candidate.hit_ratio:.4f} ({v.hit_ratio_difference * 100:+.2f} points, 95% CI "
        f"{v.ci_low * 100:+.2f} to {v.ci_high * 100:+.2f})"
    )
    if state in ("PROMOTING", "VALIDATED"):
        return replay
    if state == "PROMOTED":
        return f"{j.candidate_version} is champion (shadow, then A/B, then all traffic); {replay}"
    if state == "REJECTED":
        return j.note
    return j.error or j.note
