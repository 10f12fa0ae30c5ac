"""Who a call acts as: the identity its token proved, held for the length of the call.

The gRPC interceptor (``interceptor.py``) sets it for each authenticated call; the RESP server keeps
its own per connection (``Session``). Without authentication (``PREDIS_AUTH=off``) there is none,
and a call's tenant is whatever its metadata names, as before.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from enum import Enum

from predis.services.runtime.errors import PermissionDenied


class Role(Enum):
    TENANT = "tenant"  # its own tenant's data, nothing else
    ADMIN = "admin"  # model operations and every tenant (operators, and the services themselves)


@dataclass(frozen=True)
class Identity:
    """Who a valid token stands for."""

    token_id: str
    tenant: str
    role: Role

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN

    def check_may_act_for(self, tenant: str) -> None:
        """Refuses (PermissionDenied) unless this identity may act for ``tenant``."""
        if not self.admin and tenant != self.tenant:
            raise PermissionDenied(
                f"token {self.token_id} is for tenant {self.tenant!r} and cannot act for tenant {tenant!r}; "
                "use that tenant's own token"
            )


_calling: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("predis_calling_identity", default=None)


def calling_identity() -> Identity | None:
    """The identity of the call being served; None when authentication is off."""
    return _calling.get()


def enter_call(identity: Identity | None) -> contextvars.Token[Identity | None]:
    return _calling.set(identity)


def leave_call(token: contextvars.Token[Identity | None]) -> None:
    _calling.reset(token)


def check_may_act_for(tenant: str) -> None:
    """Refuses (PermissionDenied) a call whose identity may not act for ``tenant``; any tenant is
    allowed when authentication is off."""
    identity = _calling.get()
    if identity is not None:
        identity.check_may_act_for(tenant)


def visible_tenant() -> str | None:
    """The one tenant the caller may see, or None when it may see all (an admin, or no auth):
    listings (models, jobs, drift status) filter by it."""
    identity = _calling.get()
    return None if identity is None or identity.admin else identity.tenant


def listing_tenant(requested: str) -> str:
    """The tenant filter of a listing that takes one in its request ("" for all): for a tenant
    identity its own tenant (naming another is refused); otherwise what was asked."""
    identity = _calling.get()
    if identity is None or identity.admin:
        return requested
    if requested:
        identity.check_may_act_for(requested)
    return identity.tenant
