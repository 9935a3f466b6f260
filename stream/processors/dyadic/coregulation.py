"""Coregulation of arousal: how each person's next change depends on self and partner.

For one person, over a rolling window of grid samples (Butler & Randall's
coregulation as mutual dampening vs amplification, fitted as a lagged
regression)::

    y(t + h) − y(t) = α + β_self · (y(t) − baseline(t)) + β_gap · (y_partner(t) − y(t)) + ε

``baseline`` is the person's own running level (an exponentially weighted
mean, time constant ``baseline_tau_s``), so ``β_self < 0`` is a pull back
toward one's own baseline and ``β_gap > 0`` a pull toward the partner.

The *feedback* ``β_self − β_gap`` is how the next change responds to a rise
in one's own arousal with the partner where they are (a rise both moves the
person above baseline and widens the gap below the partner):

* ``"dampening"``: feedback < 0 by more than two standard errors — a rise is
  followed by a fall, toward baseline and partner (regulation);
* ``"amplification"``: feedback > 0 by more than two standard errors — a rise
  is followed by a further rise, away from baseline and partner (escalation);
* ``"neutral"`` otherwise.

Cost: the regression's sums of products are kept running over a ring of the
window's rows (add the new row, remove the leaving one; exact recompute once
per window to stop drift), so each sample costs O(1).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.dyadic._grid import SOURCES, FeatureSource, PairedGrid
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.types import ROLES, Feature


@dataclass(frozen=True)
class CoregulationConfig:
    """Rolling lagged regression settings for one arousal-like modality."""

    lag_s: float = 2.0
    window_s: float = 120.0
    baseline_tau_s: float = 300.0
    rate_hz: float = 1.0
    report_s: float = 10.0
    min_rows: int = 30


#: Arousal-like modalities and their defaults: EDA level and heart rate change within seconds;
#: vocal arousal changes only from utterance to utterance, so it gets a longer lag and window.
COREGULATION_DEFAULTS: dict[str, CoregulationConfig] = {
    "vocal_arousal": CoregulationConfig(lag_s=5.0, window_s=300.0),
    "eda_level": CoregulationConfig(),
    "heart_rate": CoregulationConfig(),
}


class RollingCoregulation:
    """One person's rolling regression of next change on own deviation and gap to partner."""

    def __init__(self, lag: int, window: int, baseline_alpha: float, min_rows: int = 30):
        self._lag = lag
        self._alpha = baseline_alpha
        self._min_rows = min_rows
        self._history: deque[tuple[float, float, float]] = deque(maxlen=lag + 1)  # (y, deviation, gap)
        self._rows: deque[np.ndarray] = deque(maxlen=window)
        self._sums = np.zeros((4, 4))
        self._added = 0
        self._baseline = math.nan

    def extend(self, own: np.ndarray, partner: np.ndarray) -> None:
        """Append paired samples of this person and the partner (NaN = missing)."""
        for y, p in zip(own.tolist(), partner.tolist(), strict=True):
            if math.isnan(self._baseline):
                self._baseline = y
            elif not math.isnan(y):
                self._baseline += self._alpha * (y - self._baseline)
            self._history.append((y, y - self._baseline, p - y))
            if len(self._history) > self._lag:
                y0, deviation, gap = self._history[0]
                row = np.array([1.0, deviation, gap, y - y0])
                self._push(row if np.isfinite(row).all() else np.zeros(4))

    def _push(self, row: np.ndarray) -> None:
        if len(self._rows) == self._rows.maxlen:
            old = self._rows[0]
            self._sums -= np.outer(old, old)
        self._rows.append(row)
        self._sums += np.outer(row, row)
        self._added += 1
        if self._added % self._rows.maxlen == 0:
            stacked = np.array(self._rows)
            self._sums = stacked.T @ stacked

    def estimate(self) -> dict[str, float | int | str] | None:
        """Coefficients, feedback with its standard error, and the pattern; None with too few rows."""
        n = int(round(self._sums[0, 0]))
        if n < self._min_rows:
            return None
        xtx, xty, yty = self._sums[:3, :3], self._sums[:3, 3], self._sums[3, 3]
        try:
            inverse = np.linalg.inv(xtx)
        except np.linalg.LinAlgError:
            return None
        beta = inverse @ xty
        residual_var = max(yty - beta @ xty, 0.0) / (n - 3)
        contrast = np.array([0.0, 1.0, -1.0])
        feedback = float(beta[1] - beta[2])
        se = math.sqrt(max(residual_var * contrast @ inverse @ contrast, 0.0))
        if feedback + 2 * se < 0:
            pattern = "dampening"
        elif feedback - 2 * se > 0:
            pattern = "amplification"
        else:
            pattern = "neutral"
        return {
            "intercept": float(beta[0]),
            "beta_self": float(beta[1]),
            "beta_gap": float(beta[2]),
            "feedback": feedback,
            "feedback_se": se,
            "pattern": pattern,
            "n": n,
        }


class _ModalityCoregulation:
    def __init__(self, modality: str, source: FeatureSource, config: CoregulationConfig):
        self.modality = modality
        self.grid = PairedGrid(replace(source, rate_hz=config.rate_hz))
        alpha = 1.0 - math.exp(-1.0 / (config.baseline_tau_s * config.rate_hz))
        lag, window = round(config.lag_s * config.rate_hz), round(config.window_s * config.rate_hz)
        self.people = {role: RollingCoregulation(lag, window, alpha, config.min_rows) for role in ROLES}
        self.config = config
        self.reports = Ticker(config.report_s)

    def consume(self, feature: Feature) -> list[Feature]:
        t0, patient, therapist = self.grid.add(feature)
        if not patient.size:
            return []
        self.people["patient"].extend(patient, therapist)
        self.people["therapist"].extend(therapist, patient)
        t = t0 + (patient.size - 1) / self.config.rate_hz
        self.reports.start(t)  # the first grid sample begins the cadence, with no report
        if not self.reports.ready(t):
            return []
        self.reports.advance(t)
        out = []
        for role, person in self.people.items():
            estimate = person.estimate()
            if estimate is not None:
                data = {"modality": self.modality, **estimate}
                data.update(lag_s=self.config.lag_s, window_s=self.config.window_s)
                out.append(Feature(kinds.COREGULATION, role, t, data))
        return out


class CoregulationProcessor:
    """Coregulation per arousal-like modality; emits ``coregulation`` per role every ``report_s`` of data."""

    def __init__(
        self,
        configs: dict[str, CoregulationConfig] | None = None,
        sources: dict[str, FeatureSource] | None = None,
    ):
        sources = SOURCES if sources is None else sources
        configs = COREGULATION_DEFAULTS if configs is None else configs
        self._modalities = [_ModalityCoregulation(m, sources[m], c) for m, c in configs.items()]
        self.consumes = frozenset(m.grid.source.kind for m in self._modalities)

    def consume(self, feature: Feature) -> list[Feature]:
        """Take one arousal-like feature; return any coregulation estimates now due."""
        out: list[Feature] = []
        for modality in self._modalities:
            if modality.grid.source.kind == feature.kind:
                out.extend(modality.consume(feature))
        return out
