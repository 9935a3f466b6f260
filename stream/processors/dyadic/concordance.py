"""Skin conductance concordance (Marci et al., 2007).

Each person's skin conductance level (tonic + phasic) on the 4 Hz grid is
turned into its local slope — the least-squares slope over the last
``slope_window_s`` (5 s) seconds, a fixed FIR filter run with its state, so
O(taps) per sample — and the two slope series are correlated over running
``corr_window_s`` (15 s) windows, every ``corr_step_s`` (1 s), with the
incremental correlation of :mod:`.synchrony` at lag 0. The concordance index
is ``ln(Σ r⁺ / |Σ r⁻|)`` over those correlations: rolling over the last
``horizon_s`` seconds and over the whole session; it is None while either sum
is zero (the ratio is then 0 or infinite).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from dyadscope.stream import kinds
from dyadscope.stream.processors.dyadic._grid import SOURCES, FeatureSource, PairedGrid
from dyadscope.stream.processors.dyadic._xcorr import LaggedCrossCorrelation
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.types import ROLES, Feature


@dataclass(frozen=True)
class ConcordanceConfig:
    """Marci's slope and correlation windows, and how often and how far back to report."""

    source: str = "eda_level"
    slope_window_s: float = 5.0
    corr_window_s: float = 15.0
    corr_step_s: float = 1.0
    report_s: float = 2.0
    horizon_s: float = 300.0


def slope_filter(taps: int, rate: float) -> np.ndarray:
    """FIR coefficients whose output is the least-squares slope (per second) of the last ``taps`` samples."""
    k = np.arange(taps, dtype=float)
    centred = k - k.mean()
    weights = centred / (centred @ centred) * rate  # weight of the sample at position k (oldest = 0)
    return weights[::-1].copy()  # lfilter's b[i] multiplies x[n - i]: newest first


class _SlopeSeries:
    """One person's running slope; NaN until ``taps`` clean samples follow any missing one."""

    def __init__(self, taps: int, rate: float):
        self._b = slope_filter(taps, rate)
        self._zi = np.zeros(taps - 1)
        self._clean = 0

    def extend(self, values: np.ndarray) -> np.ndarray:
        if not values.size:
            return values
        missing = np.isnan(values)
        slopes, self._zi = lfilter(self._b, [1.0], np.where(missing, 0.0, values), zi=self._zi)
        # Clean samples in a row up to each sample: a slope is valid once the window holds no NaN.
        index = np.arange(values.size)
        last_missing = np.maximum.accumulate(np.where(missing, index, -1))
        run = np.where(last_missing < 0, self._clean + index + 1, index - last_missing)
        self._clean = int(run[-1])
        return np.where(run >= self._b.size, slopes, np.nan)


class ConcordanceProcessor:
    """EDA concordance; emits ``concordance`` (role None) every ``report_s`` of data (a :class:`~.ticks.Ticker`)."""

    def __init__(
        self, config: ConcordanceConfig = ConcordanceConfig(), sources: dict[str, FeatureSource] | None = None
    ):
        source = (SOURCES if sources is None else sources)[config.source]
        self.consumes = frozenset({source.kind})
        self._config = config
        self._grid = PairedGrid(source)
        self._rate = source.rate_hz
        taps = round(config.slope_window_s * source.rate_hz)
        self._slopes = {role: _SlopeSeries(taps, source.rate_hz) for role in ROLES}
        self._correlation = LaggedCrossCorrelation(round(config.corr_window_s * source.rate_hz), 0)
        self._step = round(config.corr_step_s * source.rate_hz)
        self._recent: deque[tuple[float, float]] = deque()
        self._rolling = [0.0, 0.0]  # Σr⁺, Σr⁻ over the horizon
        self._session = [0.0, 0.0]  # Σr⁺, Σr⁻ over the session
        self._r = math.nan
        self._reports = Ticker(config.report_s)

    def consume(self, feature: Feature) -> list[Feature]:
        """Take one EDA feature; return a concordance report when one is due."""
        if feature.kind not in self.consumes:
            return []
        t0, patient, therapist = self._grid.add(feature)
        out: list[Feature] = []
        x, y = (self._slopes[role].extend(v) for role, v in zip(ROLES, (patient, therapist), strict=True))
        while x.size:
            # Feed up to the next correlation step, so bulk input gives the same steps as live.
            take = self._step - self._correlation.total % self._step
            self._correlation.extend(x[:take], y[:take])
            t = t0 + (min(take, x.size) - 1) / self._rate
            t0, x, y = t0 + take / self._rate, x[take:], y[take:]
            if self._correlation.total % self._step == 0:
                self._add_correlation(t)
                out.extend(self._report(t))
        return out

    def _add_correlation(self, t: float) -> None:
        r = self._correlation.correlations()
        self._r = math.nan if r is None else float(r[0])
        if math.isnan(self._r):
            return
        self._recent.append((t, self._r))
        sign = 0 if self._r > 0 else 1
        self._session[sign] += self._r
        self._rolling[sign] += self._r
        while self._recent[0][0] <= t - self._config.horizon_s:
            _, old = self._recent.popleft()
            self._rolling[0 if old > 0 else 1] -= old

    def _report(self, t: float) -> list[Feature]:
        if not self._reports.ready(t):
            return []
        self._reports.advance(t)
        data = {
            "modality": "eda",
            "r": None if math.isnan(self._r) else self._r,
            "ci": _index(*self._rolling),
            "ci_session": _index(*self._session),
            "n": len(self._recent),
            "slope_window_s": self._config.slope_window_s,
            "window_s": self._config.corr_window_s,
            "horizon_s": self._config.horizon_s,
        }
        return [Feature(kinds.CONCORDANCE, None, t, data)]


def _index(positive: float, negative: float) -> float | None:
    """ln(Σr⁺ / |Σr⁻|), or None when either sum is zero (up to rounding of the running sums)."""
    if positive <= 1e-9 or negative >= -1e-9:
        return None
    return math.log(positive / -negative)
