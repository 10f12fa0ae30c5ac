"""The gRPC side of security: one server interceptor, on every service, that authenticates each
call, refuses what its role may not do, holds the caller's identity for the servicer
(``principal.py``), and writes refused calls and administrative actions to the audit log.

Which tenant a call then acts for is decided in one place, ``runtime/tenancy.py``, from the
identity this sets; tenant names in request fields are checked by the servicers with
``principal.check_may_act_for``.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc

from predis.services.security.audit import AuditLog
from predis.services.security.principal import Identity, enter_call, leave_call
from predis.services.security.tokens import TokenVerifier

AUTHORIZATION_KEY = "authorization"  # "Bearer <token>", as HTTP and gRPC's own call credentials send it
BEARER = "bearer "
# Model operations and the services' own feeds: an admin token only. A tenant could otherwise
# swap models, start training, or feed drift another tenant's events.
ADMIN_METHODS = frozenset(
    {
        "/predis.v1.PredictorService/LoadModel",
        "/predis.v1.PredictorService/UnloadModel",
        "/predis.v1.PredictorService/SetTraffic",
        "/predis.v1.PredictorService/ReportOutcomes",
        "/predis.v1.RetrainerService/StartTraining",
        "/predis.v1.RetrainerService/Promote",
        "/predis.v1.RetrainerService/Rollback",
        "/predis.v1.DriftService/ObserveEvents",
        "/predis.v1.DriftService/ResetReference",
    }
)
# Calls any client may make without a token: load balancers' health checks and reflection.
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# The outcomes of other calls that are refusals, and so audited too.
REFUSALS = frozenset(
    {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
TENANT_METADATA_KEY = "predis-tenant"


def bearer_token(metadata: Any) -> str | None:
    """The token of an ``authorization: Bearer <token>`` entry; None without one."""
    for key, value in metadata or ():
        if key == AUTHORIZATION_KEY:
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
            return text[len(BEARER) :].strip() if text[: len(BEARER)].lower() == BEARER else text.strip()
    return None


def _named_tenant(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == TENANT_METADATA_KEY:
            return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value)[:64]
    return None


class SecurityInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """``verifier`` None: authentication is off (every call is let through, with no identity);
    calls are still audited when ``audit`` writes somewhere."""

    def __init__(self, verifier: TokenVerifier | None, audit: AuditLog) -> None:
        self.verifier = verifier
        self.audit = audit

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method  # type: ignore[attr-defined]
        if handler is None or method.startswith(OPEN_SERVICES):
            return handler
        metadata = details.invocation_metadata  # type: ignore[attr-defined]
        identity, refusal = None, None
        if self.verifier is not None:
            token = bearer_token(metadata)
            identity = await self.verifier.identify(token) if token else None
            if identity is None:
                why = "no token" if not token else "the token is not valid (unknown, wrong or revoked)"
                refusal = (
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"{why}: send 'authorization: Bearer <token>' (ClientConfig(token=...) or PREDIS_TOKEN); "
                    "`predis tokens create TENANT` makes one",
                )
            elif (named := _named_tenant(metadata)) is not None and not identity.admin and named != identity.tenant:
                refusal = (  # before the servicer reads the request: a refusal says nothing of it
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"token {identity.token_id} is for tenant {identity.tenant!r} and cannot act for tenant "
                    f"{named!r}; use that tenant's own token",
                )
            elif method in ADMIN_METHODS and not identity.admin:
                refusal = (
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"{method.rsplit('/', 1)[-1]} needs an admin token (predis tokens create TENANT --admin); "
                    f"token {identity.token_id} is a tenant token of {identity.tenant!r}",
                )
        elif self.audit.path is None:
            return handler  # nothing to check and nowhere to write: no wrapper on the call path
        call = _Call(self, method, identity, _named_tenant(metadata), refusal, method in ADMIN_METHODS)
        return call.wrap(handler)


class _Call:
    """One intercepted call: runs the servicer's handler with the identity set, or refuses it,
    and audits what needs it."""

    def __init__(
        self,
        interceptor: SecurityInterceptor,
        method: str,
        identity: Identity | None,
        named_tenant: str | None,
        refusal: tuple[grpc.StatusCode, str] | None,
        admin_action: bool,
    ) -> None:
        self.audit = interceptor.audit
        self.method = method
        self.identity = identity
        self.named_tenant = named_tenant
        self.refusal = refusal
        self.admin_action = admin_action

    def wrap(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(handler.stream_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream), handler.request_deserializer, handler.response_serializer
            )
        return grpc.stream_stream_rpc_method_handler(
            self._stream(handler.stream_stream), handler.request_deserializer, handler.response_serializer
        )

    def _unary(self, behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await self._refuse_if_refused(context)
            with self._serving(context):
                return await behavior(request, context)

        return run

    def _stream(self, behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await self._refuse_if_refused(context)
            with self._serving(context):
                produced = behavior(request, context)
                if inspect.isasyncgen(produced):
                    async for response in produced:
                        yield response
                else:  # a handler that writes with context.write and returns
                    await produced

        return run

    @contextlib.contextmanager
    def _serving(self, context: grpc.aio.ServicerContext) -> Iterator[None]:
        """The servicer's run: the identity held for it, its outcome audited when it needs it."""
        entered = enter_call(self.identity)
        try:
            yield
        except BaseException:
            self._audit_outcome(context, failed=True)
            raise
        finally:
            leave_call(entered)
        self._audit_outcome(context, failed=False)

    async def _refuse_if_refused(self, context: grpc.aio.ServicerContext) -> None:
        if self.refusal is None:
            return
        code, message = self.refusal
        self._record(context, code.name, message)
        await context.abort(code, message)

    def _audit_outcome(self, context: grpc.aio.ServicerContext, failed: bool) -> None:
        code = _code_of(context) if failed else grpc.StatusCode.OK
        if code in REFUSALS or self.admin_action:
            details = _details_of(context) if failed else ""
            self._record(context, "CANCELLED" if code is None else code.name, details)

    def _record(self, context: grpc.aio.ServicerContext, outcome: str, detail: str) -> None:
        tenant = self.named_tenant or (self.identity.tenant if self.identity else None)
        self.audit.record(self.method, outcome, self.identity, context.peer(), tenant, detail)


def _code_of(context: grpc.aio.ServicerContext) -> grpc.StatusCode | None:
    try:
        code = context.code()
    except (AttributeError, NotImplementedError):
        return None
    if isinstance(code, grpc.StatusCode):
        return code
    return next((c for c in grpc.StatusCode if c.value[0] == code), None)


def _details_of(context: grpc.aio.ServicerContext) -> str:
    try:
        return str(context.details() or "")
    except (AttributeError, NotImplementedError):
        return ""
