"""Reading configuration once, at the edge, into frozen dataclasses that fail fast on bad values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from predis.services.runtime.metrics import MetricsSettings
    from predis.services.security.settings import AuthSettings
    from predis.services.security.tls import TlsSettings

SERVICES = ("cache", "predictor", "drift", "retrainer")
DEFAULT_PORTS = {"cache": 50051, "predictor": 50052, "drift": 50053, "retrainer": 50054}
# Where each service serves Prometheus metrics when PREDIS_METRICS_LISTEN=on (and under `predis up`).
METRICS_PORTS = {"cache": 9451, "predictor": 9452, "drift": 9453, "retrainer": 9454}
DEFAULT_HOST = "127.0.0.1"


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def default_address(service: str) -> str:
    return f"{DEFAULT_HOST}:{DEFAULT_PORTS[service]}"


def address_env_var(service: str) -> str:
    """The variable that tells clients (and other services) where ``service`` listens."""
    return f"PREDIS_{service.upper()}_ADDRESS"


def parse_address(text: str, source: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise SettingsError(f"{source}={text!r} is not HOST:PORT (port 0 to 65535; 0 picks a free port)")
    return host, int(port_text)


class Env:
    """Typed reads of environment variables, each failing with the variable's name."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, default)

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        raw = self._environ.get(name)
        if raw is None:
            return default
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not an integer") from None
        if value < minimum:
            raise SettingsError(f"{name}={value} is below its minimum {minimum}")
        return value

    def switch(self, name: str, default: bool) -> bool:
        """``on`` or ``off`` (any case)."""
        raw = self._environ.get(name)
        if raw is None:
            return default
        if raw.lower() not in ("on", "off"):
            raise SettingsError(f"{name}={raw!r} is not 'on' or 'off'")
        return raw.lower() == "on"

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        raw = self._environ.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise SettingsError(f"{name}={raw!r} is not a finite number")
        if value < minimum:
            raise SettingsError(f"{name}={value} is below its minimum {minimum}")
        return value


# Calls one service handles at once before it sheds more (RESOURCE_EXHAUSTED). The cache serves
# many clients and long-lived event streams; the predictor's calls are short and CPU-bound, so a
# short queue keeps the calls it serves fast.
MAX_CONCURRENT_RPCS = {"cache": 1024, "predictor": 64, "drift": 256, "retrainer": 64}
# Calls gRPC's core holds for a service before its event loop takes them (each waits about half a
# millisecond a call ahead of it on a busy 2-core machine): the predictor's work is optional and
# its caller's deadline short, so its queue is short; the cache's callers wait for their data.
MAX_PENDING_CALLS = {"cache": 256, "predictor": 32, "drift": 64, "retrainer": 64}


def _no_auth() -> AuthSettings:
    from predis.services.security.settings import AuthSettings  # security's settings read these helpers

    return AuthSettings()


def _auth_from_env(service: str, environ: Mapping[str, str]) -> AuthSettings:
    from predis.services.security.settings import AuthSettings

    return AuthSettings.from_env(service, environ)


def _no_metrics() -> MetricsSettings:
    from predis.services.runtime.metrics import MetricsSettings  # OpenTelemetry loads only where metrics are built

    return MetricsSettings()


def _metrics_from_env(service: str, environ: Mapping[str, str]) -> MetricsSettings:
    from predis.services.runtime.metrics import MetricsSettings

    return MetricsSettings.from_env(service, environ)


def _tls_from_env(environ: Mapping[str, str]) -> TlsSettings | None:
    from predis.services.security.tls import TlsSettings  # tls.py raises this module's SettingsError

    return TlsSettings.from_env(environ)


@dataclass(frozen=True)
class ServerSettings:
    """What every service's server needs.

    Attributes:
        listen: HOST:PORT to bind; port 0 picks a free port.
        grace_seconds: how long in-flight calls may run on after SIGTERM/SIGINT.
        log_level: debug, info, warning or error.
        max_message_bytes: largest request or response accepted (batch calls can be large).
        max_concurrent_rpcs: calls handled at once; one more is refused at once with
            RESOURCE_EXHAUSTED instead of queueing into seconds (``PREDIS_MAX_CONCURRENT_RPCS``;
            default per service, ``MAX_CONCURRENT_RPCS``).
        max_pending_calls: calls gRPC's core holds before the service takes them; past a quarter
            of it new calls are refused at random (more often as it fills), at it all are
            (``PREDIS_MAX_PENDING_CALLS``; default per service, ``MAX_PENDING_CALLS``).
        tls: the certificate and key every gRPC port serves TLS with, and the client CA that makes
            it mutual TLS (``PREDIS_TLS_CERT``, ``PREDIS_TLS_KEY``, ``PREDIS_TLS_CLIENT_CA``);
            None, the default, serves plaintext.
        auth: tokens, the audit log and what may listen beyond loopback (security/settings.py).
        metrics: the Prometheus endpoint (``PREDIS_METRICS_LISTEN``) and the SDK metrics
            exporters (``OTEL_METRICS_EXPORTER``); off by default (runtime/metrics.py).
    """

    listen: str
    grace_seconds: float = 5.0
    log_level: str = "info"
    max_message_bytes: int = 256 * 1024 * 1024
    max_concurrent_rpcs: int = 256
    max_pending_calls: int = 256
    tls: TlsSettings | None = None
    auth: AuthSettings = field(default_factory=_no_auth)
    metrics: MetricsSettings = field(default_factory=_no_metrics)

    def __post_init__(self) -> None:
        parse_address(self.listen, "listen address")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise SettingsError(f"log level {self.log_level!r} is not one of debug, info, warning, error")

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str], listen: str | None = None) -> ServerSettings:
        env = Env(environ)
        return cls(
            listen=listen or env.text("PREDIS_LISTEN", default_address(service)),
            grace_seconds=env.number("PREDIS_GRACE_SECONDS", 5.0),
            log_level=env.text("PREDIS_LOG_LEVEL", "info"),
            max_message_bytes=env.integer("PREDIS_MAX_MESSAGE_BYTES", 256 * 1024 * 1024, minimum=4 * 1024 * 1024),
            max_concurrent_rpcs=env.integer(
                "PREDIS_MAX_CONCURRENT_RPCS", MAX_CONCURRENT_RPCS.get(service, 256), minimum=1
            ),
            max_pending_calls=env.integer("PREDIS_MAX_PENDING_CALLS", MAX_PENDING_CALLS.get(service, 256), minimum=1),
            tls=_tls_from_env(environ),
            auth=_auth_from_env(service, environ),
            metrics=_metrics_from_env(service, environ),
        )
