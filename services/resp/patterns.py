"""Glob patterns as Redis's ``stringmatchlen`` matches them (KEYS, SCAN MATCH, CONFIG GET).

``*`` any run of bytes, ``?`` one byte, ``[abc]`` / ``[^abc]`` / ``[a-z]`` a set of bytes, ``\\x``
the byte x. The corners are Redis's too: a range runs between its ends in either order, compared
as C's signed chars; an unclosed ``[`` takes the rest of the pattern as its set; a ``\\`` at the end
is itself. The pattern is read once into tokens that each match one byte, and matched with
backtracking to the last ``*`` only, so a pattern of many stars costs O(len(pattern) * len(key))
and never recursion (Redis bounds the same case with its skip-longer-matches rule).
"""

from __future__ import annotations

from collections.abc import Callable

_STAR = None  # a token that matches any run of bytes
_SPECIAL = frozenset(b"*?[\\")
Token = frozenset[int] | None


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _bracket(pattern: bytes, i: int) -> tuple[frozenset[int], int]:
    """The set of bytes ``[...]`` starting after the ``[`` at ``i`` matches, and where it ends."""
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # '^'
    if negate:
        i += 1
    members: set[int] = set()
    while True:
        left = n - i
        if left >= 2 and pattern[i] == 0x5C:  # '\\'
            i += 1
            members.add(pattern[i])
        elif left > 0 and pattern[i] == 0x5D:  # ']'
            break
        elif left <= 0:
            i -= 1  # Redis steps back so that the step below lands on the end
            break
        elif left >= 3 and pattern[i + 1] == 0x2D:  # '-'
            start, end = _signed(pattern[i]), _signed(pattern[i + 2])
            if start > end:
                start, end = end, start
            members.update(c for c in range(256) if start <= _signed(c) <= end)
            i += 2
        else:
            members.add(pattern[i])
        i += 1
    chosen = frozenset(range(256)).difference(members) if negate else frozenset(members)
    return chosen, i + 1


def tokens(pattern: bytes) -> list[Token]:
    """The pattern as tokens: ``None`` for ``*``, else the set of bytes one position matches."""
    out: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*'
            if not out or out[-1] is not _STAR:
                out.append(_STAR)
            i += 1
        elif c == 0x3F:  # '?'
            out.append(frozenset(range(256)))
            i += 1
        elif c == 0x5B:  # '['
            chosen, i = _bracket(pattern, i + 1)
            out.append(chosen)
        elif c == 0x5C and n - i >= 2:  # '\\' escapes the next byte
            out.append(frozenset((pattern[i + 1],)))
            i += 2
        else:
            out.append(frozenset((c,)))
            i += 1
    return out


def _match(toks: list[Token], key: bytes) -> bool:
    t = k = 0
    star_t = star_k = -1
    nt, nk = len(toks), len(key)
    while k < nk:
        if t < nt and toks[t] is _STAR:
            star_t, star_k = t, k
            t += 1
        elif t < nt and key[k] in toks[t]:  # type: ignore[operator]
            t += 1
            k += 1
        elif star_t >= 0:
            star_k += 1
            t, k = star_t + 1, star_k
        else:
            return False
    while t < nt and toks[t] is _STAR:
        t += 1
    return t == nt


def matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """A test of whether a key matches ``pattern``; ``*`` alone matches every key, the empty one
    too (KEYS and SCAN take that shortcut in Redis)."""
    if pattern == b"*":
        return lambda key: True
    if not _SPECIAL.intersection(pattern):
        return pattern.__eq__
    if pattern.endswith(b"*") and not _SPECIAL.intersection(pattern[:-1]) and pattern[:-1]:
        return _prefix_matcher(pattern[:-1])
    toks = tokens(pattern)
    # Redis compares nothing when the key is empty: only the empty pattern matches it.
    return lambda key: _match(toks, key) if key else False


def _prefix_matcher(prefix: bytes) -> Callable[[bytes], bool]:
    return lambda key: key.startswith(prefix)
