"""``predis bench redis-compare``: a Redis-protocol server measured beside a redis-server on the
same machine, in one run, with clients nobody here wrote.

With ``--start-redis`` (the default) the reference is a redis-server this command starts on a free
loopback port (``--save '' --appendonly no``); ``--reference HOST:PORT`` names one already running.
Both get the same keys first (``key:<12 digits>`` for every number below ``--keyspace``, 100-byte
values, as redis-benchmark's ``__rand_int__`` writes them), so GET and MGET hit. Then, for each of
``--rounds`` rounds:

- ``redis-benchmark -t set,get,incr,mset -n N -r KEYSPACE -d 100 -c 50 --csv``, once as it is and
  once with ``-P 16``;
- an MGET of 100 keys as a custom command (``MGET key:__rand_int__`` x 100: redis-benchmark draws a
  number for each occurrence), whose requests/s x 100 is keys/s.

Each measurement runs against both servers back to back, the one that goes first alternating from
one measurement to the next, so that a change in the machine's load hits both; the table shows
medians over the rounds. Last, GET and SET latency through redis-py, one client per server on
loopback, ``--latency-calls`` calls each after a warm-up, p50 and p99, the two servers taking turns
every tenth of the calls; and, for a server on this machine, the CPU time its process spent per
call over those calls (every thread's, from Linux's ``/proc/PID/task/*/schedstat``, the process
found by its ``INFO server`` ``process_id``): what a request costs the server itself, apart from
the client and the network. None where the server is elsewhere or the kernel does not say.

With ``--pin`` (servers on this machine only), every thread of the servers runs on the last CPU
the command may use and the clients on the others, for the whole run (see ``placement``).

With ``--floor``, every measurement goes to a third server too, in its turn with the other two:
``loop_floor``'s, a Python server on the services' event loop that answers without a cache. What
it manages is what the loop, the sockets and the parse allow on this machine, the part of a
Predis request that is not the cache's work.

The command writes ``key:*`` and ``counter:*`` keys to both servers and flushes neither.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from predis.services.bench import machine
from predis.services.runtime.event_loop import event_loop_name

# redis-benchmark's -t tests and the names its --csv output gives them.
TESTS = "set,get,incr,mset"
LOAD_CHUNK = 10_000
LATENCY_BLOCKS = 10


@dataclass(frozen=True)
class CompareSettings:
    requests: int = 100_000  # -n of the -t runs
    keyspace: int = 100_000  # -r, and the keys loaded first
    value_size: int = 100  # -d, and the loaded values
    clients: int = 50  # -c
    pipeline: int = 16  # -P of the pipelined run
    mget_keys: int = 100
    mget_requests: int = 10_000  # -n of the MGET run: each request reads mget_keys keys
    latency_calls: int = 20_000
    warmup_calls: int = 2_000
    rounds: int = 3
    protocol: int = 2  # RESP version of redis-benchmark (-3) and redis-py alike
    timeout_s: float = 300.0  # the longest one redis-benchmark run may take
    floor: bool = False  # measure loop_floor's server too
    pin: bool = False  # the servers on one CPU, the clients on the others

    def __post_init__(self) -> None:
        counts = ("requests", "keyspace", "value_size", "clients", "pipeline", "mget_keys", "mget_requests")
        for name in (*counts, "latency_calls", "rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.warmup_calls < 0:
            raise ValueError("--warmup-calls must not be negative")
        if self.protocol not in (2, 3):
            raise ValueError("--protocol must be 2 or 3")
        if self.timeout_s <= 0:
            raise ValueError("--timeout must be positive")


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:6379`` for IPv6) -> (host, port); ValueError with the reason."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (say 127.0.0.1:6379)")
    return host, int(port)


def require(*programs: str) -> None:
    """RuntimeError naming the programs that are not on PATH."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        raise RuntimeError(f"{' and '.join(missing)} not found on PATH (apt-get install redis-server, or redis-tools)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def redis_server(extra: tuple[str, ...] = ()) -> Iterator[tuple[str, int]]:
    """A redis-server on a free loopback port, without persistence, stopped on exit."""
    require("redis-server")
    import redis

    with tempfile.TemporaryDirectory(prefix="predis-redis-") as folder, ExitStack() as stack:
        port = _free_port()
        log = stack.enter_context((Path(folder) / "redis.log").open("wb"))
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen([*command, "--dir", folder, *extra], stdout=log, stderr=subprocess.STDOUT)
        stack.callback(_stop, process)
        password = extra[extra.index("--requirepass") + 1] if "--requirepass" in extra else None
        client = redis.Redis("127.0.0.1", port, password=password, socket_connect_timeout=1)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    break
                time.sleep(0.025)
        else:
            raise RuntimeError("redis-server did not answer PING within 5 s")
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start: {(Path(folder) / 'redis.log').read_text()[-500:]}")
        client.close()
        yield "127.0.0.1", port


