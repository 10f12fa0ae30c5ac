"""Identity and isolation with real servers: the four services on loopback with PREDIS_AUTH
required, tokens made by the real token file, the real SDK and raw stubs, the RESP server with
redis-py, and the audit log they write. Two tenants ("a" and "b") and an admin ("ops")."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from model_factory import make_model_dir
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import predis
from conftest import BackgroundSuite, LoopThread
from predis.services.resp.server import RespServer, create_resp_server
from predis.services.resp.settings import RespSettings
from predis.services.runtime.server import start_server
from predis.services.runtime.settings import ServerSettings, SettingsError
from predis.services.security.audit import AuditSettings, read_audit
from predis.services.security.principal import Role
from predis.services.security.settings import AuthSettings, check_exposure
from predis.services.security.tokens import MAX_LIVE_PER_ROLE, TokenError, TokenFile, TokenVerifier, read_records
from predis.v1 import (
    cache_pb2,
    cache_pb2_grpc,
    common_pb2,
    drift_pb2,
    drift_pb2_grpc,
    predictor_pb2,
    predictor_pb2_grpc,
    retrainer_pb2,
    retrainer_pb2_grpc,
)

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


# -- the token file alone -------------------------------------------------------------------------


def test_a_token_is_stored_only_as_a_hash_and_identifies_its_tenant(tmp_path: Path) -> None:
    store = TokenFile(tmp_path / "tokens.json")
    token, record = store.create("a")
    assert token not in (tmp_path / "tokens.json").read_text()
    assert token.split("_", 2)[2] not in (tmp_path / "tokens.json").read_text()
    assert oct((tmp_path / "tokens.json").stat().st_mode & 0o777) == "0o600"
    verifier = TokenVerifier(tmp_path / "tokens.json")
    identity = asyncio.run(verifier.identify(token))
    assert identity is not None and (identity.tenant, identity.role, identity.token_id) == ("a", Role.TENANT, record.id)
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert asyncio.run(verifier.identify(wrong)) is None
    assert asyncio.run(verifier.identify("not-a-token")) is None
    assert asyncio.run(verifier.identify("")) is None


def test_revocation_and_new_tokens_take_effect_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = TokenFile(path)
    old, old_record = store.create("a")
    now = [0.0]
    verifier = TokenVerifier(path, clock=lambda: now[0])
    assert asyncio.run(verifier.identify(old)) is not None
    new, _ = store.create("a")  # a rotation: both live at once
    now[0] += 1
    assert asyncio.run(verifier.identify(new)) is not None and asyncio.run(verifier.identify(old)) is not None
    store.revoke(old_record.id)
    now[0] += 1
    assert asyncio.run(verifier.identify(old)) is None
    assert asyncio.run(verifier.identify(new)) is not None


def test_a_third_live_token_of_a_role_is_refused_and_admin_is_a_separate_role(tmp_path: Path) -> None:
    store = TokenFile(tmp_path / "tokens.json")
    for _ in range(MAX_LIVE_PER_ROLE):
        store.create("a")
    with pytest.raises(TokenError, match="revoke one first"):
        store.create("a")
    store.create("a", Role.ADMIN)
    assert len(read_records(tmp_path / "tokens.json")) == MAX_LIVE_PER_ROLE + 1


def test_a_broken_tokens_file_stops_a_start_but_not_a_running_service(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = TokenFile(path)
    token, _ = store.create("a")
    now = [0.0]
    verifier = TokenVerifier(path, clock=lambda: now[0])
    path.write_text("{half a file")
    now[0] += 1
    assert asyncio.run(verifier.identify(token)) is not None  # the tokens read before stand
    with pytest.raises(TokenError, match="not a Predis tokens file"):
        TokenVerifier(path)


def test_tokens_command_creates_lists_revokes_and_audits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from predis.services.cli import main

    for variable in ("PREDIS_TOKENS_FILE", "PREDIS_AUDIT_LOG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PREDIS_DATA_DIR", str(tmp_path))
    assert main(["tokens", "create", "a", "--note", "web"]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["tokens", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["tenant"], t["role"], t["note"]) for t in listed] == [("a", "tenant", "web")]
    assert main(["tokens", "create", "bad tenant!"]) == 2
    assert main(["tokens", "revoke", listed[0]["id"]]) == 0
    assert main(["tokens", "revoke", listed[0]["id"]]) == 2
    audit = (tmp_path / "audit" / "tokens.jsonl").read_text()
    secret = token.split("_", 2)[2]  # pdt_<id>_<secret>: the secret itself may hold '_'
    assert token not in audit and secret not in audit
    assert [r["action"] for r in read_audit(tmp_path / "audit" / "tokens.jsonl")] == ["tokens.create", "tokens.revoke"]


# -- exposure ---------------------------------------------------------------------------------------


def test_a_service_beyond_loopback_refuses_to_start_without_auth_and_tls(tmp_path: Path) -> None:
    off = AuthSettings()
    with pytest.raises(SettingsError, match="PREDIS_AUTH=required and TLS"):
        check_exposure("PREDIS_LISTEN", "0.0.0.0:0", off, tls_configured=False)
    required = AuthSettings(required=True, tokens_file=tmp_path / "t.json")
    with pytest.raises(SettingsError, match="without TLS"):
        check_exposure("PREDIS_LISTEN", "0.0.0.0:0", required, tls_configured=False)
    check_exposure("PREDIS_LISTEN", "0.0.0.0:0", required, tls_configured=True)
    check_exposure("PREDIS_LISTEN", "0.0.0.0:0", AuthSettings(allow_insecure=True), tls_configured=False)
    for host in ("127.0.0.1", "localhost", "[::1]", "127.0.0.5"):
        check_exposure("PREDIS_LISTEN", f"{host}:0", off, tls_configured=False)
    with pytest.raises(SettingsError, match="PREDIS_AUTH"):
        asyncio.run(start_server(ServerSettings(listen="0.0.0.0:0"), [], TracerProvider()))


def test_auth_settings_fail_fast_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="PREDIS_AUTH"):
        AuthSettings.from_env("cache", {"PREDIS_AUTH": "maybe"})
    with pytest.raises(SettingsError, match="PREDIS_DATA_DIR"):
        AuthSettings.from_env("cache", {"PREDIS_AUTH": "required"})
    settings = AuthSettings.from_env("cache", {"PREDIS_AUTH": "required", "PREDIS_DATA_DIR": "/srv/predis"})
    assert settings.tokens_file == Path("/srv/predis/auth/tokens.json")
    assert settings.audit.path == Path("/srv/predis/audit/cache.jsonl")


def test_the_sdk_sends_the_token_and_never_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREDIS_TOKEN", "pdt_000000000000_" + "x" * 43)
    config = predis.ClientConfig(tenant="a")
    assert config.token is not None and config.token not in repr(config)
    assert ("authorization", f"Bearer {config.token}") in config.metadata
    with pytest.raises(ValueError, match="token"):
        predis.ClientConfig(token="two words")


# -- the suite with authentication required ----------------------------------------------------------


class PrefixOrigin:
    """Knows every key that starts with ``origin:``."""

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        return b"loaded " + key if key.startswith(b"origin:") else None

    def close(self) -> None:
        pass


class Secured:
    """The four services with PREDIS_AUTH required, tokens for tenants a and b and admin ops, and
    the cache's RESP server."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        store = TokenFile(root / "auth" / "tokens.json")
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        for name, tenant, role in (("a", "a", Role.TENANT), ("b", "b", Role.TENANT), ("ops", "ops", Role.ADMIN)):
            self.tokens[name], record = store.create(tenant, role)
            self.ids[name] = record.id
        self.store = store
        self.audit_dir = root / "audit"
        monkeypatch.setenv("PREDIS_TOKEN", self.tokens["ops"])  # the services' own calls to each other
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        auth = AuthSettings(required=True, tokens_file=store.path, audit=AuditSettings(root / "audit" / "suite.jsonl"))
        self.suite = BackgroundSuite(tracer_provider=provider, auth=auth, origin=PrefixOrigin()).start()
        access = self.suite.servers["cache"].access
        self.resp: RespServer
        self.resp, self.resp_port = self.suite.run(
            create_resp_server(RespSettings.from_env({}), self.suite.cache, access)
        )  # type: ignore[arg-type]
        self.channels: list[grpc.Channel] = []

    def close(self) -> None:
        for channel in self.channels:
            channel.close()
        self.suite.run(self.resp.close(0.5))
        self.suite.stop()

    def stub(self, service: str) -> Any:
        channel = grpc.insecure_channel(self.suite.addresses[service])
        self.channels.append(channel)
        stubs = {
            "cache": cache_pb2_grpc.CacheServiceStub,
            "predictor": predictor_pb2_grpc.PredictorServiceStub,
            "drift": drift_pb2_grpc.DriftServiceStub,
            "retrainer": retrainer_pb2_grpc.RetrainerServiceStub,
        }
        return stubs[service](channel)

    def metadata(self, who: str | None, tenant: str | None = None) -> list[tuple[str, str]]:
        entries = [("authorization", f"Bearer {self.tokens[who]}")] if who else []
        return entries + ([("predis-tenant", tenant)] if tenant else [])

    def client(self, who: str, tenant: str | None = None) -> predis.Client:
        config = predis.ClientConfig(tenant=tenant, token=self.tokens[who], tracing=False)
        return predis.Client(**self.suite.client_kwargs(), config=config)

    def redis(self, username: str | None, password: str | None) -> redis.Redis:
        return redis.Redis(port=self.resp_port, username=username, password=password, socket_timeout=5)

    def audit(self) -> list[dict[str, Any]]:
        return read_audit(self.audit_dir / "suite.jsonl")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    monkeypatch = pytest.MonkeyPatch()
    running = Secured(tmp_path_factory.mktemp("secured"), monkeypatch)
    yield running
    running.close()
    monkeypatch.undo()


