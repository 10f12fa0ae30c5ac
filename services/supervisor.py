"""``predis up``: the four services as separate processes on loopback, started in dependency
order, watched, and stopped together.

A helper service (predictor, drift, retrainer) that exits on its own is restarted on the same
address with back-off, loudly (a line on stderr, a restart count in ``predis status``), while the
cache keeps serving: prediction is an optimisation, never a dependency of a read. The suite stops
when asked, or when the cache itself exits (its data is gone then; restarting it would hide that)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from predis.services.runtime.files import write_atomically
from predis.services.runtime.settings import DEFAULT_PORTS, METRICS_PORTS, address_env_var

# The cache is started last because it connects to the others.
START_ORDER = ("predictor", "drift", "retrainer", "cache")
RESTART_FIRST_DELAY_S = 0.5
RESTART_MAX_DELAY_S = 30.0
RESTART_RESET_AFTER_S = 60.0  # a service that ran this long starts its back-off afresh
# The helpers run at a lower CPU priority than the cache (nice 10, PREDIS_HELPER_NICE; 0 for the
# same): on a shared machine a flooded predictor or a retraining run then takes the CPU the cache
# does not need, and the cache's reads never wait behind their work.
HELPER_NICE = 10
_READY = re.compile(r"^predis-(\w+) listening on (\S+):(\d+)$")
_METRICS = re.compile(r"^predis-(\w+) metrics on http://(\S+)/metrics$")  # runtime/lifecycle.py's METRICS_LINE
# The ROI dashboard runs beside the four under `predis up` (not under start_suite's other callers):
# a helper like the others, restarted when it exits, never a reason to stop the suite.
DASHBOARD = "dashboard"
DASHBOARD_PORT = 8080


class StartupError(RuntimeError):
    """A service did not come up; the message says which and where its log is."""


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[str]
    address: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    next_delay_s: float = RESTART_FIRST_DELAY_S
    metrics: str = ""  # HOST:PORT of its Prometheus /metrics, when it serves them

    def restart_delay(self) -> float:
        """How long to wait before the next restart (doubling, reset after a long healthy run)."""
        if time.monotonic() - self.started_at >= RESTART_RESET_AFTER_S:
            self.next_delay_s = RESTART_FIRST_DELAY_S
        delay = self.next_delay_s
        self.next_delay_s = min(RESTART_MAX_DELAY_S, 2 * delay)
        return delay


@dataclass
class Suite:
    """Running services, in start order."""

    services: list[ServiceProcess] = field(default_factory=list)

    @property
    def addresses(self) -> dict[str, str]:
        return {s.name: s.address for s in self.services}

    def env(self) -> dict[str, str]:
        return {address_env_var(s.name): s.address for s in self.services if s.name != DASHBOARD}

    def exited(self) -> ServiceProcess | None:
        return next((s for s in self.services if s.process.poll() is not None), None)

    def restart(self, service: ServiceProcess, timeout_s: float = 120.0) -> None:
        """Starts ``service`` again on its address, appending to its log."""
        host, port = service.address.rsplit(":", 1)
        process, address = _launch(service.name, host, int(port), service.log_path, service.env, timeout_s, "a")
        service.process, service.address = process, address
        service.started_at = time.monotonic()
        service.restarts += 1

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM to each, cache first (it talks to the others), then wait; SIGKILL stragglers."""
        for service in reversed(self.services):
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for service in reversed(self.services):
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()


def _wait_ready(
    process: subprocess.Popen[str], name: str, log_path: Path, timeout_s: float, seen: dict[str, str] | None = None
) -> str:
    """The address the service's ready line names; ``seen`` gets its metrics address (``metrics``)
    when it prints one first."""
    assert process.stdout is not None
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            metrics = _METRICS.match(line.strip())
            if metrics and metrics.group(1) == name and seen is not None:
                seen["metrics"] = metrics.group(2)
            match = _READY.match(line.strip())
            if match and match.group(1) == name:
                found.append(f"{match.group(2)}:{match.group(3)}")
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not found:
        exited = process.poll()
        process.kill()
        process.wait()
        tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
        what = f"exited with code {exited}" if exited is not None else f"did not start within {timeout_s:g}s"
        raise StartupError(f"predis-{name} {what}; its log {log_path} ends:\n{tail}")
    return found[0]