@contextmanager
def loop_floor(value_size: int) -> Iterator[tuple[tuple[str, int], int]]:
    """``loop_floor``'s server in a process of its own on a free loopback port, stopped on exit:
    its address and process id."""
    command = [sys.executable, "-m", "predis.services.bench.loop_floor", "--value-size", str(value_size)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()  # "loop floor listening on HOST:PORT (LOOP)", or nothing if it failed
        if not line.startswith("loop floor listening on "):
            process.wait(10)
            error = process.stderr.read().strip().splitlines()[-1:] or ["(nothing on stderr)"]
            raise RuntimeError(f"the floor server did not start: {error[0]}")
        host, port = parse_address(line.split()[4])
        yield (host, port), process.pid
    finally:
        _stop(process)


@contextmanager
def placement(pids: dict[str, int | None]) -> Iterator[dict[str, list[int]]]:
    """``--pin``: every thread of the servers on the last CPU this command may use, this command
    (and the redis-benchmark runs it starts, which inherit its affinity) on the others; each put
    back as it was on exit. On a small machine the scheduler's choice decides much: a server that
    shares its client's CPU answers without waking another CPU, which costs a virtual machine
    tens of microseconds a reply, so two servers placed differently are not compared."""
    away = [side for side, pid in pids.items() if pid is None]
    if away:
        raise RuntimeError(f"--pin needs every server on this machine: the {away[0]} is not, or does not say its pid")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError(f"--pin needs two CPUs or more; this command may use {len(cpus)}")
    servers, clients = {cpus[-1]}, set(cpus[:-1])
    saved: dict[int, set[int]] = {0: os.sched_getaffinity(0)}  # 0: this thread
    try:
        for pid in pids.values():
            for task in Path(f"/proc/{pid}/task").iterdir():
                tid = int(task.name)
                try:
                    saved[tid] = os.sched_getaffinity(tid)
                    os.sched_setaffinity(tid, servers)
                except ProcessLookupError:
                    continue  # a thread that ended meanwhile
                except PermissionError:
                    message = f"--pin: not allowed to move process {pid}'s threads (run as its user)"
                    raise RuntimeError(message) from None
        os.sched_setaffinity(0, clients)
        yield {"server_cpus": sorted(servers), "client_cpus": sorted(clients)}
    finally:
        for tid, was in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, was)


def _client(address: tuple[str, int], protocol: int, retries: int = 3) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        address[0],
        address[1],
        protocol=protocol,
        socket_timeout=30,
        socket_connect_timeout=5,
        retry=Retry(NoBackoff(), retries),
    )


def check_server(address: tuple[str, int], role: str, protocol: int) -> str | None:
    """PINGs the server (RuntimeError with the reason when it does not answer); its INFO version if any."""
    import redis

    where = f"{address[0]}:{address[1]}"
    try:
        client = _client(address, protocol, retries=0)
        client.ping()
    except redis.RedisError as e:
        raise RuntimeError(f"the {role} at {where} does not answer PING (RESP{protocol}): {e}") from None
    try:
        return str(client.info("server").get("redis_version")) or None
    except redis.RedisError:
        return None  # INFO is not what is measured here
    finally:
        client.close()


def local_pid(address: tuple[str, int], protocol: int) -> int | None:
    """The process id of a server on this machine (its ``INFO server`` ``process_id``, with a
    ``/proc`` entry this machine can read); None when it is elsewhere or does not say."""
    import redis

    if address[0] not in ("127.0.0.1", "localhost", "::1"):
        return None
    client = _client(address, protocol, retries=0)
    try:
        pid = int(client.info("server").get("process_id", 0))
    except (redis.RedisError, ValueError):
        return None
    finally:
        client.close()
    return pid if pid > 0 and cpu_ns(pid) is not None else None


