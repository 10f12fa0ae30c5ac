"""The RESP server's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.settings import Env, SettingsError, parse_address
from predis.services.runtime.tenancy import validate_tenant
from predis.services.security.tls import RESP_TLS_PREFIX, TLS_PREFIX, TlsSettings

DEFAULT_USER = "default"  # Redis's name for the user of the one-argument AUTH
MAX_DATABASES = 256  # a database's key prefix holds its number in one byte (databases.py)


@dataclass(frozen=True)
class Account:
    """A user who may authenticate, with the password and the tenant the connection then acts for."""

    user: str
    password: str
    tenant: str


def parse_users(raw: str, source: str = "PREDIS_RESP_USERS") -> dict[str, Account]:
    """``user:password=tenant,...``; a password may hold ``:`` and ``=`` but not ``,``."""
    accounts: dict[str, Account] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        user, colon, rest = entry.partition(":")
        password, equals, tenant = rest.rpartition("=")
        if not colon or not equals or not user or not password:
            raise SettingsError(f"{source} entry {_redacted(entry)!r} is not USER:PASSWORD=TENANT")
        if user in accounts:
            raise SettingsError(f"{source} names the user {user!r} twice")
        accounts[user] = Account(user, password, _tenant(tenant, source))
    return accounts


def parse_requirepass(raw: str, source: str = "PREDIS_RESP_REQUIREPASS") -> Account | None:
    """``password=tenant``: the ``default`` user's password (one-argument AUTH) and its tenant."""
    if not raw:
        return None
    password, equals, tenant = raw.rpartition("=")
    if not equals or not password:
        raise SettingsError(f"{source} is not PASSWORD=TENANT")
    return Account(DEFAULT_USER, password, _tenant(tenant, source))


def _tenant(name: str, source: str) -> str:
    try:
        return validate_tenant(name)
    except InvalidInput:
        raise SettingsError(
            f"{source} names the tenant {name[:80]!r}: use 1 to 64 letters, digits, '.', '_' or '-'"
        ) from None


def _redacted(entry: str) -> str:
    user, _, rest = entry.partition(":")
    _, equals, tenant = rest.rpartition("=")
    return f"{user}:***" + (f"={tenant}" if equals else "")


@dataclass(frozen=True)
class RespSettings:
    """
    Attributes:
        listen: HOST:PORT the RESP server binds (``PREDIS_RESP_LISTEN``); empty, the default: no
            RESP server. Port 0 picks a free port.
        max_clients: connections served at once; one more is told Redis's
            ``-ERR max number of clients reached`` and closed (``PREDIS_RESP_MAX_CLIENTS``, 10000).
        proto_max_bulk_len: longest string one request may carry, as Redis's
            ``proto-max-bulk-len`` (``PREDIS_RESP_PROTO_MAX_BULK_LEN``, default 512 MiB; values
            are also bounded by the cache's ``PREDIS_CACHE_MAX_VALUE_BYTES``).
        query_buffer_limit: most bytes one connection's unfinished request may hold before the
            connection is closed, as Redis's ``client-query-buffer-limit``
            (``PREDIS_RESP_QUERY_BUFFER_LIMIT``, default 1 GiB).
        timeout_s: seconds a connection may stay idle before it is closed, 0 for never, as
            Redis's ``timeout`` (``PREDIS_RESP_TIMEOUT_S``, default 0).
        databases: how many databases SELECT may choose, as Redis's ``databases``
            (``PREDIS_RESP_DATABASES``, 1 to 256, default 16).
        users: who may authenticate with two-argument AUTH (and HELLO AUTH), each with a password
            and a tenant (``PREDIS_RESP_USERS``, ``alice:secret1=tenant-a,bob:secret2=tenant-b``).
        default_account: the ``default`` user's password and tenant, for one-argument AUTH
            (``PREDIS_RESP_REQUIREPASS``, ``password=tenant``).
        tls: the certificate and key the RESP port serves TLS with, and the client CA that makes
            it mutual TLS (``PREDIS_RESP_TLS_CERT``, ``PREDIS_RESP_TLS_KEY``,
            ``PREDIS_RESP_TLS_CLIENT_CA``; each one unset takes its ``PREDIS_TLS_*`` value, so one
            certificate can cover every port); None serves plaintext.

    Without ``users`` and ``default_account`` no authentication is asked for and every
    connection acts for the ``default`` tenant, as gRPC calls without tenant metadata do; with
    either, a connection must authenticate before anything but AUTH, HELLO, QUIT and RESET.
    """

    listen: str = ""
    max_clients: int = 10_000
    proto_max_bulk_len: int = 512 * 1024 * 1024
    query_buffer_limit: int = 1024 * 1024 * 1024
    timeout_s: float = 0.0
    databases: int = 16
    users: Mapping[str, Account] = field(default_factory=dict)
    default_account: Account | None = None
    tls: TlsSettings | None = None

    def __post_init__(self) -> None:
        if self.listen:
            parse_address(self.listen, "PREDIS_RESP_LISTEN")
        if self.max_clients < 1:
            raise SettingsError("PREDIS_RESP_MAX_CLIENTS must be at least 1")
        if self.proto_max_bulk_len < 1024 * 1024:
            raise SettingsError("PREDIS_RESP_PROTO_MAX_BULK_LEN must be at least 1048576 (1 MiB), as in Redis")
        if self.query_buffer_limit <= self.proto_max_bulk_len:
            raise SettingsError(
                f"PREDIS_RESP_QUERY_BUFFER_LIMIT ({self.query_buffer_limit}) must be larger than "
                f"PREDIS_RESP_PROTO_MAX_BULK_LEN ({self.proto_max_bulk_len}), or no request of the longest string fits"
            )
        if self.timeout_s < 0:
            raise SettingsError("PREDIS_RESP_TIMEOUT_S must be 0 (never) or positive")
        if not 1 <= self.databases <= MAX_DATABASES:
            raise SettingsError(f"PREDIS_RESP_DATABASES must be 1 to {MAX_DATABASES}")
        if self.default_account is not None and DEFAULT_USER in self.users:
            raise SettingsError(
                f"the {DEFAULT_USER!r} user is in PREDIS_RESP_USERS and PREDIS_RESP_REQUIREPASS; name it once"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.listen)

    @property
    def accounts(self) -> dict[str, Account]:
        """Every user who may authenticate, the ``default`` one included when it has a password."""
        accounts = dict(self.users)
        if self.default_account is not None:
            accounts[DEFAULT_USER] = self.default_account
        return accounts

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RespSettings:
        env = Env(environ)
        return cls(
            listen=env.text("PREDIS_RESP_LISTEN", "").strip(),
            max_clients=env.integer("PREDIS_RESP_MAX_CLIENTS", 10_000, minimum=1),
            proto_max_bulk_len=env.integer("PREDIS_RESP_PROTO_MAX_BULK_LEN", 512 * 1024 * 1024, minimum=1024 * 1024),
            query_buffer_limit=env.integer("PREDIS_RESP_QUERY_BUFFER_LIMIT", 1024 * 1024 * 1024, minimum=1024 * 1024),
            timeout_s=env.number("PREDIS_RESP_TIMEOUT_S", 0.0),
            databases=env.integer("PREDIS_RESP_DATABASES", 16, minimum=1),
            users=parse_users(env.text("PREDIS_RESP_USERS", "")),
            default_account=parse_requirepass(env.text("PREDIS_RESP_REQUIREPASS", "")),
            tls=TlsSettings.from_env(environ, RESP_TLS_PREFIX, fallback_prefix=TLS_PREFIX),
        )
