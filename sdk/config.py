"""How SDK clients connect: frozen, documented settings and the channel options they imply."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import grpc

SERVICES = ("cache", "predictor", "drift", "retrainer")
DEFAULT_PORTS = {"cache": 50051, "predictor": 50052, "drift": 50053, "retrainer": 50054}
TENANT_METADATA_KEY = "predis-tenant"
AUTHORIZATION_KEY = "authorization"
# What the cache accepts as a tenant name (services/runtime/tenancy.py), checked before a call is
# made: gRPC metadata could not carry every string anyway, and a bad name would fail every call.
_TENANT_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_tenant(name: str) -> str:
    if not isinstance(name, str) or not _TENANT_PATTERN.fullmatch(name):
        raise ValueError(f"tenant {name!r:.80} is not valid: use 1 to 64 letters, digits, '.', '_' or '-'")
    return name


# Calls that are safe to send twice: the only ones the channel retries, and only on UNAVAILABLE.
IDEMPOTENT_METHODS: dict[str, tuple[str, ...]] = {
    "predis.v1.CacheService": ("Get", "Set", "Delete", "Exists", "Ttl", "BatchGet", "BatchSet", "Stats", "Flush"),
    "predis.v1.PredictorService": ("Predict", "ListModels", "GetModelStatus", "SetTraffic"),
    "predis.v1.DriftService": ("GetStatus",),
    "predis.v1.RetrainerService": ("GetJob", "ListJobs", "Promote"),
}


def default_address(service: str) -> str:
    """``PREDIS_<SERVICE>_ADDRESS`` when set, else the service's default port on loopback."""
    return os.environ.get(f"PREDIS_{service.upper()}_ADDRESS", f"127.0.0.1:{DEFAULT_PORTS[service]}")


@dataclass(frozen=True)
class TlsConfig:
    """TLS for the channel. Paths are PEM files; leave all None to trust the system roots.

    Attributes:
        root_certificates: CA bundle that signs the server's certificate.
        certificate_chain: client certificate, for mutual TLS.
        private_key: the client certificate's key, for mutual TLS.
        server_name_override: name to verify in the server's certificate (tests, IP addresses).
    """

    root_certificates: Path | None = None
    certificate_chain: Path | None = None
    private_key: Path | None = None
    server_name_override: str | None = None

    @classmethod
    def from_env(cls) -> TlsConfig | None:
        """From ``PREDIS_TLS_CA`` (the CA that signed the servers' certificates), and for mutual
        TLS ``PREDIS_TLS_CLIENT_CERT`` and ``PREDIS_TLS_CLIENT_KEY``, with ``PREDIS_TLS_SERVER_NAME``
        to verify another name than the address's; None (plaintext) when ``PREDIS_TLS_CA`` is unset."""
        ca = os.environ.get("PREDIS_TLS_CA")
        if not ca:
            return None
        cert, key = os.environ.get("PREDIS_TLS_CLIENT_CERT"), os.environ.get("PREDIS_TLS_CLIENT_KEY")
        if bool(cert) != bool(key):
            raise ValueError("set both PREDIS_TLS_CLIENT_CERT and PREDIS_TLS_CLIENT_KEY for mutual TLS, or neither")
        return cls(
            Path(ca),
            Path(cert) if cert else None,
            Path(key) if key else None,
            os.environ.get("PREDIS_TLS_SERVER_NAME") or None,
        )

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path else None

        return grpc.ssl_channel_credentials(
            read(self.root_certificates), read(self.private_key), read(self.certificate_chain)
        )


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC service-config retries, applied to idempotent calls on UNAVAILABLE only.

    Attributes:
        max_attempts: tries in all, first included (gRPC caps this at 5); 1 disables retries.
        initial_backoff_s: wait before the first retry.
        max_backoff_s: longest wait between retries.
        backoff_multiplier: growth of the wait after each retry.
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    backoff_multiplier: float = 2.0


