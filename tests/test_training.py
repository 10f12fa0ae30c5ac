"""`predis train`: candidates, features and labels from a training window, a real ONNX model out."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from predis.services.cache.engine.candidates import FEATURES, candidate_rows, labels
from predis.services.predictor.model_files import open_model_dir


def _trace(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    loop = np.tile(np.arange(0, 600, 3), 30)  # a regular scan...
    noise = rng.integers(10_000, 20_000, len(loop))  # ...interleaved with random keys
    ids = np.where(rng.random(len(loop)) < 0.3, noise, loop)
    path = tmp_path / "mixed.trace.gz"
    path.write_bytes(gzip.compress("".join(f"{i}\n" for i in ids.tolist()).encode()))
    return path


def test_labels_look_only_forward_within_the_horizon() -> None:
    ids = np.array([1, 2, 3, 1, 2, 9, 9, 9, 3], dtype=np.uint64)
    rows = candidate_rows(ids)
    y = labels(ids, rows, horizon=2)
    by_request = {(int(r), int(c)): int(v) for r, c, v in zip(rows.request, rows.candidate, y, strict=True)}
    assert by_request[(3, 2)] == 1  # after the second 1 comes 2 at once
    assert by_request[(4, 3)] == 0  # 3 comes back 4 requests later: beyond the horizon
    assert rows.features.shape[1] == len(FEATURES)


def test_train_writes_a_model_the_predictor_loads(tmp_path: Path) -> None:
    trace = _trace(tmp_path)
    out = tmp_path / "model"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "predis.services.cli",
            "train",
            str(trace),
            "--out",
            str(out),
            "--train-fraction",
            "0.5",
            "--model",
            "logistic",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["offline_metrics"]["auc"] > 0.7
    card = json.loads((out / "model.json").read_text())
    assert card["features"] == list(FEATURES)
    window = card["training_windows"][0]
    from predis.services.replay.traces import read_trace

    ids = read_trace(trace).ids
    assert window["requests"] == len(ids) // 2
    assert window["sha256"] == hashlib.sha256(ids[: len(ids) // 2].tobytes()).hexdigest()
    assert {"scikit-learn", "skl2onnx", "onnx"} <= set(card["libraries"])
    _, scorer = open_model_dir(str(out))
    scores = scorer.score(candidate_rows(ids[:500]).features)
    assert scores.min() >= 0 and scores.max() <= 1


def test_too_little_to_learn_from_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "tiny.trace.gz"
    path.write_bytes(gzip.compress(b"1\n2\n3\n"))
    result = subprocess.run(
        [sys.executable, "-m", "predis.services.cli", "train", str(path), "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "too few to learn from" in result.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("args", [["--train-fraction", "0"], ["--model", "forest"], ["--horizon", "0"]])
def test_bad_options_are_refused(tmp_path: Path, args: list[str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "predis.services.cli",
            "train",
            str(_trace(tmp_path)),
            "--out",
            str(tmp_path / "m"),
            *args,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2


def test_the_learned_policy_replays_a_trained_models_proposals(tmp_path: Path) -> None:
    from predis.services.replay.runner import run_replay
    from predis.services.replay.traces import read_trace
    from predis.services.retrainer.training import TrainingOptions, train

    trace_path = _trace(tmp_path)
    card = train([read_trace(trace_path)], tmp_path / "m", TrainingOptions(train_fraction=0.3, model="logistic"))
    assert 0.3 <= card["threshold"] <= 1.0  # type: ignore[operator]
    rows = run_replay([trace_path], ["s3fifo", "learned"], [0.05], train_fraction=0.3, model=tmp_path / "m")
    plain, learned = rows
    assert learned.policy == "learned" and learned.prefetches > 0
    assert learned.prefetch_used <= learned.prefetches
    assert learned.origin_fetches == learned.misses + learned.prefetches
    assert learned.hit_ratio > plain.hit_ratio  # the scan is predictable; the model must see it
    with pytest.raises(ValueError, match="needs --model"):
        run_replay([trace_path], ["learned"], [0.05])


def test_keys_read_a_few_requests_later_are_proposed_as_co_accessed() -> None:
    rng = np.random.default_rng(0)
    # "a" (1) is always followed, two requests later, by "b" (2), with a random key between.
    ids = np.concatenate([[1, rng.integers(100, 10_000), 2] for _ in range(50)]).astype(np.uint64)
    rows = candidate_rows(ids)
    column = FEATURES.index("from_coaccess")
    last_a = int(np.flatnonzero(ids == 1)[-1])
    proposed = rows.candidate[(rows.request == last_a) & (rows.features[:, column] == 1.0)]
    assert 2 in proposed.tolist()  # not a successor (noise comes next), but co-accessed
    y = labels(ids, rows, horizon=4)
    assert y[(rows.request == last_a) & (rows.candidate == 2)].all()


def test_time_features_keep_their_scale_however_long_the_trace() -> None:
    # The pair 1 -> 2 recurs after ever longer runs of fresh keys: what the model reads about it must
    # not depend on how far into the trace it is (a model learns on a trace's start, then serves).
    parts, fresh = [], 1000
    for gap in (10, 10_000, 50_000):
        parts += [[1, 2], np.arange(fresh, fresh + gap)]
        fresh += gap
    parts.append([1])
    ids = np.concatenate(parts).astype(np.uint64)
    rows = candidate_rows(ids)
    last = rows.request == len(ids) - 1
    row = rows.features[last & (rows.candidate == 2)][0]
    column = {name: row[i] for i, name in enumerate(FEATURES)}
    assert column["trigger_recency"] == pytest.approx(np.log1p(4096))  # capped: "long ago"
    assert column["candidate_recency"] == pytest.approx(np.log1p(4096))
    assert column["after_trigger_last_time"] == pytest.approx(np.log1p(1))  # 2 came right after 1 last time
    assert column["candidate_frequency"] < 0.01  # decayed: three requests, the last 50,000 ago


def _write_segments(data_dir: Path, tenant: str, keys: list[bytes], start_ns: int = 1_000) -> np.ndarray:
    from predis.services.cache.segments import SegmentWriter

    writer = SegmentWriter(data_dir / "segments", max_rows=len(keys) // 3 + 1)  # several segments
    n = len(keys)
    times = start_ns + np.arange(n, dtype=np.int64) * 1_000
    writer.append(tenant, keys, np.ones(n, np.int8), times, np.full(n, 10, np.int64))
    writer.flush()
    return times


def test_the_retrainer_trains_on_recent_segments_through_the_caches_key_ids(tmp_path: Path) -> None:
    from predis.services.cache.key_ids import KeyIds
    from predis.services.retrainer.traffic import recent_traffic, split
    from predis.services.retrainer.training import TrainingOptions, TrainingWindow, ids_digest, train_windows

    rng = np.random.default_rng(3)
    scan = np.tile(np.arange(0, 300), 25)
    keys = [b"page:%d" % k if rng.random() < 0.8 else b"noise-%x" % int(rng.integers(1 << 40)) for k in scan]
    times = _write_segments(tmp_path, "shop", keys)
    traffic = recent_traffic(tmp_path, "shop", 6_000)
    expected = np.array([KeyIds().id_of(k) for k in keys[-6_000:]], dtype=np.uint64)
    assert np.array_equal(traffic.ids, expected) and np.array_equal(traffic.times, times[-6_000:])
    cut = split(traffic, 0.25)
    assert len(cut.train) == 4_500 and np.array_equal(cut.replay[cut.eval_from :], traffic.ids[4_500:])
    assert cut.holdout_from_unix_nano == int(traffic.times[4_500])  # the held-out part was never trained on
    card = train_windows(
        [TrainingWindow(cut.train, info={"tenant": "shop"})], tmp_path / "m", TrainingOptions(model="logistic")
    )
    window = card["training_windows"][0]  # type: ignore[index]
    assert window["tenant"] == "shop" and window["requests"] == 4_500 and window["sha256"] == ids_digest(cut.train)
    assert card["offline_metrics"]["auc"] > 0.7  # type: ignore[index]
    _, scorer = open_model_dir(str(tmp_path / "m"))
    assert scorer.feature_count == len(FEATURES)