def cpu_ns(pid: int) -> int | None:
    """Nanoseconds the process ``pid`` has run on a CPU, its live threads together (the first
    field of each thread's ``schedstat``); None where the kernel does not say."""
    total, found = 0, False
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total if found else None


def key_name(i: int) -> str:
    """The name redis-benchmark's ``key:__rand_int__`` gives number ``i``."""
    return f"key:{i:012d}"


def load_keys(address: tuple[str, int], settings: CompareSettings) -> None:
    client = _client(address, settings.protocol)
    value = b"v" * settings.value_size
    try:
        for start in range(0, settings.keyspace, LOAD_CHUNK):
            stop = min(settings.keyspace, start + LOAD_CHUNK)
            client.mset({key_name(i): value for i in range(start, stop)})
    finally:
        client.close()


def benchmark_commands(address: tuple[str, int], settings: CompareSettings) -> dict[str, list[str]]:
    """The three redis-benchmark command lines, by measurement."""
    base = ["redis-benchmark", "-h", address[0], "-p", str(address[1]), "-r", str(settings.keyspace)]
    base += ["-d", str(settings.value_size), "-c", str(settings.clients), "--csv"]
    if settings.protocol == 3:
        base.append("-3")
    n = ["-n", str(settings.requests)]
    mget = ["-n", str(settings.mget_requests), "MGET", *(["key:__rand_int__"] * settings.mget_keys)]
    return {
        "plain": [*base, *n, "-t", TESTS],
        "pipelined": [*base, *n, "-t", TESTS, "-P", str(settings.pipeline)],
        "mget": [*base, *mget],
    }


def parse_csv(output: str) -> dict[str, dict[str, float]]:
    """redis-benchmark 7's ``--csv``: a header row ("test","rps","avg_latency_ms",...), then a row a
    test, every field quoted. Test -> {column: value}."""
    rows = list(csv.reader(io.StringIO(output)))
    header = next((i for i, row in enumerate(rows) if row and row[0] == "test"), None)
    if header is None:
        raise ValueError(f"no CSV header in redis-benchmark's output: {output[:200]!r}")
    columns = rows[header][1:]
    return {row[0]: dict(zip(columns, map(float, row[1:]), strict=True)) for row in rows[header + 1 :] if row}


def _test_name(measurement: str, test: str, settings: CompareSettings) -> str:
    if measurement == "mget":
        return f"MGET ({settings.mget_keys} keys)"
    return test if measurement == "plain" else f"{test} -P {settings.pipeline}"


def run_benchmark(command: list[str], timeout_s: float) -> dict[str, dict[str, float]]:
    # redis-benchmark waits forever on a server that refuses connections: hence the timeout.
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"redis-benchmark ran past {timeout_s:g}s: {' '.join(command[:8])} ...") from None
    if done.returncode != 0:
        error = done.stderr.strip().splitlines()[-1:] or ["(nothing on stderr)"]
        raise RuntimeError(f"redis-benchmark exited {done.returncode} on {' '.join(command[:5])}: {error[0]}")
    return parse_csv(done.stdout)


def _percentiles(ns: list[int]) -> dict[str, float]:
    us = np.asarray(ns, dtype=np.float64) / 1000
    return {"p50_us": round(float(np.percentile(us, 50)), 1), "p99_us": round(float(np.percentile(us, 99)), 1)}