def code_of(call: Any, *args: Any, **kwargs: Any) -> grpc.StatusCode:
    try:
        response = call(*args, **kwargs)
        if hasattr(response, "__next__"):
            next(response)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


EVERY_RPC = [
    ("cache", "Get", cache_pb2.GetRequest(key=b"k")),
    ("cache", "Set", cache_pb2.SetRequest(key=b"k", value=b"v")),
    ("cache", "Stats", cache_pb2.StatsRequest()),
    ("cache", "Flush", cache_pb2.FlushRequest()),
    ("cache", "StreamAccessEvents", cache_pb2.StreamAccessEventsRequest()),
    ("predictor", "ListModels", predictor_pb2.ListModelsRequest()),
    ("predictor", "Predict", predictor_pb2.PredictRequest()),
    ("drift", "GetStatus", drift_pb2.GetStatusRequest()),
    ("retrainer", "ListJobs", retrainer_pb2.ListJobsRequest()),
]
ADMIN_RPCS = [
    ("predictor", "LoadModel", predictor_pb2.LoadModelRequest(version="v", path="/nowhere")),
    ("predictor", "UnloadModel", predictor_pb2.UnloadModelRequest(version="v")),
    ("predictor", "SetTraffic", predictor_pb2.SetTrafficRequest()),
    ("predictor", "ReportOutcomes", predictor_pb2.ReportOutcomesRequest()),
    ("retrainer", "StartTraining", retrainer_pb2.StartTrainingRequest(tenant="a")),
    ("retrainer", "Promote", retrainer_pb2.PromoteRequest(version="v")),
    ("retrainer", "Rollback", retrainer_pb2.RollbackRequest(tenant="a")),
    ("drift", "ResetReference", drift_pb2.ResetReferenceRequest(tenant="a")),
]


