"""``predis demo``: starts the suite on this machine, calls each service, prints what it answered."""

from __future__ import annotations

import tempfile
from pathlib import Path

from predis.client import Client
from predis.errors import PredisError
from predis.services.supervisor import start_suite
from predis.v1 import common_pb2, drift_pb2


def run_demo() -> int:
    with tempfile.TemporaryDirectory(prefix="predis-demo-") as tmp:
        print("Starting the four services on loopback (free ports)...")
        suite = start_suite(base_port=0, log_dir=Path(tmp), extra_env={"PREDIS_ORIGIN": "synthetic:?value_size=16"})
        try:
            for service in suite.services:
                print(f"  {service.name:<10} {service.address}")
            _call_each(suite.addresses)
        finally:
            suite.stop()
            print("Stopped the suite.")
    return 0


def _call_each(addresses: dict[str, str]) -> None:
    with Client(
        addresses["cache"],
        predictor=addresses["predictor"],
        drift=addresses["drift"],
        retrainer=addresses["retrainer"],
    ) as client:
        print("\ncache:")
        print(f"  set(b'greeting', b'hello')        -> stored={client.set(b'greeting', b'hello')}")
        print(f"  get(b'greeting')                  -> {client.get(b'greeting')!r}")
        answer = client.lookup(b"user:42")
        print(f"  get(b'user:42') (a miss)          -> {answer.value.hex()} from the synthetic origin")
        stats = client.stats()
        print(
            f"  stats                             -> hits={stats.tenant.hits} misses={stats.tenant.misses} "
            f"entries={stats.engine.entries} memory={stats.engine.memory_bytes} B"
        )
        print(f"  stats.predictor (cache -> predictor) -> reachable={stats.predictor.reachable}")
        print("\npredictor:")
        print(f"  list_models                       -> {len(client.predictor.list_models())} models loaded")
        print("\ndrift:")
        event = common_pb2.AccessEvent(tenant="default", key=b"greeting", kind=common_pb2.ACCESS_KIND_HIT)
        received = client.drift.observe([drift_pb2.ObserveEventsRequest(events=[event])])
        print(f"  observe(1 event)                  -> received {received.events_received}")
        print(f"  status                            -> events observed {client.drift.status().events_observed}")
        print("\nretrainer:")
        print(f"  list_jobs                         -> {len(client.retrainer.list_jobs())} jobs")
        try:
            client.retrainer.start_training()
        except PredisError as error:
            print(f"  start_training                    -> {error.code.name}: {error.details}")
