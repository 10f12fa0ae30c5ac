"""The predictor service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from predis.services.cache.features import FEATURES as CANDIDATE_FEATURES
from predis.services.runtime.settings import Env, ServerSettings, SettingsError


@dataclass(frozen=True)
class PredictorSettings:
    """
    Attributes:
        server: listen address, grace period, logging (``PREDIS_LISTEN`` and friends).
        batch_wait_s: longest a Predict call waits for others to share its session run
            (``PREDIS_PREDICTOR_BATCH_WAIT_US``, default 0: score what is waiting on the next loop turn).
        batch_max_rows: most rows in one session run (``PREDIS_PREDICTOR_BATCH_MAX_ROWS``, default 8192).
        state_dir: where the loaded versions are kept so that a restart loads them again
            (``PREDIS_PREDICTOR_STATE_DIR``; unset: nothing is kept; ``predis up`` sets it).
        data_dir: the data directory (``PREDIS_DATA_DIR``; unset: none): at start the predictor
            loads every tenant's champion from its model store, ``models/<tenant>/``.
        features: the feature names, in order, its callers send; LoadModel refuses a model whose
            card names others (``PREDIS_PREDICTOR_FEATURES``: unset, the cache's candidate features;
            a comma-separated list; ``any`` to check only the row width).
    """

    server: ServerSettings
    batch_wait_s: float = 0.0
    batch_max_rows: int = 8192
    state_dir: Path | None = None
    data_dir: Path | None = None
    features: tuple[str, ...] | None = CANDIDATE_FEATURES

    @classmethod
    def from_env(cls, environ: Mapping[str, str], listen: str | None = None) -> PredictorSettings:
        env = Env(environ)
        return cls(
            server=ServerSettings.from_env("predictor", environ, listen),
            batch_wait_s=env.integer("PREDIS_PREDICTOR_BATCH_WAIT_US", 0) / 1e6,
            batch_max_rows=env.integer("PREDIS_PREDICTOR_BATCH_MAX_ROWS", 8192, minimum=1),
            state_dir=Path(environ["PREDIS_PREDICTOR_STATE_DIR"])
            if environ.get("PREDIS_PREDICTOR_STATE_DIR")
            else None,
            data_dir=Path(environ["PREDIS_DATA_DIR"]) if environ.get("PREDIS_DATA_DIR") else None,
            features=_features(environ.get("PREDIS_PREDICTOR_FEATURES")),
        )


def _features(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return CANDIDATE_FEATURES
    if raw.strip() == "any":
        return None
    names = tuple(name.strip() for name in raw.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise SettingsError(
            f"PREDIS_PREDICTOR_FEATURES={raw!r} must be distinct feature names separated by commas, or 'any'"
        )
    return names
