"""The drift detectors and the alarm gate on seeded streams: KS agrees with scipy, ADWIN with
River's ADWIN, no alarm over long stationary stretches, detection soon after a change, and the
gate's effect sizes, false discovery control and one alert per change."""

from __future__ import annotations

import numpy as np
import pytest
from river.drift import ADWIN as RiverADWIN
from scipy import stats

from predis.services.drift.alarms import AlarmGate
from predis.services.drift.detectors import (
    Adwin,
    CategoryMix,
    KolmogorovSmirnov,
    PopulationStability,
    Reading,
    Window,
)
from predis.services.runtime.errors import InvalidInput


def _detections(detector: object, stream: np.ndarray) -> list[int]:
    found = []
    for i, x in enumerate(stream.tolist()):
        detector.update(x)  # type: ignore[attr-defined]
        if detector.drift_detected:  # type: ignore[attr-defined]
            found.append(i)
    return found


def test_ks_reads_what_scipy_computes_on_the_same_windows() -> None:
    rng = np.random.default_rng(1)
    reference = rng.exponential(1.0, 5000)
    detector = KolmogorovSmirnov(reference, Window(size=1000, min_size=1000, check_every=1000))
    window = rng.exponential(1.2, 1000)
    for x in window.tolist():
        detector.update(x)
    expected = stats.ks_2samp(reference, window)
    assert detector.reading is not None
    assert detector.reading.statistic == pytest.approx(expected.statistic)
    # The p-value is the Kolmogorov distribution's, the large-sample form of scipy's.
    en = 5000 * 1000 / 6000
    assert detector.reading.p_value == pytest.approx(stats.kstwobign.sf(np.sqrt(en) * expected.statistic))
    assert detector.reading.p_value == pytest.approx(expected.pvalue, rel=0.1)


def test_ks_statistic_equals_scipys_with_ties() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        reference = np.round(rng.lognormal(2.0, 1.0, int(rng.integers(500, 3000))))
        window = np.round(rng.lognormal(2.1, 1.0, int(rng.integers(20, 800))))
        reading = KolmogorovSmirnov(reference, Window(size=20, min_size=20)).compare(window)
        assert reading.statistic == pytest.approx(stats.ks_2samp(reference, window).statistic, abs=1e-12)


def test_psi_and_chi2_p_values_are_scipys() -> None:
    rng = np.random.default_rng(4)
    reference = rng.lognormal(3.0, 1.0, 5000)
    window = rng.lognormal(3.1, 1.0, 1000)
    psi = PopulationStability(reference, window=Window(size=1000, min_size=1000))
    counts = np.bincount(np.searchsorted(psi.edges, window, side="right"), minlength=len(psi.expected))
    assert psi.compare(window).p_value == pytest.approx(stats.chisquare(counts, psi.expected * 1000).pvalue)
    mix = CategoryMix({"hit": 600, "miss": 300, "prefetch-hit": 100}, Window(size=100, min_size=100))
    reading = mix.compare({"hit": 50, "miss": 40, "prefetch-hit": 10})
    expected = stats.chi2_contingency(np.array([[600, 300, 100], [50, 40, 10]]), correction=False)
    assert reading.statistic == pytest.approx(expected.statistic)
    assert reading.p_value == pytest.approx(expected.pvalue)


def test_psi_merges_bins_the_reference_leaves_empty() -> None:
    # Reuse distances are capped: most of the mass sits on one value, the smallest an edge.
    reference = np.concatenate([np.zeros(900), np.arange(1.0, 101.0)])
    psi = PopulationStability(reference, window=Window(size=100, min_size=100))
    assert (psi.expected > 0).all()
    assert np.isfinite(psi.compare(np.zeros(100)).p_value)


