"""The four services as real gRPC servers on loopback, called through the SDK."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import descriptor_pb2, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

import predis
from conftest import BackgroundSuite
from predis import ClientConfig
from predis.v1 import cache_pb2, common_pb2, drift_pb2

SERVICES = {
    "cache": "predis.v1.CacheService",
    "predictor": "predis.v1.PredictorService",
    "drift": "predis.v1.DriftService",
    "retrainer": "predis.v1.RetrainerService",
}


def test_every_service_answers_serving_to_a_standard_health_check(suite: BackgroundSuite) -> None:
    for name, full_name in SERVICES.items():
        with grpc.insecure_channel(suite.addresses[name]) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for service in ("", full_name):
                response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
                assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_and_describes_each_service_like_grpcurl(suite: BackgroundSuite) -> None:
    for name, full_name in SERVICES.items():
        with grpc.insecure_channel(suite.addresses[name]) as channel:
            db = ProtoReflectionDescriptorDatabase(channel)
            assert full_name in set(db.get_services())
            assert "grpc.health.v1.Health" in set(db.get_services())
            pool = DescriptorPool(db)
            assert pool.FindServiceByName(full_name).methods


def test_a_call_built_only_from_reflection_works(suite: BackgroundSuite) -> None:
    # What `grpcurl -d '{"key": "..."}' ADDR predis.v1.CacheService/Get` does: no generated code.
    with grpc.insecure_channel(suite.addresses["cache"]) as channel:
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        method = pool.FindServiceByName("predis.v1.CacheService").FindMethodByName("Set")
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        call = channel.unary_unary(
            "/predis.v1.CacheService/Set",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString,
        )
        assert call(request_cls(key=b"reflected", value=b"yes"), timeout=2).stored
    assert descriptor_pb2  # the descriptor types came over the wire, not from sdk/
    with predis.Client(suite.addresses["cache"]) as client:
        assert client.get("reflected") == b"yes"


def test_sdk_round_trips_a_call_to_each_service(suite: BackgroundSuite) -> None:
    with predis.Client(**suite.client_kwargs()) as client:
        assert client.set("k", b"v", ttl_ms=60_000)
        assert client.get("k") == b"v"
        assert 0 < client.ttl("k") <= 60_000
        assert client.predictor.list_models() == []
        batch = drift_pb2.ObserveEventsRequest(
            events=[common_pb2.AccessEvent(key=b"k", kind=common_pb2.ACCESS_KIND_HIT)] * 3
        )
        assert client.drift.observe([batch, batch]).events_received == 6
        assert client.drift.status().events_observed == 6
        assert client.retrainer.list_jobs() == []


async def test_async_sdk_round_trips(suite: BackgroundSuite) -> None:
    async with predis.AsyncClient(**suite.client_kwargs()) as client:
        assert await client.set(b"a", b"1")
        assert await client.batch_set({b"b": b"2", b"c": b""}) == 2
        assert await client.batch_get([b"a", b"b", b"c", b"missing"], skip_origin=True) == [b"1", b"2", b"", None]
        assert await client.exists(b"a", b"b", b"zzz") == 2
        assert await client.delete(b"a") == 1
        stats = await client.stats()
        assert stats.predictor.reachable
        assert stats.tenant.tenant == "default"


def test_tenants_are_isolated_through_the_service(suite: BackgroundSuite) -> None:
    a = predis.Client(suite.addresses["cache"], config=ClientConfig(tenant="alpha"))
    b = predis.Client(suite.addresses["cache"], config=ClientConfig(tenant="beta"))
    with a, b:
        a.set("shared-name", b"alpha's")
        assert b.get("shared-name") is None
        assert b.exists("shared-name") == 0
        assert b.delete("shared-name") == 0
        assert b.flush() == 0
        assert a.get("shared-name") == b"alpha's"
        assert b.stats().tenant.entries == 0


@pytest.mark.parametrize(
    ("call", "error", "needle"),
    [
        (lambda c: c.get(b""), predis.InvalidArgumentError, "a key is empty"),
        (lambda c: c.set(b"k", b"x" * (1024 * 1024 + 1)), predis.InvalidArgumentError, "larger than the maximum"),
        (lambda c: c.set(b"k", b"v", ttl_ms=-1), predis.InvalidArgumentError, "ttl_ms"),
        (lambda c: c.retrainer.get_job("nope"), predis.NotFoundError, "no training job"),
        (lambda c: c.predictor.model_status("v9"), predis.NotFoundError, "not loaded"),
        (lambda c: c.predictor.predict([[0.0, 1.0]]), predis.FailedPreconditionError, "no model is loaded"),
        (lambda c: c.prefetch(b"k"), predis.FailedPreconditionError, "needs an origin"),
        (lambda c: c.hint("group", [b"only-one"]), predis.InvalidArgumentError, "2 to 1000 keys"),
        (lambda c: c.predictor.load_model("v1", "/tmp/none"), predis.NotFoundError, "does not exist"),
    ],
)
def test_bad_input_gets_a_clear_status_and_changes_nothing(
    suite: BackgroundSuite,
    call,
    error: type[predis.PredisError],
    needle: str,  # type: ignore[no-untyped-def]
) -> None:
    with predis.Client(**suite.client_kwargs()) as client:
        client.set(b"k", b"before")
        with pytest.raises(error) as raised:
            call(client)
        assert needle in raised.value.details
        assert "Traceback" not in raised.value.details
        assert client.get(b"k") == b"before"


def test_batch_set_is_all_or_nothing(suite: BackgroundSuite) -> None:
    with predis.Client(suite.addresses["cache"]) as client:
        with pytest.raises(predis.InvalidArgumentError):
            client.batch_set([(b"ok1", b"1"), (b"", b"2"), (b"ok3", b"3")])
        assert client.exists(b"ok1", b"ok3") == 0


def test_invalid_tenant_is_refused(suite: BackgroundSuite) -> None:
    from predis.v1 import cache_pb2_grpc

    with pytest.raises(ValueError, match="tenant"):  # the SDK refuses it before calling
        ClientConfig(tenant="no spaces allowed")
    with grpc.insecure_channel(suite.addresses["cache"]) as channel:  # a client that does not check
        stub = cache_pb2_grpc.CacheServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Get(cache_pb2.GetRequest(key=b"k"), metadata=(("predis-tenant", "no spaces allowed"),), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "tenant" in refused.value.details()


def test_prefetch_through_the_service_loads_without_blocking() -> None:
    from predis.plugins.builtin.synthetic_origin import SyntheticOrigin

    suite = BackgroundSuite(origin=SyntheticOrigin(latency_s=0.05, value_size=10)).start()
    try:
        with predis.Client(suite.addresses["cache"]) as client:
            assert client.prefetch(b"p1", b"p2") == 2
            deadline = time.monotonic() + 5
            while client.stats().tenant.prefetches < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            answer = client.lookup(b"p1")
            assert answer.found and answer.source == cache_pb2.VALUE_SOURCE_PREFETCH
            stats = client.stats().tenant
            assert (stats.prefetches, stats.prefetches_used, stats.origin_fetches) == (2, 1, 2)
            assert client.lookup(b"p1").source == cache_pb2.VALUE_SOURCE_CACHE
            assert client.batch_get([b"fresh"]) == [client.get(b"fresh")]  # read-through in a batch
            # A hinted sequence: reading its first key prefetches the next.
            assert client.hint("sequence", [b"page:1", b"page:2", b"page:3"]) == 2
            client.get(b"page:1")
            deadline = time.monotonic() + 5
            while client.stats().tenant.prefetches < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert client.lookup(b"page:2").source == cache_pb2.VALUE_SOURCE_PREFETCH
    finally:
        suite.stop()
