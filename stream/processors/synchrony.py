"""Windowed lagged cross-correlation (Boker et al., 2002), kept up to date incrementally.

Two equally spaced, paired series — ``x`` the patient, ``y`` the therapist —
are correlated over a window of ``window`` samples at every lag in
``lags = offset + [-max_lag, ..., max_lag]`` (step ``lag_step``).

Sign convention: lag ``τ`` pairs ``x[i]`` with ``y[i + τ]``. A peak at a
*positive* lag means the therapist at ``t + τ`` resembles the patient at ``t``:
**positive lag = therapist follows patient** (the patient leads); negative lag
= patient follows therapist.

Every lag uses the same patient window ``x[a : a + w]`` and its own therapist
window ``y[a + τ : a + τ + w]``, so every correlation has exactly ``w`` pairs.
The newest complete position is ``a = N - w - max(lags)`` for ``N`` samples
received: the patient window ends ``max_lag`` samples before the newest sample.

Cost: the running sums ``Σx, Σx², Σy_τ, Σy²_τ, Σxy_τ`` are updated only for
samples that entered and left the window since the last read — one product of
the ``Δ`` new patient samples with a ``Δ × K`` lagged view of ``y`` and the
same for the ``Δ`` leaving ones, plus prefix sums for ``Σy_τ`` and ``Σy²_τ``:
``O(Δ · K)`` per read instead of ``O(w · K)``. The sums are kept on values
shifted by the window mean at the last exact recomputation, which keeps the
cancellation in ``Σxy − ΣxΣy/w`` small, and are recomputed exactly after
``refresh_after`` samples (default: 20 windows) to stop floating drift.

A window (over its whole lag span) that holds a missing sample (NaN) gives no
correlations; the sums are rebuilt exactly once the span is clean again.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PeakMethod = Literal["nearest", "global"]

#: A window whose variance is below this fraction of its sum of squares is flat: r is undefined.
_FLAT = 1e-9


class SampleRing:
    """The newest ``capacity`` samples of several equally long series, read by absolute index."""

    def __init__(self, capacity: int, series: int):
        self._data = np.zeros((series, capacity))
        self._capacity = capacity
        self.total = 0

    @property
    def oldest(self) -> int:
        """Absolute index of the oldest sample still held."""
        return max(0, self.total - self._capacity)

    def extend(self, rows: np.ndarray) -> None:
        """Append samples, shape ``(series, n)``, oldest first."""
        n = rows.shape[1]
        if n >= self._capacity:
            rows, skipped = rows[:, -self._capacity :], n - self._capacity
        else:
            skipped = 0
        start = (self.total + skipped) % self._capacity
        first = min(rows.shape[1], self._capacity - start)
        self._data[:, start : start + first] = rows[:, :first]
        self._data[:, : rows.shape[1] - first] = rows[:, first:]
        self.total += n

    def take(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start <= i < stop`` (all still held), shape ``(series, stop - start)``."""
        if start < self.oldest or stop > self.total:
            raise IndexError(f"samples {start}..{stop} not held (have {self.oldest}..{self.total})")
        lo, hi = start % self._capacity, (stop - 1) % self._capacity + 1
        if stop - start == 0:
            return self._data[:, :0].copy()
        if lo < hi:
            return self._data[:, lo:hi].copy()
        return np.concatenate((self._data[:, lo:], self._data[:, :hi]), axis=1)


def _window_sums(values: np.ndarray, length: int, offsets: np.ndarray) -> np.ndarray:
    """``values[o : o + length].sum()`` for every offset ``o``, via one prefix sum."""
    prefix = np.concatenate(([0.0], np.cumsum(values)))
    return prefix[offsets + length] - prefix[offsets]


