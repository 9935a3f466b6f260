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

Cost: the running sums ``Σx, Σx², Σy_τ, Σy²_τ, Σxy_τ`` change only by the
block of ``Δ`` samples that entered the window since the last read and the
block that left it. One ``np.correlate`` of a block with its lagged partner
segment gives ``Σxy`` at every lag (two more, with ones, give ``Σy`` and
``Σy²``), so a read costs ``O(Δ · K)`` instead of ``O(w · K)``; the sums of
each entering block are kept and subtracted unchanged when it leaves, so in
steady reading only the entering block is computed. (When ``2Δ >= w`` an
exact recomputation is no more work and is done instead.) The sums are kept
on values shifted by the window means at the last exact recomputation, which
keeps the cancellation in ``Σxy − ΣxΣy/w`` small, and are recomputed exactly
after ``refresh_after`` samples (default: 20 windows) to stop floating drift.

A window (over its whole lag span) that holds a missing sample (NaN) gives no
correlations; the sums are rebuilt exactly once the span is clean again.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PeakMethod = Literal["nearest", "global"]

#: A window whose variance is at most this fraction of its sum of squares is flat: r is undefined.
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

    def extend(self, *series: np.ndarray) -> None:
        """Append the same number of new samples to every series, oldest first."""
        n = len(series[0])
        keep = min(n, self._capacity)
        start = (self.total + n - keep) % self._capacity
        first = min(keep, self._capacity - start)
        for row, values in zip(self._data, series, strict=True):
            values = values[n - keep :]
            row[start : start + first] = values[:first]
            row[: keep - first] = values[first:]
        self.total += n

    def take(self, series: int, start: int, stop: int, minus: float = 0.0) -> np.ndarray:
        """Samples ``start <= i < stop`` of one series (all still held), less ``minus``, as a new array."""
        if start < self.oldest or stop > self.total:
            raise IndexError(f"samples {start}..{stop} not held (have {self.oldest}..{self.total})")
        row = self._data[series]
        lo, hi = start % self._capacity, (stop - 1) % self._capacity + 1
        if stop == start:
            return row[:0] - minus
        if lo < hi:
            return row[lo:hi] - minus
        return np.concatenate((row[lo:], row[:hi])) - minus


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
                "need window >= 2, max_lag >= 0 and lag_step >= 1 dividing max_lag; "
                f"got {window}, {max_lag}, {lag_step}"
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
        self._sums = np.zeros(2 + 3 * len(self.lags))
        self._blocks: deque[tuple[int, int, np.ndarray]] = deque(maxlen=64)  # (start, count, sums) in the window
        self._ones = np.ones(window)  # reused: most reads see the same block length

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
        if not np.isfinite(x @ y):  # any NaN or inf makes the product non-finite; then find them
            missing = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
            if missing.size:
                self._last_missing = self.total + int(missing[-1])
        self._ring.extend(x, y)

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
            or 2 * (a - old) >= self.window  # an exact recomputation is then no more work
            or old - self._before < self._ring.oldest
            or self._since_refresh >= self._refresh_after
        ):
            self._recompute(a)
        elif a > old:
            self._advance(old, a)
        return self._pearson()

    def _block_sums(self, start: int, count: int) -> np.ndarray:
        """``[Σx, Σx², Σy_τ…, Σy²_τ…, Σxy_τ…]`` of patient samples ``start .. start + count``.

        The ``y`` sums are over each patient sample's lagged partners.

        ``np.correlate`` of the partner segment with the block (or with ones)
        gives every lag's sum in one call; ``[:: lag_step]`` keeps the lags used.
        """
        cx, cy = self._shift
        x = self._ring.take(0, start, start + count, cx)
        y = self._ring.take(1, start + self._lo, start + count + self._hi, cy)
        ones = self._ones if count == self._ones.size else np.ones(count)
        step, k = self._lag_step, self.lags.size
        sums = np.empty(2 + 3 * k)
        sums[0] = x.sum()
        sums[1] = x @ x
        sums[2 : 2 + k] = np.correlate(y, ones)[::step]
        sums[2 + k : 2 + 2 * k] = np.correlate(y * y, ones)[::step]
        sums[2 + 2 * k :] = np.correlate(y, x)[::step]
        return sums

    def _recompute(self, a: int) -> None:
        """Exact sums for the window starting at ``a``, re-centred on its means."""
        x = self._ring.take(0, a, a + self.window)
        y = self._ring.take(1, a + self._lo, a + self.window + self._hi)
        self._shift = (float(x.mean()), float(y.mean()))
        self._sums = self._block_sums(a, self.window)
        self._blocks.clear()  # their sums were taken about the old centre
        self._start = a
        self._since_refresh = 0

    def _advance(self, old: int, new: int) -> None:
        """Add the samples that entered the window since ``old`` and subtract those that left.

        A block's sums do not depend on where the window is, so the sums of
        each entering block are kept until it leaves and then subtracted as
        they were added (exact cancellation, and half the work per read).
        """
        delta = new - old
        if delta != self._ones.size:
            self._ones = np.ones(delta)
        entered = self._block_sums(old + self.window, delta)
        while self._blocks and self._blocks[0][0] < old:
            self._blocks.popleft()
        if self._blocks and self._blocks[0][:2] == (old, delta):
            left = self._blocks.popleft()[2]
        else:
            left = self._block_sums(old, delta)
        self._blocks.append((old + self.window, delta, entered))
        self._sums += entered
        self._sums -= left
        self._start = new
        self._since_refresh += delta

    def _pearson(self) -> np.ndarray:
        n, k = self.window, self.lags.size
        sx, sxx = float(self._sums[0]), float(self._sums[1])
        sy, syy, sxy = self._sums[2 : 2 + k], self._sums[2 + k : 2 + 2 * k], self._sums[2 + 2 * k :]
        mean_y = sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * mean_y
        if vx <= _FLAT * sxx:
            return np.full(k, np.nan)
        r = sxy - sx * mean_y
        r /= np.sqrt(np.maximum(vy, 0.0) * vx)
        np.minimum(r, 1.0, out=r)
        np.maximum(r, -1.0, out=r)
        flat = vy <= _FLAT * syy
        if flat.any():
            r[flat] = np.nan
        return r


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
