"""Key bytes as the 64-bit ids the candidate generator works on, and back.

The candidate features (``engine/candidates.py``) are computed over integer ids, as in a replayed
trace. A service sees bytes, so each key gets an id that keeps what the key-delta rule needs:

- a plain decimal key (``b"1234"``) is its number;
- a key ending in a decimal number (``b"user:42"``, ``b"page/7"``) is a hash of its prefix in the
  high bits and the number in the low 32 bits, so ``user:42`` + 1 is ``user:43``;
- any other key is a hash of its bytes, with the top bit set; it can only be proposed as a
  successor it was seen as, never by a delta.

Ids map back to bytes through bounded tables of the keys and prefixes seen recently; an id that
has fallen out (or was never seen) maps to None and its candidate is dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict

_NUMBER_BITS = 32
_STRUCTURED = 1 << 62
_OPAQUE = 1 << 63
_PREFIX_MASK = (1 << 30) - 1
_PLAIN_LIMIT = 1 << 62
# A number without leading zeros (so that it prints back the same), at the end of the key.
_TRAILING_NUMBER = re.compile(rb"(0|[1-9][0-9]{0,18})\Z")


def _hash(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class KeyIds:
    """Ids for one tenant's keys; remembers at most ``max_keys`` opaque keys and prefixes."""

    def __init__(self, max_keys: int = 1 << 18) -> None:
        self.max_keys = max_keys
        self._opaque: OrderedDict[int, bytes] = OrderedDict()
        self._prefixes: OrderedDict[int, bytes] = OrderedDict()

    def id_of(self, key: bytes) -> int:
        match = _TRAILING_NUMBER.search(key)
        if match is not None:
            number = int(match.group(0))
            prefix = key[: match.start()]
            if not prefix and number < _PLAIN_LIMIT:
                return number
            if prefix and number < 1 << _NUMBER_BITS:
                tag = _hash(prefix) & _PREFIX_MASK
                self._remember(self._prefixes, tag, prefix)
                return _STRUCTURED | tag << _NUMBER_BITS | number
        key_id = _OPAQUE | (_hash(key) & (_OPAQUE - 1))
        self._remember(self._opaque, key_id, key)
        return key_id

    def key_of(self, key_id: int) -> bytes | None:
        if key_id & _OPAQUE:
            return self._opaque.get(key_id)
        if key_id & _STRUCTURED:
            prefix = self._prefixes.get((key_id >> _NUMBER_BITS) & _PREFIX_MASK)
            return None if prefix is None else prefix + str(key_id & ((1 << _NUMBER_BITS) - 1)).encode()
        return str(key_id).encode()

    def _remember(self, table: OrderedDict[int, bytes], key_id: int, key: bytes) -> None:
        if key_id in table:
            table.move_to_end(key_id)
            return
        table[key_id] = key
        if len(table) > self.max_keys:
            table.popitem(last=False)
