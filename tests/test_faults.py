"""Faults against the running suite under load, through ``predis bench faults`` at toy size: the
four services under ``predis up``'s supervisor, GETs at a steady rate with learned prefetching on,
while the predictor is slowed (a delaying proxy), flooded, and its helpers killed with kill -9.
What is checked here is what must hold on any machine; the latency figures come from the full
run in docs/benchmarks.md."""

from __future__ import annotations

from predis.services.bench.faults import run_faults


def test_gets_never_fail_and_prefetching_comes_back_through_every_fault() -> None:
    result = run_faults(phase_s=3, rate=50, delay_ms=300, flood_rate=400, recover_timeout_s=60)
    phases = {p["phase"]: p for p in result["phases"]}
    assert len(phases) == 9
    for phase in phases.values():
        assert phase["gets"] > 0 and phase["failed"] == 0, phase  # no GET fails, whatever the helpers do
    # A predictor that answers later than the cache's deadline costs prefetching, not reads, and
    # prefetching comes back once it is fast again.
    assert phases["steady again"]["prefetching_resumed_after_s"] is not None
    for label, names in [
        ("kill -9 predictor", ["predictor"]),
        ("kill -9 drift", ["drift"]),
        ("kill -9 retrainer", ["retrainer"]),
        ("kill -9 all three", ["predictor", "drift", "retrainer"]),
    ]:
        assert set(phases[label]["back_after_s"]) == set(names), phases[label]  # each restarted
    for label in ("kill -9 predictor", "kill -9 all three"):
        resumed = phases[label]["prefetching_resumed_after_s"]
        assert resumed is not None and resumed < 60, phases[label]  # with the model it had, by itself
