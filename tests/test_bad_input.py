"""Bad input gets a clear error and changes nothing: checked through a real cache service on
loopback, reading the state back after every refused call. Each case here was a defect: a TTL
that overflowed after the value was stored (INTERNAL, and the key kept without expiry), an SDK
that stored None as an empty value and 5 as five zero bytes, and a batch larger than a one-tenant
cache blamed on other tenants."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import predis
from conftest import BackgroundSuite
from predis.errors import InvalidArgumentError, ResourceExhaustedError

INT64_MAX = (1 << 63) - 1


@pytest.fixture
def client() -> Iterator[predis.Client]:
    suite = BackgroundSuite(memory_bytes=1 << 20).start()
    try:
        with predis.Client(suite.addresses["cache"]) as c:
            yield c
    finally:
        suite.stop()


def test_ttls_follow_redis_range_and_a_refused_one_changes_nothing(client: predis.Client) -> None:
    assert client.set("long", b"v", ttl_ms=10**13)  # 317 years: Redis accepts it, so does Predis
    assert abs(client.ttl("long") - 10**13) < 5_000
    client.set("kept", b"old", ttl_ms=60_000)
    with pytest.raises(InvalidArgumentError, match="signed 64-bit count of milliseconds"):
        client.set("kept", b"new", ttl_ms=INT64_MAX)  # now + ttl overflows: refused before any write
    with pytest.raises(InvalidArgumentError, match="signed 64-bit"):
        client.set("absent", b"x", ttl_ms=INT64_MAX)
    assert client.get("kept", skip_origin=True) == b"old" and 0 < client.ttl("kept") <= 60_000
    assert client.get("absent", skip_origin=True) is None
    with pytest.raises(InvalidArgumentError, match="signed 64-bit"):
        client.expire("kept", INT64_MAX)
    assert 0 < client.ttl("kept") <= 60_000
    with pytest.raises(InvalidArgumentError, match="signed 64-bit"):
        client.batch_set({"a": b"1", "b": b"2"}, ttl_ms=INT64_MAX)
    assert client.batch_get(["a", "b"], skip_origin=True) == [None, None]
    with pytest.raises(ValueError, match="does not fit a signed 64-bit"):
        client.set("kept", b"new", ttl_ms=1 << 63)  # cannot even be sent
    with pytest.raises(InvalidArgumentError, match="0 \\(no expiry\\) or positive"):
        client.set("kept", b"new", ttl_ms=-5)
    assert client.get("kept", skip_origin=True) == b"old"


def test_the_sdk_refuses_values_and_keys_it_would_have_to_coerce(client: predis.Client) -> None:
    with pytest.raises(TypeError, match="use delete"):
        client.set("k", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value must be bytes, not int"):
        client.batch_set({"k": 5})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="key must be str or bytes, not int"):
        client.get(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ttl_ms must be an integer"):
        client.set("k", b"v", ttl_ms=1.5)  # type: ignore[arg-type]
    assert client.get("k", skip_origin=True) is None  # nothing was sent
    assert client.set("k", bytearray(b"ok")) and client.get("k") == b"ok"  # bytes-like is fine


def test_a_batch_larger_than_a_lone_tenants_budget_says_so(client: predis.Client) -> None:
    before = client.stats().tenant.entries
    items = {f"big{i}": bytes(100_000) for i in range(40)}  # 4 MB into a 1 MiB cache, each under a quarter
    with pytest.raises(ResourceExhaustedError) as refused:
        client.batch_set(items)
    assert "can hold at most" in refused.value.details and "other tenants" not in refused.value.details
    assert "PREDIS_CACHE_MEMORY_BYTES" in refused.value.details
    assert client.stats().tenant.entries == before
    assert client.batch_get(list(items)[:3], skip_origin=True) == [None, None, None]


def test_a_service_at_its_call_limit_sheds_the_next_call_at_once() -> None:
    import threading
    import time

    from predis.plugins.builtin.synthetic_origin import SyntheticOrigin

    suite = BackgroundSuite(origin=SyntheticOrigin(latency_s=1.5, value_size=10), cache_max_concurrent_rpcs=1).start()
    try:
        with predis.Client(suite.addresses["cache"]) as client:
            slow = threading.Thread(target=client.get, args=("slow",))  # a miss: 1.5 s at the origin
            slow.start()
            time.sleep(0.3)
            started = time.perf_counter()
            with pytest.raises(ResourceExhaustedError):
                client.get("other")
            assert time.perf_counter() - started < 0.5  # refused at once, not queued behind the slow call
            slow.join(10)
            assert client.get("slow", skip_origin=True) is not None  # the call it was serving completed
    finally:
        suite.stop()


def test_calls_past_the_pending_queue_are_refused_at_once_and_change_nothing() -> None:
    import asyncio
    import time

    from predis.errors import RefusedError

    suite = BackgroundSuite(cache_max_pending_calls=8).start()
    try:

        async def flood() -> tuple[list[int], list[int], float]:
            async with predis.AsyncClient(suite.addresses["cache"]) as client:
                await client.set("warm", b"up")  # connected before the loop stops
                # The service's loop stops for a second: new calls can only wait in gRPC's core.
                suite.loop.call_soon_threadsafe(time.sleep, 1.0)
                await asyncio.sleep(0.05)
                started = time.perf_counter()
                refused_by: list[float] = []

                async def one(i: int) -> bool:
                    try:
                        await client.set(f"k{i}", b"v%d" % i, timeout=10)
                        return True
                    except RefusedError:
                        refused_by.append(time.perf_counter() - started)
                        return False

                served = await asyncio.gather(*(one(i) for i in range(200)))
                return (
                    [i for i, ok in enumerate(served) if ok],
                    [i for i, ok in enumerate(served) if not ok],
                    max(refused_by, default=0.0),
                )

        served, refused, slowest_refusal = asyncio.run(flood())
        assert refused and served  # at most 8 waited; the rest were told at once
        assert slowest_refusal < 0.9  # refused while the loop was still stopped, not queued behind it
        with predis.Client(suite.addresses["cache"]) as client:
            assert all(client.get(f"k{i}", skip_origin=True) == b"v%d" % i for i in served)
            assert all(client.get(f"k{i}", skip_origin=True) is None for i in refused)  # nothing half-done
    finally:
        suite.stop()


class HungOrigin:
    """An origin that never answers in time (a hung database)."""

    def __init__(self) -> None:
        import threading

        self.calls = 0
        self.release = threading.Event()

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        self.calls += 1
        self.release.wait(30)
        return b"late"

    def close(self) -> None:
        self.release.set()


def test_a_hung_origin_costs_callers_a_timeout_then_nothing() -> None:
    import time

    from predis.errors import PredisError

    origin = HungOrigin()
    suite = BackgroundSuite(origin=origin, origin_timeout_s=0.2).start()
    try:
        with predis.Client(suite.addresses["cache"]) as client:
            client.set("cached", b"still here")
            waits = []
            for i in range(8):
                started = time.perf_counter()
                with pytest.raises(PredisError) as failed:
                    client.get(f"missing{i}")
                waits.append(time.perf_counter() - started)
                assert "nothing was cached" in failed.value.details
            assert max(waits[:5]) < 1.0  # each caller waits at most the origin timeout (0.2 s)...
            assert max(waits[5:]) < 0.1 and origin.calls == 5  # ...then the breaker answers at once
            assert client.get("cached") == b"still here"  # hits never touch the origin
            assert client.get("missing0", skip_origin=True) is None  # nothing cached from a failed fetch
    finally:
        origin.release.set()
        suite.stop()


def test_the_sdk_checks_tenant_names_before_any_call() -> None:
    from predis.config import ClientConfig

    for bad in ("", "has space", "new\nline", "é", "x" * 65):
        with pytest.raises(ValueError, match="tenant .* is not valid"):
            ClientConfig(tenant=bad)
    with pytest.raises(ValueError, match="is not valid"):
        ClientConfig(tenant="ok").metadata_for("not ok")  # a per-call tenant too
    assert ClientConfig(tenant="shop-eu_1.a").metadata == (("predis-tenant", "shop-eu_1.a"),)


def test_batches_and_streams_past_their_limits_are_refused_whole(client: predis.Client) -> None:
    keys = [f"k{i}" for i in range(100_001)]
    with pytest.raises(InvalidArgumentError, match="PREDIS_CACHE_MAX_BATCH_KEYS"):
        client.batch_set({k: b"v" for k in keys})
    with pytest.raises(InvalidArgumentError, match="PREDIS_CACHE_MAX_BATCH_KEYS"):
        client.batch_get(keys)
    assert client.stats().tenant.entries == 0  # nothing was stored
    assert len(client.batch_get(keys[:100_000], skip_origin=True)) == 100_000  # the limit itself is fine
    with pytest.raises(InvalidArgumentError, match="65536"):
        next(iter(client.access_events(max_batch=1_000_000)))


def test_only_a_reset_from_the_server_reads_as_a_refusal() -> None:
    import grpc

    from predis.errors import PredisError, RefusedError, from_rpc_error

    class Failed(grpc.RpcError):
        def __init__(self, code: grpc.StatusCode, details: str) -> None:
            self._code, self._details = code, details

        def code(self) -> grpc.StatusCode:
            return self._code

        def details(self) -> str:
            return self._details

    refused = from_rpc_error(Failed(grpc.StatusCode.CANCELLED, "CANCELLED"), "Set")
    assert isinstance(refused, RefusedError) and "PREDIS_MAX_PENDING_CALLS" in str(refused)
    assert refused.code == grpc.StatusCode.CANCELLED  # what the wire said
    local = from_rpc_error(Failed(grpc.StatusCode.CANCELLED, "Locally cancelled by application!"))
    assert type(local) is PredisError  # this process cancelled it: not the server's refusal
