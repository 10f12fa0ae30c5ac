"""Per-tenant API tokens: made, listed and revoked by ``predis tokens``, checked by every service.

A token is ``pdt_<id>_<secret>``. The id is public (it names the token in lists, logs and the
audit log); the secret is 32 random bytes, shown once when the token is made and stored only as
its scrypt hash (OpenSSL's, through :func:`hashlib.scrypt`: memory-hard, so a stolen file does not
give the secrets up to a fast offline search). The file is JSON under the data directory, written
whole and atomically (``runtime/files.py``) under a lock, mode 0600.

A service checks a presented token against its in-memory copy of the file, which it reloads when
the file changes (checked at most every ``RELOAD_CHECK_S``), so tokens made or revoked by the
command take effect without a restart. scrypt costs tens of milliseconds on purpose, so a
service remembers for each token it has verified an HMAC of it under a key that lives only in
that process, never the token; a revoked or removed token is refused from the next reload on.

Rotation: a tenant may hold two live tokens of a role at once (the old one and its replacement);
make the new one, move the clients over, revoke the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from predis.services.runtime.files import write_atomically
from predis.services.runtime.tenancy import validate_tenant
from predis.services.security.principal import Identity, Role

log = logging.getLogger(__name__)

TOKEN_PREFIX = "pdt_"
_TOKEN_PATTERN = re.compile(r"pdt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
MAX_LIVE_PER_ROLE = 2  # the token in use and its replacement, during a rotation
RELOAD_CHECK_S = 0.5  # how stale a service's copy of the file may be (revocation takes this long)
FORMAT_VERSION = 1
# scrypt's cost: 16 MiB of memory and about 50 ms per check here, done once per token per process.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


class TokenError(ValueError):
    """A token operation the store refuses; the message says what to do instead."""


@dataclass(frozen=True)
class TokenRecord:
    """One token as stored: never the secret, only its salted scrypt hash."""

    id: str
    tenant: str
    role: str
    created_unix: float
    revoked_unix: float | None
    salt: str  # hex
    digest: str  # hex, scrypt(secret, salt)
    note: str = ""

    @property
    def live(self) -> bool:
        return self.revoked_unix is None


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM)


def token_id_of(token: str) -> str | None:
    """The public id inside ``token``, or None when it is not shaped like a Predis token."""
    match = _TOKEN_PATTERN.fullmatch(token)
    return match.group(1) if match else None


class TokenFile:
    """The tokens file: what ``predis tokens`` changes. Every change is a locked read-modify-write
    of the whole file, so two commands at once cannot lose each other's tokens."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def under(cls, data_dir: Path) -> TokenFile:
        return cls(Path(data_dir) / "auth" / "tokens.json")

    def records(self) -> list[TokenRecord]:
        return read_records(self.path)

    def create(self, tenant: str, role: Role = Role.TENANT, note: str = "") -> tuple[str, TokenRecord]:
        """Makes a token for ``tenant``; answers the token (shown once: only its hash is kept)
        and its record. Refuses a third live token of the same tenant and role."""
        validate_tenant(tenant)
        with self._locked() as records:
            live = [r.id for r in records if r.live and r.tenant == tenant and r.role == role.value]
            if len(live) >= MAX_LIVE_PER_ROLE:
                raise TokenError(
                    f"tenant {tenant!r} already has {len(live)} live {role.value} tokens ({', '.join(live)}); "
                    "revoke one first (predis tokens revoke ID): two at once are enough for a rotation"
                )
            taken = {r.id for r in records}
            token_id = secrets.token_hex(6)
            while token_id in taken:
                token_id = secrets.token_hex(6)
            secret = secrets.token_urlsafe(32)
            salt = secrets.token_bytes(16)
            record = TokenRecord(
                id=token_id,
                tenant=tenant,
                role=role.value,
                created_unix=time.time(),
                revoked_unix=None,
                salt=salt.hex(),
                digest=_scrypt(secret, salt).hex(),
                note=note,
            )
            records.append(record)
        return f"{TOKEN_PREFIX}{token_id}_{secret}", record

    def revoke(self, token_id: str) -> TokenRecord:
        """Revokes the token ``token_id`` (kept in the file, marked revoked, so lists and the audit
        log can still name it)."""
        with self._locked() as records:
            for i, record in enumerate(records):
                if record.id == token_id:
                    if not record.live:
                        raise TokenError(f"token {token_id} was already revoked")
                    records[i] = TokenRecord(**{**asdict(record), "revoked_unix": time.time()})
                    return records[i]
        raise TokenError(f"no token has the id {token_id!r}; `predis tokens list` shows the ids")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[TokenRecord]]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = read_records(self.path)
            yield records
            body = {"version": FORMAT_VERSION, "tokens": [asdict(r) for r in records]}
            write_atomically(self.path, (json.dumps(body, indent=1) + "\n").encode())
            os.chmod(self.path, 0o600)


