"""Honest keys: numbering by first appearance is detected and scrambled away, scrambling changes
no eviction policy's hit ratio, structured keys keep their structure, train and replay agree on
the mapping, readers say what they assumed, and a line's pages arrive together."""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
import pytest
import zstandard

from predis.services.cache.engine.candidates import CandidateRows, labels
from predis.services.cache.engine.simulate import simulate
from predis.services.cli import main
from predis.services.replay.keys import (
    CACHE2K_ID,
    WHOLE_KEY,
    cache2k_ids,
    choose_keys,
    honest_trace,
    renumbered_share,
    scramble_whole,
)
from predis.services.replay.libcachesim_runner import libcachesim_hits
from predis.services.replay.traces import Trace, TraceFormatError, read_trace


def numbered_by_first_appearance(n: int, keys: int, seed: int) -> np.ndarray:
    """A skewed reuse stream with keys renumbered 0, 1, 2, ... as they first appear."""
    raw = np.random.default_rng(seed).zipf(1.3, n) % keys
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse].astype(np.uint64)


def test_a_renumbered_trace_is_detected_and_a_hashed_one_is_not() -> None:
    ids = numbered_by_first_appearance(20_000, 3_000, seed=1)
    assert renumbered_share(ids) == 1.0
    scrambled, choice = choose_keys(Trace("t", ids, format="lirs"), "auto", seed=0)
    assert choice.keys == "scrambled" and choice.scrambled_field == WHOLE_KEY
    assert renumbered_share(scrambled) < 0.01
    hashed = scramble_whole(ids, seed=7)
    same, choice = choose_keys(Trace("h", hashed, format="lirs"), "auto", seed=0)
    assert choice.keys == "recorded" and same is hashed
    _, forced = choose_keys(Trace("h", hashed, format="lirs"), "scrambled", seed=0)
    assert forced.keys == "scrambled"
    _, kept = choose_keys(Trace("t", ids, format="lirs"), "recorded", seed=0)
    assert kept.keys == "recorded"


@pytest.mark.parametrize("policy", ["lru", "s3fifo"])
def test_scrambling_is_a_bijection_that_leaves_eviction_unchanged(policy: str) -> None:
    ids = numbered_by_first_appearance(30_000, 4_000, seed=2)
    scrambled = scramble_whole(ids, seed=3)
    assert len(np.unique(scrambled)) == len(np.unique(ids))
    # Same request, same new key, everywhere: the reuse pattern is the trace's own.
    _, first, inverse = np.unique(scrambled, return_index=True, return_inverse=True)
    renumbered = np.argsort(np.argsort(first))[inverse]
    assert (renumbered == ids).all()
    for size in (50, 400):
        assert simulate(ids, size, policy).hits == simulate(scrambled, size, policy).hits
        assert libcachesim_hits(ids, size, policy.upper())[0] == libcachesim_hits(scrambled, size, policy.upper())[0]
    assert not np.array_equal(scramble_whole(ids, seed=3), scramble_whole(ids, seed=4))


def test_cache2k_structured_keys_keep_type_and_index() -> None:
    rng = np.random.default_rng(4)
    object_ids = numbered_by_first_appearance(20_000, 2_000, seed=5)
    types = rng.integers(0, 32, len(object_ids)).astype(np.uint64)
    index = rng.integers(0, 512, len(object_ids)).astype(np.uint64)
    keys32 = (types << np.uint64(27)) | (object_ids << np.uint64(9)) | index
    ids = keys32.astype(np.uint32).view(np.int32).astype(np.int64).view(np.uint64)  # as the reader signs them
    assert renumbered_share(ids) < 0.9 and renumbered_share(cache2k_ids(ids)) == 1.0
    out, choice = choose_keys(Trace("orm", ids, format="cache2k"), "auto", seed=0)
    assert choice.keys == "scrambled" and choice.scrambled_field == CACHE2K_ID
    low = np.uint64((1 << 9) - 1)
    assert ((out & low) == (ids & low)).all()  # the index is real structure: kept
    assert ((out >> np.uint64(27)) == (ids >> np.uint64(27))).all()  # type (and the sign) kept
    assert renumbered_share(cache2k_ids(out)) < 0.05
    assert len(np.unique(out)) == len(np.unique(ids))
    _, whole = choose_keys(Trace("orm", ids, format="cache2k"), "scrambled-whole", seed=0)
    assert whole.scrambled_field == WHOLE_KEY


