"""The one table that maps domain errors to gRPC status codes, and the decorator that applies it."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from opentelemetry import trace

from predis.services.runtime import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Overloaded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.TimedOut: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.NotBuilt: grpc.StatusCode.UNIMPLEMENTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}


def status_for(error: errors.DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.UNKNOWN


def _internal_message() -> str:
    trace_id = trace.get_current_span().get_span_context().trace_id
    where = f" (trace id {trace_id:032x})" if trace_id else ""
    return f"internal error in the server{where}; its log has the details"


# gRPC's retry pushback (gRFC A6): a negative value tells the client's retry policy not to retry.
NO_RETRY = (("grpc-retry-pushback-ms", "-1"),)


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    if isinstance(exc, errors.DomainError):
        trailing = () if getattr(exc, "retry_now_helps", True) else NO_RETRY
        await context.abort(status_for(exc), str(exc), trailing_metadata=trailing)
    log.exception("unexpected error while serving a call")
    await context.abort(grpc.StatusCode.INTERNAL, _internal_message())


H = TypeVar("H", bound=Callable[..., Any])


def maps_domain_errors(handler: H) -> H:
    """Wraps a unary or client-streaming servicer method: domain errors become their status code,
    anything else becomes INTERNAL without a traceback in the client's message."""

    @functools.wraps(handler)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - every error must become a status
            await _abort(context, exc)

    return unary  # type: ignore[return-value]


def maps_domain_errors_stream(
    handler: Callable[..., AsyncIterator[Any]],
) -> Callable[..., AsyncIterator[Any]]:
    """The same as :func:`maps_domain_errors` for server-streaming methods."""

    @functools.wraps(handler)
    async def streaming(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for item in handler(self, request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001
            await _abort(context, exc)

    return streaming


Handler = Callable[..., Awaitable[Any]]