class LaggedCrossCorrelation:
    """Incremental windowed lagged cross-correlation of a patient and a therapist series.

    Lags are in samples. ``offset`` shifts the whole lag range (the surrogate
    baseline uses it to correlate with a time-shifted partner); the real
    measure uses ``offset=0``.
    """

    def __init__(
        self,
        window: int,
        max_lag: int,
        lag_step: int = 1,
        *,
        offset: int = 0,
        refresh_after: int | None = None,
    ):
        if window < 2 or max_lag < 0 or lag_step < 1 or max_lag % lag_step:
            raise ValueError(
                f"need window >= 2, max_lag >= 0 and lag_step >= 1 dividing max_lag; got {window}, {max_lag}, {lag_step}"
            )
        self.window = window
        self.lags = offset + np.arange(-max_lag, max_lag + 1, lag_step)
        self._lag_step = lag_step
        self._lo, self._hi = int(self.lags[0]), int(self.lags[-1])
        # Samples before the patient window / after it that the lagged windows reach.
        self._before = max(0, -self._lo)
        self._after = max(0, self._hi)
        self._span = window + self._before + self._after
        self._ring = SampleRing(2 * self._span + 64, series=2)
        self._refresh_after = refresh_after if refresh_after is not None else 20 * window
        self._start: int | None = None  # patient window start the sums describe
        self._since_refresh = 0
        self._last_missing = -1
        self._shift = (0.0, 0.0)
        self._sx = self._sxx = 0.0
        k = len(self.lags)
        self._sy, self._syy, self._sxy = np.zeros(k), np.zeros(k), np.zeros(k)

    @property
    def total(self) -> int:
        """Paired samples received so far."""
        return self._ring.total

    @property
    def latest_start(self) -> int:
        """Start of the newest patient window that the data received so far completes."""
        return self.total - self.window - self._after

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append paired samples (NaN marks a missing sample in either series)."""
        rows = np.vstack((np.asarray(x, dtype=float), np.asarray(y, dtype=float)))
        missing = np.flatnonzero(np.isnan(rows).any(axis=0))
        if missing.size:
            self._last_missing = self.total + int(missing[-1])
        self._ring.extend(rows)

    def correlations(self) -> np.ndarray | None:
        """r per lag for the newest complete window, or None (too little data, or missing samples).

        Brings the running sums up to date with the samples received since the
        previous call; NaN entries mark lags where a window is flat.
        """
        a = self.latest_start
        if a - self._before < 0:
            return None
        if self._last_missing >= a - self._before:
            self._start = None
            return None
        old = self._start
        if (
            old is None
            or a - old >= self.window
            or old - self._before < self._ring.oldest
            or self._since_refresh >= self._refresh_after
        ):
            self._recompute(a)
        elif a > old:
            self._advance(old, a)
        return self._pearson()

    def _lagged_view(self, y: np.ndarray, rows: int) -> np.ndarray:
        """``view[r, j] = y[r + lags[j] - lo]``: the lagged partners of ``rows`` patient samples."""
        return sliding_window_view(y, self._hi - self._lo + 1)[:rows, :: self._lag_step]

    def _recompute(self, a: int) -> None:
        """Exact sums for the window starting at ``a``, re-centred on its means."""
        x = self._ring.take(a, a + self.window)[0]
        y = self._ring.take(a + self._lo, a + self.window + self._hi)[1]
        self._shift = (float(x.mean()), float(y.mean()))
        x = x - self._shift[0]
        y = y - self._shift[1]
        offsets = self.lags - self._lo
        self._sx, self._sxx = float(x.sum()), float(x @ x)
        self._sy = _window_sums(y, self.window, offsets)
        self._syy = _window_sums(y * y, self.window, offsets)
        self._sxy = sliding_window_view(y, self.window)[offsets] @ x
        self._start = a
        self._since_refresh = 0

    def _advance(self, old: int, new: int) -> None:
        """Add the samples that entered the window since ``old`` and remove those that left."""
        delta = new - old
        cx, cy = self._shift
        for start, sign in ((old + self.window, 1.0), (old, -1.0)):
            x = self._ring.take(start, start + delta)[0] - cx
            y = self._ring.take(start + self._lo, start + delta + self._hi)[1] - cy
            offsets = self.lags - self._lo
            self._sx += sign * float(x.sum())
            self._sxx += sign * float(x @ x)
            self._sy += sign * _window_sums(y, delta, offsets)
            self._syy += sign * _window_sums(y * y, delta, offsets)
            self._sxy += sign * (x @ self._lagged_view(y, delta))
        self._start = new
        self._since_refresh += delta

    def _pearson(self) -> np.ndarray:
        n = self.window
        vx = self._sxx - self._sx * self._sx / n
        vy = self._syy - self._sy * self._sy / n
        cov = self._sxy - self._sx * self._sy / n
        flat = (vy <= _FLAT * self._syy) | (vx <= _FLAT * self._sxx)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cov / np.sqrt(np.maximum(vx, 0.0) * np.maximum(vy, 0.0))
        r[flat] = np.nan
        return np.clip(r, -1.0, 1.0)


def pick_peak(r: np.ndarray, method: PeakMethod = "global", span: int = 1) -> int | None:
    """Index of the synchrony peak in a cross-correlation function (None when every r is NaN).

    ``"global"`` (the default): the highest r at any lag in the range.
    ``"nearest"`` (Boker et al., 2002): the local maximum nearest the centre
    lag (lag 0), where a local maximum is a finite value at least as high as
    every value within ``span`` lags on each side, both sides inside the lag
    range (a maximum at the edge may continue beyond the range); ties in
    distance go to the higher r; without any local maximum, the global one.
    On broadband signals the cross-correlation ripples around lag 0, and the
    nearest local maximum is then often a ripple rather than the coupling, so
    the global maximum is the default.
    """
    finite = np.isfinite(r)
    if not finite.any():
        return None
    if method == "nearest" and r.size > 2 * span:
        filled = np.where(finite, r, -np.inf)
        neighbourhood = sliding_window_view(filled, 2 * span + 1).max(axis=1)
        inner = filled[span : r.size - span]
        candidates = np.flatnonzero((inner >= neighbourhood) & np.isfinite(inner)) + span
        if candidates.size:
            distance = np.abs(candidates - (r.size - 1) / 2)
            best = candidates[distance == distance.min()]
            return int(best[np.argmax(r[best])])
    return int(np.nanargmax(r))


def fisher_z(r: float) -> float:
    """Fisher's z = artanh(r), with |r| capped just below 1 so z stays finite."""
    return float(np.arctanh(np.clip(r, -0.999999, 0.999999)))