@pytest.mark.parametrize(("service", "method", "request_"), EVERY_RPC + ADMIN_RPCS)
def test_every_rpc_without_a_valid_token_is_unauthenticated(
    secured: Secured, service: str, method: str, request_: Any
) -> None:
    call = getattr(secured.stub(service), method)
    assert code_of(call, request_, timeout=5) == UNAUTHENTICATED
    bad = [("authorization", "Bearer pdt_000000000000_" + "x" * 43)]
    assert code_of(call, request_, metadata=bad, timeout=5) == UNAUTHENTICATED


@pytest.mark.parametrize(("service", "method", "request_"), ADMIN_RPCS)
def test_admin_rpcs_need_an_admin_token(secured: Secured, service: str, method: str, request_: Any) -> None:
    call = getattr(secured.stub(service), method)
    assert code_of(call, request_, metadata=secured.metadata("a"), timeout=5) == DENIED
    # An admin gets past authorization (and then the request's own answer).
    assert code_of(call, request_, metadata=secured.metadata("ops"), timeout=5) not in (DENIED, UNAUTHENTICATED)


def test_observe_events_is_for_the_services_alone(secured: Secured) -> None:
    stub = secured.stub("drift")
    batch = iter([drift_pb2.ObserveEventsRequest()])
    assert code_of(stub.ObserveEvents, batch, metadata=secured.metadata("a"), timeout=5) == DENIED


