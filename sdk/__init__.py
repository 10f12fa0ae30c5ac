"""Predis: a cache that learns which keys will be asked for next.

``predis.Client`` and ``predis.AsyncClient`` call the four services; the generated protobuf
modules are in ``predis.v1``.
"""

from predis.aio import AsyncClient
from predis.client import Client
from predis.config import ClientConfig, RetryPolicy, TlsConfig
from predis.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PredisError,
    RefusedError,
    ResourceExhaustedError,
    UnavailableError,
    UnimplementedError,
)

__all__ = [
    "AsyncClient",
    "Client",
    "ClientConfig",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "NotFoundError",
    "PredisError",
    "RefusedError",
    "ResourceExhaustedError",
    "RetryPolicy",
    "TlsConfig",
    "UnavailableError",
    "UnimplementedError",
]
