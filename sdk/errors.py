"""One exception type for every failed call, carrying the gRPC status code."""

from __future__ import annotations

import grpc


class PredisError(Exception):
    """A call failed. ``code`` is the gRPC status code, ``details`` the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str, method: str = "") -> None:
        self.code = code
        self.details = details
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {details}")


class NotFoundError(PredisError):
    """NOT_FOUND: the key, model version or job does not exist."""


class InvalidArgumentError(PredisError):
    """INVALID_ARGUMENT: the request is wrong; retrying it unchanged fails again."""


class UnavailableError(PredisError):
    """UNAVAILABLE or DEADLINE_EXCEEDED: the service or a dependency did not answer; retry later."""


class ResourceExhaustedError(PredisError):
    """RESOURCE_EXHAUSTED: a quota or capacity limit refused the request."""


class RefusedError(ResourceExhaustedError):
    """CANCELLED by the server before it answered: gRPC's core at the server refused the call
    because its queue of calls waiting for the service was full (``PREDIS_MAX_PENDING_CALLS``:
    grpcio reports that refusal as CANCELLED, not RESOURCE_EXHAUSTED), or the server cancelled it
    at the end of a shutdown's grace period. Either way: back off and retry, as for any
    ResourceExhaustedError. ``code`` stays CANCELLED, what the wire said."""


class FailedPreconditionError(PredisError):
    """FAILED_PRECONDITION: the service is not in a state to honour the request."""


class UnimplementedError(PredisError):
    """UNIMPLEMENTED: this server version does not provide the operation."""


_BY_CODE: dict[grpc.StatusCode, type[PredisError]] = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: UnavailableError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}


# What grpcio says when the other side reset the call; a call this process cancelled says more
# ("Locally cancelled by application!") or raises CancelledError instead.
_RESET_BY_SERVER = {"", "CANCELLED"}


def from_rpc_error(error: grpc.RpcError, method: str = "") -> PredisError:
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else str(error)) or ""
    if code == grpc.StatusCode.CANCELLED and details in _RESET_BY_SERVER:
        return RefusedError(
            code,
            "the server refused or dropped the call unanswered (its queue of pending calls was full, "
            "PREDIS_MAX_PENDING_CALLS, or it was shutting down); back off and retry",
            method,
        )
    return _BY_CODE.get(code, PredisError)(code, details, method)
