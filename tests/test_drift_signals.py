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


def test_a_batch_gives_what_one_request_at_a_time_gives() -> None:
    rng = np.random.default_rng(8)
    ids = (rng.zipf(1.2, 5000) % 500).astype(np.int64)
    times = np.cumsum(rng.integers(1, 100, len(ids)))
    one, many = StreamSignals(horizon=64), StreamSignals(horizon=64)
    singles = [one.observe_ids(ids[i : i + 1], times[i : i + 1]) for i in range(len(ids))]
    batches = [many.observe_ids(ids[i : i + 1000], times[i : i + 1000]) for i in range(0, len(ids), 1000)]
    for field in ("reuse_distance", "inter_arrival_ns", "popularity_rank"):
        a = np.concatenate([getattr(s, field) for s in singles])
        b = np.concatenate([getattr(s, field) for s in batches])
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="times"):
        many.observe_ids(ids[:3], times[:2])
