"""The live prefetch threshold: one definition, run by the cache's prefetcher and by replay.

A probability cut moves so that the precision of the prefetches it lets through tracks a target.
The cut is judged on cohorts: the first ``window`` prefetches made at a cut are enrolled, and once
all of them have settled (read, or gone unread) their precision decides: below target, the cut
rises by ``step``; well above it (target + ``slack``), it falls by half a step, so prefetching grows
back only slowly. Then a new cohort starts. Waiting for the whole cohort matters: a used prefetch
settles at its first read, an unused one only when it is evicted, so counting outcomes as they
arrive sees the used ones first and overrates precision.

A cut so high that hardly anything passes would never gather a cohort to be judged by; so when
``idle_windows * window`` reads go by before the cohort is full, the cut falls by half a step, but
not below where it started, and a new cohort starts. Below the start only precise cohorts take it.

The state is a float64 array so that replay's compiled loop updates it in place with the very
functions the cache calls (through :class:`ThresholdTuner`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numba
import numpy as np

# Slots of the state array.
THRESHOLD, TARGET, LOWEST, HIGHEST, WINDOW, STEP, SLACK, IDLE_READS, INITIAL = range(9)
EPOCH, ENROLLED, RIGHT, SETTLED, READS = range(9, 14)
STATE_SIZE = 14


@dataclass(frozen=True)
class TunerSettings:
    """
    Attributes:
        target: precision the cut aims for (share of prefetches read before they leave).
        lowest: lowest cut precise cohorts may take it to.
        highest: highest cut imprecise cohorts may take it to.
        window: prefetches per judged cohort.
        step: how far one imprecise cohort raises the cut (precise ones lower it half as far).
        slack: how far above target a cohort must be to lower the cut.
        idle_windows: reads, in windows, after which a cohort that is not full lowers the cut.
    """

    target: float = 0.5
    lowest: float = 0.05
    highest: float = 0.95
    window: int = 64
    step: float = 0.05
    slack: float = 0.1
    idle_windows: int = 50

    def __post_init__(self) -> None:
        if not 0.0 < self.target < 1.0:
            raise ValueError("the precision target must be between 0 and 1")
        if not 0.0 < self.lowest <= self.highest <= 1.0:
            raise ValueError("the threshold bounds must satisfy 0 < lowest <= highest <= 1")
        if self.window < 1 or self.idle_windows < 1 or self.step <= 0:
            raise ValueError("the tuner's window, idle windows and step must be positive")


def new_tuner_state(settings: TunerSettings, initial: float) -> np.ndarray:
    """A fresh state at cut ``initial`` (clipped to the settings' bounds)."""
    state = np.zeros(STATE_SIZE, dtype=np.float64)
    start = min(settings.highest, max(settings.lowest, initial))
    state[[THRESHOLD, TARGET, LOWEST, HIGHEST, WINDOW, STEP, SLACK, IDLE_READS, INITIAL]] = (
        start,
        settings.target,
        settings.lowest,
        settings.highest,
        settings.window,
        settings.step,
        settings.slack,
        settings.idle_windows * settings.window,
        start,
    )
    return state


@numba.njit(cache=True, inline="always")
def _next_cohort(state: np.ndarray) -> None:
    state[EPOCH] += 1
    state[ENROLLED] = 0
    state[RIGHT] = 0
    state[SETTLED] = 0
    state[READS] = 0


@numba.njit(cache=True)
def tuner_reads(state: np.ndarray, count: int) -> None:
    """``count`` more reads were considered for prefetching."""
    state[READS] += count
    if state[READS] >= state[IDLE_READS] and state[ENROLLED] < state[WINDOW]:
        floor = min(state[INITIAL], state[THRESHOLD])
        state[THRESHOLD] = max(floor, state[THRESHOLD] - state[STEP] / 2)
        _next_cohort(state)


@numba.njit(cache=True)
def tuner_enroll(state: np.ndarray) -> int:
    """Called for each prefetch made: the cohort it belongs to, or -1 when the current cohort is
    full (its outcome is then shown but not judged)."""
    if state[ENROLLED] >= state[WINDOW]:
        return -1
    state[ENROLLED] += 1
    return int(state[EPOCH])


@numba.njit(cache=True)
def tuner_record(state: np.ndarray, right: bool, cohort: int) -> None:
    """One settled prefetch of ``cohort`` (as :func:`tuner_enroll` answered); ``right`` when its
    key was read (in time or while it was still loading)."""
    if cohort != int(state[EPOCH]):
        return
    state[SETTLED] += 1
    if right:
        state[RIGHT] += 1
    if state[SETTLED] < state[WINDOW]:
        return
    precision = state[RIGHT] / state[SETTLED]
    if precision < state[TARGET]:
        state[THRESHOLD] = min(state[HIGHEST], state[THRESHOLD] + state[STEP])
    elif precision > state[TARGET] + state[SLACK]:
        state[THRESHOLD] = max(state[LOWEST], state[THRESHOLD] - state[STEP] / 2)
    _next_cohort(state)


class ThresholdTuner:
    """The cache's handle on one tenant's tuner state (the same functions replay compiles in)."""

    def __init__(self, settings: TunerSettings, initial: float) -> None:
        self.settings = settings
        self.state = new_tuner_state(settings, initial)
        self.recent = deque[bool](maxlen=256)

    @property
    def threshold(self) -> float:
        return float(self.state[THRESHOLD])

    @property
    def epoch(self) -> int:
        return int(self.state[EPOCH])

    @property
    def idle_reads(self) -> int:
        return int(self.state[IDLE_READS])

    def reads(self, count: int) -> None:
        tuner_reads(self.state, count)

    def enroll(self) -> int:
        return int(tuner_enroll(self.state))

    def record(self, right: bool, cohort: int) -> None:
        self.recent.append(right)
        tuner_record(self.state, right, cohort)

    @property
    def recent_precision(self) -> float:
        """Share of right guesses among the last 256 settled prefetches, whatever cut made them."""
        return sum(self.recent) / len(self.recent) if self.recent else 0.0
