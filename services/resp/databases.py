"""SELECT's databases as namespaces inside a tenant's keys.

Database 0 holds keys as they are, so RESP clients and gRPC calls of the same tenant share them.
Database n (1 to 255) holds each key behind the three bytes ``FF DB n``: 0xFF never occurs in
UTF-8 text, so no text key of database 0 can look like one of another database. Keys of
database 0 that begin with ``FF DB`` are refused over RESP (they would read as another
database's). The cache holds no empty key, which Redis allows: database 0's empty key is held as
``FF DB 00`` (the number of no database), another database's as its prefix alone. All databases
of a tenant share its memory, quota and eviction queues.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

RESERVED = b"\xff\xdb"
PREFIX_BYTES = 3
EMPTY_KEY = RESERVED + b"\x00"  # database 0's empty key


class ReservedKey(ValueError):
    """A key of database 0 that begins with the bytes that mark another database's keys."""


def prefix_of(db: int) -> bytes:
    return b"" if db == 0 else RESERVED + bytes((db,))


class Database:
    """One database's view of a tenant's keys: what a client's key is stored as, and back."""

    __slots__ = ("index", "prefix")

    def __init__(self, index: int) -> None:
        self.index = index
        self.prefix = prefix_of(index)

    def key(self, key: bytes) -> bytes:
        """The stored form of ``key``; raises :class:`ReservedKey` for a reserved key of db 0."""
        if self.prefix:
            return self.prefix + key
        if key[:2] == RESERVED:
            raise ReservedKey(key)
        return key or EMPTY_KEY

    def keys(self, keys: Sequence[bytes]) -> list[bytes]:
        if self.prefix:
            prefix = self.prefix
            return [prefix + key for key in keys]
        # ``key`` for each. Commonly none is empty or begins with FF (the reserved bytes' first):
        # then the smallest is not empty and the largest does not begin with FF, two passes in C.
        if keys and min(keys) and max(keys)[:1] != RESERVED[:1]:
            return list(keys)
        return [key if key and key[:2] != RESERVED else self.key(key) for key in keys]

    def owns(self, stored: bytes) -> bool:
        """Whether a stored key belongs to this database."""
        if self.prefix:
            return stored[:PREFIX_BYTES] == self.prefix
        return stored[:2] != RESERVED or stored == EMPTY_KEY

    def client_keys(self, stored: Iterable[bytes]) -> list[bytes]:
        """The keys of this database among ``stored``, as its clients name them."""
        if self.prefix:
            prefix = self.prefix
            return [key[PREFIX_BYTES:] for key in stored if key[:PREFIX_BYTES] == prefix]
        return [b"" if key == EMPTY_KEY else key for key in stored if key[:2] != RESERVED or key == EMPTY_KEY]


def split_by_database(stored: Iterable[bytes]) -> dict[int, int]:
    """How many of ``stored`` each database holds (INFO keyspace)."""
    counts: dict[int, int] = {}
    for key in stored:
        if key[:2] != RESERVED or key == EMPTY_KEY:
            db = 0
        elif len(key) >= PREFIX_BYTES and key[2]:
            db = key[2]
        else:
            continue  # FF DB alone or FF DB 00: no database's (written over gRPC)
        counts[db] = counts.get(db, 0) + 1
    return counts