def test_health_checks_need_no_token(secured: Secured) -> None:
    for address in secured.suite.addresses.values():
        with grpc.insecure_channel(address) as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_the_tenant_comes_from_the_token_and_metadata_cannot_claim_another(secured: Secured) -> None:
    with secured.client("a") as a, secured.client("b") as b:
        a.set(b"shared-name", b"a's value")
        assert b.get(b"shared-name") is None  # b's namespace
        b.set(b"shared-name", b"b's value")
        assert a.get(b"shared-name") == b"a's value"
        assert a.stats().tenant.tenant == "a"
        assert b.stats().tenant.tenant == "b"
    cache = secured.stub("cache")
    spoof = secured.metadata("b", tenant="a")
    block = cache_pb2.KeyBlock(data=b"shared-name", lengths=len(b"shared-name").to_bytes(4, "little"))
    for method, request_ in (
        ("Get", cache_pb2.GetRequest(key=b"shared-name")),
        ("Set", cache_pb2.SetRequest(key=b"shared-name", value=b"evil")),
        ("Delete", cache_pb2.DeleteRequest(keys=[b"shared-name"])),
        ("Exists", cache_pb2.ExistsRequest(keys=[b"shared-name"])),
        ("Expire", cache_pb2.ExpireRequest(key=b"shared-name", ttl_ms=1)),
        ("Ttl", cache_pb2.TtlRequest(key=b"shared-name")),
        ("BatchGet", cache_pb2.BatchGetRequest(keys=block)),
        ("BatchSet", cache_pb2.BatchSetRequest(keys=block, values=block)),
        ("Prefetch", cache_pb2.PrefetchRequest(keys=[b"shared-name"])),
        ("Hint", cache_pb2.HintRequest(kind=cache_pb2.HINT_KIND_GROUP, keys=[b"x", b"y"])),
        ("Flush", cache_pb2.FlushRequest()),
        ("Stats", cache_pb2.StatsRequest()),
        ("StreamAccessEvents", cache_pb2.StreamAccessEventsRequest()),
    ):
        assert code_of(getattr(cache, method), request_, metadata=spoof, timeout=5) == DENIED, method
    predict = predictor_pb2.PredictRequest()
    assert code_of(secured.stub("predictor").Predict, predict, metadata=spoof, timeout=5) == DENIED
    with secured.client("a") as a:
        assert a.get(b"shared-name") == b"a's value"  # nothing the refused calls tried changed it
        assert a.ttl(b"shared-name") == -1
    # An admin may name any tenant.
    with secured.client("ops", tenant="a") as ops:
        assert ops.get(b"shared-name") == b"a's value"


def test_a_tenant_sees_no_totals_of_other_tenants_in_stats(secured: Secured) -> None:
    with secured.client("a") as a:
        a.set(b"k", b"v")
        engine = a.stats().engine
        assert (engine.memory_bytes, engine.entries) == (0, 0)
    with secured.client("ops") as ops:
        assert ops.stats().engine.entries > 0


def test_prefetch_outcomes_are_counted_for_the_prefetching_tenant_alone(secured: Secured) -> None:
    with secured.client("a") as a, secured.client("b") as b:
        before = a.stats().tenant
        assert b.prefetch(*[b"origin:p%d" % i for i in range(5)]) == 5
        deadline = time.monotonic() + 10
        while b.stats().tenant.prefetches < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert b.get(b"origin:p0") == b"loaded origin:p0"
        assert b.stats().tenant.prefetches_used >= 1
        after = a.stats().tenant
        assert (after.prefetches, after.prefetches_used, after.prefetches_unused) == (
            before.prefetches,
            before.prefetches_used,
            before.prefetches_unused,
        )
        assert a.get(b"origin:p1") == b"loaded origin:p1"  # a's own read-through, not b's prefetch
        assert a.stats().tenant.prefetches_used == before.prefetches_used


def test_access_events_stream_only_the_callers_own_reads(secured: Secured) -> None:
    cache = secured.stub("cache")
    stream = cache.StreamAccessEvents(cache_pb2.StreamAccessEventsRequest(), metadata=secured.metadata("a"), timeout=5)
    with secured.client("b") as b, secured.client("a") as a:
        for i in range(20):
            b.get(b"b-only-%d" % i)
        a.get(b"a-marker")
    seen: list[bytes] = []
    for response in stream:
        seen += [e.key for e in response.events]
        if b"a-marker" in seen:
            break
    stream.cancel()
    assert b"a-marker" in seen and not any(k.startswith(b"b-only") for k in seen)


def test_models_of_another_scope_are_invisible(secured: Secured, tmp_path: Path) -> None:
    predictor = secured.stub("predictor")
    directory = make_model_dir(tmp_path / "m")
    for tenant in ("a", "b"):
        request_ = predictor_pb2.LoadModelRequest(version=f"{tenant}-v1", path=str(directory), tenant=tenant)
        predictor.LoadModel(request_, metadata=secured.metadata("ops"), timeout=30)
    listed = predictor.ListModels(predictor_pb2.ListModelsRequest(), metadata=secured.metadata("a"), timeout=5)
    assert [m.version for m in listed.models] == ["a-v1"]
    asked = predictor_pb2.ListModelsRequest(tenant="b")
    assert code_of(predictor.ListModels, asked, metadata=secured.metadata("a"), timeout=5) == DENIED
    status = predictor_pb2.GetModelStatusRequest(version="b-v1")
    assert (
        code_of(predictor.GetModelStatus, status, metadata=secured.metadata("a"), timeout=5)
        == grpc.StatusCode.NOT_FOUND
    )
    try:
        predictor.GetModelStatus(status, metadata=secured.metadata("a"), timeout=5)
    except grpc.RpcError as error:
        assert "a-v1" not in (error.details() or "") and "b-v1" in (error.details() or "")
    everything = predictor.ListModels(predictor_pb2.ListModelsRequest(), metadata=secured.metadata("ops"), timeout=5)
    assert {m.version for m in everything.models} >= {"a-v1", "b-v1"}


