"""A running pseudo-synchrony baseline: what unrelated signals would show.

Live, with bounded memory, the surrogate pairs are *time-shifted*: the
patient's window against the therapist's signal from ``shift`` samples
earlier, and against the therapist's signal from ``shift`` samples later
(``shift`` at least the window plus twice the maximum lag, so surrogate
windows never overlap the real ones). Each is an incremental
:class:`~._xcorr.LaggedCrossCorrelation` with its lag range moved by ``shift``,
peak-picked exactly like the real measure; the peak values of the last
``size`` reports form the baseline, and its ``quantile`` (0.95) is the chance
level. Memory: the shifted engines' rings plus ``size`` floats.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from dyadscope.stream.processors.dyadic._xcorr import LaggedCrossCorrelation, PeakMethod, pick_peak


class SurrogateBaseline:
    """Chance level of peak synchrony from time-shifted surrogate pairs."""

    def __init__(
        self,
        window: int,
        max_lag: int,
        lag_step: int,
        shifts: tuple[int, ...],
        *,
        peak: PeakMethod = "global",
        peak_span: int = 1,
        size: int = 200,
        quantile: float = 0.95,
        min_count: int = 30,
    ):
        span = window + 2 * max_lag
        if any(abs(s) < span for s in shifts):
            raise ValueError(f"every shift must be at least window + 2 * max_lag = {span} samples, got {shifts}")
        # Offset +shift pairs the patient with the therapist's data from `shift` samples
        # later, -shift with the therapist's data from `shift` samples earlier.
        self._engines = [
            LaggedCrossCorrelation(window, max_lag, lag_step, offset=sign * shift)
            for shift in shifts
            for sign in (-1, 1)
        ]
        self._peak = peak
        self._peak_span = peak_span
        self._values: deque[float] = deque(maxlen=size)
        self._quantile = quantile
        self._min_count = min_count

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append the same paired samples the real measure gets."""
        for engine in self._engines:
            engine.extend(x, y)

    def update(self) -> None:
        """Add the current surrogate peak values to the baseline (call once per report)."""
        for engine in self._engines:
            r = engine.correlations()
            if r is None:
                continue
            peak = pick_peak(r, self._peak, self._peak_span)
            if peak is not None:
                self._values.append(float(r[peak]))

    @property
    def count(self) -> int:
        """Surrogate peak values currently in the baseline."""
        return len(self._values)

    def quantile(self, q: float) -> float | None:
        """A quantile of the surrogate peak r, or None while the baseline is still filling."""
        if len(self._values) < self._min_count:
            return None
        return float(np.quantile(np.fromiter(self._values, float), q))

    def chance_r(self) -> float | None:
        """The chance level: the baseline's configured quantile (None while filling)."""
        return self.quantile(self._quantile)
