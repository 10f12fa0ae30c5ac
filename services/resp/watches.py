"""WATCH: which connections watch which keys, and whether EXEC must refuse (Redis's ``multi.c``).

A watched key is modified when any write reaches it between WATCH and EXEC, whichever front end
made it (RESP from any connection, gRPC): the cache domain tells of every write
(``CacheDomain.on_write``), and this table listens only while some connection watches, so
writes cost nothing for it otherwise. A key that was cached at WATCH and is gone at EXEC (it
expired, or was evicted) counts as modified too, as Redis 7.0's ``isWatchedKeyExpired`` and its
eviction's ``signalModifiedKey`` make it. As in Redis, a flush modifies only the watched keys
that it removed, a delete only the keys it removed, and a conditional write or expiry that was
not applied modifies nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from predis.services.cache.domain import CacheDomain
from predis.services.resp.session import Session


class WatchedKeys:
    """The watched keys of every connection: tenant -> stored key -> the connections watching it."""

    def __init__(self, domain: CacheDomain) -> None:
        self._domain = domain
        self._watchers: dict[str, dict[bytes, set[Session]]] = {}
        self._listening = False

    def watch(self, session: Session, keys: Sequence[bytes]) -> None:
        """``session`` watches ``keys`` (stored forms) of its tenant; a key it watches already
        keeps what it was at its first WATCH."""
        tenant = session.tenant
        by_key = self._watchers.setdefault(tenant, {})
        for key in keys:
            if (tenant, key) in session.watching:
                continue
            session.watching[(tenant, key)] = bool(self._domain.exists(tenant, [key]))
            by_key.setdefault(key, set()).add(session)
        if not self._listening:
            self._domain.on_write(self._written)
            self._listening = True

    def unwatch(self, session: Session) -> None:
        """``session`` watches nothing any more and is not dirty (UNWATCH, EXEC, DISCARD, RESET, a
        closed connection)."""
        session.watch_dirty = False
        for tenant, key in session.watching:
            by_key = self._watchers.get(tenant)
            if by_key is None:
                continue
            watchers = by_key.get(key)
            if watchers is not None:
                watchers.discard(session)
                if not watchers:
                    del by_key[key]
            if not by_key:
                del self._watchers[tenant]
        session.watching = {}
        if self._listening and not self._watchers:
            self._domain.remove_write_listener(self._written)
            self._listening = False

    def modified(self, session: Session) -> bool:
        """Whether a key ``session`` watches was written, or was cached at WATCH and is gone now."""
        if session.watch_dirty:
            return True
        return any(
            existed and not self._domain.exists(tenant, [key]) for (tenant, key), existed in session.watching.items()
        )

    def _written(self, tenant: str, keys: Sequence[bytes] | None) -> None:
        by_key = self._watchers.get(tenant)
        if not by_key:
            return
        if keys is None:  # the tenant was flushed: what it held is gone
            for key, watchers in by_key.items():
                for session in watchers:
                    if session.watching.get((tenant, key)):
                        session.watch_dirty = True
            return
        for key in keys:
            for session in by_key.get(key, ()):
                session.watch_dirty = True
