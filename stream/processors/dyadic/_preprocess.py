"""What each modality's series goes through before it is correlated, one sample in, one out.

Two steps, both causal and streamed, so the live measure and an offline rerun
see the same values:

* **smoothing**: a moving average over ``smooth`` samples (rMEA smooths motion
  energy over 0.5 s before correlating; Ramseyer & Tschacher, 2011). Both
  people's series are delayed alike, so lags are unchanged.
* **first differences** (``difference=True``): ``x[n] - x[n-1]``. A slow shared
  trend (both heart rates drifting, both RSA amplitudes stepping down at the end
  of a rest, both skin conductances recovering) makes two levels correlate
  without any coupling; their changes do not. Differencing also whitens the
  smooth physiological series, which is what keeps the surrogate null of
  :mod:`._null` narrow enough to detect coupling (Boker et al., 2002; Dean &
  Dunsmuir, 2016, on spurious correlation of autocorrelated series).

A missing sample (NaN) makes every output whose smoothing window or difference
touches it missing, and nothing else.
"""

from __future__ import annotations

import numpy as np


class Preprocessor:
    """Causal moving average over ``smooth`` samples, then optionally the first difference."""

    def __init__(self, smooth: int = 1, difference: bool = False):
        if smooth < 1:
            raise ValueError(f"smooth must be at least 1 sample, got {smooth}")
        self._kernel = np.full(smooth, 1.0 / smooth)
        self._difference = difference
        self._tail = np.full(smooth - 1, np.nan)  # the raw samples the next average still needs
        self._last = np.nan  # the previous smoothed value, for the difference

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The preprocessed values of the next samples ``x`` (as many as given)."""
        if x.size == 0:
            return np.empty(0)
        joined = np.concatenate([self._tail, np.asarray(x, dtype=float)])
        smoothed = np.convolve(joined, self._kernel, mode="valid")  # NaN reaches only its own windows
        if self._tail.size:
            self._tail = joined[-self._tail.size :]
        if not self._difference:
            return smoothed
        out = np.diff(smoothed, prepend=self._last)
        self._last = smoothed[-1]
        return out
