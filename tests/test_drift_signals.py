"""The drift signals against brute force on a random stream, compaction included."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from predis.services.drift.signals import StreamSignals


def test_signals_equal_brute_force_through_compactions() -> None:
    rng = np.random.default_rng(5)
    horizon = 50
    keys = [b"k%d" % k for k in rng.zipf(1.3, 3000) % 200]  # skewed, with repeats near and far
    times = np.cumsum(rng.integers(1, 1000, len(keys)))
    signals = StreamSignals(horizon=horizon)
    last: dict[bytes, int] = {}
    for i, (key, t) in enumerate(zip(keys, times.tolist(), strict=True)):
        got = signals.observe(key, t)
        previous = last.get(key)
        gap = None if previous is None else i - previous
        if gap is not None and gap <= horizon:
            assert got.reuse_distance == len(set(keys[previous + 1 : i]) - {key})  # exact within the horizon
            assert got.inter_arrival_ns == t - int(times[previous])
        elif gap is None or gap > 3 * horizon:
            assert got.reuse_distance is None  # first seen, or forgotten
        window = collections.Counter(keys[max(0, i - horizon + 1) : i + 1])
        assert got.popularity_rank == sum(1 for c in window.values() if c > window[key])
        last[key] = i


def test_a_first_request_has_no_distance_and_the_horizon_is_checked() -> None:
    signals = StreamSignals(horizon=10)
    first = signals.observe(b"a", 100)
    assert first.reuse_distance is None and first.inter_arrival_ns is None and first.popularity_rank == 0
    signals.observe(b"b", 150)
    again = signals.observe(b"a", 200)
    assert again.reuse_distance == 1 and again.inter_arrival_ns == 100
    with pytest.raises(ValueError, match="horizon"):
        StreamSignals(horizon=1)
