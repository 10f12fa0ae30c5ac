"""The audit log: every refused call and every administrative action, one JSON object a line.

Who (the token's id and tenant, or none), what (the service and the RPC or command), when (UTC),
from where (the peer's address), and the outcome (a gRPC status name or a Redis error's code).
Never a token, a secret or a value: the fields are fixed and each is written by this module from
what the caller passes in, so nothing a client sends reaches the log unasked but the method name,
the tenant it named, and the reason of a refusal.

The file is only ever appended to. Python's ``RotatingFileHandler`` renames it to ``.1`` (and on
up to ``backups``) when it passes ``max_bytes``; rotated files are never written again.
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.handlers
import threading
from dataclasses import dataclass
from pathlib import Path

from predis.services.security.principal import Identity

MAX_DETAIL_CHARS = 300  # a refusal's reason, cut so a client cannot fill the log through it


@dataclass(frozen=True)
class AuditSettings:
    """
    Attributes:
        path: the log file (``PREDIS_AUDIT_LOG``; default ``$PREDIS_DATA_DIR/audit/SERVICE.jsonl``;
            none without a data directory: then refusals go to the service's log only).
        max_bytes: size at which the file is rotated (``PREDIS_AUDIT_MAX_BYTES``).
        backups: rotated files kept (``PREDIS_AUDIT_BACKUPS``).
    """

    path: Path | None
    max_bytes: int = 64 * 1024 * 1024
    backups: int = 5


class AuditLog:
    """Appends audit records; thread-safe (the token command and the services each hold one)."""

    def __init__(self, service: str, settings: AuditSettings) -> None:
        self.service = service
        self.path = settings.path
        self._lock = threading.Lock()
        self._handler: logging.Handler | None = None
        if settings.path is not None:
            settings.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._handler = logging.handlers.RotatingFileHandler(
                settings.path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8"
            )
            self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._fallback = logging.getLogger(f"predis.audit.{service}")

    def record(
        self,
        action: str,
        outcome: str,
        identity: Identity | None = None,
        peer: str = "",
        tenant: str | None = None,
        detail: str = "",
    ) -> None:
        """Writes one record: ``action`` (an RPC's full name or a command), ``outcome`` (``OK`` or
        the refusal's status), the caller's ``identity``, its ``peer`` address, the ``tenant`` the
        call acted for or tried to, and a short ``detail`` (why it was refused)."""
        entry = {
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "service": self.service,
            "action": action,
            "outcome": outcome,
            "token_id": identity.token_id if identity else None,
            "token_tenant": identity.tenant if identity else None,
            "role": identity.role.value if identity else None,
            "tenant": tenant,
            "peer": peer,
            "detail": detail[:MAX_DETAIL_CHARS],
        }
        line = json.dumps(entry, ensure_ascii=True)
        if self._handler is None:
            self._fallback.warning("audit %s", line)
            return
        with self._lock:
            self._handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO, "levelname": "INFO"}))

    def close(self) -> None:
        if self._handler is not None:
            self._handler.close()


def read_audit(path: Path) -> list[dict[str, object]]:
    """The records of one audit file, oldest first (for tests and for people)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
