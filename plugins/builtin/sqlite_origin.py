"""Built-in origin ``sqlite``: values read from a key/value table of a SQLite database.

``PREDIS_ORIGIN=sqlite:///path/to/db.sqlite?table=kv`` reads ``SELECT value FROM kv WHERE key = ?``
(columns ``key`` and ``value``, both BLOB or TEXT). With ``tenant_column=tenant`` the lookup also
matches that column against the calling tenant; without it every tenant reads the same table.
``cache_kib=N`` sets each connection's page cache (default 256 KiB, SQLite's own default is
2 MiB): the cache reads through one connection per origin worker thread (32), and the operating
system already caches the file once for all of them.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from predis.plugins.hookspecs import hookimpl
from predis.plugins.origin import OriginFactory, OriginSpec

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CACHE_KIB = 256


def _identifier(spec: OriginSpec, option: str, default: str) -> str:
    value = spec.options.get(option, default)
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(f"sqlite origin option {option}={value!r} is not a plain SQL identifier")
    return value


def _cache_kib(spec: OriginSpec) -> int:
    raw = spec.options.get("cache_kib", str(CACHE_KIB))
    if not raw.isdigit() or int(raw) > 1 << 30:
        raise ValueError(f"sqlite origin option cache_kib={raw!r} is not a whole number of KiB")
    return int(raw)


class SqliteOrigin:
    def __init__(self, path: Path, table: str, tenant_column: str | None, cache_kib: int = CACHE_KIB) -> None:
        self.path = path
        self.cache_kib = cache_kib
        where = "key = ?" + (f" AND {tenant_column} = ?" if tenant_column else "")
        self._query = f"SELECT value FROM {table} WHERE {where}"
        self._by_tenant = tenant_column is not None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connection().execute(self._query, (b"",) * (2 if self._by_tenant else 1))  # fail fast

    def _connection(self) -> sqlite3.Connection:
        # One read-only connection per worker thread: sqlite3 connections are not shared safely.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute(f"PRAGMA cache_size = -{self.cache_kib}")  # negative: KiB, not pages
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        params = (key, tenant) if self._by_tenant else (key,)
        row = self._connection().execute(self._query, params).fetchone()
        if row is None:
            return None
        value = row[0]
        return value.encode() if isinstance(value, str) else bytes(value)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def make_sqlite_origin(spec: OriginSpec) -> SqliteOrigin:
    path = Path(spec.location)
    if not path.is_file():
        raise ValueError(f"sqlite origin: database file {str(path)!r} does not exist")
    table = _identifier(spec, "table", "kv")
    tenant_column = _identifier(spec, "tenant_column", "tenant") if "tenant_column" in spec.options else None
    cache_kib = _cache_kib(spec)
    try:
        return SqliteOrigin(path, table, tenant_column, cache_kib)
    except sqlite3.Error as exc:
        raise ValueError(f"sqlite origin {str(path)!r}: {exc}") from exc


@hookimpl
def predis_register_origins(register: Callable[[str, OriginFactory], None]) -> None:
    register("sqlite", make_sqlite_origin)
