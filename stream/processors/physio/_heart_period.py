"""The heart-period series behind spectral RSA: beats to an evenly sampled interval series, and its band power.

:class:`IntervalSeries` resamples inter-beat intervals (ms) onto multiples of
``1 / rate_hz`` incrementally, one beat late; :func:`band_power_ln` integrates a
Welch spectrum of such a series over the RSA band.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from scipy import signal as sps

#: RSA frequency band (Hz), as NeuroKit2 and the Porges-Bohrer method use.
RSA_BAND = (0.12, 0.40)


def band_power_ln(series: np.ndarray, rate: float, band: tuple[float, float] = RSA_BAND) -> float:
    """ln of the power (units²) of an evenly sampled series in ``band``, by Welch's method."""
    nperseg = min(series.shape[0], int(round(30.0 * rate)))
    freqs, psd = sps.welch(series, fs=rate, nperseg=nperseg, noverlap=nperseg // 2, detrend="linear")
    inside = (freqs >= band[0]) & (freqs <= band[1])
    power = float(psd[inside].sum() * (freqs[1] - freqs[0]))
    return math.log(power) if power > 0 else math.nan


class IntervalSeries:
    """The inter-beat-interval series, evenly resampled, incrementally.

    Each interval (ms) sits at the time of the beat that ends it; the series
    between them is a cubic Hermite curve with central-difference slopes
    (the segment before a beat is drawn when the beat after it arrives, one
    beat late), sampled at multiples of ``1 / rate_hz``. Unlike straight lines,
    which damp a 0.25 Hz oscillation sampled by beats 0.8 s apart to 77 % of
    its power, the curve keeps about 95 % of it. A pause longer than
    ``max_gap_s`` between intervals starts the series afresh.
    """

    def __init__(self, rate_hz: float, max_gap_s: float):
        self.rate = rate_hz
        self.max_gap_s = max_gap_s
        self._points: deque[tuple[float, float]] = deque(maxlen=4)
        self._next: float | None = None

    def continues(self, t: float) -> bool:
        """Whether an interval ending at ``t`` continues the current series."""
        return not self._points or t - self._points[-1][0] <= self.max_gap_s

    def restart(self) -> None:
        """Start afresh: the next interval begins a new series."""
        self._points.clear()
        self._next = None

    def add(self, t: float, ibi_ms: float) -> tuple[np.ndarray, np.ndarray]:
        """Add the interval ending at beat time ``t``; return the new (times, values) samples."""
        points = self._points
        if not self.continues(t):
            self.restart()
        points.append((t, ibi_ms))
        if len(points) < 3:
            return _EMPTY, _EMPTY
        (t0, y0), (t1, y1), (t2, y2) = list(points)[-3:]
        if len(points) == 4:  # central difference at t0, one-sided at the series' start
            m0 = (y1 - points[0][1]) / (t1 - points[0][0])
        else:
            m0 = (y1 - y0) / (t1 - t0)
        m1 = (y2 - y0) / (t2 - t0)
        step = 1.0 / self.rate
        if self._next is None:
            self._next = (math.floor(t0 / step) + 1) * step
        n = int(math.floor((t1 - self._next) / step)) + 1 if t1 >= self._next else 0
        if n <= 0:
            return _EMPTY, _EMPTY
        grid = self._next + step * np.arange(n)
        self._next = float(grid[-1] + step)
        h = t1 - t0
        s = (grid - t0) / h
        s2, s3 = s * s, s * s * s
        values = (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * h * m0 + (3 * s2 - 2 * s3) * y1 + (s3 - s2) * h * m1
        return grid, values


_EMPTY = np.empty(0)
