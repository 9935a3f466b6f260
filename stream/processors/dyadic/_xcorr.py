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

Cost: of the five sums behind each r — ``Σx, Σx², Σy_τ, Σy²_τ, Σxy_τ`` —
only ``Σxy_τ`` is kept running: it changes by the block of ``Δ`` samples
that entered the patient window since the last read and the block that left
it, at every lag, ``O(Δ · K)``. Each entering block's contribution is kept
and subtracted unchanged when the block leaves (exact cancellation), so with
steady reads only the entering block is computed. The other four sums are
taken afresh at each read in ``O(span)`` (``Σy_τ, Σy²_τ`` sliding along the
lag span), so a read costs ``O(Δ · K + span)`` instead of the ``O(w · K)``
of recomputing the window. (When ``2Δ >= w`` an exact recomputation is no
more work and is done instead.) The whole read is one compiled call
(:mod:`._xcorr_kernels`): at live sizes the arithmetic takes microseconds,
and numpy's fixed per-call overhead would otherwise dominate. The sums are
taken about the window means at the last exact recomputation, which keeps
the cancellation in ``Σxy − ΣxΣy/w`` small, and ``Σxy`` is recomputed
exactly after ``refresh_after`` samples (default: 20 windows) to stop
floating drift.

A window (over its whole lag span) that holds a missing sample (NaN) gives no
correlations; the sums are rebuilt exactly once the span is clean again.
A window whose values are all equal (or whose variance is at most ``1e-9`` of
its sum of squares about the centre) is flat: its r is NaN.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

import dyadscope.stream.processors.dyadic._xcorr_kernels as kernels

PeakMethod = Literal["nearest", "global"]


class LaggedCrossCorrelation:
    """Incremental windowed lagged cross-correlation of a patient and a therapist series.

    Lags are in samples. ``offset`` shifts the whole lag range (the surrogate
    baseline uses it to correlate with a time-shifted partner); the real
    measure uses ``offset=0``. Samples are float64 arrays.
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
        self.lags = offset + np.arange(-max_lag, max_lag + 1, lag_step, dtype=np.int64)
        lo, hi = int(self.lags[0]), int(self.lags[-1])
        # Samples before the patient window / after it that the lagged windows reach.
        before, after = max(0, -lo), max(0, hi)
        span = window + before + after
        self._after = after
        self._config = kernels.new_config(
            window=window,
            first_lag=lo,
            lag_step=lag_step,
            lags=self.lags.size,
            before=before,
            after=after,
            refresh_after=refresh_after if refresh_after is not None else 20 * window,
            retain=2 * span,  # reads up to a span apart still advance incrementally
        )
        self._samples = np.zeros((2, 3 * span + 64))
        self._state = kernels.new_state()
        self._centre = np.zeros(2)
        self._sxy = np.zeros(self.lags.size)
        self._blocks = np.zeros((64, self.lags.size))  # Σxy of the blocks that entered the window
        self._spans = np.zeros((64, 2), dtype=np.int64)

    @property
    def total(self) -> int:
        """Paired samples received so far."""
        return int(self._state[kernels.TOTAL])

    @property
    def latest_start(self) -> int:
        """Start of the newest patient window that the data received so far completes."""
        return self.total - self.window - self._after

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append paired float64 samples (NaN marks a missing sample in either series)."""
        kernels.append_pairs(self._samples, self._state, self._config, x, y)

    def correlations(self) -> np.ndarray | None:
        """r per lag for the newest complete window, or None (too little data, or missing samples).

        Brings the running sums up to date with the samples received since the
        previous call; NaN entries mark lags where a window is flat.
        """
        r = np.empty(self.lags.size)
        status = kernels.correlate(
            self._samples, self._state, self._config, self._centre, self._sxy, self._blocks, self._spans, r
        )
        return r if status == kernels.READY else None


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
    index = kernels.peak_index(r, method == "nearest", span)
    return None if index < 0 else index


def fisher_z(r: float) -> float:
    """Fisher's z = artanh(r), with |r| capped just below 1 so z stays finite."""
    return math.atanh(min(max(r, -0.999999), 0.999999))
