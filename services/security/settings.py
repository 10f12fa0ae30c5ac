"""Authentication, audit and exposure settings, read once from the environment.

``PREDIS_AUTH``: ``off`` (the default, for development on loopback) or ``required`` (every call
needs a valid token; UNAUTHENTICATED, or NOAUTH on RESP, without one). A service bound to an
address other than loopback refuses to start unless authentication is required and TLS is set up,
or ``PREDIS_ALLOW_INSECURE=on`` says that this is meant.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from predis.services.runtime.settings import Env, SettingsError, parse_address
from predis.services.security.audit import AuditSettings

AUTH_MODES = ("off", "required")


@dataclass(frozen=True)
class AuthSettings:
    """
    Attributes:
        required: every call needs a valid token (``PREDIS_AUTH=required``).
        tokens_file: where ``predis tokens`` keeps them (``PREDIS_TOKENS_FILE``; default
            ``$PREDIS_DATA_DIR/auth/tokens.json``).
        allow_insecure: start on a non-loopback address without authentication or TLS
            (``PREDIS_ALLOW_INSECURE=on``; for a private network you trust, such as compose's).
        audit: where refused calls and administrative actions are written.
    """

    required: bool = False
    tokens_file: Path | None = None
    allow_insecure: bool = False
    audit: AuditSettings = field(default_factory=lambda: AuditSettings(None))

    def __post_init__(self) -> None:
        if self.required and self.tokens_file is None:
            raise SettingsError(
                "PREDIS_AUTH=required needs the tokens file: set PREDIS_DATA_DIR (tokens are kept under "
                "auth/tokens.json there) or PREDIS_TOKENS_FILE"
            )

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str]) -> AuthSettings:
        env = Env(environ)
        mode = env.text("PREDIS_AUTH", "off").lower()
        if mode not in AUTH_MODES:
            raise SettingsError(f"PREDIS_AUTH={mode!r} is not one of {', '.join(AUTH_MODES)}")
        data_dir = env.text("PREDIS_DATA_DIR", "")
        tokens = env.text("PREDIS_TOKENS_FILE", "") or (
            str(Path(data_dir) / "auth" / "tokens.json") if data_dir else ""
        )
        audit = env.text("PREDIS_AUDIT_LOG", "") or (
            str(Path(data_dir) / "audit" / f"{service}.jsonl") if data_dir else ""
        )
        return cls(
            required=mode == "required",
            tokens_file=Path(tokens) if tokens else None,
            allow_insecure=env.switch("PREDIS_ALLOW_INSECURE", False),
            audit=AuditSettings(
                Path(audit) if audit else None,
                max_bytes=env.integer("PREDIS_AUDIT_MAX_BYTES", 64 * 1024 * 1024, minimum=4096),
                backups=env.integer("PREDIS_AUDIT_BACKUPS", 5, minimum=1),
            ),
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_exposure(variable: str, listen: str, auth: AuthSettings, tls_configured: bool) -> None:
    """Refuses (SettingsError) to listen on ``listen`` beyond loopback without authentication and
    TLS, unless ``PREDIS_ALLOW_INSECURE=on``."""
    host, _ = parse_address(listen, variable)
    if is_loopback(host) or auth.allow_insecure:
        return
    missing = [name for name, ok in (("PREDIS_AUTH=required", auth.required), ("TLS", tls_configured)) if not ok]
    if missing:
        raise SettingsError(
            f"{variable}={listen} listens beyond this machine without {' and '.join(missing)}: anyone who can "
            "reach it could read and change every tenant's data. Set PREDIS_AUTH=required and PREDIS_TLS_CERT/"
            "PREDIS_TLS_KEY (predis certs makes development ones), or PREDIS_ALLOW_INSECURE=on on a network "
            "you trust"
        )
