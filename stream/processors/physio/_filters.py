"""Causal filters that keep their state between chunks.

Every physiological processor (ECG, respiration, EDA) cleans its signal with
filters that run chunk by chunk: the state carried between calls makes the
output identical to filtering the whole recording at once, whatever the chunk
size, at a cost proportional to the new samples only.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

try:
    # The compiled kernel behind ``sosfilt``: the public wrapper's validation
    # costs ~25 us a call, ten times the filtering of a 0.1 s chunk.
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_kernel
except ImportError:  # a SciPy that moved it: the public function does the same
    _sosfilt_kernel = None


class StreamingSOSFilter:
    """An IIR filter in second-order sections (``scipy.signal.sosfilt``) with kept state.

    Filters along axis 0: 1-D input is one channel, ``(n, channels)`` input
    is that many channels filtered independently (keep the channel count).
    The first sample after construction or :meth:`reset` sets the state to
    the filter's steady state for that value, so a signal that starts (or
    restarts after a gap) at an offset produces no step transient.
    """

    def __init__(self, sos: np.ndarray):
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self._zi_unit = sps.sosfilt_zi(self.sos)  # (sections, 2) for a unit step
        self._zi: np.ndarray | None = None  # (signals, sections, 2), the kernel's layout

    @classmethod
    def butter(
        cls,
        rate: float,
        *,
        low: float | None = None,
        high: float | None = None,
        order: int = 2,
    ) -> StreamingSOSFilter:
        """A Butterworth high-pass (``low``), low-pass (``high``) or band-pass (both), in Hz.

        A ``high`` cut-off at or above 45 % of the sample rate is lowered to
        it, so one set of cut-offs works from 100 Hz to kHz recordings.
        """
        if high is not None:
            high = min(high, 0.45 * rate)
        if low is not None and high is not None:
            sos = sps.butter(order, (low, high), btype="bandpass", fs=rate, output="sos")
        elif low is not None:
            sos = sps.butter(order, low, btype="highpass", fs=rate, output="sos")
        elif high is not None:
            sos = sps.butter(order, high, btype="lowpass", fs=rate, output="sos")
        else:
            raise ValueError("give a low cut-off, a high cut-off or both")
        return cls(sos)

    def reset(self) -> None:
        """Forget the state; the next sample re-initialises it (e.g. after a gap)."""
        self._zi = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter the next samples (oldest first) and return the filtered samples."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return x.copy()
        signals = np.array(x.reshape(x.shape[0], -1).T, order="C")  # (signals, n), a fresh copy
        if self._zi is None:
            self._zi = self._zi_unit[None, :, :] * signals[:, 0, None, None]
        if _sosfilt_kernel is not None:
            _sosfilt_kernel(self.sos, signals, self._zi)  # in place, state included
        else:
            signals, zi = sps.sosfilt(self.sos, signals, axis=-1, zi=self._zi.transpose(1, 0, 2))
            self._zi = np.ascontiguousarray(zi.transpose(1, 0, 2))
        return signals.T.reshape(x.shape)


class MovingAverage:
    """Causal boxcar mean over the last ``size`` samples of a 1-D stream.

    Until ``size`` samples have been seen (at the start or after
    :meth:`reset`) it averages over those available. Each output is a fresh
    sum over its window (not a running sum), so it does not drift over a long
    session and does not depend on how the stream was chunked.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = int(size)
        self._kernel = np.ones(self.size)
        self._tail = np.empty(0)

    def reset(self) -> None:
        """Forget the history (e.g. after a gap)."""
        self._tail = np.empty(0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Means of the windows ending at each new sample."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        if n == 0:
            return x.copy()
        held = self._tail.shape[0]
        history = np.concatenate((self._tail, x))
        self._tail = history[max(0, history.shape[0] - (self.size - 1)) :]
        if held == self.size - 1:  # the usual case: a full window behind every sample
            return np.convolve(history, self._kernel, mode="valid") / self.size
        padded = np.concatenate((np.zeros(self.size - 1 - held), history))
        sums = np.convolve(padded, self._kernel, mode="valid")
        return sums / np.minimum(np.arange(held + 1, held + n + 1), self.size)
