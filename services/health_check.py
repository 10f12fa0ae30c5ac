"""``predis status``: each service's answer to the standard gRPC health check."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(address: str, timeout_s: float = 1.0) -> str:
    """SERVING, NOT_SERVING, UNKNOWN, or UNREACHABLE when nothing answered."""
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.RpcError as error:
            return (
                "UNREACHABLE"
                if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                else error.code().name
            )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