@pytest.mark.parametrize(
    "make",
    [
        lambda ref: KolmogorovSmirnov(ref),
        lambda ref: PopulationStability(ref),
    ],
    ids=["ks", "psi"],
)
def test_numeric_detectors_stay_quiet_when_stationary_and_fire_soon_after_a_change(make: object) -> None:
    rng = np.random.default_rng(7)
    reference = rng.lognormal(3.0, 1.0, 20_000)  # reuse distances have this long tail
    stationary = rng.lognormal(3.0, 1.0, 200_000)
    changed = rng.lognormal(3.6, 1.0, 10_000)
    detector = make(reference)  # type: ignore[operator]
    assert _detections(detector, stationary) == []  # 200,000 events, no false alarm
    fired = _detections(detector, changed)
    assert fired and fired[0] < 5000  # within 5,000 events of the change


def test_psi_matches_its_formula_on_a_small_case() -> None:
    reference = np.repeat([1.0, 2.0, 3.0, 4.0], 250)  # four equal quantile bins
    detector = PopulationStability(reference, bins=4, window=Window(size=1000, min_size=1000, check_every=1000))
    window = np.repeat([1.0, 2.0, 3.0, 4.0], [400, 200, 200, 200])
    for x in window.tolist():
        detector.update(x)
    actual, expected = np.array([0.4, 0.2, 0.2, 0.2]), np.full(4, 0.25)
    assert detector.reading is not None
    assert detector.reading.effect == pytest.approx(np.sum((actual - expected) * np.log(actual / expected)))


def test_the_category_mix_test_fires_on_a_changed_mix_and_not_on_the_same_one() -> None:
    rng = np.random.default_rng(3)
    kinds = ["hit", "miss", "prefetch-hit"]
    reference = dict(zip(kinds, rng.multinomial(20_000, [0.6, 0.3, 0.1]).tolist(), strict=True))
    detector = CategoryMix(reference)
    same = rng.choice(kinds, 100_000, p=[0.6, 0.3, 0.1])
    assert _detections(detector, same) == []
    changed = rng.choice(kinds, 5000, p=[0.45, 0.45, 0.1])
    fired = _detections(detector, changed)
    assert fired and fired[0] < 2000
    assert detector.reading is not None and detector.reading.effect >= 0.1  # Cohen's w


def test_adwin_fires_where_rivers_adwin_fires() -> None:
    rng = np.random.default_rng(11)
    stream = np.concatenate([rng.binomial(1, 0.7, 20_000), rng.binomial(1, 0.4, 5_000), rng.binomial(1, 0.7, 5_000)])
    ours, rivers = Adwin(), RiverADWIN()
    assert _detections(ours, stream.astype(float)) == _detections(rivers, stream.astype(float))
    ours, rivers = Adwin(clock=1), RiverADWIN(clock=1)  # one value a quality window: check each
    assert _detections(ours, stream.astype(float)) == _detections(rivers, stream.astype(float))
    detector = Adwin()
    fired = []
    for i, x in enumerate(stream.astype(float).tolist()):
        detector.update(x)
        if detector.drift_detected:
            fired.append((i, detector.change))
    assert fired and 20_000 <= fired[0][0] < 20_000 + 1000  # not before the change, soon after it
    assert fired[0][1] < 0  # the mean fell
    assert any(i >= 25_000 and change > 0 for i, change in fired)  # and rose again


def _reading(p: float | None, effect: float) -> Reading:
    return Reading("ks", effect, effect, p, 5000, 2000)


def test_the_gate_needs_an_effect_and_controls_false_discoveries() -> None:
    gate = AlarmGate(q=0.05)
    # Significant but tiny: a large window finds harmless differences.
    assert gate.judge("t", {"reuse": (_reading(1e-9, 0.05), 0.1)}, at_event=1) == []
    # Ten features, one p=0.004: adjusted 0.04, an alert; one p=0.01 among ten: adjusted 0.1, none.
    quiet = {f"f{i}": (_reading(0.5, 0.2), 0.1) for i in range(9)}
    alerts = AlarmGate(q=0.05).judge("t", {**quiet, "reuse": (_reading(0.004, 0.3), 0.1)}, at_event=1)
    assert [a.feature for a in alerts] == ["reuse"] and alerts[0].adjusted_p_value == pytest.approx(0.04)
    assert AlarmGate(q=0.05).judge("t", {**quiet, "reuse": (_reading(0.01, 0.3), 0.1)}, at_event=1) == []


