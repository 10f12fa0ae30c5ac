"""The retrainer service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from predis.services.cache.engine.threshold import TunerSettings
from predis.services.retrainer.training import MODELS
from predis.services.retrainer.validation import ValidationSettings
from predis.services.runtime.settings import Env, ServerSettings, SettingsError


@dataclass(frozen=True)
class StageSettings:
    """The predictor stages a promotion goes through.

    Attributes:
        shadow_s: seconds as a shadow, scoring live traffic without answering.
        ab_s: seconds as a challenger answering ``ab_share`` of the scope's traffic.
        ab_share: that share (0 to 1).
        shadow_min_precision: a shadow whose counterfactual precision is below this, over at
            least ``shadow_min_outcomes`` outcomes, is not promoted (0 turns the check off).
        shadow_min_outcomes: outcomes needed before the shadow's precision is judged.
        watch_s: how long after a promotion a critical ADWIN alert on live gain or precision of its
            scope rolls it back by itself.
    """

    shadow_s: float = 2.0
    ab_s: float = 3.0
    ab_share: float = 0.1
    shadow_min_precision: float = 0.2
    shadow_min_outcomes: int = 200
    watch_s: float = 600.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ab_share <= 1.0:
            raise SettingsError("PREDIS_RETRAINER_AB_SHARE must be between 0 and 1")
        if not 0.0 <= self.shadow_min_precision <= 1.0:
            raise SettingsError("PREDIS_RETRAINER_SHADOW_MIN_PRECISION must be between 0 and 1")


@dataclass(frozen=True)
class RetrainerSettings:
    """
    Attributes:
        server: listen address, grace period, logging (``PREDIS_LISTEN`` and friends).
        data_dir: where segments are read (``segments/<tenant>/``), models kept (``models/``) and the
            job book saved (``retrainer/jobs.json``) (``PREDIS_DATA_DIR``; unset: no training, the
            job book answers but StartTraining says why it cannot run).
        predictor_address: the predictor to promote through (``PREDIS_PREDICTOR_ADDRESS``; empty:
            jobs stop at VALIDATED).
        drift_address: the drift service whose alerts trigger jobs and whose reference window is
            reset on promotion (``PREDIS_DRIFT_ADDRESS``; empty: no alerts).
        min_interval_s: least time between the starts of two jobs of one scope
            (``PREDIS_RETRAINER_MIN_INTERVAL_S``, default 300).
        max_jobs_per_tenant: jobs one tenant may have queued or running at once, those its drift
            alerts, schedule and volume started included; a StartTraining over it is refused with
            RESOURCE_EXHAUSTED, an automatic start skipped (``PREDIS_RETRAINER_MAX_JOBS_PER_TENANT``,
            default 2, 0 for no limit).
        schedule_s: a job per scope at least this often, 0 for never (``PREDIS_RETRAINER_SCHEDULE_S``).
        volume_events: a job when a tenant has this many events newer than its scope's last training
            window, 0 for never (``PREDIS_RETRAINER_VOLUME_EVENTS``, default 1,000,000).
        poll_s: how often the schedule and volume are checked (``PREDIS_RETRAINER_POLL_S``, 10).
        window_events: most recent events a job uses, per tenant, training and held-out together
            (``PREDIS_RETRAINER_WINDOW_EVENTS``, default 200,000).
        holdout_share: the latest share of them held out for validation (``PREDIS_RETRAINER_HOLDOUT_SHARE``, 0.25).
        min_events: fewer recent events than this and a job fails saying so (``PREDIS_RETRAINER_MIN_EVENTS``, 20,000).
        data_wait_s: a job started by a drift alert trains only on events after the changed window
            began; it waits up to this long for ``min_events`` of them
            (``PREDIS_RETRAINER_DATA_WAIT_S``, default 120), then trains on what there is.
        tenant_min_events: events a tenant needs for a model of its own
            (``PREDIS_RETRAINER_TENANT_MIN_EVENTS``, default 50,000).
        adaptation: the adaptation strategy (``PREDIS_RETRAINER_ADAPTATION``: ``global``,
            ``per-tenant-model`` (default), ``per-tenant-threshold``, or a plugin's).
        model: ``gbdt`` or ``logistic`` (``PREDIS_RETRAINER_MODEL``).
        max_rows: candidate rows a job fits on (``PREDIS_RETRAINER_MAX_ROWS``, default 100,000: the
            60-second alarm-to-promotion budget on 2 cores).
        auto_promote: whether jobs started by alerts, the schedule or volume promote by themselves
            (``PREDIS_RETRAINER_AUTO_PROMOTE``, on or off, default on).
        keep_versions: versions kept per scope in the store, aliased ones included
            (``PREDIS_RETRAINER_KEEP_VERSIONS``, default 20).
        validation: the replay and its decision (``PREDIS_RETRAINER_MARGIN`` 0.01,
            ``PREDIS_RETRAINER_CONFIDENCE`` 0.95, ``PREDIS_RETRAINER_BOOTSTRAP_RESAMPLES`` 2000,
            ``PREDIS_RETRAINER_CACHE_SIZE`` 0.1: a share of the window's distinct keys, or objects
            when 1 or more); the live threshold is the cache's (``PREDIS_PREFETCH_THRESHOLD``,
            ``PREDIS_PREFETCH_PRECISION_TARGET``, ``PREDIS_PREFETCH_MIN_THRESHOLD``,
            ``PREDIS_PREFETCH_PER_READ``), so the replay runs as the cache would.
        stages: the promotion stages (``PREDIS_RETRAINER_SHADOW_S`` 2, ``PREDIS_RETRAINER_AB_S`` 3,
            ``PREDIS_RETRAINER_AB_SHARE`` 0.1, ``PREDIS_RETRAINER_SHADOW_MIN_PRECISION`` 0.2,
            ``PREDIS_RETRAINER_SHADOW_MIN_OUTCOMES`` 200, ``PREDIS_RETRAINER_WATCH_S`` 600).
    """

    server: ServerSettings
    data_dir: Path | None = None
    predictor_address: str = ""
    drift_address: str = ""
    min_interval_s: float = 300.0
    max_jobs_per_tenant: int = 2
    schedule_s: float = 0.0
    volume_events: int = 1_000_000
    poll_s: float = 10.0
    window_events: int = 200_000
    holdout_share: float = 0.25
    min_events: int = 20_000
    data_wait_s: float = 120.0
    tenant_min_events: int = 50_000
    adaptation: str = "per-tenant-model"
    model: str = "gbdt"
    max_rows: int = 100_000
    auto_promote: bool = True
    keep_versions: int = 20
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    stages: StageSettings = field(default_factory=StageSettings)

    def __post_init__(self) -> None:
        if not 0.05 <= self.holdout_share <= 0.5:
            raise SettingsError("PREDIS_RETRAINER_HOLDOUT_SHARE must be 0.05 to 0.5")
        if self.model not in MODELS:
            raise SettingsError(f"PREDIS_RETRAINER_MODEL={self.model!r} is not one of {', '.join(MODELS)}")
        if self.min_events > self.window_events:
            raise SettingsError("PREDIS_RETRAINER_MIN_EVENTS must not exceed PREDIS_RETRAINER_WINDOW_EVENTS")
        if self.poll_s <= 0:
            raise SettingsError("PREDIS_RETRAINER_POLL_S must be positive")
        if self.keep_versions < 3:
            raise SettingsError("PREDIS_RETRAINER_KEEP_VERSIONS must be at least 3 (champion, challenger, previous)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], listen: str | None = None) -> RetrainerSettings:
        env = Env(environ)
        data_dir = env.text("PREDIS_DATA_DIR", "")
        return cls(
            server=ServerSettings.from_env("retrainer", environ, listen),
            data_dir=Path(data_dir) if data_dir else None,
            predictor_address=env.text("PREDIS_PREDICTOR_ADDRESS", ""),
            drift_address=env.text("PREDIS_DRIFT_ADDRESS", ""),
            min_interval_s=env.number("PREDIS_RETRAINER_MIN_INTERVAL_S", 300.0),
            max_jobs_per_tenant=env.integer("PREDIS_RETRAINER_MAX_JOBS_PER_TENANT", 2),
            schedule_s=env.number("PREDIS_RETRAINER_SCHEDULE_S", 0.0),
            volume_events=env.integer("PREDIS_RETRAINER_VOLUME_EVENTS", 1_000_000),
            poll_s=env.number("PREDIS_RETRAINER_POLL_S", 10.0),
            window_events=env.integer("PREDIS_RETRAINER_WINDOW_EVENTS", 200_000, minimum=1000),
            holdout_share=env.number("PREDIS_RETRAINER_HOLDOUT_SHARE", 0.25),
            min_events=env.integer("PREDIS_RETRAINER_MIN_EVENTS", 20_000, minimum=500),
            data_wait_s=env.number("PREDIS_RETRAINER_DATA_WAIT_S", 120.0),
            tenant_min_events=env.integer("PREDIS_RETRAINER_TENANT_MIN_EVENTS", 50_000, minimum=1),
            adaptation=env.text("PREDIS_RETRAINER_ADAPTATION", "per-tenant-model"),
            model=env.text("PREDIS_RETRAINER_MODEL", "gbdt"),
            max_rows=env.integer("PREDIS_RETRAINER_MAX_ROWS", 100_000, minimum=1000),
            auto_promote=env.switch("PREDIS_RETRAINER_AUTO_PROMOTE", True),
            keep_versions=env.integer("PREDIS_RETRAINER_KEEP_VERSIONS", 20),
            validation=_validation(env),
            stages=StageSettings(
                shadow_s=env.number("PREDIS_RETRAINER_SHADOW_S", 2.0),
                ab_s=env.number("PREDIS_RETRAINER_AB_S", 3.0),
                ab_share=env.number("PREDIS_RETRAINER_AB_SHARE", 0.1),
                shadow_min_precision=env.number("PREDIS_RETRAINER_SHADOW_MIN_PRECISION", 0.2),
                shadow_min_outcomes=env.integer("PREDIS_RETRAINER_SHADOW_MIN_OUTCOMES", 200, minimum=1),
                watch_s=env.number("PREDIS_RETRAINER_WATCH_S", 600.0),
            ),
        )


def _validation(env: Env) -> ValidationSettings:
    try:
        tuning = TunerSettings(
            target=env.number("PREDIS_PREFETCH_PRECISION_TARGET", TunerSettings.target),
            lowest=env.number("PREDIS_PREFETCH_MIN_THRESHOLD", TunerSettings.lowest),
        )
        return ValidationSettings(
            margin=env.number("PREDIS_RETRAINER_MARGIN", 0.01),
            confidence=env.number("PREDIS_RETRAINER_CONFIDENCE", 0.95),
            resamples=env.integer("PREDIS_RETRAINER_BOOTSTRAP_RESAMPLES", 2000),
            cache_size=env.number("PREDIS_RETRAINER_CACHE_SIZE", 0.1),
            initial_threshold=env.number("PREDIS_PREFETCH_THRESHOLD", 0.5),
            tuning=tuning,
            per_read=env.integer("PREDIS_PREFETCH_PER_READ", 2, minimum=1),
        )
    except ValueError as error:
        if isinstance(error, SettingsError):
            raise
        raise SettingsError(f"PREDIS_RETRAINER_* validation settings: {error}") from None
