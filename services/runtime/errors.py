"""Domain errors shared by every service.

Domains raise these (they import nothing from gRPC); ``status.py`` holds the one table that turns
them into gRPC status codes. Each message is written for the person who will read it.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a domain raises on purpose."""


class InvalidInput(DomainError):
    """The request itself is wrong; retrying it unchanged will fail again."""


class NotFound(DomainError):
    """The named thing (key, model version, job) does not exist."""


class FailedPrecondition(DomainError):
    """The request is valid but the system is not in a state to honour it."""


class Overloaded(DomainError):
    """A quota or capacity limit refuses the request."""


class RateLimited(Overloaded):
    """A per-tenant rate quota refuses the request: the same request may succeed once the
    tenant's rate allows it (not a memory limit, so RESP says ``ERR``, not ``OOM``)."""


class Unavailable(DomainError):
    """A dependency (the origin, another service) failed; the call may succeed later."""

    retry_now_helps = True


class DependencySkipped(Unavailable):
    """A dependency is being skipped for a while (a circuit breaker is open): the client's
    automatic retry would fail the same way, so the status tells it not to retry."""

    retry_now_helps = False


class TimedOut(DomainError):
    """A dependency did not answer within its time limit."""


class NotBuilt(DomainError):
    """The operation is part of the contract but this version does not implement it yet."""


class Unauthenticated(DomainError):
    """The call carries no valid credentials (no token, a wrong one, a revoked one)."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this (another tenant's data, an admin operation)."""