def test_training_jobs_of_another_tenant_are_invisible(secured: Secured) -> None:
    from predis.services.retrainer.jobs import Trigger, TriggerKind

    job = secured.suite.call(
        lambda: secured.suite.book.submit(Trigger(TriggerKind.MANUAL, tenant="b"), "b", "own", False)
    )
    retrainer = secured.stub("retrainer")
    mine = retrainer.ListJobs(retrainer_pb2.ListJobsRequest(), metadata=secured.metadata("a"), timeout=5)
    assert job.id not in [j.id for j in mine.jobs]
    theirs = retrainer.ListJobs(retrainer_pb2.ListJobsRequest(), metadata=secured.metadata("b"), timeout=5)
    assert job.id in [j.id for j in theirs.jobs]
    get = retrainer_pb2.GetJobRequest(id=job.id)
    assert code_of(retrainer.GetJob, get, metadata=secured.metadata("a"), timeout=5) == grpc.StatusCode.NOT_FOUND
    assert code_of(retrainer.GetJob, get, metadata=secured.metadata("b"), timeout=5) == grpc.StatusCode.OK


def test_drift_status_and_alerts_are_the_callers_own(secured: Secured) -> None:
    drift = secured.stub("drift")
    other = drift_pb2.GetStatusRequest(tenant="b")
    assert code_of(drift.GetStatus, other, metadata=secured.metadata("a"), timeout=5) == DENIED
    watch = drift_pb2.WatchAlertsRequest(tenant="b")
    assert code_of(drift.WatchAlerts, watch, metadata=secured.metadata("a"), timeout=2) == DENIED
    events = [
        common_pb2.AccessEvent(tenant=t, key=b"k%d" % i, kind=common_pb2.ACCESS_KIND_HIT)
        for t in "ab"
        for i in range(5)
    ]
    drift.ObserveEvents(
        iter([drift_pb2.ObserveEventsRequest(events=events)]), metadata=secured.metadata("ops"), timeout=5
    )
    status = drift.GetStatus(drift_pb2.GetStatusRequest(), metadata=secured.metadata("a"), timeout=5)
    assert {t.tenant for t in status.tenants} <= {"a"}
    assert all(d.tenant == "a" for d in status.detectors)
    assert status.events_observed == sum(t.events_observed for t in status.tenants)


