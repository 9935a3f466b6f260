"""In and out of synchrony: a hysteresis state, its flexibility, and a throttled desynchrony flag.

The state follows the peak synchrony ``r`` of one modality, judged against
the surrogates of the same window against each partner's past (:mod:`._null`):

* it enters ``"in_sync"`` when ``|r|`` exceeds the chance level (the
  surrogates' 95th percentile) and is at least ``enter_r``;
* it enters ``"out_of_sync"`` when ``|r|`` falls below the surrogates'
  ``exit_quantile`` (75th percentile) or below ``exit_r``, whichever is
  higher; between the two levels the state holds (hysteresis). While the
  surrogates are too few only ``exit_r`` applies and nobody is in sync;
* a new state is taken only after its condition has held without a break for
  ``confirm_s`` seconds, counted from no earlier than ``min_dwell_s`` after
  the current state began, so one noisy window cannot flip it and every state
  lasts at least ``min_dwell_s`` (no flicker).

Times are those of the values (the patient-window centres), and a state's
``since`` is when its condition began to hold, which lines the states up with
the stretches of data they describe. Missing values neither confirm nor break
a pending change.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

IN_SYNC, OUT_OF_SYNC = "in_sync", "out_of_sync"


@dataclass(frozen=True)
class StateConfig:
    """Hysteresis thresholds (peak r) and timing of the synchrony state."""

    enter_r: float = 0.3
    exit_r: float = 0.2
    exit_quantile: float = 0.75
    confirm_s: float = 4.0
    min_dwell_s: float = 10.0


@dataclass(frozen=True)
class Transition:
    """A change of synchrony state."""

    state: str
    since: float
    previous: str | None


class SyncStateTracker:
    """The synchrony state of one modality, with hysteresis and a minimum dwell."""

    def __init__(self, config: StateConfig = StateConfig()):
        if config.exit_r > config.enter_r:
            raise ValueError(f"exit_r {config.exit_r} must not exceed enter_r {config.enter_r}")
        self._config = config
        self.state: str | None = None
        self.since: float | None = None
        self._pending: tuple[str, float] | None = None  # (target state, onset)

    def update(self, t: float, r: float, chance: tuple[float, float] | None) -> Transition | None:
        """Take the next synchrony value and the baseline's (exit, chance) levels; return any transition."""
        if math.isnan(r):
            return None
        cfg = self._config
        if chance is not None and r >= max(cfg.enter_r, chance[1]):
            target = IN_SYNC
        elif r < max(cfg.exit_r, chance[0] if chance is not None else -1.0):
            target = OUT_OF_SYNC
        else:
            target = None
        if target is None or target == self.state:
            self._pending = None
            return None
        if self._pending is None or self._pending[0] != target:
            self._pending = (target, t)
        # The new state may begin no earlier than min_dwell_s into the current one.
        onset = self._pending[1] if self.since is None else max(self._pending[1], self.since + cfg.min_dwell_s)
        if t - onset < cfg.confirm_s:
            return None
        transition = Transition(target, onset, self.state)
        self.state, self.since, self._pending = target, onset, None
        return transition


class FlexibilityTracker:
    """How synchrony varies: spread of its Fisher-z series and the rate of state changes.

    Rolling over the last ``horizon_s`` seconds (bounded ring) and over the
    whole session (running sums).
    """

    def __init__(self, horizon_s: float = 300.0, capacity: int = 1024):
        self._horizon = horizon_s
        self._z: deque[tuple[float, float]] = deque(maxlen=capacity)
        self._transitions: deque[float] = deque(maxlen=capacity)
        self._n = 0
        self._sum = self._sum_sq = 0.0
        self._total_transitions = 0
        self._first: float | None = None

    def add(self, t: float, z: float) -> None:
        """One synchrony value (Fisher z) at time ``t``; NaN is skipped."""
        if self._first is None:
            self._first = t
        if math.isnan(z):
            return
        self._z.append((t, z))
        self._n += 1
        self._sum += z
        self._sum_sq += z * z

    def transition(self, t: float) -> None:
        """Count a state transition at time ``t``."""
        self._transitions.append(t)
        self._total_transitions += 1

    def summary(self, t: float) -> dict[str, float | int | None]:
        """Flexibility now: rolling and session-wide spread of z and transitions per minute."""
        while self._z and self._z[0][0] < t - self._horizon:
            self._z.popleft()
        while self._transitions and self._transitions[0] < t - self._horizon:
            self._transitions.popleft()
        elapsed = 0.0 if self._first is None else t - self._first
        recent = np.fromiter((z for _, z in self._z), float)
        mean = self._sum / self._n if self._n else math.nan
        session_var = self._sum_sq / self._n - mean * mean if self._n > 1 else math.nan
        return {
            "sd_z": float(recent.std(ddof=1)) if recent.size > 1 else None,
            "mean_z": float(recent.mean()) if recent.size else None,
            "transitions_per_min": 60.0 * len(self._transitions) / min(self._horizon, elapsed) if elapsed > 0 else None,
            "sd_z_session": math.sqrt(max(session_var, 0.0) * self._n / (self._n - 1)) if self._n > 1 else None,
            "transitions_per_min_session": 60.0 * self._total_transitions / elapsed if elapsed > 0 else None,
            "horizon_s": self._horizon,
            "n": int(recent.size),
        }


