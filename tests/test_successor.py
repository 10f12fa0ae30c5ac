"""The successor rule: the prefetch baseline replay offers next to the eviction policies."""

from __future__ import annotations

import numpy as np

from predis.services.cache.engine.simulate import LiveThreshold, simulate
from predis.services.cache.engine.successor import new_successor_state, observe, propose


def _feed(sequence: list[int]) -> object:
    state = new_successor_state(64)
    for previous, current in zip(sequence, sequence[1:], strict=False):
        observe(state, np.uint64(previous), np.uint64(current))
    return state


def test_proposes_the_usual_successor_once_it_is_likely_enough() -> None:
    state = _feed([10, 20, 99, 10, 20, 55, 10, 20, 77])
    assert propose(state, np.uint64(10)) == (True, np.uint64(20))
    assert propose(state, np.uint64(20))[0] is False  # 99, 55, 77: none reaches one half


def test_falls_back_to_the_usual_small_key_delta() -> None:
    state = _feed(list(range(100, 140)))  # every request is the previous key plus one
    assert propose(state, np.uint64(5000)) == (True, np.uint64(5001))


def test_says_nothing_for_random_traffic() -> None:
    rng = np.random.default_rng(0)
    state = _feed(rng.integers(0, 10**6, 5000).tolist())
    assert propose(state, np.uint64(rng.integers(0, 10**6)))[0] is False


def test_a_loop_larger_than_the_cache_is_served_by_prefetching() -> None:
    ids = np.tile(np.arange(200, dtype=np.uint64) * 7, 50)  # a scan of 200 keys, 50 times; cache holds 50
    plain = simulate(ids, 50, "s3fifo")
    rule = simulate(ids, 50, "successor")
    assert rule.hit_ratio > plain.hit_ratio + 0.5
    assert 0 < rule.prefetch_used <= rule.prefetches
    assert rule.origin_fetches == rule.misses + rule.prefetches
    assert rule.prefetch_used / rule.prefetches > 0.9


def test_prefetching_counts_only_the_scored_window() -> None:
    ids = np.tile(np.arange(100, dtype=np.uint64), 20)
    whole = simulate(ids, 30, "successor")
    tail = simulate(ids, 30, "successor", eval_from=1000)
    assert tail.requests == 1000 and tail.prefetches < whole.prefetches


def test_the_learned_replay_tunes_its_threshold_live_as_the_cache_does() -> None:
    ids = np.tile(np.arange(1000, dtype=np.uint64), 20)  # a loop ten times the cache's size
    rng = np.random.default_rng(0)
    scores = np.full((len(ids), 1), 0.5, dtype=np.float32)
    right = ((ids + 1) % 1000).reshape(-1, 1)  # the key that comes next
    wrong = rng.integers(5000, 10_000, (len(ids), 1)).astype(np.uint64)  # keys never asked for
    no_counts = np.zeros(len(ids), dtype=np.int8)
    good = simulate(ids, 100, "learned", proposals=(right, no_counts), live=LiveThreshold(scores, initial=0.5))
    bad = simulate(ids, 100, "learned", proposals=(wrong, no_counts), live=LiveThreshold(scores, initial=0.5))
    assert good.final_threshold is not None and good.final_threshold <= 0.1  # precise: the cut falls
    assert good.hit_ratio > 0.9
    assert bad.final_threshold == 0.55  # a cohort of 64 unused: the cut rises above every score, so...
    assert bad.prefetches < 500  # ...prefetching stops but for a cohort tried now and then
    assert bad.prefetch_used == 0


def test_the_learned_replay_skips_cached_proposals_without_using_up_the_reads_share() -> None:
    # Each request proposes the key just requested (cached) first, then the next key of the loop:
    # like the cache, the replay drops the cached one before choosing, so the next key is prefetched.
    ids = np.tile(np.arange(1000, dtype=np.uint64), 5)
    keys = np.stack([ids, (ids + 1) % 1000], axis=1)
    scores = np.tile(np.array([[0.9, 0.8]], dtype=np.float32), (len(ids), 1))
    no_counts = np.zeros(len(ids), dtype=np.int8)
    one_each = simulate(
        ids, 100, "learned", proposals=(keys, no_counts), live=LiveThreshold(scores, initial=0.5), per_request=1
    )
    assert one_each.prefetches > 0.9 * len(ids)
    assert one_each.hit_ratio > 0.9
