"""What one service checks callers with: its view of the tokens and its audit log, made once at
start from :class:`AuthSettings` and shared by its gRPC interceptor and (in the cache) its RESP
server."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from predis.services.security.audit import AuditLog
from predis.services.security.interceptor import SecurityInterceptor
from predis.services.security.settings import AuthSettings
from predis.services.security.tokens import TokenVerifier

log = logging.getLogger(__name__)


@dataclass
class AccessControl:
    """``verifier`` None: authentication is off."""

    service: str
    verifier: TokenVerifier | None
    audit: AuditLog

    @classmethod
    def start(cls, service: str, auth: AuthSettings) -> AccessControl:
        """Reads the tokens file (a file that cannot be read stops the start: TokenError)."""
        verifier = None
        if auth.required:
            assert auth.tokens_file is not None  # AuthSettings refuses required without one
            verifier = TokenVerifier(auth.tokens_file)
            if not verifier.live_count:
                log.warning(
                    "%s: PREDIS_AUTH=required but %s holds no live token: every call will be refused until "
                    "`predis tokens create TENANT` makes one",
                    service,
                    auth.tokens_file,
                )
        return cls(service, verifier, AuditLog(service, auth.audit))

    @property
    def required(self) -> bool:
        return self.verifier is not None

    def interceptor(self) -> SecurityInterceptor:
        return SecurityInterceptor(self.verifier, self.audit)

    def close(self) -> None:
        self.audit.close()