def test_one_alert_per_change_with_a_cool_down() -> None:
    gate = AlarmGate(q=0.05, cooldown_events=5000)
    drifted, calm = (_reading(1e-6, 0.3), 0.1), (_reading(0.6, 0.01), 0.1)
    assert len(gate.judge("t", {"reuse": drifted}, at_event=1000)) == 1
    assert gate.judge("t", {"reuse": drifted}, at_event=1250) == []  # the same change, seen again
    assert gate.judge("t", {"reuse": calm}, at_event=1500) == []
    assert gate.judge("t", {"reuse": drifted}, at_event=2000) == []  # back too soon: cool-down
    assert gate.judge("t", {"reuse": calm}, at_event=7000) == []
    again = gate.judge("t", {"reuse": drifted}, at_event=7250)
    assert len(again) == 1 and again[0].tenant == "t" and again[0].id == 2
    assert len(gate.judge("other", {"reuse": drifted}, at_event=7250)) == 1  # tenants apart
    # ADWIN readings have no p-value: their own bound decides, the effect must still be there.
    assert len(AlarmGate().judge("t", {"gain": (Reading("adwin", 0.4, 0.2, None, 900, 300), 0.05)}, 1)) == 1


def test_a_group_raises_one_alert_per_change_and_rearms_below_its_level() -> None:
    gate = AlarmGate(q=0.05, cooldown_events=0)
    groups = {"reuse:ks": "traffic", "rank:ks": "traffic"}
    strong, weak, calm = (_reading(1e-9, 0.5), 0.2), (_reading(1e-9, 0.3), 0.2), (_reading(0.5, 0.05), 0.2)
    alerts = gate.judge("t", {"reuse:ks": weak, "rank:ks": strong}, 1, groups)
    assert [(a.feature, a.agreeing, a.threshold) for a in alerts] == [("rank:ks", ("reuse:ks",), 0.2)]
    assert gate.judge("t", {"reuse:ks": strong, "rank:ks": weak}, 2, groups) == []  # the same change
    wavering = (_reading(0.5, 0.15), 0.2)  # below the threshold, above the re-arm level
    rearm = {"reuse:ks": 0.1, "rank:ks": 0.1}
    assert gate.judge("t", {"reuse:ks": wavering, "rank:ks": calm}, 3, groups, rearm) == []
    assert gate.is_drifted("t", "traffic")
    assert gate.judge("t", {"reuse:ks": weak, "rank:ks": calm}, 4, groups, rearm) == []  # still the same change
    assert gate.judge("t", {"reuse:ks": calm, "rank:ks": calm}, 5, groups, rearm) == []
    assert not gate.is_drifted("t", "traffic")
    assert len(gate.judge("t", {"reuse:ks": weak, "rank:ks": calm}, 6, groups, rearm)) == 1  # a new change
    gate.forget("t", "traffic")
    assert not gate.is_drifted("t", "traffic")


def test_bad_settings_are_refused_with_the_setting_named() -> None:
    with pytest.raises(InvalidInput, match="min_size"):
        Window(size=100, min_size=500)
    with pytest.raises(InvalidInput, match="at least 500 finite"):
        KolmogorovSmirnov([1.0, float("nan")] * 300)
    with pytest.raises(InvalidInput, match="bins"):
        PopulationStability(np.arange(1000.0), bins=1)
    with pytest.raises(InvalidInput, match="delta"):
        Adwin(delta=2)
    with pytest.raises(InvalidInput, match="q"):
        AlarmGate(q=0)
