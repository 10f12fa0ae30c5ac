"""Per-tenant quotas through real servers: memory, request rate and prefetch budget of the cache
(gRPC with the SDK, RESP with redis-py, one cache domain behind both), and the retrainer's job
limit. A refused request changes nothing; another tenant is not affected.

Rates are tiny (one request per thousand seconds) or the clock is the test's, so nothing here
depends on how fast the machine is."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
import redis
from opentelemetry.sdk.trace import TracerProvider
from test_resp_harness import RawClient

import predis
from conftest import LoopThread
from predis.config import ClientConfig
from predis.services.cache import server as cache_server
from predis.services.cache.admission import PrefetchBudget, RateLimit, RequestRates
from predis.services.cache.domain import CacheDomain
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.prefetch_outcomes import PrefetchIssuer
from predis.services.cache.settings import CacheSettings
from predis.services.models.store import ModelStore
from predis.services.resp.server import RespServer, create_resp_server
from predis.services.retrainer import server as retrainer_server
from predis.services.retrainer.adaptation import BUILT_IN
from predis.services.retrainer.jobs import JobBook, JobState, Trigger, TriggerKind
from predis.services.retrainer.loop import RetrainingLoop
from predis.services.retrainer.settings import RetrainerSettings
from predis.services.retrainer.triggers import DriftAlert
from predis.services.runtime.errors import Overloaded, RateLimited
from predis.services.runtime.server import RunningServer
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.v1 import cache_pb2

T = TypeVar("T")
LOOPBACK = ServerSettings(listen="127.0.0.1:0")
USERS = "alice:pa=a,bob:pb=b,carol:pc=c"
BASE_ENV = {
    "PREDIS_CACHE_BACKEND": "numpy",
    "PREDIS_CACHE_MEMORY_BYTES": str(32 * 1024 * 1024),
    "PREDIS_CACHE_SHADOW": "off",
    "PREDIS_CACHE_COLLECTOR_EVENTS": "0",
}
SLOW = "0.001"  # one request per thousand seconds: once spent, a bucket stays empty for the test


class QuotaCache:
    """The cache service as ``predis serve cache`` builds it from these variables (``build_deps``):
    its gRPC server and its RESP server over one domain, users alice, bob and carol acting for
    tenants a, b and c."""

    def __init__(self, env: dict[str, str]) -> None:
        resp = {"PREDIS_RESP_LISTEN": "127.0.0.1:0", "PREDIS_RESP_USERS": USERS}
        self.settings = CacheSettings.from_env({**BASE_ENV, **resp, **env}, "127.0.0.1:0")
        self.thread = LoopThread()
        self.thread.start_loop()
        self.thread.run(self._start())

    async def _start(self) -> None:
        self.deps = cache_server.build_deps(self.settings, None)
        self.grpc: RunningServer = await cache_server.create_server(LOOPBACK, self.deps, TracerProvider())
        self.resp: RespServer
        self.resp, self.resp_port = await create_resp_server(self.settings.resp, self.deps.cache)
        self.address = f"127.0.0.1:{self.grpc.port}"

    @property
    def domain(self) -> CacheDomain:
        return self.deps.cache

    def client(self, tenant: str) -> predis.Client:
        return predis.Client(self.address, config=ClientConfig(tenant=tenant, tracing=False))

    def redis(self, user: str) -> redis.Redis:
        return redis.Redis(port=self.resp_port, username=user, password=f"p{user[0]}", socket_timeout=5)

    def raw(self, user: str) -> RawClient:
        raw = RawClient(self.resp_port)
        assert raw.call("AUTH", user, f"p{user[0]}") == b"+OK\r\n"
        return raw

    def counters(self, tenant: str) -> dict[str, int]:
        return self.thread.call(lambda: self.domain.counters(tenant))

    def peek(self, tenant: str, key: bytes) -> bytes | None:
        return self.thread.call(lambda: self.domain.peek(tenant, key))

    def stop(self) -> None:
        async def stop() -> None:
            await self.resp.close()
            await self.grpc.stop(0.5)
            await self.deps.close()

        self.thread.run(stop())
        self.thread.stop_loop()


MakeCache = Callable[[dict[str, str]], QuotaCache]


@pytest.fixture
def make_cache() -> Iterator[MakeCache]:
    started: list[QuotaCache] = []

    def make(env: dict[str, str]) -> QuotaCache:
        started.append(QuotaCache(env))
        return started[-1]

    yield make
    for cache in started:
        cache.stop()


# -- memory ------------------------------------------------------------------------------------


def test_a_tenant_over_its_memory_quota_is_refused_on_both_front_ends_and_others_still_write(
    make_cache: MakeCache,
) -> None:
    cache = make_cache({"PREDIS_CACHE_TENANT_QUOTAS": "a=65536"})
    big = b"x" * 100_000  # more than tenant a's quota at once; well under the value limit
    with cache.client("a") as a, cache.client("b") as b:
        assert a.set(b"k", b"old")
        with pytest.raises(predis.ResourceExhaustedError) as refused:
            a.set(b"k", big)
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "tenant 'a'" in refused.value.details and "65536" in refused.value.details
        assert a.get(b"k") == b"old"  # nothing changed
        half = b"y" * 40_000  # each fits the quota, together they do not: refused whole
        with pytest.raises(predis.ResourceExhaustedError, match="its quota, PREDIS_CACHE_TENANT_QUOTAS"):
            a.batch_set({b"k": half, b"k3": half})
        assert a.batch_get([b"k", b"k3"], skip_origin=True) == [b"old", None]
        assert b.set(b"k", big) and b.get(b"k") == big

    raw = cache.raw("alice")
    try:
        reply = raw.call("SET", "k", big)
        assert reply.startswith(b"-OOM command not allowed when used memory > 'maxmemory'. tenant 'a'"), reply
        assert raw.call("GET", "k") == b"$3\r\nold\r\n"
    finally:
        raw.close()
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        cache.redis("alice").set("k2", big)
    assert cache.redis("bob").set("k2", big) is True
    assert cache.peek("a", b"k2") is None and cache.peek("b", b"k2") == big


# -- request rate ------------------------------------------------------------------------------


def test_the_request_rate_refuses_a_tenant_over_it_with_resource_exhausted_and_changes_nothing(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(
        {"PREDIS_TENANT_RATE_LIMIT": SLOW, "PREDIS_TENANT_RATE_BURST": "3", "PREDIS_TENANT_RATE_LIMITS": "b=0"}
    )
    with cache.client("a") as a, cache.client("b") as b:
        assert a.set(b"k", b"v1")
        assert a.get(b"k") == b"v1"
        assert a.batch_set({b"x": b"1", b"y": b"2", b"z": b"3"}) == 3  # a batch is one request
        for refused_call in (lambda: a.set(b"k", b"v2"), lambda: a.delete(b"k"), a.flush, a.stats):
            with pytest.raises(predis.ResourceExhaustedError) as refused:
                refused_call()
            assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = refused.value.details
        assert details.startswith("request rate limit reached: tenant 'a' may make 0.001 requests a second, 3 at once")
        assert "PREDIS_TENANT_RATE_LIMIT, PREDIS_TENANT_RATE_BURST" in details and "retry in" in details
        for i in range(20):  # b's override: unlimited
            assert b.set(b"k", b"%d" % i)
        assert b.stats().tenant.entries == 1
    assert cache.peek("a", b"k") == b"v1" and cache.peek("a", b"x") == b"1"  # the refused calls did nothing
    # One owner: the same bucket refuses tenant a on RESP too (alice acts for a).
    with pytest.raises(redis.exceptions.ResponseError, match="request rate limit reached: tenant 'a'"):
        cache.redis("alice").get("k")


def test_resp_refuses_over_the_rate_with_an_err_reply_and_connection_commands_stay_usable(
    make_cache: MakeCache,
) -> None:
    cache = make_cache({"PREDIS_TENANT_RATE_LIMIT": SLOW, "PREDIS_TENANT_RATE_BURST": "3"})
    raw = cache.raw("alice")  # AUTH is not a request
    try:
        assert raw.call("SET", "k", "v1") == b"+OK\r\n"
        assert raw.call("GET", "k") == b"$2\r\nv1\r\n"
        assert raw.call("MSET", "x", "1", "y", "2") == b"+OK\r\n"
        reply = raw.call("SET", "k", "v2")
        assert reply.startswith(b"-ERR request rate limit reached: tenant 'a' may make 0.001 requests a second"), reply
        assert b"PREDIS_TENANT_RATE_LIMIT" in reply
        assert raw.call("INCR", "x").startswith(b"-ERR request rate limit reached")
        # Connection commands are no requests: they still answer.
        assert raw.call("PING") == b"+PONG\r\n"
        assert raw.call("ECHO", "hi") == b"$2\r\nhi\r\n"
        assert raw.call("SELECT", "1") == b"+OK\r\n"
        assert raw.call("CLIENT", "SETNAME", "limited") == b"+OK\r\n"
        assert raw.call("HELLO", "3").startswith(b"%7\r\n")
        assert raw.call("AUTH", "alice", "pa") == b"+OK\r\n"
        assert raw.call("RESET") == b"+RESET\r\n"
        assert raw.call("QUIT") == b"+OK\r\n"
    finally:
        raw.close()
    assert cache.peek("a", b"k") == b"v1" and cache.peek("a", b"x") == b"1"
    bob = cache.redis("bob")  # tenant b has its own bucket
    assert bob.set("k", "b's") is True and bob.get("k") == b"b's" and bob.incr("n") == 1


def test_a_transaction_is_one_request_and_a_refused_exec_applies_none_of_it(make_cache: MakeCache) -> None:
    cache = make_cache({"PREDIS_TENANT_RATE_LIMIT": SLOW, "PREDIS_TENANT_RATE_BURST": "2"})
    carol = cache.redis("carol")
    with carol.pipeline(transaction=True) as pipe:  # MULTI, four SETs, EXEC: one request
        for key in ("a", "b", "c", "d"):
            pipe.set(key, "1")
        assert pipe.execute() == [True] * 4
    assert carol.get("a") == b"1"  # the second request: the bucket is empty now
    refused = pytest.raises(redis.exceptions.ExecAbortError, match="because of: request rate limit reached")
    with refused, carol.pipeline(transaction=True) as pipe:
        pipe.set("a", "2")
        pipe.set("e", "2")
        pipe.execute()
    assert cache.peek("c", b"a") == b"1" and cache.peek("c", b"e") is None


def test_the_rate_admits_a_burst_then_refills_at_its_rate_on_the_injected_clock() -> None:
    now = [100.0]
    rates = RequestRates(RateLimit(per_second=2.0, overrides={"fast": 10.0, "free": 0.0}), clock=lambda: now[0])
    for _ in range(2):  # a burst of one second's worth
        rates.admit("t")
    with pytest.raises(RateLimited, match=r"tenant 't' may make 2 requests a second, 2 at once .* retry in 0\.50s"):
        rates.admit("t")
    assert isinstance(RateLimited("x"), Overloaded)  # so gRPC says RESOURCE_EXHAUSTED
    now[0] += 0.5
    rates.admit("t")
    with pytest.raises(RateLimited):
        rates.admit("t")
    now[0] += 60  # a long pause saves up one burst, no more
    rates.admit("t")
    rates.admit("t")
    with pytest.raises(RateLimited):
        rates.admit("t")
    for _ in range(10):  # an override: its own rate and burst
        rates.admit("fast")
    with pytest.raises(RateLimited, match=r"10 requests a second, 10 at once \(PREDIS_TENANT_RATE_LIMITS\)"):
        rates.admit("fast")
    for _ in range(1000):
        rates.admit("free")
    slow = RequestRates(RateLimit(per_second=0.25), clock=lambda: now[0])
    slow.admit("t")  # below one a second, a bucket still holds one request
    with pytest.raises(RateLimited, match=r"retry in 4\.00s"):
        slow.admit("t")
    unlimited = RequestRates()
    assert not unlimited.limits_any
    for _ in range(1000):
        unlimited.admit("t")


# -- prefetch budget ---------------------------------------------------------------------------


def test_the_prefetch_budget_skips_and_counts_keys_over_it_but_not_read_through(make_cache: MakeCache) -> None:
    cache = make_cache(
        {
            "PREDIS_ORIGIN": "synthetic:?value_size=8",
            "PREDIS_TENANT_PREFETCH_RATE": SLOW,
            "PREDIS_TENANT_PREFETCH_RATES": "b=0",
        }
    )
    with cache.client("a") as a, cache.client("b") as b:
        assert a.prefetch(b"p1", b"p2", b"p3", b"p4", b"p5") == 1  # not an error: fewer queued
        assert cache.counters("a")["prefetches_over_budget"] == 4
        assert a.prefetch(b"p6", b"p7") == 0
        assert a.hint("group", [b"h1", b"h2", b"h3"]) > 0
        before = cache.counters("a")
        # A read of a miss is the client's own: read through, whatever the prefetch budget says;
        # its hinted followers are prefetches, over the budget.
        assert a.lookup(b"h1").source == cache_pb2.VALUE_SOURCE_ORIGIN
        assert len(a.get(b"m1") or b"") == 8
        after = cache.counters("a")
        assert after["prefetches_over_budget"] == before["prefetches_over_budget"] + 2
        assert after["prefetches_issued"] == before["prefetches_issued"] == 1
        assert after["origin_fetches"] >= before["origin_fetches"] + 2
        assert b.prefetch(b"p1", b"p2", b"p3", b"p4", b"p5") == 5  # b's override: unlimited
        assert cache.counters("b")["prefetches_over_budget"] == 0
    info = cache.redis("alice").info("prefetch")
    assert info["prefetches_over_budget"] == after["prefetches_over_budget"] == 8
    assert cache.redis("bob").info("prefetch")["prefetches_over_budget"] == 0


async def test_the_learned_loops_prefetches_keep_to_the_budget_on_the_injected_clock() -> None:
    class Origin:
        def fetch(self, tenant: str, key: bytes) -> bytes:
            return b"value"

        def close(self) -> None:
            pass

    now = [0.0]
    budget = PrefetchBudget(RateLimit(per_second=2.0), clock=lambda: now[0])
    domain = CacheDomain(Engine(EngineConfig(memory_bytes=1 << 20), NumpyStorage()), Origin(), prefetch_budget=budget)
    try:
        keys = [b"k%d" % i for i in range(5)]
        assert len(domain.start_prefetches("t", keys, PrefetchIssuer.LOOP)) == 2
        assert domain.counters("t")["prefetches_over_budget"] == 3
        now[0] += 0.5
        assert [p.key for p in domain.start_prefetches("t", keys[2:], PrefetchIssuer.LOOP)] == [b"k2"]
        assert domain.counters("t")["prefetches_over_budget"] == 5
        assert len(domain.start_prefetches("u", keys, PrefetchIssuer.LOOP)) == 2  # every tenant its own
        assert domain.counters("t")["prefetches_issued"] == 3
    finally:
        domain.close()


# -- settings ----------------------------------------------------------------------------------


def test_quota_settings_are_read_and_bad_values_name_their_variable() -> None:
    plain = CacheSettings.from_env({})
    assert (plain.tenant_rate_limit, plain.tenant_rate_burst, plain.tenant_prefetch_rate) == (0.0, 0.0, 0.0)
    assert plain.tenant_rate_limits == {} and plain.tenant_prefetch_rates == {}
    settings = CacheSettings.from_env(
        {
            "PREDIS_TENANT_RATE_LIMIT": "500",
            "PREDIS_TENANT_RATE_BURST": "50",
            "PREDIS_TENANT_RATE_LIMITS": " acme=2000 , beta=0 ",
            "PREDIS_TENANT_PREFETCH_RATE": "100",
            "PREDIS_TENANT_PREFETCH_RATES": "acme=12.5",
        }
    )
    assert (settings.tenant_rate_limit, settings.tenant_rate_burst) == (500.0, 50.0)
    assert settings.tenant_rate_limits == {"acme": 2000.0, "beta": 0.0}
    assert (settings.tenant_prefetch_rate, settings.tenant_prefetch_rates) == (100.0, {"acme": 12.5})
    for name, value in [
        ("PREDIS_TENANT_RATE_LIMIT", "fast"),
        ("PREDIS_TENANT_RATE_LIMIT", "-1"),
        ("PREDIS_TENANT_RATE_LIMIT", "inf"),
        ("PREDIS_TENANT_RATE_BURST", "0.5"),
        ("PREDIS_TENANT_RATE_LIMITS", "acme"),
        ("PREDIS_TENANT_RATE_LIMITS", "acme=many"),
        ("PREDIS_TENANT_RATE_LIMITS", "acme=-3"),
        ("PREDIS_TENANT_RATE_LIMITS", "not a tenant!=3"),
        ("PREDIS_TENANT_RATE_LIMITS", "acme=1,acme=2"),
        ("PREDIS_TENANT_PREFETCH_RATE", "nan"),
        ("PREDIS_TENANT_PREFETCH_RATES", "acme=nan"),
    ]:
        with pytest.raises(SettingsError, match=name):
            CacheSettings.from_env({name: value})
    assert RetrainerSettings.from_env({}).max_jobs_per_tenant == 2
    assert RetrainerSettings.from_env({"PREDIS_RETRAINER_MAX_JOBS_PER_TENANT": "5"}).max_jobs_per_tenant == 5
    for value in ("two", "-1"):
        with pytest.raises(SettingsError, match="PREDIS_RETRAINER_MAX_JOBS_PER_TENANT"):
            RetrainerSettings.from_env({"PREDIS_RETRAINER_MAX_JOBS_PER_TENANT": value})


# -- training jobs -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * 1_000_000_000

    def __call__(self) -> int:
        return self.now


def test_a_tenant_at_its_job_limit_is_refused_a_manual_start_and_its_automatic_ones_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = JobBook(min_interval_s=0, clock=Clock(), max_jobs_per_tenant=2)
    running = book.submit(Trigger(TriggerKind.MANUAL, "acme"), "acme", "per-tenant-model", False)
    book.begin(running)
    waiting = book.submit(Trigger(TriggerKind.DRIFT_ALERT, "acme", alert_id="a1"), "acme", "per-tenant-model", True)
    assert waiting.state is JobState.QUEUED  # an automatic job counts too
    assert [j.id for j in book.tenant_jobs("acme")] == [running.id, waiting.id]
    with pytest.raises(Overloaded) as refused:  # in another scope: only the tenant's limit blocks it
        book.submit(Trigger(TriggerKind.MANUAL, "acme"), "", "per-tenant-model", False)
    message = str(refused.value)
    assert "tenant 'acme' already has 2 training jobs queued or running" in message
    assert f"{running.id} training" in message and f"{waiting.id} queued" in message
    assert "PREDIS_RETRAINER_MAX_JOBS_PER_TENANT=2" in message
    with caplog.at_level(logging.INFO, logger="predis.services.retrainer.jobs"):
        skipped = book.submit(Trigger(TriggerKind.VOLUME, "acme"), "", "per-tenant-model", True)
    assert skipped.state is JobState.SKIPPED and "PREDIS_RETRAINER_MAX_JOBS_PER_TENANT" in skipped.note
    assert any("started no job" in r.getMessage() and "acme" in r.getMessage() for r in caplog.records)
    assert not book.may_start_now("", "acme") and book.may_start_now("") and book.may_start_now("", "beta")
    other = book.submit(Trigger(TriggerKind.MANUAL, "beta"), "beta", "per-tenant-model", False)
    assert other.state is JobState.QUEUED  # another tenant is not affected
    assert book.due() == [other]  # nothing refused was queued
    book.move(running, JobState.PROMOTED)
    assert book.submit(Trigger(TriggerKind.MANUAL, "acme"), "", "per-tenant-model", False).state is JobState.QUEUED
    unlimited = JobBook(min_interval_s=0, max_jobs_per_tenant=0)
    for scope in ("acme", "", "x"):
        unlimited.submit(Trigger(TriggerKind.MANUAL, "acme"), scope, "per-tenant-model", False)
    assert len(unlimited.tenant_jobs("acme")) == 3


def test_start_training_over_the_job_limit_is_resource_exhausted_through_a_real_retrainer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    thread = LoopThread()
    thread.start_loop()
    # tenant_min_events 0: every tenant trains its own scope. The loop is not started, so its jobs
    # stay queued: nothing trains, the test only asks the book through the service.
    settings = RetrainerSettings(server=LOOPBACK, data_dir=tmp_path, min_interval_s=0, tenant_min_events=0)
    book = JobBook(min_interval_s=0, max_jobs_per_tenant=1)

    async def start() -> tuple[RetrainingLoop, RunningServer]:
        loop = RetrainingLoop(settings, book, ModelStore(tmp_path), BUILT_IN, TracerProvider())
        return loop, await retrainer_server.create_server(LOOPBACK, loop, TracerProvider())

    loop, running = thread.run(start())
    try:
        with predis.Client(retrainer=f"127.0.0.1:{running.port}", config=ClientConfig(tracing=False)) as client:
            first = client.retrainer.start_training(tenant="acme")
            with pytest.raises(predis.ResourceExhaustedError) as refused:
                client.retrainer.start_training(tenant="acme")
            assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "tenant 'acme'" in refused.value.details and first.id in refused.value.details
            assert "PREDIS_RETRAINER_MAX_JOBS_PER_TENANT=1" in refused.value.details
            assert client.retrainer.start_training(tenant="beta").tenant == "beta"
            assert {j.id for j in client.retrainer.list_jobs()} == {first.id, book.tenant_jobs("beta")[0].id}
        alert = DriftAlert(id="alert-1", tenant="acme", detector="ks", signal="reuse_distance", severity="critical")
        with caplog.at_level(logging.INFO, logger="predis.services.retrainer.jobs"):
            thread.run(loop.on_alert(alert))  # an automatic start: skipped with a log line, no error
        skipped = [j for j in book.jobs.values() if j.alert_id == "alert-1"]
        assert len(skipped) == 1 and skipped[0].state is JobState.SKIPPED
        assert "PREDIS_RETRAINER_MAX_JOBS_PER_TENANT" in skipped[0].note
        assert any("started no job" in r.getMessage() for r in caplog.records)
    finally:
        thread.run(running.stop(0))
        thread.stop_loop()