def _cache2k_file(path: Path, ids: np.ndarray) -> Path:
    path.write_bytes(lzma.compress(ids.astype(">i4").tobytes()))
    return path


def test_train_and_replay_agree_on_the_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _cache2k_file(tmp_path / "web.trace.xz", numbered_by_first_appearance(8_000, 600, 6).astype(np.int64))
    model = tmp_path / "m"
    assert main(["train", str(trace), "--out", str(model), "--model", "logistic", "--key-seed", "5"]) == 0
    card = json.loads((model / "model.json").read_text())
    window = card["training_windows"][0]
    assert window["keys"] == "scrambled" and window["key_seed"] == 5
    err = capsys.readouterr().err
    assert "read as cache2k" in err and "whole key scrambled with seed 5" in err
    common = ["replay", str(trace), "--policy", "learned", "--model", str(model), "--train-fraction", "0.3", "--json"]
    assert main([*common, "--key-seed", "5"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows and all(r["keys"] == "scrambled" and r["format"] == "cache2k" for r in rows)
    assert main([*common, "--key-seed", "6"]) == 2
    assert "pass the --keys and --key-seed it was trained" in capsys.readouterr().err
    assert main([*common, "--keys", "recorded"]) == 2


def test_64_bit_keys_named_like_cache2k_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "small.trace"
    small.write_bytes(np.arange(5000, dtype=">i8").tobytes())
    with pytest.raises(TraceFormatError, match="--format int64"):
        read_trace(small)
    assert read_trace(small, "int64").ids.tolist() == list(range(5000))
    hashed = tmp_path / "hashed.trace"
    keys = scramble_whole(np.random.default_rng(8).integers(0, 300, 6000).astype(np.uint64), 1)
    hashed.write_bytes(keys.astype(">u8").tobytes())
    with pytest.raises(TraceFormatError, match="halves of 64-bit keys"):
        read_trace(hashed)
    said: list[str] = []
    assert read_trace(hashed, "cache2k", say=said.append).requests == 12_000  # named: read as told...
    assert any("warning" in line for line in said)  # ...with a warning
    genuine = _cache2k_file(tmp_path / "web.trace.xz", numbered_by_first_appearance(6000, 900, 9).astype(np.int64))
    said.clear()
    read_trace(genuine, say=said.append)
    assert said == [
        "web.trace.xz: read as cache2k (cache2k big-endian signed 32-bit keys): "
        "its name ends in .trace and it is binary"
    ]


def test_a_lines_pages_arrive_together(tmp_path: Path) -> None:
    path = tmp_path / "db.lis.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"".join(b"%d 4 0 %d\n" % (100 * i, i) for i in range(500))))
    trace = read_trace(path)
    assert trace.lines is not None and trace.lines[:8].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    # An oracle proposes the next page: without lines it would hit every page after the first.
    nxt = np.concatenate([trace.ids[1:], [0]]).astype(np.uint64).reshape(-1, 1)
    proposals = (nxt, np.ones(trace.requests, dtype=np.int8))
    alone = simulate(trace.ids, 64, "learned", proposals=proposals)
    together = simulate(trace.ids, 64, "learned", proposals=proposals, lines=trace.lines)
    assert alone.hits == trace.requests - 1
    assert together.hits == 499  # only a line's first page, prefetched after the line before it
    single = read_trace(_single_lines(tmp_path))
    assert single.lines is None  # one page a line: every request is its own line


def _single_lines(tmp_path: Path) -> Path:
    path = tmp_path / "one.lis"
    path.write_bytes(b"5 1 0 0\n6 1 0 1\n")
    return path


def test_labels_count_only_what_follows_the_triggers_line() -> None:
    ids = np.array([1, 2, 3, 9, 2], dtype=np.uint64)
    rows = CandidateRows(np.array([0, 0, 3]), np.array([2, 3, 2], dtype=np.uint64), np.zeros((3, 1), dtype=np.float32))
    assert labels(ids, rows, 8).tolist() == [1, 1, 1]
    lines = np.array([0, 0, 0, 1, 2])
    assert labels(ids, rows, 8, lines).tolist() == [1, 0, 1]  # 3 is only in the trigger's own line


def test_a_pure_loop_still_gives_a_usable_model(tmp_path: Path) -> None:
    from predis.services.predictor.model_files import open_model_dir
    from predis.services.retrainer.training import TrainingOptions, train

    # Every candidate the window can judge is right (keys without numeric structure: no delta guesses).
    loop = scramble_whole(np.tile(np.arange(50, dtype=np.uint64), 100), seed=0)
    card = train([Trace("loop", loop)], tmp_path / "m", TrainingOptions(train_fraction=1.0, model="logistic"))
    assert card["model"] == "constant" and "one class" in card["hyperparameters"]["why"]  # type: ignore[index]
    _, scorer = open_model_dir(str(tmp_path / "m"))
    scores = scorer.score(np.random.default_rng(0).random((10, len(card["features"]))).astype(np.float32))  # type: ignore[arg-type]
    assert np.allclose(scores, scores[0]) and scores[0] > 0.99


def test_honest_trace_says_what_it_did() -> None:
    said: list[str] = []
    ids = numbered_by_first_appearance(5_000, 500, seed=10)
    out = honest_trace(Trace("t", ids, format="lirs"), "auto", 3, said.append)
    assert out.keys == "scrambled" and out.key_seed == 3 and "whole key scrambled with seed 3" in said[0]


def test_bench_targets_counts_cases_against_each_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def row(policy: str, source: str, ratio: float, prefetches: int = 0, used: int = 0) -> dict[str, object]:
        return {
            "trace": "lirs-x",
            "cache_size": 10,
            "footprint": 1000,
            "policy": policy,
            "source": source,
            "hit_ratio": ratio,
            "prefetches": prefetches,
            "prefetch_used": used,
            "origin_fetches": 100,
            "keys": "scrambled",
        }

    rows = [
        row("s3fifo", "predis", 0.40),
        row("successor", "predis", 0.45),
        row("learned", "predis", 0.50, 200, 90),
        row("ARC", "libcachesim", 0.42),
        row("Belady", "libcachesim", 0.48),
    ]
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"rows": rows}))
    bar = tmp_path / "README.md"
    bar.write_text(
        "## Published prefetchers on these traces\n\n| trace | keys | size | LRU | S3FIFO | a | b | c | best |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---|\n"
        "| lirs-x | scrambled | 0.01 | 0.1 | 0.2 | 0.3 | 0.1 | 0.1 | M 0.55 |\n"
    )
    assert main(["bench", "targets", str(results), "--bar", str(bar)]) == 0
    out = capsys.readouterr().out
    assert (
        "| lirs-x | scrambled | 10 | 0.4000 | 0.4500 | 0.5000 | +5.00 | ARC 0.4200 | +8.00 | M 0.5500 | -5.00 |" in out
    )
    assert "at least the best published prefetcher: 0 of 1; below: lirs-x@10" in out
    assert "above Belady on lirs-* and cloudphysics: 1 of 1" in out
    assert "precision at least 0.5 where 100 or more prefetches: 0 of 1; missed: lirs-x@10" in out
