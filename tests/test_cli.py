"""`predis up`, `predis status` and `predis serve` as a user runs them: real processes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

import predis

PREDIS = [sys.executable, "-m", "predis.services.cli"]
LINE = re.compile(r"^\s+(cache|predictor|drift|retrainer)\s+(\S+)\s+pid (\d+)")


@dataclass
class Up:
    process: subprocess.Popen[str]
    addresses: dict[str, str]
    pids: dict[str, int]
    lines: list[str]


def _start_up(tmp_path) -> Up:  # type: ignore[no-untyped-def]
    process = subprocess.Popen(
        [*PREDIS, "up", "--base-port", "0", "--log-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    addresses: dict[str, str] = {}
    pids: dict[str, int] = {}
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        match = LINE.match(line)
        if match:
            addresses[match.group(1)] = match.group(2)
            pids[match.group(1)] = int(match.group(3))
        if line.startswith("Ctrl-C"):
            break
    assert len(addresses) == 4, "".join(lines) + (process.stderr.read() if process.poll() is not None else "")  # type: ignore[union-attr]
    return Up(process, addresses, pids, lines)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc; none elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


@pytest.fixture
def up(tmp_path) -> Iterator[Up]:  # type: ignore[no-untyped-def]
    running = _start_up(tmp_path)
    yield running
    # Every process the supervisor started (the dashboard, a restarted helper), should it not stop them.
    started = _children(running.process.pid)
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)  # a killed supervisor would orphan its services
        try:
            running.process.wait(30)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()
    for pid in {*running.pids.values(), *started}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_up_starts_four_services_that_serve_and_reflect(up: Up) -> None:
    for name, address in up.addresses.items():
        with grpc.insecure_channel(address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert status.status == health_pb2.HealthCheckResponse.SERVING
            services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
            assert f"predis.v1.{name.capitalize()}Service" in services
    flags = [f"--{name}={address}" for name, address in up.addresses.items()]
    status = subprocess.run([*PREDIS, "status", *flags], capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("SERVING") == 4
    # The cache was told where the predictor is.
    with predis.Client(up.addresses["cache"]) as client:
        assert client.stats().predictor.address == up.addresses["predictor"]


def test_ctrl_c_stops_all_four_cleanly(up: Up) -> None:
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(30) == 0
    for pid in up.pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_helpers_killed_are_restarted_while_the_cache_keeps_serving(up: Up, tmp_path: Path) -> None:
    from model_factory import make_model_dir

    from predis.services.cache.features import FEATURES

    with predis.Client(predictor=up.addresses["predictor"]) as client:  # it takes the cache's features only
        client.predictor.load_model("v1", str(make_model_dir(tmp_path / "model", names=FEATURES)))
    failures: list[str] = []
    reads = 0
    done = threading.Event()

    def read_and_write() -> None:
        nonlocal reads
        with predis.Client(up.addresses["cache"]) as client:
            while not done.is_set() and reads < 100_000:
                try:
                    client.set(b"k%d" % (reads % 100), b"v")
                    assert client.get(b"k%d" % (reads % 100)) == b"v"
                    reads += 1
                except Exception as error:  # noqa: BLE001 - every failure is the test's finding
                    failures.append(repr(error))

    load = threading.Thread(target=read_and_write)
    load.start()
    try:
        for name in ("predictor", "drift", "retrainer"):  # all at once
            os.kill(up.pids[name], signal.SIGKILL)
        flags = [f"--{name}={address}" for name, address in up.addresses.items()]
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline:
            result = subprocess.run([*PREDIS, "status", *flags], capture_output=True, text=True, timeout=30)
            status = result.stdout
            if result.returncode == 0 and status.count("restarts 1") == 3:
                break
            time.sleep(0.5)
        assert status.count("SERVING") == 4 and status.count("restarts 1") == 3, status
        assert "cache" in status and "restarts 0" in status
        assert up.process.poll() is None  # the suite is still up
        with predis.Client(predictor=up.addresses["predictor"]) as client:
            assert [m.version for m in client.predictor.list_models()] == ["v1"]  # loaded again on restart
    finally:
        done.set()
        load.join(30)
    assert reads > 0 and failures == []  # not one failed call while the helpers were down
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(30) == 0
    assert up.process.stderr is not None
    log = up.process.stderr.read()
    assert "predis-predictor exited with code -9; the cache keeps serving; restarting it in 0.5s" in log
    assert "predis-drift is back on" in log


def test_the_suite_stops_when_the_cache_dies(up: Up) -> None:
    os.kill(up.pids["cache"], signal.SIGKILL)
    assert up.process.wait(30) == 1
    assert up.process.stderr is not None
    assert "predis-cache exited" in up.process.stderr.read()
    for pid in up.pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_status_reports_unreachable_services() -> None:
    result = subprocess.run(
        [
            *PREDIS,
            "status",
            "--cache=127.0.0.1:1",
            "--predictor=127.0.0.1:1",
            "--drift=127.0.0.1:1",
            "--retrainer=127.0.0.1:1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout.count("UNREACHABLE") == 4


def test_sigterm_drains_in_flight_calls() -> None:
    env = {**os.environ, "PREDIS_ORIGIN": "synthetic:?latency_ms=1500", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [*PREDIS, "serve", "cache", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert server.stdout is not None
    address = server.stdout.readline().strip().rsplit(" ", 1)[-1]
    results: list[object] = []

    def slow_get() -> None:
        with predis.Client(address) as client:
            try:
                results.append(client.get(b"slow"))
            except predis.PredisError as error:
                results.append(error)

    caller = threading.Thread(target=slow_get)
    caller.start()
    time.sleep(0.5)  # the call is now waiting on the origin
    server.send_signal(signal.SIGTERM)
    caller.join(10)
    assert server.wait(10) == 0
    assert len(results) == 1 and isinstance(results[0], bytes), results


def test_bad_settings_fail_fast_with_the_variable_name() -> None:
    result = subprocess.run(
        [*PREDIS, "serve", "cache"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PREDIS_CACHE_MEMORY_BYTES": "lots"},
    )
    assert result.returncode == 2
    assert "PREDIS_CACHE_MEMORY_BYTES='lots' is not an integer" in result.stderr


def test_demo_replays_the_shipped_trace_with_and_without_learned_prefetching_then_switches_traffic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from predis.services.demo import run_demo

    assert run_demo(requests=2000, rate=400, warm=3000) == 0
    out = capsys.readouterr().out
    assert "Keys: id field (bits 9-26) scrambled with seed 0" in out  # honest keys, and it says so
    assert "Scored 2,000 GETs through the cache service" in out
    assert re.search(r"learned, in process\s+0\.\d{4}", out)  # replay's learned policy on the same requests
    plain, learned = (float(x) for x in re.search(r"hit ratio\s+([0-9.]+)\s+([0-9.]+)", out).groups())  # type: ignore[union-attr]
    replay = float(re.search(r"same requests, replay\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    assert abs(plain - replay) < 0.01  # no model: the service is the replayed S3-FIFO
    assert learned > plain  # the trained model's prefetches were read
    used = int(re.search(r"(\d[\d,]*) started, (\d[\d,]*) used", out).group(2).replace(",", ""))  # type: ignore[union-attr]
    assert used > 0
    # Then the traffic changes: the drift service notices by itself and the retrainer answers.
    assert "The traffic changes." in out
    assert re.search(r"alert \S+: (ks|psi|chi2|adwin) on \w+", out)
    assert re.search(r"job job-\w+ (promoted|rejected|failed)", out)
    assert "Stopped the suite." in out
