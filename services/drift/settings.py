"""The drift service's settings, read once from the environment into a frozen dataclass that
fails fast on bad values.

The defaults were tuned on real traces (``tests/test_drift_service.py`` replays cache2k-web07
then cache2k-orm-busy, and a stationary stretch of cache2k-orm-busy): real traffic is bursty, so a
window is judged against how far the reference's own windows stray from it, and needs an effect
beyond that by the margins below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from predis.services.runtime.settings import Env, SettingsError


@dataclass(frozen=True)
class DriftSettings:
    """How the drift service watches each tenant's stream.

    Attributes:
        horizon: requests the signals remember (``PREDIS_DRIFT_HORIZON``, 16,384): reuse
            distances beyond it count as the horizon, like a first request.
        warmup_events: a new tenant's first events, which build the signals' memory and are not
            a reference (every key is new at first) (``PREDIS_DRIFT_WARMUP_EVENTS``; the horizon).
        reference_events: events in a reference built from the stream: after the warm-up, and
            after a ResetReference whose time range holds too few (``PREDIS_DRIFT_REFERENCE_EVENTS``,
            50,000).
        max_reference_events: the most a reference grows to. While no reference test alerts, the
            reference takes in the traffic that followed it, every ``reference_events``, up to this
            many events from its start (``PREDIS_DRIFT_MAX_REFERENCE_EVENTS``, 200,000; equal to
            ``reference_events``: it never grows).
        min_reference_events: fewest retained events a ResetReference range must hold to become
            the reference (``PREDIS_DRIFT_MIN_REFERENCE_EVENTS``, 10,000).
        window_events: the live window compared with the reference (``PREDIS_DRIFT_WINDOW_EVENTS``,
            2,000).
        check_every: events between two checks of a tenant (``PREDIS_DRIFT_CHECK_EVERY``, 250).
        history_events: signal samples retained per tenant, from which ResetReference rebuilds a
            reference (``PREDIS_DRIFT_HISTORY_EVENTS``, 200,000: about 4 MiB a tenant).
        max_tenants: tenants watched; events of more are counted, not watched
            (``PREDIS_DRIFT_MAX_TENANTS``, 64).
        fdr_q: false discovery rate across the features of one check (``PREDIS_DRIFT_FDR_Q``, 0.05).
        cooldown_events: a tenant's events after an alert before the same group may alert again
            (``PREDIS_DRIFT_COOLDOWN_EVENTS``, 5,000).
        ks_margin: KS D beyond the reference's own windows' largest (``PREDIS_DRIFT_KS_MARGIN``,
            0.1; on cache2k-orm-busy, windows stray up to 0.08 beyond it).
        psi_margin: PSI beyond the reference's own windows' largest (``PREDIS_DRIFT_PSI_MARGIN``,
            4.5): PSI is unbounded and cache2k-orm-busy's windows of 2,000 exceed their
            reference's by up to 4.2 (a burst empties bins), so it alerts only on drastic change.
        mix_margin: Cohen's w of a categorical mix beyond the reference's own windows' largest
            (``PREDIS_DRIFT_MIX_MARGIN``, 0.3; cache2k-orm-busy's hit/miss mix in an LRU cache of
            2,000 entries strays up to 0.2 beyond it).
        label_min_effect: change of live gain or precision ADWIN must see to alert
            (``PREDIS_DRIFT_LABEL_MIN_EFFECT``, 0.01: one point).
        label_cooldown_windows: quality windows after a live label's alert before it may alert
            again (``PREDIS_DRIFT_LABEL_COOLDOWN_WINDOWS``, 50; ADWIN cuts its window several
            times as one change passes through it).
        adwin_delta: ADWIN's confidence (``PREDIS_DRIFT_ADWIN_DELTA``, 0.002, River's default).
        alert_queue: alerts a slow WatchAlerts subscriber may have waiting; past it the oldest
            are dropped (``PREDIS_DRIFT_ALERT_QUEUE``, 1,000).
        recent_alerts: alerts GetStatus keeps (``PREDIS_DRIFT_RECENT_ALERTS``, 100).
    """

    horizon: int = 1 << 14
    warmup_events: int = 1 << 14
    reference_events: int = 50_000
    max_reference_events: int = 200_000
    min_reference_events: int = 10_000
    window_events: int = 2_000
    check_every: int = 250
    history_events: int = 200_000
    max_tenants: int = 64
    fdr_q: float = 0.05
    cooldown_events: int = 5_000
    ks_margin: float = 0.1
    psi_margin: float = 4.5
    mix_margin: float = 0.3
    label_min_effect: float = 0.01
    label_cooldown_windows: int = 50
    adwin_delta: float = 0.002
    alert_queue: int = 1_000
    recent_alerts: int = 100

    def __post_init__(self) -> None:
        problems = []
        if self.horizon < 2:
            problems.append(f"the horizon ({self.horizon}) must be at least 2")
        if not 0 < self.window_events <= self.min_reference_events <= self.reference_events:
            problems.append(
                f"needs 0 < window_events ({self.window_events}) <= min_reference_events "
                f"({self.min_reference_events}) <= reference_events ({self.reference_events})"
            )
        if not self.reference_events <= self.max_reference_events <= self.history_events:
            problems.append(
                f"needs reference_events ({self.reference_events}) <= max_reference_events "
                f"({self.max_reference_events}) <= history_events ({self.history_events})"
            )
        if self.check_every < 1 or self.max_tenants < 1 or self.alert_queue < 1 or self.recent_alerts < 1:
            problems.append("check_every, max_tenants, alert_queue and recent_alerts must be at least 1")
        if not 0 < self.fdr_q < 1 or not 0 < self.adwin_delta < 1:
            problems.append(f"fdr_q ({self.fdr_q}) and adwin_delta ({self.adwin_delta}) must be in (0, 1)")
        margins = (self.ks_margin, self.psi_margin, self.mix_margin, self.label_min_effect)
        if min(margins) < 0 or min(self.warmup_events, self.cooldown_events, self.label_cooldown_windows) < 0:
            problems.append("margins, warm-up and cool-downs must not be negative")
        if problems:
            raise SettingsError("drift settings: " + "; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DriftSettings:
        env = Env(environ)
        d = cls()
        horizon = env.integer("PREDIS_DRIFT_HORIZON", d.horizon, minimum=2)
        reference = env.integer("PREDIS_DRIFT_REFERENCE_EVENTS", d.reference_events, minimum=1)
        history = env.integer("PREDIS_DRIFT_HISTORY_EVENTS", d.history_events, minimum=1)
        return cls(
            horizon=horizon,
            warmup_events=env.integer("PREDIS_DRIFT_WARMUP_EVENTS", horizon),
            reference_events=reference,
            max_reference_events=env.integer(
                "PREDIS_DRIFT_MAX_REFERENCE_EVENTS", max(reference, min(d.max_reference_events, history)), minimum=1
            ),
            min_reference_events=env.integer("PREDIS_DRIFT_MIN_REFERENCE_EVENTS", d.min_reference_events, minimum=1),
            window_events=env.integer("PREDIS_DRIFT_WINDOW_EVENTS", d.window_events, minimum=1),
            check_every=env.integer("PREDIS_DRIFT_CHECK_EVERY", d.check_every, minimum=1),
            history_events=history,
            max_tenants=env.integer("PREDIS_DRIFT_MAX_TENANTS", d.max_tenants, minimum=1),
            fdr_q=env.number("PREDIS_DRIFT_FDR_Q", d.fdr_q),
            cooldown_events=env.integer("PREDIS_DRIFT_COOLDOWN_EVENTS", d.cooldown_events),
            ks_margin=env.number("PREDIS_DRIFT_KS_MARGIN", d.ks_margin),
            psi_margin=env.number("PREDIS_DRIFT_PSI_MARGIN", d.psi_margin),
            mix_margin=env.number("PREDIS_DRIFT_MIX_MARGIN", d.mix_margin),
            label_min_effect=env.number("PREDIS_DRIFT_LABEL_MIN_EFFECT", d.label_min_effect),
            label_cooldown_windows=env.integer("PREDIS_DRIFT_LABEL_COOLDOWN_WINDOWS", d.label_cooldown_windows),
            adwin_delta=env.number("PREDIS_DRIFT_ADWIN_DELTA", d.adwin_delta),
            alert_queue=env.integer("PREDIS_DRIFT_ALERT_QUEUE", d.alert_queue, minimum=1),
            recent_alerts=env.integer("PREDIS_DRIFT_RECENT_ALERTS", d.recent_alerts, minimum=1),
        )