def _launch(
    name: str,
    host: str,
    port: int,
    log_path: Path,
    env: dict[str, str],
    timeout_s: float,
    mode: str = "w",
    seen: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    nice = 0 if name == "cache" else helper_nice(env)
    command = [DASHBOARD] if name == DASHBOARD else ["serve", name]  # the dashboard is no `serve` service
    process = subprocess.Popen(
        [sys.executable, "-m", "predis.services.cli", *command, "--listen", f"{host}:{port}"],
        stdout=subprocess.PIPE,
        stderr=log_path.open(mode),
        text=True,
        env=env,
        start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops them in order
    )
    if nice:
        os.setpriority(os.PRIO_PROCESS, process.pid, nice)  # (preexec_fn is unsafe with threads)
    return process, _wait_ready(process, name, log_path, timeout_s, seen)


def helper_nice(env: Mapping[str, str]) -> int:
    raw = env.get("PREDIS_HELPER_NICE", str(HELPER_NICE))
    try:
        value = int(raw)
    except ValueError:
        raise StartupError(f"PREDIS_HELPER_NICE={raw!r} is not an integer from 0 to 19") from None
    if not 0 <= value <= 19:
        raise StartupError(f"PREDIS_HELPER_NICE={value} is not an integer from 0 to 19")
    return value


def start_suite(
    host: str = "127.0.0.1",
    base_port: int = DEFAULT_PORTS["cache"],
    log_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
    dial: Mapping[str, str] | None = None,
    metrics: bool = False,
) -> Suite:
    """Starts the four services; ``base_port`` 0 lets each pick a free port. ``dial`` gives, by
    service name, the address the services started after it call instead of its own (a proxy
    in front of it, as ``predis bench faults`` puts one that slows the predictor down).
    ``metrics``: each serves Prometheus metrics (``metrics_listen``), as under ``predis up``."""
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp")) / f"predis-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    suite = Suite()
    env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    # A restarted predictor loads again the models it had (services/predictor/manifest.py).
    env.setdefault("PREDIS_PREDICTOR_STATE_DIR", str(log_dir / "predictor-state"))
    # One data directory for the loop: the cache's access segments, the retrainer's jobs and model
    # store, which the predictor reads its champions from at start.
    env.setdefault("PREDIS_DATA_DIR", str(log_dir / "data"))
    if env.get("PREDIS_AUTH", "off").lower() == "required" and not env.get("PREDIS_TOKEN"):
        raise StartupError(
            "PREDIS_AUTH=required: set PREDIS_TOKEN to an admin token for the services' calls to each other "
            "(PREDIS_DATA_DIR=... predis tokens create ops --admin), and keep PREDIS_DATA_DIR set to where it is"
        )
    try:
        for name in START_ORDER:
            port = 0 if base_port == 0 else base_port + (DEFAULT_PORTS[name] - DEFAULT_PORTS["cache"])
            log_path = log_dir / f"{name}.log"
            service_env = {**env, **suite.env(), **{address_env_var(n): a for n, a in (dial or {}).items()}}
            if metrics:
                service_env["PREDIS_METRICS_LISTEN"] = metrics_listen(name, host, base_port, env)
            seen: dict[str, str] = {}
            process, address = _launch(name, host, port, log_path, service_env, timeout_s, seen=seen)
            if "metrics" in seen:  # a restart serves them where they were, a free port included
                service_env["PREDIS_METRICS_LISTEN"] = seen["metrics"]
            service = ServiceProcess(name, process, address, log_path, service_env, metrics=seen.get("metrics", ""))
            suite.services.append(service)
    except BaseException:
        suite.stop()
        raise
    return suite


def metrics_listen(name: str, host: str, base_port: int, env: Mapping[str, str]) -> str:
    """Where ``predis up`` has a service serve metrics: its port of ``METRICS_PORTS`` on the
    suite's host (a free port when the services take free ports too); ``off`` when
    ``PREDIS_METRICS_LISTEN=off`` says so."""
    if env.get("PREDIS_METRICS_LISTEN", "").lower() == "off":
        return "off"
    return f"{host}:{METRICS_PORTS[name] if base_port else 0}"


def dashboard_listen(host: str, base_port: int, env: Mapping[str, str]) -> str:
    """``PREDIS_DASHBOARD_LISTEN``, else port 8080 on the suite's host (a free port when the
    services take free ports too)."""
    return env.get("PREDIS_DASHBOARD_LISTEN") or f"{host}:{DASHBOARD_PORT if base_port else 0}"


def dialable(address: str) -> str:
    """``address`` with a wildcard host (it listens on every interface) as loopback, to call."""
    host, port = address.rsplit(":", 1)
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host in ("[::]", "::"):
        host = "[::1]"
    return f"{host}:{port}"


def start_dashboard(suite: Suite, listen: str, timeout_s: float = 60.0) -> ServiceProcess:
    """Starts ``predis dashboard`` over ``suite`` on ``listen`` and adds it to the suite, whose
    supervision restarts it like a helper; StartupError when it does not come up."""
    cache = next(s for s in suite.services if s.name == "cache")
    host, port = listen.rsplit(":", 1)
    log_path = cache.log_path.parent / f"{DASHBOARD}.log"
    env = {**cache.env, **suite.env()}  # the cache's environment (token, TLS) and every address
    env.pop("PREDIS_METRICS_LISTEN", None)  # the cache's own: the dashboard serves no metrics
    if cache.metrics:  # its GET latency histogram, which Stats does not carry
        env.setdefault("PREDIS_DASHBOARD_CACHE_METRICS", f"http://{dialable(cache.metrics)}/metrics")
    process, address = _launch(DASHBOARD, host, int(port), log_path, env, timeout_s)
    dashboard = ServiceProcess(DASHBOARD, process, address, log_path, env)
    suite.services.append(dashboard)
    return dashboard


def run_up(host: str, base_port: int, log_dir: Path | None) -> int:
    """Foreground ``predis up``: start, print addresses, watch, stop on Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        suite = start_suite(host, base_port, log_dir, metrics=True)
    except StartupError as error:
        print(f"predis up: {error}", file=sys.stderr)
        return 1
    dashboard = None
    try:
        dashboard = start_dashboard(suite, dashboard_listen(host, base_port, os.environ))
    except (StartupError, ValueError) as error:  # the suite serves without it
        print(f"predis up: the dashboard did not start: {error}", file=sys.stderr, flush=True)
    print("Predis is up:")
    for service in suite.services:
        print(f"  {service.name:<10} {service.address:<22} pid {service.process.pid:<8} log {service.log_path}")
    print("For clients in another shell:")
    for var, address in suite.env().items():
        print(f"  export {var}={address}")
    served = [s for s in suite.services if s.metrics]
    if served:
        print("Prometheus metrics:")
        for service in served:
            print(f"  {service.name:<10} http://{service.metrics}/metrics")
    if dashboard is not None:
        print(f"Dashboard: http://{dashboard.address}/")
    print("Ctrl-C stops all four.", flush=True)
    code = supervise(suite, stop)
    print("Stopping...", flush=True)
    suite.stop()
    state_path(suite.addresses["cache"]).unlink(missing_ok=True)
    print("Stopped.")
    return code


def state_path(cache_address: str) -> Path:
    """Where ``predis up`` keeps what ``predis status`` shows of it (restart counts)."""
    safe = re.sub(r"[^0-9A-Za-z.]", "-", cache_address)
    return Path(tempfile.gettempdir()) / f"predis-up-{os.getuid()}-{safe}.json"


def _write_state(suite: Suite) -> None:
    state = {s.name: {"address": s.address, "pid": s.process.pid, "restarts": s.restarts} for s in suite.services}
    write_atomically(state_path(suite.addresses["cache"]), json.dumps(state).encode())  # never half a file


def read_state(cache_address: str) -> dict[str, dict[str, object]]:
    """What a running ``predis up`` with this cache wrote, or {} when there is none."""
    try:
        state: dict[str, dict[str, object]] = json.loads(state_path(cache_address).read_text())
        return state
    except (OSError, ValueError):
        return {}


def supervise(suite: Suite, stop: threading.Event) -> int:
    """Restarts fallen helper services until ``stop`` is set or the cache exits (then 1)."""
    _write_state(suite)
    due: dict[str, float] = {}  # service name -> when to restart it
    while not stop.wait(0.2):
        for service in suite.services:
            if service.process.poll() is None or service.name in due:
                continue
            if service.name == "cache":
                print(
                    f"predis up: predis-cache exited with code {service.process.returncode}; "
                    f"stopping the others (see {service.log_path})",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            delay = service.restart_delay()
            due[service.name] = time.monotonic() + delay
            print(
                f"predis up: predis-{service.name} exited with code {service.process.returncode}; the cache keeps "
                f"serving; restarting it in {delay:g}s (restart {service.restarts + 1}; see {service.log_path})",
                file=sys.stderr,
                flush=True,
            )
        for service in suite.services:
            if service.name in due and time.monotonic() >= due[service.name]:
                del due[service.name]
                try:
                    suite.restart(service)
                except StartupError as error:
                    print(f"predis up: {error}", file=sys.stderr, flush=True)
                    continue  # its process has exited: the next pass schedules another try
                print(f"predis up: predis-{service.name} is back on {service.address}", file=sys.stderr, flush=True)
                _write_state(suite)
    return 0
