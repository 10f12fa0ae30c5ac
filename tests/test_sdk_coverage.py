"""Every RPC of every generated stub is reachable from both friendly clients."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

import predis
from conftest import BackgroundSuite
from predis.services.runtime import server as server_module
from predis.v1 import cache_pb2, common_pb2, drift_pb2, predictor_pb2, retrainer_pb2

FILES = (cache_pb2, predictor_pb2, drift_pb2, retrainer_pb2)


def all_rpcs() -> set[str]:
    return {
        f"/{service.full_name}/{method.name}"
        for module in FILES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }


class RecordingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        self.seen.add(handler_call_details.method)
        return await continuation(handler_call_details)


def sync_calls(c: predis.Client) -> list[Any]:
    outcome = common_pb2.PrefetchOutcome(model_version="v1", outcome=common_pb2.PREFETCH_OUTCOME_KIND_USED)
    return [
        lambda: c.get(b"k"),
        lambda: c.lookup(b"k"),
        lambda: c.set(b"k", b"v"),
        lambda: c.delete(b"k"),
        lambda: c.exists(b"k"),
        lambda: c.expire(b"k", 10),
        lambda: c.persist(b"k"),
        lambda: c.ttl(b"k"),
        lambda: c.batch_get([b"k"]),
        lambda: c.batch_set({b"k": b"v"}),
        lambda: c.prefetch(b"k"),
        lambda: c.hint("group", [b"a", b"b"]),
        lambda: c.stats(),
        lambda: c.flush(),
        lambda: list(c.access_events(timeout=1)),
        lambda: c.predictor.predict(np.zeros((1, 2))),
        lambda: c.predictor.load_model("v1", "/x"),
        lambda: c.predictor.unload_model("v1"),
        lambda: c.predictor.list_models(),
        lambda: c.predictor.set_traffic({"v1": ("champion", 1.0)}),
        lambda: c.predictor.model_status("v1"),
        lambda: c.predictor.report_outcomes([outcome]),
        lambda: c.drift.observe([drift_pb2.ObserveEventsRequest()]),
        lambda: c.drift.status(),
        lambda: list(c.drift.alerts(timeout=1)),
        lambda: c.drift.reset_reference("t", 0, 1),
        lambda: c.retrainer.start_training(),
        lambda: c.retrainer.get_job("j"),
        lambda: c.retrainer.list_jobs(),
        lambda: c.retrainer.promote("v1"),
        lambda: c.retrainer.rollback(),
    ]


def async_calls(c: predis.AsyncClient) -> list[Any]:
    async def drain(iterator: Any) -> list[Any]:
        return [item async for item in iterator]

    async def requests() -> Any:
        yield drift_pb2.ObserveEventsRequest()

    return [
        lambda: c.get(b"k"),
        lambda: c.lookup(b"k"),
        lambda: c.set(b"k", b"v"),
        lambda: c.delete(b"k"),
        lambda: c.exists(b"k"),
        lambda: c.expire(b"k", 10),
        lambda: c.persist(b"k"),
        lambda: c.ttl(b"k"),
        lambda: c.batch_get([b"k"]),
        lambda: c.batch_set({b"k": b"v"}),
        lambda: c.prefetch(b"k"),
        lambda: c.hint("sequence", [b"a", b"b"]),
        lambda: c.stats(),
        lambda: c.flush(),
        lambda: drain(c.access_events(timeout=1)),
        lambda: c.predictor.predict(np.zeros((1, 2))),
        lambda: c.predictor.load_model("v1", "/x"),
        lambda: c.predictor.unload_model("v1"),
        lambda: c.predictor.list_models(),
        lambda: c.predictor.set_traffic({"v1": ("shadow", 0.0)}),
        lambda: c.predictor.model_status("v1"),
        lambda: c.predictor.report_outcomes([]),
        lambda: c.drift.observe(requests()),
        lambda: c.drift.status(),
        lambda: drain(c.drift.alerts(timeout=1)),
        lambda: c.drift.reset_reference("t", 0, 1),
        lambda: c.retrainer.start_training(),
        lambda: c.retrainer.get_job("j"),
        lambda: c.retrainer.list_jobs(),
        lambda: c.retrainer.promote("v1"),
        lambda: c.retrainer.rollback(),
    ]


@pytest.fixture
def recorded_suite(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BackgroundSuite, RecordingInterceptor]]:
    recorder = RecordingInterceptor()
    original = server_module.server_interceptors
    monkeypatch.setattr(server_module, "server_interceptors", lambda tp: [*original(tp), recorder])
    suite = BackgroundSuite().start()
    yield suite, recorder
    suite.stop()


def test_every_rpc_is_reachable_from_the_sync_client(
    recorded_suite: tuple[BackgroundSuite, RecordingInterceptor],
) -> None:
    suite, recorder = recorded_suite
    with predis.Client(**suite.client_kwargs()) as client:
        for call in sync_calls(client):
            # UNIMPLEMENTED or NOT_FOUND still proves the RPC reached its servicer.
            with contextlib.suppress(predis.PredisError):
                call()
    assert recorder.seen >= all_rpcs(), sorted(all_rpcs() - recorder.seen)


async def test_every_rpc_is_reachable_from_the_async_client(
    recorded_suite: tuple[BackgroundSuite, RecordingInterceptor],
) -> None:
    suite, recorder = recorded_suite
    async with predis.AsyncClient(**suite.client_kwargs()) as client:
        for call in async_calls(client):
            with contextlib.suppress(predis.PredisError):
                await call()
    assert recorder.seen >= all_rpcs(), sorted(all_rpcs() - recorder.seen)


def test_clients_have_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")} - {"close"}

    assert public(predis.Client) - {"__enter__", "__exit__"} == public(predis.AsyncClient) - {"__aenter__", "__aexit__"}