def read_records(path: Path) -> list[TokenRecord]:
    """The records in ``path`` (none when it does not exist). A file that is not a tokens file
    raises :class:`TokenError`: a service must not start, or go on, on a file it cannot read."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    try:
        body = json.loads(text)
        if body.get("version") != FORMAT_VERSION:
            raise TokenError(f"{path} has version {body.get('version')!r}; this Predis reads {FORMAT_VERSION}")
        return [TokenRecord(**entry) for entry in body["tokens"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, TokenError):
            raise
        raise TokenError(f"{path} is not a Predis tokens file ({exc}); restore it or make it anew") from None


class TokenVerifier:
    """A service's view of the tokens file: answers who a presented token stands for."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._clock = clock
        self._key = secrets.token_bytes(32)  # for the verified-token memo only; never leaves the process
        self._verified: dict[bytes, str] = {}  # HMAC of a verified token -> its id
        self._records: dict[str, TokenRecord] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked_at = float("-inf")
        self._load()

    @property
    def live_count(self) -> int:
        return sum(1 for r in self._records.values() if r.live)

    async def identify(self, token: str) -> Identity | None:
        """Who ``token`` stands for; None when it is malformed, unknown, wrong or revoked. A token
        not verified before in this process costs one scrypt, run off the event loop."""
        self._reload_if_changed()
        token_id = token_id_of(token)
        if token_id is None:
            return None
        record = self._records.get(token_id)
        if record is None and self._file_stamp() != self._stamp:  # made a moment ago: no wait for it
            self._checked_at = float("-inf")
            self._reload_if_changed()
            record = self._records.get(token_id)
        if record is None or not record.live:
            return None
        memo = hmac.digest(self._key, token.encode(), "sha256")
        if self._verified.get(memo) != token_id:
            secret = token[len(TOKEN_PREFIX) + len(token_id) + 1 :]
            digest = await asyncio.to_thread(_scrypt, secret, bytes.fromhex(record.salt))
            if not hmac.compare_digest(digest, bytes.fromhex(record.digest)):
                return None
            record = self._records.get(token_id)  # the file may have been reloaded meanwhile
            if record is None or not record.live:
                return None
            self._verified[memo] = token_id
        return Identity(token_id, record.tenant, Role(record.role))

    def _reload_if_changed(self) -> None:
        now = self._clock()
        if now - self._checked_at < RELOAD_CHECK_S:
            return
        self._checked_at = now
        if self._file_stamp() != self._stamp:
            try:
                self._load()
            except (TokenError, OSError) as exc:  # a broken file must not lock everyone out, nor let anyone in
                log.error("keeping the tokens read before: %s", exc)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def _load(self) -> None:
        stamp = self._file_stamp()
        records = {r.id: r for r in read_records(self.path)}
        self._records, self._stamp = records, stamp
        self._checked_at = self._clock()
        # A memo of a token no longer live must go: the next check of it fails at the record.
        self._verified = {m: i for m, i in self._verified.items() if i in records and records[i].live}
