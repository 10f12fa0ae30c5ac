"""``predis up``: the four services as separate processes on loopback, started in dependency
order, watched, and stopped together. Nothing is restarted silently: when one service exits on
its own, the supervisor says which and stops the others."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from predis.services.runtime.settings import DEFAULT_PORTS, address_env_var

# The cache is started last because it connects to the others.
START_ORDER = ("predictor", "drift", "retrainer", "cache")
_READY = re.compile(r"^predis-(\w+) listening on (\S+):(\d+)$")


class StartupError(RuntimeError):
    """A service did not come up; the message says which and where its log is."""


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[str]
    address: str
    log_path: Path


@dataclass
class Suite:
    """Running services, in start order."""

    services: list[ServiceProcess] = field(default_factory=list)

    @property
    def addresses(self) -> dict[str, str]:
        return {s.name: s.address for s in self.services}

    def env(self) -> dict[str, str]:
        return {address_env_var(s.name): s.address for s in self.services}

    def exited(self) -> ServiceProcess | None:
        return next((s for s in self.services if s.process.poll() is not None), None)

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


def _wait_ready(process: subprocess.Popen[str], name: str, log_path: Path, timeout_s: float) -> str:
    assert process.stdout is not None
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = _READY.match(line.strip())
            if match and match.group(1) == name:
                found.append(f"{match.group(2)}:{match.group(3)}")
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not found:
        process.kill()
        process.wait()
        tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
        raise StartupError(f"predis-{name} did not start within {timeout_s:g}s; its log {log_path} ends:\n{tail}")
    return found[0]


def start_suite(
    host: str = "127.0.0.1",
    base_port: int = DEFAULT_PORTS["cache"],
    log_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
) -> Suite:
    """Starts the four services; ``base_port`` 0 lets each pick a free port."""
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp")) / f"predis-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    suite = Suite()
    env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    try:
        for name in START_ORDER:
            port = 0 if base_port == 0 else base_port + (DEFAULT_PORTS[name] - DEFAULT_PORTS["cache"])
            log_path = log_dir / f"{name}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "predis.services.cli", "serve", name, "--listen", f"{host}:{port}"],
                stdout=subprocess.PIPE,
                stderr=log_path.open("w"),
                text=True,
                env={**env, **suite.env()},
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops them in order
            )
            address = _wait_ready(process, name, log_path, timeout_s)
            suite.services.append(ServiceProcess(name, process, address, log_path))
    except BaseException:
        suite.stop()
        raise
    return suite


def run_up(host: str, base_port: int, log_dir: Path | None) -> int:
    """Foreground ``predis up``: start, print addresses, watch, stop on Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        suite = start_suite(host, base_port, log_dir)
    except StartupError as error:
        print(f"predis up: {error}", file=sys.stderr)
        return 1
    print("Predis is up:")
    for service in suite.services:
        print(f"  {service.name:<10} {service.address:<22} pid {service.process.pid:<8} log {service.log_path}")
    print("For clients in another shell:")
    for var, address in suite.env().items():
        print(f"  export {var}={address}")
    print("Ctrl-C stops all four.", flush=True)
    code = 0
    while not stop.wait(0.5):
        crashed = suite.exited()
        if crashed is not None:
            print(
                f"predis up: predis-{crashed.name} exited with code {crashed.process.returncode}; "
                f"stopping the others (see {crashed.log_path})",
                file=sys.stderr,
            )
            code = 1
            break
    print("Stopping...", flush=True)
    suite.stop()
    print("Stopped.")
    return code