def test_refused_and_admin_calls_are_audited_without_secrets(secured: Secured) -> None:
    cache = secured.stub("cache")
    code_of(cache.Get, cache_pb2.GetRequest(key=b"k"), metadata=secured.metadata("b", tenant="a"), timeout=5)
    code_of(cache.Get, cache_pb2.GetRequest(key=b"k"), timeout=5)
    predictor = secured.stub("predictor")
    code_of(
        predictor.UnloadModel,
        predictor_pb2.UnloadModelRequest(version="none"),
        metadata=secured.metadata("ops"),
        timeout=5,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = secured.audit()
        outcomes = {(r["action"], r["outcome"], r["token_id"]) for r in records}
        if ("/predis.v1.PredictorService/UnloadModel", "NOT_FOUND", secured.ids["ops"]) in outcomes:
            break
        time.sleep(0.05)
    assert ("/predis.v1.CacheService/Get", "PERMISSION_DENIED", secured.ids["b"]) in outcomes
    assert ("/predis.v1.CacheService/Get", "UNAUTHENTICATED", None) in outcomes
    assert ("/predis.v1.PredictorService/UnloadModel", "NOT_FOUND", secured.ids["ops"]) in outcomes
    text = (secured.audit_dir / "suite.jsonl").read_text()
    for token in secured.tokens.values():
        assert token.split("_", 2)[2] not in text
    refused = next(r for r in records if r["outcome"] == "PERMISSION_DENIED" and r["token_id"] == secured.ids["b"])
    assert refused["peer"] and refused["time"] and refused["tenant"] == "a" and refused["token_tenant"] == "b"


def test_no_span_carries_a_token(secured: Secured) -> None:
    with secured.client("a") as a:
        a.get(b"traced")
    spans = secured.exporter.get_finished_spans()
    assert spans
    dumped = " ".join(json.dumps(dict(s.attributes or {}), default=str) for s in spans)
    for token in secured.tokens.values():
        assert token.split("_", 2)[2] not in dumped


def test_revoking_a_token_locks_it_out_of_a_running_suite(secured: Secured) -> None:
    token, record = secured.store.create("c")
    with predis.Client(**secured.suite.client_kwargs(), config=predis.ClientConfig(token=token, tracing=False)) as c:
        c.set(b"k", b"v")
        secured.store.revoke(record.id)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                c.get(b"k")
            except predis.PredisError as error:
                assert error.code == UNAUTHENTICATED
                break
            time.sleep(0.1)
        else:
            pytest.fail("a revoked token kept working")


# -- RESP ---------------------------------------------------------------------------------------


def test_resp_needs_a_token_and_answers_as_redis_does(secured: Secured) -> None:
    anonymous = secured.redis(None, None)
    with pytest.raises(
        redis.AuthenticationError, match="Authentication required|must be called with the client already authenticated"
    ):
        anonymous.get("k")
    with pytest.raises(redis.AuthenticationError, match="WRONGPASS|invalid username-password"):
        secured.redis(None, "pdt_000000000000_" + "x" * 43).ping()
    with pytest.raises(redis.AuthenticationError, match="invalid username-password"):
        secured.redis("a", secured.tokens["b"]).ping()  # b's token is not a's


def test_resp_acts_for_the_tokens_tenant_and_sees_only_its_keys(secured: Secured) -> None:
    a = secured.redis(None, secured.tokens["a"])  # AUTH TOKEN
    a_named = secured.redis("a", secured.tokens["a"])  # AUTH TENANT TOKEN
    b = secured.redis("b", secured.tokens["b"])
    a.set("resp-a-1", "1")
    a_named.set("resp-a-2", "2")
    b.set("resp-b-1", "3")
    assert sorted(a.keys("resp-*")) == [b"resp-a-1", b"resp-a-2"]
    assert sorted(k for k in b.scan_iter("resp-*")) == [b"resp-b-1"]
    assert b.get("resp-a-1") is None and b.exists("resp-a-1") == 0
    names = [c["user"] for c in b.client_list()]
    assert set(names) == {"b"}  # no other tenant's connections
    hello = redis.Redis(port=secured.resp_port, protocol=3, username="b", password=secured.tokens["b"])
    assert hello.get("resp-b-1") == b"3"  # HELLO 3 AUTH b <token>
    ops_as_b = secured.redis("b", secured.tokens["ops"])  # an admin token may act for any tenant
    assert ops_as_b.get("resp-b-1") == b"3"
    with secured.client("a") as grpc_a:  # the same tenant through gRPC: the same keys
        assert grpc_a.get(b"resp-a-1") == b"1"


def test_resp_refusals_are_audited(secured: Secured) -> None:
    with pytest.raises(redis.AuthenticationError):
        secured.redis("a", secured.tokens["b"]).ping()
    with pytest.raises(redis.AuthenticationError):
        secured.redis(None, None).get("k")
    records = secured.audit()
    assert any(r["service"] == "cache" and r["action"] == "AUTH" and r["outcome"] == "WRONGPASS" for r in records)
    assert any(r["service"] == "cache" and r["outcome"] == "NOAUTH" for r in records)
    assert not any(secured.tokens["b"].split("_", 2)[2] in json.dumps(r) for r in records)


def test_the_tenancy_rule_itself_refuses_a_claimed_tenant() -> None:
    """Behind the interceptor, ``tenant_from_metadata`` applies the same rule (defence in depth)."""
    from predis.services.runtime.errors import PermissionDenied
    from predis.services.runtime.tenancy import tenant_from_metadata
    from predis.services.security.principal import Identity, enter_call, leave_call

    assert tenant_from_metadata([("predis-tenant", "b")]) == "b"  # authentication off
    entered = enter_call(Identity("000000000000", "a", Role.TENANT))
    try:
        assert tenant_from_metadata([]) == "a"
        assert tenant_from_metadata([("predis-tenant", "a")]) == "a"
        with pytest.raises(PermissionDenied, match="cannot act for tenant 'b'"):
            tenant_from_metadata([("predis-tenant", "b")])
    finally:
        leave_call(entered)
    entered = enter_call(Identity("000000000001", "ops", Role.ADMIN))
    try:
        assert tenant_from_metadata([("predis-tenant", "b")]) == "b"
    finally:
        leave_call(entered)


def test_the_suite_serves_tls_and_tokens_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every port on TLS and tokens required: the SDK verifies the servers, and so do the cache's
    own calls to the predictor (an admin token and the CA from the environment)."""
    from predis.services.security.certs import write_dev_certificates
    from predis.services.security.tls import TlsSettings

    write_dev_certificates(tmp_path / "certs")
    certs = tmp_path / "certs"
    store = TokenFile(tmp_path / "auth" / "tokens.json")
    admin, _ = store.create("ops", Role.ADMIN)
    tenant, _ = store.create("a")
    monkeypatch.setenv("PREDIS_TLS_CA", str(certs / "ca.pem"))
    monkeypatch.setenv("PREDIS_TOKEN", admin)
    tls = TlsSettings(certs / "server.pem", certs / "server-key.pem")
    suite = BackgroundSuite(auth=AuthSettings(required=True, tokens_file=store.path), tls=tls).start()
    try:
        config = predis.ClientConfig(token=tenant, tracing=False)
        assert config.tls is not None
        with predis.Client(**suite.client_kwargs(), config=config) as client:
            client.set(b"k", b"v")
            assert client.get(b"k") == b"v"
            assert client.stats().predictor.reachable  # the cache's TLS and token link to the predictor
            assert client.drift.status().events_observed == 0
        plaintext = grpc.insecure_channel(suite.addresses["cache"])
        get = cache_pb2_grpc.CacheServiceStub(plaintext).Get
        metadata = [("authorization", f"Bearer {tenant}")]
        assert code_of(get, cache_pb2.GetRequest(key=b"k"), metadata=metadata, timeout=5) == grpc.StatusCode.UNAVAILABLE
        plaintext.close()
    finally:
        suite.stop()


def test_quota_refusals_are_audited_on_both_front_ends(tmp_path: Path) -> None:
    """With authentication off but a data directory, refusals by the quotas are audited too."""
    from predis.services.cache import server as cache_server
    from predis.services.cache.settings import CacheSettings

    env = {
        "PREDIS_DATA_DIR": str(tmp_path),
        "PREDIS_CACHE_BACKEND": "numpy",
        "PREDIS_CACHE_COLLECTOR_EVENTS": "0",
        "PREDIS_CACHE_SHADOW": "off",
        "PREDIS_CACHE_TENANT_QUOTA_BYTES": "65536",
        "PREDIS_TENANT_RATE_LIMITS": "slow=0.001",
        "PREDIS_RESP_LISTEN": "127.0.0.1:0",
        "PREDIS_RESP_USERS": "slow:ps=slow,big:pb=big",
    }
    settings = CacheSettings.from_env(env, "127.0.0.1:0")
    suite = LoopThread()
    suite.start_loop()

    async def start() -> tuple[Any, Any, Any, int]:
        deps = cache_server.build_deps(settings, None)
        running = await cache_server.create_server(settings.server, deps, TracerProvider())
        resp, port = await create_resp_server(settings.resp, deps.cache, running.access)
        return deps, running, resp, port

    deps, running, resp, port = suite.run(start())
    try:
        address = f"127.0.0.1:{running.port}"
        with predis.Client(address, config=predis.ClientConfig(tenant="slow", tracing=False)) as slow:
            slow.get(b"k")  # the one request of its burst
            with pytest.raises(predis.ResourceExhaustedError):
                slow.get(b"k")
        slow_resp = redis.Redis(port=port, username="slow", password="ps", socket_timeout=5)
        with pytest.raises(redis.ResponseError, match="request rate limit reached"):
            slow_resp.get("k")
        big = redis.Redis(port=port, username="big", password="pb", socket_timeout=5)
        with pytest.raises(redis.ResponseError, match="maxmemory"):
            big.set("k", b"x" * 100_000)
        records = read_audit(tmp_path / "audit" / "cache.jsonl")
        outcomes = {(r["action"], r["outcome"], r["tenant"]) for r in records}
        assert ("/predis.v1.CacheService/Get", "RESOURCE_EXHAUSTED", "slow") in outcomes
        assert ("GET", "RATE_LIMITED", "slow") in outcomes
        assert ("SET", "OOM", "big") in outcomes
    finally:

        async def stop() -> None:
            await resp.close(0.5)
            await running.stop(0.5)
            await deps.close()

        suite.run(stop())
        suite.stop_loop()


def _alert(alert_id: str, tenant: str) -> Any:
    from predis.services.drift.observer import DriftAlert
    from predis.services.drift.watch import Severity

    return DriftAlert(
        alert_id,
        tenant,
        "ks",
        "key_mix",
        Severity.WARNING,
        0.5,
        0.5,
        0.1,
        0.01,
        0.01,
        100,
        100,
        100,
        0,
        0,
        0.0,
        0,
        "",
        "",
    )


def test_a_tenant_watching_alerts_gets_its_own_alone(secured: Secured) -> None:
    drift = secured.stub("drift")
    stream = drift.WatchAlerts(drift_pb2.WatchAlertsRequest(), metadata=secured.metadata("a"), timeout=10)
    observer = secured.suite.observer
    deadline = time.monotonic() + 5
    while observer.feed.subscribers == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    for alert in (_alert("for-b", "b"), _alert("for-all", ""), _alert("for-a", "a")):
        secured.suite.call(lambda alert=alert: observer.feed.publish(alert))
    first = next(stream)
    stream.cancel()
    assert (first.alert.id, first.alert.tenant) == ("for-a", "a")  # b's and the all-tenant alert never came
    recent = drift.GetStatus(drift_pb2.GetStatusRequest(), metadata=secured.metadata("a"), timeout=5).recent_alerts
    assert {a.id for a in recent} <= {"for-a"}


def test_a_tenant_may_hold_only_so_many_event_streams(secured: Secured) -> None:
    cache = secured.stub("cache")
    request_ = cache_pb2.StreamAccessEventsRequest()
    streams = [cache.StreamAccessEvents(request_, metadata=secured.metadata("ops", "s1"), timeout=20) for _ in range(8)]
    reading = threading.Event()

    def read_on() -> None:  # reads until every stream has seen one: all eight are open on the server
        with secured.client("ops", tenant="s1") as s1:
            while not reading.is_set():
                s1.get(b"wake")
                time.sleep(0.02)

    reader = threading.Thread(target=read_on)
    reader.start()
    try:
        for stream in streams:
            next(stream)
        reading.set()
        reader.join()
        ninth = cache.StreamAccessEvents(request_, metadata=secured.metadata("ops", "s1"), timeout=5)
        with pytest.raises(grpc.RpcError) as refused:
            next(ninth)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "PREDIS_TENANT_MAX_STREAMS" in (refused.value.details() or "")
        other = cache.StreamAccessEvents(request_, metadata=secured.metadata("ops", "s2"), timeout=5)
        with secured.client("ops", tenant="s2") as s2:
            s2.get(b"wake")
        # Another tenant is not held back: its stream opened, and got the read (or, when it opened
        # after the read, waited for events until its deadline).
        assert code_of(lambda: next(other)) in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        reading.set()
        for stream in streams:
            stream.cancel()


RESP_ATTEMPTS = [
    ("GET", "victim"),
    ("SET", "victim", "mine"),
    ("SET", "victim", "mine", "XX", "GET"),
    ("GETEX", "victim", "PX", "1"),
    ("GETDEL", "victim"),
    ("GETSET", "victim", "mine"),
    ("SETNX", "victim", "mine"),
    ("SETEX", "victim", "1", "mine"),
    ("PSETEX", "victim", "1", "mine"),
    ("MGET", "victim", "other"),
    ("MSET", "victim", "mine", "other", "mine"),
    ("MSETNX", "victim", "mine"),
    ("APPEND", "victim", "more"),
    ("STRLEN", "victim"),
    ("GETRANGE", "victim", "0", "-1"),
    ("SETRANGE", "victim", "0", "x"),
    ("INCR", "counter"),
    ("DECRBY", "counter", "5"),
    ("INCRBYFLOAT", "counter", "1.5"),
    ("DEL", "victim", "counter"),
    ("UNLINK", "victim"),
    ("EXISTS", "victim"),
    ("TYPE", "victim"),
    ("RENAME", "victim", "stolen"),
    ("RENAMENX", "victim", "stolen"),
    ("KEYS", "*"),
    ("SCAN", "0", "COUNT", "1000"),
    ("RANDOMKEY",),
    ("DBSIZE",),
    ("EXPIRE", "victim", "1"),
    ("PEXPIREAT", "victim", "1"),
    ("EXPIRETIME", "victim"),
    ("TTL", "victim"),
    ("PERSIST", "victim"),
    ("SELECT", "1"),
    ("FLUSHDB",),
    ("FLUSHALL",),
    ("CLIENT", "LIST"),
    ("CLIENT", "KILL", "USER", "b"),
    ("INFO", "keyspace"),
]


def test_no_resp_command_of_one_tenant_reaches_another_s_keys(secured: Secured) -> None:
    """Every string and keyspace command, run by tenant a on the names of tenant b's keys: b's
    keys, values and expiry times are as they were, and no reply of a's shows b's data."""
    b = secured.redis("b", secured.tokens["b"])
    b.flushdb()
    b.set("victim", "b-secret")
    b.set("counter", "10")
    a = secured.redis("a", secured.tokens["a"])
    for attempt in RESP_ATTEMPTS:
        try:
            reply = a.execute_command(*attempt)
        except redis.ResponseError as refused:
            reply = str(refused)
        assert b"b-secret" not in repr(reply).encode(), attempt
        assert b.get("victim") == b"b-secret" and b.get("counter") == b"10", attempt
        assert b.ttl("victim") == -1 and b.dbsize() == 2, attempt
    assert b.ping()  # CLIENT KILL USER b from a closed none of b's connections


def test_predis_up_with_auth_required_needs_the_services_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from predis.services.supervisor import StartupError, start_suite

    monkeypatch.setenv("PREDIS_AUTH", "required")
    monkeypatch.delenv("PREDIS_TOKEN", raising=False)
    with pytest.raises(StartupError, match="PREDIS_TOKEN"):
        start_suite(base_port=0, log_dir=tmp_path)


def test_predis_serve_beyond_loopback_without_protection_exits_with_the_reason(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDIS_")}
    done = subprocess.run(
        [sys.executable, "-m", "predis.services.cli", "serve", "drift", "--listen", "0.0.0.0:0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "PREDIS_ALLOW_INSECURE=on" in done.stderr and "Traceback" not in done.stderr