class DesyncFlagger:
    """Flags lost synchrony: a modality that *was* in sync has been out of it longer than ``after_s``.

    Never for a modality that has not been in sync (apart from the start is
    not a loss), nor for an in-sync stretch shorter than ``min_in_sync_s``
    (chance alone makes short ones: on pseudo-dyads they are brief). One flag
    per out-of-sync episode (the episode is the run of
    ``out_of_sync`` that followed ``in_sync``), and at most one per
    ``every_s`` across episodes. The flag carries its size: how long the dyad
    has been out of sync and how long the lost in-sync stretch had lasted.
    """

    def __init__(self, after_s: float = 120.0, every_s: float = 600.0, min_in_sync_s: float = 30.0):
        self._after = after_s
        self._every = every_s
        self._min_in_sync = min_in_sync_s
        self._last_flag: float | None = None
        self._episode: tuple[float, float] | None = None  # (since, in_sync_s) of the current loss
        self._in_sync_since: float | None = None

    def transition(self, transition: Transition) -> None:
        """Follow the state: a move from in sync to out of sync opens an episode."""
        if transition.state == IN_SYNC:
            self._in_sync_since, self._episode = transition.since, None
        elif transition.previous == IN_SYNC and self._in_sync_since is not None:
            lasted = transition.since - self._in_sync_since
            self._episode = (transition.since, lasted) if lasted >= self._min_in_sync else None

    def check(self, t: float) -> dict[str, float] | None:
        """The flag's fields if the current loss of synchrony should be flagged at time ``t``, else None."""
        if self._episode is None or t - self._episode[0] <= self._after:
            return None
        if self._last_flag is not None and t - self._last_flag < self._every:
            return None
        since, in_sync_s = self._episode
        self._last_flag, self._episode = t, None  # one flag per episode
        return {"since": since, "out_of_sync_s": t - since, "in_sync_s": in_sync_s}


class SessionIndex:
    """Session synchrony against the session's own pseudo-pairs, in the spirit of rMEA's index.

    rMEA (Kleinbub & Ramseyer, 2021) compares a dyad's grand mean Fisher z of
    its windowed peak correlations with that of pseudo-dyads. Live, each window's
    pseudo-dyads are its surrogates (:mod:`._null`), so ``index_z`` is the
    session's mean z of the real peak ``|r|`` minus the mean z of their
    surrogates: about 0 for unrelated people, positive for a synchronous dyad.
    ``share_above_chance`` is about ``alpha`` for unrelated people.
    """

    def __init__(self) -> None:
        self._n = self._above = 0
        self._sum_z = self._sum_null_z = 0.0

    def add(self, abs_r: float, surrogates: np.ndarray, above: bool) -> None:
        """One tested window: its peak ``|r|``, its surrogates' peak ``|r|`` and its verdict."""
        self._n += 1
        self._above += bool(above)
        self._sum_z += math.atanh(min(abs_r, 0.999999))
        self._sum_null_z += float(np.arctanh(np.minimum(surrogates, 0.999999)).mean())

    def summary(self) -> dict[str, float | int | None]:
        """The index so far (None before any window was tested)."""
        if not self._n:
            return {"index_z": None, "mean_z": None, "share_above_chance": None, "windows": 0}
        mean_z = self._sum_z / self._n
        return {
            "index_z": mean_z - self._sum_null_z / self._n,
            "mean_z": mean_z,
            "share_above_chance": self._above / self._n,
            "windows": self._n,
        }
