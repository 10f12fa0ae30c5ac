"""``predis status``: each service's answer to the standard gRPC health check."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from predis.config import TlsConfig


def _channel(address: str) -> grpc.Channel:
    """Plaintext, or TLS when ``PREDIS_TLS_CA`` is set (as the SDK's channels); health checks need
    no token."""
    tls = TlsConfig.from_env()
    if tls is None:
        return grpc.insecure_channel(address)
    options = [("grpc.ssl_target_name_override", tls.server_name_override)] if tls.server_name_override else []
    return grpc.secure_channel(address, tls.credentials(), options)


def check(address: str, timeout_s: float = 1.0) -> str:
    """SERVING, NOT_SERVING, UNKNOWN, or UNREACHABLE when nothing answered."""
    with _channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.RpcError as error:
            return (
                "UNREACHABLE"
                if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                else error.code().name
            )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