def redis_py_latency(
    servers: dict[str, tuple[str, int]],
    op: str,
    settings: CompareSettings,
    seed: int,
    pids: dict[str, int | None] | None = None,
) -> dict[str, dict[str, float | None]]:
    """p50 and p99 of ``op`` (GET or SET) through one redis-py client per server, after a warm-up.
    The calls go in ``LATENCY_BLOCKS`` blocks, the servers taking turns block by block (the one that
    goes first alternating), so that a change in the machine's load reaches both. With a server's
    ``pids``: its CPU time per call over its blocks (``server_cpu_us``)."""
    pids = pids or {}
    clients = {side: _client(address, settings.protocol) for side, address in servers.items()}
    rng = np.random.default_rng(seed)
    keys = [key_name(int(i)) for i in rng.integers(0, settings.keyspace, settings.latency_calls)]
    value = b"s" * settings.value_size
    timings: dict[str, list[int]] = {side: [] for side in servers}
    cpu: dict[str, int | None] = {side: 0 if pids.get(side) else None for side in servers}
    try:
        calls = {
            side: client.get if op == "GET" else (lambda key, c=client: c.set(key, value))
            for side, client in clients.items()
        }
        for call in calls.values():
            for key in keys[: settings.warmup_calls]:
                call(key)
        for b, block in enumerate(np.array_split(np.arange(len(keys)), LATENCY_BLOCKS)):
            for side in list(servers)[:: 1 if b % 2 == 0 else -1]:
                call, out = calls[side], timings[side]
                pid = pids.get(side) if cpu[side] is not None else None  # None: not (or no longer) measured
                before = cpu_ns(pid) if pid else None
                for i in block:
                    started = time.perf_counter_ns()
                    call(keys[i])
                    out.append(time.perf_counter_ns() - started)
                if pid:
                    after, spent = cpu_ns(pid), cpu[side]
                    if before is None or after is None or spent is None:
                        cpu[side] = None
                    else:
                        cpu[side] = spent + after - before
    finally:
        for client in clients.values():
            client.close()
    return {side: {**_percentiles(t), "server_cpu_us": _per_call_us(cpu[side], len(t))} for side, t in timings.items()}


