"""Snapshots: what the cache held comes back after a restart, TTLs as absolute times; a torn,
foreign or newer file is ignored; a writer killed mid-write leaves the previous snapshot whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from predis.services.cache import snapshot
from predis.services.cache.engine.engine import Engine, EngineConfig
from predis.services.cache.engine.numpy_storage import NumpyStorage


def engine(clock_ms: list[int] | None = None) -> Engine:
    config = EngineConfig(memory_bytes=4 << 20)
    if clock_ms is None:
        return Engine(config, NumpyStorage())
    return Engine(config, NumpyStorage(), clock_ns=lambda: clock_ms[0] * 1_000_000)


def test_a_snapshot_brings_back_every_tenants_entries_and_their_ttls(tmp_path: Path) -> None:
    first = engine([5_000])
    first.set("a", b"k1", b"v1")
    first.set("a", b"k2", b"v2" * 100, ttl_ms=60_000)
    first.set("b", b"k1", b"other tenant")
    first.set("b", b"gone", b"x", ttl_ms=10)
    path = tmp_path / "cache.snapshot"
    snapshot.write(path, snapshot.capture(first, now_unix_ms=1_000_000))
    # Restarted 30 s later (wall clock), on a machine whose monotonic clock started anew.
    second = engine([7])
    restored = snapshot.restore(second, snapshot.read(path), now_unix_ms=1_030_000)  # type: ignore[arg-type]
    assert restored == 3  # "gone" expired while the cache was down
    assert second.get("a", b"k1")[0] == b"v1" and second.get("b", b"k1")[0] == b"other tenant"
    assert second.get("a", b"k2")[0] == b"v2" * 100 and second.ttl_ms("a", b"k2") == 30_000
    assert second.get("b", b"gone")[0] is None and second.ttl_ms("a", b"k1") == -1


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # torn
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # a flipped bit
        lambda data: b"REDIS0011" + data[9:],  # someone else's file
        lambda data: data.replace(b"\x01\x00\x00\x00", b"\x02\x00\x00\x00", 1),  # a newer version
        lambda data: b"",
    ],
)
def test_a_damaged_or_foreign_snapshot_is_ignored(tmp_path: Path, damage, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    e = engine()
    e.set("a", b"k", b"v")
    path = tmp_path / "cache.snapshot"
    snapshot.write(path, snapshot.capture(e))
    path.write_bytes(damage(path.read_bytes()))
    assert snapshot.read(path) is None
    assert "ignoring the snapshot" in caplog.text or "starting empty" in caplog.text


def test_a_writer_killed_mid_write_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "cache.snapshot"
    e = engine()
    e.set("a", b"before", b"kill")
    snapshot.write(path, snapshot.capture(e))
    # A child writes ever larger snapshots to the same path, and is killed while writing.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, os\n"
            "from pathlib import Path\n"
            "from predis.services.cache import snapshot\n"
            "from predis.services.cache.engine.engine import Engine, EngineConfig\n"
            "from predis.services.cache.engine.numpy_storage import NumpyStorage\n"
            "e = Engine(EngineConfig(memory_bytes=256 << 20), NumpyStorage())\n"
            "for i in range(20_000): e.set('a', b'k%d' % i, os.urandom(1000))\n"
            "print('ready', flush=True)\n"
            "while True: snapshot.write(Path(sys.argv[1]), snapshot.capture(e))\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".cache.snapshot.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.001)  # wait until a write is under way
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    loaded = snapshot.read(path)
    assert loaded is not None  # whichever whole snapshot was last renamed into place
    assert len(loaded) in (1, 20_000)


def _serve_cache(path: Path, interval_s: float) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "PREDIS_CACHE_SNAPSHOT_PATH": str(path),
        "PREDIS_CACHE_SNAPSHOT_INTERVAL_S": str(interval_s),
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "predis.services.cli", "serve", "cache", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip().rsplit(" ", 1)[-1]


def test_the_cache_service_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    import predis

    path = tmp_path / "cache.snapshot"
    server, address = _serve_cache(path, interval_s=0)  # only at graceful shutdown
    try:
        with predis.Client(address, config=predis.ClientConfig(tenant="shop")) as client:
            client.set("cart:1", b"3 items")
            client.set("session:9", b"alive", ttl_ms=120_000)
        server.send_signal(signal.SIGTERM)
        assert server.wait(20) == 0 and path.exists()
        server, address = _serve_cache(path, interval_s=0.3)
        with predis.Client(address, config=predis.ClientConfig(tenant="shop")) as client:
            assert client.get("cart:1") == b"3 items"
            assert 100_000 < client.ttl("session:9") <= 120_000  # the TTL kept counting
            client.set("added", b"after restart")
        time.sleep(1.0)  # a periodic snapshot has been written since
        os.kill(server.pid, signal.SIGKILL)  # no graceful shutdown this time
        server.wait(10)
        server, address = _serve_cache(path, interval_s=0)
        with predis.Client(address, config=predis.ClientConfig(tenant="shop")) as client:
            assert client.get("added") == b"after restart" and client.get("cart:1") == b"3 items"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
