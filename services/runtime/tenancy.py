"""Which tenant a call acts for: the one its token proved, or (without authentication) the one
its metadata names, validated once."""

from __future__ import annotations

import re
from collections.abc import Iterable

from predis.services.runtime.errors import InvalidInput
from predis.services.security.principal import calling_identity

TENANT_METADATA_KEY = "predis-tenant"
DEFAULT_TENANT = "default"
_TENANT_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def validate_tenant(name: str) -> str:
    if not _TENANT_PATTERN.fullmatch(name):
        raise InvalidInput(
            f"tenant {name[:80]!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-' "
            f"in the {TENANT_METADATA_KEY!r} metadata"
        )
    return name


def tenant_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The tenant a call acts for. With authentication on, a tenant token's own tenant (metadata
    naming another is refused with PermissionDenied, never believed) or, for an admin token, the
    tenant the metadata names. Without it, the tenant named in the metadata. The default tenant
    when none is named."""
    named = None
    for key, value in metadata or ():
        if key == TENANT_METADATA_KEY:
            named = validate_tenant(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
            break
    identity = calling_identity()
    if identity is None or identity.admin:
        return named or DEFAULT_TENANT
    if named is not None:
        identity.check_may_act_for(named)
    return identity.tenant
