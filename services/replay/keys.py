"""Honest keys: traces whose keys were numbered in the order they first appear get them scrambled.

Most published traces were anonymised by numbering keys as they first appear, so every key never
seen before is the largest so far plus one, and arithmetic on keys "predicts" keys nobody has asked
for yet. No real key space allows that, so ``predis train`` and ``predis replay`` score such a
trace with its keys replaced by a seeded bijection (``--keys auto``, the default): every request
keeps its place and its reuse, so every eviction policy's hit ratio is unchanged, and only the
structure the keys really have is left for a prefetcher to find.

Structured keys keep their real structure: a cache2k key is type (bits 27-31), id (bits 9-26) and
index (bits 0-8); when only the id field is numbered (the orm traces), only that field is
scrambled. Elsewhere the whole key is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from predis.services.replay.traces import Trace, read_trace

KEY_MODES = ("auto", "recorded", "scrambled", "scrambled-whole")
RENUMBERED_SHARE = 0.9  # at least this share of new keys is the previous new key plus one
WHOLE_KEY = "whole key"
CACHE2K_ID = "id field (bits 9-26)"
_ID_SHIFT, _ID_BITS = 9, 18
_ID_MASK = np.uint64(((1 << _ID_BITS) - 1) << _ID_SHIFT)


@dataclass(frozen=True)
class KeyChoice:
    """What was done to a trace's keys, and what was measured to decide it."""

    keys: str  # "recorded" or "scrambled"
    scrambled_field: str  # WHOLE_KEY, CACHE2K_ID, or "" when recorded
    renumbered_share: float  # of the field that decided
    seed: int

    def describe(self, name: str) -> str:
        if self.keys == "recorded":
            share = self.renumbered_share
            return f"{name}: keys as recorded (share of new keys that are the previous one + 1: {share:.2f})"
        return (
            f"{name}: {self.scrambled_field} scrambled with seed {self.seed} (share of new keys that are the "
            f"previous one + 1: {self.renumbered_share:.2f})"
        )


def renumbered_share(values: np.ndarray) -> float:
    """Of the distinct values in order of first appearance, the share that is the previous one
    plus one: 1.0 for a trace numbered by first appearance, near 0 for hashes or addresses."""
    first = np.sort(np.unique(values, return_index=True)[1])
    if len(first) < 2:
        return 0.0
    ordered = values[first].view(np.int64)
    return float(np.mean(np.diff(ordered) == 1))


def cache2k_ids(ids: np.ndarray) -> np.ndarray:
    return (ids & _ID_MASK) >> np.uint64(_ID_SHIFT)


def scramble_whole(ids: np.ndarray, seed: int) -> np.ndarray:
    """A seeded bijection of 64-bit keys (the splitmix64 finaliser after a seeded offset: every
    step is invertible, so distinct keys stay distinct)."""
    z = ids.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) % (1 << 64))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def scramble_cache2k_id(ids: np.ndarray, seed: int) -> np.ndarray:
    """The id field replaced through a seeded permutation of its 2^18 values; type, index (and the
    sign extension of negative keys) unchanged."""
    permutation = np.random.default_rng(seed).permutation(1 << _ID_BITS).astype(np.uint64)
    return (ids & ~_ID_MASK) | (permutation[cache2k_ids(ids)] << np.uint64(_ID_SHIFT))


def choose_keys(trace: Trace, mode: str, seed: int) -> tuple[np.ndarray, KeyChoice]:
    """The ids to score on and what was done: see the module's docstring."""
    if mode not in KEY_MODES:
        raise ValueError(f"--keys must be one of {', '.join(KEY_MODES)}, not {mode!r}")
    whole = renumbered_share(trace.ids)
    field, share = WHOLE_KEY, whole
    if trace.format == "cache2k" and whole < RENUMBERED_SHARE and mode != "scrambled-whole":
        field, share = CACHE2K_ID, renumbered_share(cache2k_ids(trace.ids))
    if mode == "recorded" or (mode == "auto" and share < RENUMBERED_SHARE):
        return trace.ids, KeyChoice("recorded", "", share, seed)
    if field == CACHE2K_ID:
        return scramble_cache2k_id(trace.ids, seed), KeyChoice("scrambled", field, share, seed)
    return scramble_whole(trace.ids, seed), KeyChoice("scrambled", field, share, seed)


def honest_trace(trace: Trace, mode: str = "auto", seed: int = 0, say: Callable[[str], None] | None = None) -> Trace:
    """``trace`` with its keys as ``mode`` says (scrambled where ``auto`` finds them numbered by
    first appearance); ``say`` gets one line describing the choice."""
    ids, choice = choose_keys(trace, mode, seed)
    if say is not None:
        say(choice.describe(trace.name))
    return replace(trace, ids=ids, keys=choice.keys, scrambled_field=choice.scrambled_field, key_seed=seed)


def load_trace(
    path: Path | str,
    fmt: str | None = None,
    keys: str = "auto",
    seed: int = 0,
    say: Callable[[str], None] | None = None,
) -> Trace:
    """A trace file read (``traces.read_trace``) and its keys made honest (:func:`honest_trace`):
    what ``predis train`` and ``predis replay`` score on."""
    return honest_trace(read_trace(path, fmt, say), keys, seed, say)


def check_model_keys(card: dict[str, object], trace: Trace) -> None:
    """Refuses to score a model on a trace it was trained on with other keys (another ``--keys`` or
    ``--key-seed``): its training window would then be other keys than the ones it is scored on."""
    windows = card.get("training_windows", [])
    for window in windows if isinstance(windows, list) else []:
        if window.get("trace") != trace.name or "sha256" not in window:
            continue
        n = int(window["requests"])
        if hashlib.sha256(trace.ids[:n].tobytes()).hexdigest() == window["sha256"]:
            return
        trained = window.get("keys", "recorded")
        if trained == "scrambled":
            trained = f"scrambled ({window.get('scrambled_field')}, --key-seed {window.get('key_seed')})"
        seed = f" (--key-seed {trace.key_seed})" if trace.keys == "scrambled" else ""
        raise ValueError(
            f"the model was trained on the first {n:,} requests of {trace.name} with keys {trained}, and this "
            f"replay's keys ({trace.keys}{seed}) are not those: pass the --keys and --key-seed it was trained "
            "with (or the same trace file)"
        )