@dataclass(frozen=True)
class ClientConfig:
    """Settings shared by every channel a client opens.

    Attributes:
        tenant: sent as ``predis-tenant`` metadata on every call; None means the default tenant
            (or, with a token, the token's own tenant).
        token: the API token (``predis tokens create``), sent as ``authorization: Bearer`` on
            every call; default ``PREDIS_TOKEN``. Needed where the services run with
            ``PREDIS_AUTH=required``. Never shown in the config's repr.
        timeout_s: deadline for unary calls that do not pass their own ``timeout``.
        retry: retry policy for idempotent calls.
        keepalive_s: interval of HTTP/2 keepalive pings on idle connections (0 disables them).
        compression: None, ``"gzip"`` or ``"deflate"`` for request messages.
        tls: TLS settings; None for a plaintext channel (loopback, service mesh). Default from
            ``PREDIS_TLS_CA`` and its neighbours (:meth:`TlsConfig.from_env`).
        max_message_bytes: largest message sent or received (batch calls can be large).
        tracing: wrap channels in OpenTelemetry client interceptors.
        max_reconnect_backoff_s: longest wait between reconnection attempts after a server went
            away (0 keeps gRPC's default of 120 s); lower it to notice a restarted server sooner.
    """

    tenant: str | None = None
    token: str | None = field(default_factory=lambda: os.environ.get("PREDIS_TOKEN") or None, repr=False)
    timeout_s: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keepalive_s: float = 30.0
    compression: str | None = None
    tls: TlsConfig | None = field(default_factory=TlsConfig.from_env)
    max_message_bytes: int = 256 * 1024 * 1024
    tracing: bool = True
    max_reconnect_backoff_s: float = 0.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.compression not in (None, "gzip", "deflate"):
            raise ValueError(f"compression must be None, 'gzip' or 'deflate', not {self.compression!r}")
        if not 1 <= self.retry.max_attempts <= 5:
            raise ValueError("retry.max_attempts must be 1 to 5 (gRPC's limit)")
        if self.tenant is not None:
            check_tenant(self.tenant)
        if self.token is not None and (not self.token.isascii() or not self.token.isprintable() or " " in self.token):
            raise ValueError("token must be the printable ASCII text `predis tokens create` printed")

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata_for(None)

    def metadata_for(self, tenant: str | None) -> tuple[tuple[str, str], ...]:
        """Call metadata naming ``tenant``, or this config's tenant when None."""
        tenant = check_tenant(tenant) if tenant else self.tenant
        named = ((TENANT_METADATA_KEY, tenant),) if tenant else ()
        return ((AUTHORIZATION_KEY, f"Bearer {self.token}"), *named) if self.token else named

    @property
    def grpc_compression(self) -> grpc.Compression | None:
        return {None: None, "gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}[self.compression]

    def service_config_json(self) -> str:
        policy = self.retry
        method_config = []
        if policy.max_attempts > 1:
            method_config.append(
                {
                    "name": [{"service": s, "method": m} for s, methods in IDEMPOTENT_METHODS.items() for m in methods],
                    "retryPolicy": {
                        "maxAttempts": policy.max_attempts,
                        "initialBackoff": f"{policy.initial_backoff_s}s",
                        "maxBackoff": f"{policy.max_backoff_s}s",
                        "backoffMultiplier": policy.backoff_multiplier,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            )
        return json.dumps({"methodConfig": method_config})

    def channel_options(self) -> list[tuple[str, object]]:
        options: list[tuple[str, object]] = [
            ("grpc.enable_retries", 1 if self.retry.max_attempts > 1 else 0),
            ("grpc.service_config", self.service_config_json()),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
        ]
        if self.keepalive_s > 0:
            options += [
                ("grpc.keepalive_time_ms", int(self.keepalive_s * 1000)),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.max_pings_without_data", 0),
            ]
        if self.max_reconnect_backoff_s > 0:
            backoff_ms = int(self.max_reconnect_backoff_s * 1000)
            options += [
                ("grpc.initial_reconnect_backoff_ms", min(1000, backoff_ms)),
                ("grpc.max_reconnect_backoff_ms", backoff_ms),
            ]
        if self.tls and self.tls.server_name_override:
            options.append(("grpc.ssl_target_name_override", self.tls.server_name_override))
        return options
