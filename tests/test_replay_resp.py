"""`predis replay --through-service redis://...`: the RESP mode against `predis serve cache` with
PREDIS_RESP_LISTEN, next to the gRPC mode on the same requests."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import redis
from test_resp_harness import free_port

from predis.services.replay.keys import load_trace
from predis.services.replay.runner import Row
from predis.services.replay.through_service import FrontEndError, replay_through_service
from predis.services.replay.traces import Trace

PREDIS = [sys.executable, "-m", "predis.services.cli"]
# Each RESP run replays as a user of its own: a fresh tenant, as the gRPC mode's is (a flush keeps
# S3-FIFO's ghost of evicted keys, so a reused tenant would not start as a new one).
USERS = {"first": "pw-first", "second": "pw-second", "third": "pw-third"}
# Each tenant's quota, about 190 entries, far fewer than the trace's keys; a tenant only evicts its
# own entries, so the gRPC tenant and the three users get a quota each.
QUOTA_BYTES = 65_536


@dataclass
class CacheProcess:
    grpc_address: str
    resp_port: int

    def url(self, user: str, db: int = 0) -> str:
        return f"redis://{user}:{USERS[user]}@127.0.0.1:{self.resp_port}/{db}"


def serve_cache(origin: str | None) -> Iterator[CacheProcess]:
    port = free_port()
    env = {
        **os.environ,
        "PREDIS_RESP_LISTEN": f"127.0.0.1:{port}",
        "PREDIS_RESP_USERS": ",".join(f"{user}:{pw}={user}" for user, pw in USERS.items()),
        "PREDIS_CACHE_MEMORY_BYTES": str((len(USERS) + 1) * QUOTA_BYTES),
        "PREDIS_CACHE_TENANT_QUOTA_BYTES": str(QUOTA_BYTES),
        "PREDIS_CACHE_MAX_VALUE_BYTES": str(QUOTA_BYTES // 4),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PREDIS_ORIGIN", None)
    if origin is not None:
        env["PREDIS_ORIGIN"] = origin
    process = subprocess.Popen(
        [*PREDIS, "serve", "cache", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    address = process.stdout.readline().strip().rsplit(" ", 1)[-1]
    try:
        yield CacheProcess(address, port)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


@pytest.fixture(scope="module")
def plain_cache() -> Iterator[CacheProcess]:
    yield from serve_cache(origin=None)


@pytest.fixture(scope="module")
def cache_with_origin() -> Iterator[CacheProcess]:
    yield from serve_cache(origin="synthetic:?latency_ms=0&value_size=16")


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Trace:
    path = tmp_path_factory.mktemp("trace") / "skewed.trace.gz"
    ids = (np.random.default_rng(11).zipf(1.2, 2_500) % 700).tolist()
    path.write_bytes(gzip.compress("".join(f"{i}\n" for i in ids).encode()))
    return load_trace(path, keys="scrambled")


@pytest.fixture(scope="module")
def grpc_row(plain_cache: CacheProcess, trace: Trace) -> Row:
    return replay_through_service(trace, plain_cache.grpc_address, train_fraction=0.2)


def same_numbers(row: Row) -> tuple[object, ...]:
    return (row.hits, row.misses, row.eval_from, row.timeline, row.cache_size, row.policy, row.keys, row.errors)


def test_resp_mode_gives_the_grpc_modes_hit_ratio_on_the_same_requests(
    plain_cache: CacheProcess, trace: Trace, grpc_row: Row
) -> None:
    r = redis.Redis.from_url(plain_cache.url("first"))
    before = r.info("stats")
    row = replay_through_service(trace, plain_cache.url("first"), train_fraction=0.2)
    after = r.info("stats")
    # The budget is far below the trace's keys, so S3-FIFO evicts all along: with the same reads and
    # writes in the same order the engine decides the same, whichever front end they came through.
    assert grpc_row.errors == 0 and 0.2 < grpc_row.hit_ratio < 0.9 and grpc_row.cache_size < trace.footprint
    assert same_numbers(row) == same_numbers(grpc_row) and row.hit_ratio == grpc_row.hit_ratio
    # Every GET was counted once, the probe that looked for an origin among them; the hits of the
    # scored window are among the cache's own.
    reads = after["keyspace_hits"] + after["keyspace_misses"] - before["keyspace_hits"] - before["keyspace_misses"]
    hits = after["keyspace_hits"] - before["keyspace_hits"]
    assert reads == trace.requests + 1 and row.hits <= hits <= row.hits + row.eval_from
    assert r.dbsize() == row.cache_size and row.latency_p50_ms is not None


def test_a_database_other_than_0_never_reads_through_so_a_cache_with_an_origin_replays_the_same(
    cache_with_origin: CacheProcess, trace: Trace, grpc_row: Row
) -> None:
    row = replay_through_service(trace, cache_with_origin.url("second", db=3), train_fraction=0.2)
    assert same_numbers(row) == same_numbers(grpc_row)


def test_database_0_of_a_cache_with_an_origin_is_refused_before_the_replay(
    cache_with_origin: CacheProcess, trace: Trace
) -> None:
    with pytest.raises(FrontEndError, match=r"reads through the cache's origin.*redis://HOST:PORT/1"):
        replay_through_service(trace, cache_with_origin.url("third"), train_fraction=0.2)
    assert redis.Redis.from_url(cache_with_origin.url("third")).dbsize() == 0


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("rediss://127.0.0.1:6379/0", "TLS is not built"),
        ("redis://127.0.0.1:6379/zero", "the database must be a number"),
        ("redis://127.0.0.1:notaport/0", "not a Redis URL"),
        ("redis:///0", "needs a host"),
    ],
)
def test_bad_urls_are_refused_clearly(trace: Trace, url: str, needle: str) -> None:
    with pytest.raises(FrontEndError, match=needle):
        replay_through_service(trace, url, train_fraction=0.0)


def test_a_wrong_password_or_closed_port_is_said_without_the_password(plain_cache: CacheProcess, trace: Trace) -> None:
    wrong = f"redis://first:not-the-password@127.0.0.1:{plain_cache.resp_port}/0"
    with pytest.raises(FrontEndError, match="AuthenticationError: invalid username-password pair") as refused:
        replay_through_service(trace, wrong, train_fraction=0.0)
    assert "not-the-password" not in str(refused.value) and "first:***@" in str(refused.value)
    with pytest.raises(FrontEndError, match="ConnectionError"):
        replay_through_service(trace, f"redis://127.0.0.1:{free_port()}/0", train_fraction=0.0)


def test_cli_refuses_tls_with_exit_status_2(tmp_path: Path) -> None:
    path = tmp_path / "tiny.trace.gz"
    path.write_bytes(gzip.compress(b"1\n2\n1\n"))
    result = subprocess.run(
        [*PREDIS, "replay", str(path), "--through-service", "rediss://u:secret@127.0.0.1:6379"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "TLS is not built" in result.stderr and "secret" not in result.stderr


def test_a_tenant_that_evicted_before_is_told_it_does_not_start_fresh(plain_cache: CacheProcess, trace: Trace) -> None:
    said: list[str] = []
    fresh = replay_through_service(trace, plain_cache.url("third"), train_fraction=0.2, say=said.append)
    assert said == []
    again = replay_through_service(trace, plain_cache.url("third"), train_fraction=0.2, say=said.append)
    # FLUSHDB empties the database, but S3-FIFO still remembers the keys it evicted.
    assert len(said) == 1 and "ghost of evicted keys outlives a flush" in said[0]
    assert again.hits != fresh.hits
