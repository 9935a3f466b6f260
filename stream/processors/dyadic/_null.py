"""Chance level of peak synchrony for *this* window: the same window against each partner's own past.

Whether a window's peak ``|r|`` means coupling depends on that window: a
burst of movement or a run of skin conductance responses makes large
correlations with *any* partner likelier. So the null is conditional on the
current windows. At each report the patient's current window is correlated,
over the same lag range, with the therapist's signal from earlier in the
session, at shifts ``D = D0, D0 + B, D0 + 2B, ...`` samples back (``D0 = window
+ 2 * max_lag``, so no surrogate touches the samples of the real pair;
``B = 2 * max_lag + lag_step``, so the surrogates' lag ranges do not overlap),
and the therapist's current window likewise with the patient's past. Each
surrogate is peak-picked exactly like the real measure. These are pseudo-dyads
drawn from the session itself (the partner at another time; Ramseyer &
Tschacher, 2010, shuffle segments the same way), and under "no coupling" the
real peak is exchangeable with them, so

* ``p = (1 + #{surrogates >= observed}) / (1 + n)`` is a valid permutation
  p-value, and ``above_chance`` (``observed > chance_r``, the surrogates'
  ``1 - alpha`` quantile) fires in about ``alpha`` of uncoupled windows; the
  rate is measured on pseudo-dyads of real recordings in the tests;
* nothing is decided until ``min_count`` (19, the fewest for ``p <= 0.05``)
  surrogates exist: about ``window + 3 * max_lag + 10 * B`` samples into the
  session.

The history is a bounded ring of ``history`` samples per person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyadscope.stream.processors.dyadic._xcorr import PeakMethod, pick_peak
from dyadscope.stream.ring import RingBuffer


@dataclass(frozen=True)
class Chance:
    """The surrogate distribution of one report, summarised."""

    surrogates: np.ndarray  # peak |r| of every surrogate pair

    def p_value(self, observed: float) -> float:
        """Permutation p-value of an observed peak ``|r|``."""
        return float((1 + np.count_nonzero(self.surrogates >= observed)) / (1 + self.surrogates.size))

    def level(self, quantile: float) -> float:
        """A quantile of the surrogate peak ``|r|``."""
        return float(np.quantile(self.surrogates, quantile))


def sliding_r(window: np.ndarray, series: np.ndarray) -> np.ndarray:
    """Pearson r of ``window`` with every stretch ``series[j : j + w]`` (NaN where missing or flat)."""
    w = window.size
    centred = window - window.mean()
    norm = np.sqrt(centred @ centred)
    missing = np.isnan(series)
    clean = np.where(missing, 0.0, series)
    num = np.correlate(clean, centred, mode="valid")
    sums = np.concatenate([[0.0], np.cumsum(clean)])
    squares = np.concatenate([[0.0], np.cumsum(clean * clean)])
    holes = np.concatenate([[0], np.cumsum(missing)])
    s1 = sums[w:] - sums[:-w]
    s2 = squares[w:] - squares[:-w]
    var = s2 - s1 * s1 / w
    flat = (var <= 1e-9 * np.maximum(s2, 1e-300)) | (holes[w:] - holes[:-w] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / (norm * np.sqrt(np.where(flat, 1.0, var)))
    r[flat] = np.nan
    return r if norm > 0 else np.full(r.size, np.nan)


class PartnerHistoryNull:
    """Surrogate peak ``|r|`` for the newest window, from each partner's own history."""

    def __init__(
        self,
        window: int,
        max_lag: int,
        lag_step: int,
        history: int,
        *,
        peak: PeakMethod = "global",
        peak_span: int = 1,
        min_count: int = 19,
    ):
        self._window, self._max_lag = window, max_lag
        self._offsets = np.arange(-max_lag, max_lag + 1, lag_step)
        self._first_shift = window + 2 * max_lag
        self._block = 2 * max_lag + lag_step
        self._peak, self._peak_span = peak, peak_span
        self._min_count = min_count
        self._x, self._y = RingBuffer(history), RingBuffer(history)

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append the same preprocessed paired samples the real measure gets."""
        self._x.extend(x)
        self._y.extend(y)

    def chance(self) -> Chance | None:
        """The surrogates for the newest complete window, or None while too few exist."""
        x, y = self._x.latest(), self._y.latest()
        start = x.size - self._window - self._max_lag  # the real window, as in LaggedCrossCorrelation
        centres = np.arange(start - self._first_shift, self._max_lag - 1, -self._block)
        if 2 * centres.size < self._min_count:
            return None
        stop = start + self._window
        peaks = [*self._peaks(x[start:stop], y, centres), *self._peaks(y[start:stop], x, centres)]
        values = np.array([p for p in peaks if p is not None])
        return Chance(values) if values.size >= self._min_count else None

    def _peaks(self, window: np.ndarray, partner: np.ndarray, centres: np.ndarray) -> list[float | None]:
        if np.isnan(window).any():
            return []
        r = np.abs(sliding_r(window, partner))
        out: list[float | None] = []
        for centre in centres:
            block = r[centre + self._offsets]
            index = None if np.isnan(block).any() else pick_peak(block, self._peak, self._peak_span)
            out.append(None if index is None else float(block[index]))
        return out