def _per_call_us(ns: int | None, calls: int) -> float | None:
    return round(ns / calls / 1000, 1) if ns is not None and calls else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def compare(
    target: tuple[str, int],
    reference: tuple[str, int],
    settings: CompareSettings,
    started_redis: bool = False,
) -> dict[str, Any]:
    """Every measurement against both servers, and against ``loop_floor``'s server too with
    ``settings.floor``; see the module's docstring."""
    require("redis-benchmark")
    versions = {
        "target": check_server(target, "target", settings.protocol),
        "reference": check_server(reference, "reference", settings.protocol),
    }
    began = time.perf_counter()
    with ExitStack() as stack:
        servers = {"target": target, "reference": reference}
        pids = {"target": local_pid(target, settings.protocol), "reference": local_pid(reference, settings.protocol)}
        if settings.floor:
            servers["floor"], pids["floor"] = stack.enter_context(loop_floor(settings.value_size))
        placed = stack.enter_context(placement(pids)) if settings.pin else None
        benchmark, commands = _benchmark_rounds(servers, settings)
        latency: dict[str, dict[str, Any]] = {}
        for i, op in enumerate(("GET", "SET")):
            timed = redis_py_latency(servers, op, settings, i, pids)
            t, r = timed["target"], timed["reference"]
            latency[op] = {
                **timed,
                "p50_ratio": _ratio(t["p50_us"], r["p50_us"]),
                "server_cpu_ratio": _ratio(t["server_cpu_us"], r["server_cpu_us"]),
            }
    mget = benchmark.get(f"MGET ({settings.mget_keys} keys)")
    return {
        "target": f"{target[0]}:{target[1]}",
        "reference": f"{reference[0]}:{reference[1]}",
        "reference_started_here": started_redis,
        "versions": {**versions, "redis_benchmark": _benchmark_version()},
        "settings": asdict(settings),
        "commands": commands,
        "benchmark": benchmark,
        "mget_keys_per_s": {
            side: round(mget[f"{side}_rps"] * settings.mget_keys) if mget and mget[f"{side}_rps"] else None
            for side in servers
        },
        "latency": latency,
        "floor_loop": event_loop_name(os.environ) if settings.floor else None,
        "placement": placed,
        "seconds": round(time.perf_counter() - began, 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def _benchmark_rounds(
    servers: dict[str, tuple[str, int]], settings: CompareSettings
) -> tuple[dict[str, Any], dict[str, dict[str, list[str]]]]:
    """The redis-benchmark runs, every round, against every server in turn (the one that goes
    first rotating from one measurement to the next): their medians by test, and the commands."""
    for side in ("target", "reference"):  # the floor keeps no keys
        load_keys(servers[side], settings)
    commands = {side: benchmark_commands(address, settings) for side, address in servers.items()}
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    sides = list(servers)
    step = 0
    for _ in range(settings.rounds):
        for measurement in ("plain", "pipelined", "mget"):
            first = step % len(sides)
            step += 1
            for side in sides[first:] + sides[:first]:
                for test, figures in run_benchmark(commands[side][measurement], settings.timeout_s).items():
                    name = _test_name(measurement, test, settings)
                    runs.setdefault(name, {side: [] for side in sides})[side].append(figures)
    return {name: _summary(by_side) for name, by_side in runs.items()}, commands


def _summary(sides: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Medians over the rounds. redis-benchmark prints rps "inf" for a run shorter than its 1 ms
    clock: such runs are left out of the median (None when every run was one; raise --requests)."""
    out: dict[str, Any] = {}
    for side, figures in sides.items():
        timed = [f for f in figures if math.isfinite(f["rps"])]
        out[f"{side}_rps"] = round(statistics.median(f["rps"] for f in timed), 1) if timed else None
        out[f"{side}_p50_ms"] = round(statistics.median(f["p50_latency_ms"] for f in figures), 3)
        out[f"{side}_p99_ms"] = round(statistics.median(f["p99_latency_ms"] for f in figures), 3)
        out[f"{side}_runs_rps"] = [f["rps"] if math.isfinite(f["rps"]) else None for f in figures]
        rps = [f["rps"] for f in timed]
        # How far apart the rounds were: a ratio nearer 1 than this says nothing.
        out[f"{side}_spread"] = round((max(rps) - min(rps)) / statistics.median(rps), 3) if rps else None
    target, reference = out.get("target_rps"), out.get("reference_rps")
    out["ratio"] = _ratio(target, reference)
    return out


def _benchmark_version() -> str:
    done = subprocess.run(["redis-benchmark", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def run_compare(target: str, reference: str | None = None, settings: CompareSettings | None = None) -> dict[str, Any]:
    """``compare`` with the reference started here when ``reference`` is None."""
    settings = settings or CompareSettings()
    target_address = parse_address(target)
    if reference is not None:
        reference_address = parse_address(reference)
        if reference_address == target_address:
            raise ValueError("--target and --reference are the same server")
        return compare(target_address, reference_address, settings)
    require("redis-server", "redis-benchmark")
    with redis_server() as started:
        return compare(target_address, started, settings, started_redis=True)


def _count(value: float | None) -> str:
    return "too fast to time" if value is None else f"{value:,.0f}"


def print_table(result: dict[str, Any]) -> None:
    s = result["settings"]
    versions = result["versions"]
    started = " (started here)" if result["reference_started_here"] else ""
    print(
        f"redis-compare: target {result['target']} (redis_version {versions['target']}) vs reference "
        f"{result['reference']}{started} (redis-server {versions['reference']}); {versions['redis_benchmark']}"
    )
    print(
        f"redis-benchmark -n {s['requests']:,} -r {s['keyspace']:,} -d {s['value_size']} -c {s['clients']}, "
        f"RESP{s['protocol']}, median of {s['rounds']} round(s), target and reference alternating"
    )
    floor = bool(result.get("floor_loop"))
    floor_head = f"{'floor req/s':>13}" if floor else ""
    print(f"  {'test':<24}{'target req/s':>14}{'reference req/s':>17}{'target/ref':>12}{'spread':>9}{floor_head}")
    for name, row in result["benchmark"].items():
        target, reference = (_count(row[f"{side}_rps"]) for side in ("target", "reference"))
        ratio = f"{row['ratio']:.3f}" if row["ratio"] is not None else "-"
        spreads = [x for x in (row["target_spread"], row["reference_spread"]) if x is not None]
        spread = f"{max(spreads):.0%}" if spreads else "-"
        floor_rps = f"{_count(row['floor_rps']):>13}" if floor else ""
        print(f"  {name:<24}{target:>14}{reference:>17}{ratio:>12}{spread:>9}{floor_rps}")
    print("  (spread: the wider of the two sides' (max - min) / median over the rounds)")
    keys = result["mget_keys_per_s"]
    floor_keys = f", floor {_count(keys['floor'])}" if floor else ""
    print(f"  MGET keys/s: target {_count(keys['target'])}, reference {_count(keys['reference'])}{floor_keys}")
    calls = f"{s['latency_calls']:,} calls each after {s['warmup_calls']:,} warm-up"
    print(f"redis-py, one client per server on loopback, {calls}, the servers taking turns:")
    print(
        f"  {'':<6}{'target p50 / p99 us':>22}{'reference p50 / p99 us':>25}{'p50 ratio':>12}"
        f"{'server CPU us/call, target / ref':>35}"
    )
    for op, row in result["latency"].items():
        t, r = (f"{row[side]['p50_us']:.1f} / {row[side]['p99_us']:.1f}" for side in ("target", "reference"))
        ratio = f"{row['p50_ratio']:.3f}" if row["p50_ratio"] is not None else "-"
        cpu = " / ".join(
            "-" if row[side]["server_cpu_us"] is None else f"{row[side]['server_cpu_us']:.1f}"
            for side in ("target", "reference")
        )
        print(f"  {op:<6}{t:>22}{r:>25}{ratio:>12}{cpu:>35}")
    if floor:
        print(f"floor: a bare Python server on {result['floor_loop']}'s loop that answers without a cache (--floor):")
        for op, row in result["latency"].items():
            f = row["floor"]
            cpu = "-" if f["server_cpu_us"] is None else f"{f['server_cpu_us']:.1f}"
            print(f"  {op:<6}p50 / p99 {f['p50_us']:.1f} / {f['p99_us']:.1f} us, server CPU {cpu} us/call")
    if result.get("placement"):
        placed = result["placement"]
        cpus = ", ".join(map(str, placed["server_cpus"])), ", ".join(map(str, placed["client_cpus"]))
        print(f"  (--pin: the servers on CPU {cpus[0]}, the clients on CPU {cpus[1]})")
    print(f"  {result['seconds']}s, {result['date']}, {result['machine']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = CompareSettings()
    parser.add_argument("--target", required=True, help="HOST:PORT of the server measured (Predis's RESP address)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--reference", help="HOST:PORT of a redis-server already running (it gets key:* keys)")
    where.add_argument(
        "--start-redis", action="store_true", help="start a redis-server here as the reference (the default)"
    )
    parser.add_argument("--requests", type=int, default=d.requests, help=f"-n of the -t runs ({d.requests:,})")
    parser.add_argument("--keyspace", type=int, default=d.keyspace, help=f"-r and keys loaded first ({d.keyspace:,})")
    parser.add_argument("--value-size", type=int, default=d.value_size, help=f"-d ({d.value_size})")
    parser.add_argument("--clients", type=int, default=d.clients, help=f"-c ({d.clients})")
    parser.add_argument("--pipeline", type=int, default=d.pipeline, help=f"-P of the pipelined run ({d.pipeline})")
    parser.add_argument("--mget-keys", type=int, default=d.mget_keys, help=f"keys per MGET ({d.mget_keys})")
    parser.add_argument(
        "--mget-requests", type=int, default=d.mget_requests, help=f"-n of the MGET run ({d.mget_requests:,})"
    )
    parser.add_argument(
        "--latency-calls", type=int, default=d.latency_calls, help=f"redis-py GETs and SETs ({d.latency_calls:,})"
    )
    parser.add_argument("--warmup-calls", type=int, default=d.warmup_calls, help=f"before them ({d.warmup_calls:,})")
    parser.add_argument("--rounds", type=int, default=d.rounds, help=f"of the redis-benchmark runs ({d.rounds})")
    parser.add_argument("--protocol", type=int, choices=(2, 3), default=d.protocol, help="RESP version (2)")
    parser.add_argument("--timeout", type=float, default=d.timeout_s, help="longest redis-benchmark run, s (300)")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="measure a bare Python server on the services' event loop that answers without a cache too (loop_floor)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="every server's threads on this machine's last CPU, the clients on the others (servers here only)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    try:
        settings = CompareSettings(
            requests=args.requests,
            keyspace=args.keyspace,
            value_size=args.value_size,
            clients=args.clients,
            pipeline=args.pipeline,
            mget_keys=args.mget_keys,
            mget_requests=args.mget_requests,
            latency_calls=args.latency_calls,
            warmup_calls=args.warmup_calls,
            rounds=args.rounds,
            protocol=args.protocol,
            timeout_s=args.timeout,
            floor=args.floor,
            pin=args.pin,
        )
        parse_address(args.target)
        if args.reference is not None:
            parse_address(args.reference)
        result = run_compare(args.target, args.reference, settings)
    except (ValueError, RuntimeError) as e:
        raise SystemExit(f"predis bench redis-compare: {e}") from None
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0
