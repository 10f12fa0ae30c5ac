"""``predis bench soak`` at toy size: the whole suite under steady load with prefetching on, so the
benchmark keeps working (its numbers come from the full run in docs/benchmarks.md)."""

from __future__ import annotations

from predis.services.bench.soak import run_soak


def test_the_soak_benchmark_runs_at_toy_size() -> None:
    result = run_soak(seconds=8, load=0.5, calibrate_s=2, model_cycles=5)
    assert result["errors"] == 0 and result["requests"] > 100
    # On and in no error state (a toy run may end before the loop's first scored cycle).
    assert result["prefetcher_state"] in ("active", "waiting for reads")
    assert set(result["rss_growth"]) == {"predictor", "drift", "retrainer", "cache"}
    assert result["model_cycles"] == 5 and result["predictor_rss_after"] > 0
    assert result["first_tenth"]["p99_ms"] > 0 and result["last_tenth"]["p99_ms"] > 0
