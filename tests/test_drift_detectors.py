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
    assert detector.reading.p_value == pytest.approx(expected.pvalue)


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
    fired = _detections(Adwin(), stream.astype(float))
    assert fired and 20_000 <= fired[0] < 20_000 + 1000  # not before the change, soon after it


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
