"""Which tenant a call acts for: read from request metadata, validated once."""

from __future__ import annotations

import re
from collections.abc import Iterable

from predis.services.runtime.errors import InvalidInput

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
    """The tenant named in the metadata, or the default tenant when none is named."""
    for key, value in metadata or ():
        if key == TENANT_METADATA_KEY:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            return validate_tenant(text)
    return DEFAULT_TENANT
