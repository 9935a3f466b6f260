"""An acoustic arousal index per speech unit, from pitch, intensity and energy.

Raised vocal arousal shows as higher pitch, louder speech and more energy in
the upper spectrum (Juslin & Laukka 2003; Bachorowski 1999). Per unit we take

* pitch: median F0 of voiced frames, in semitones re 100 Hz (autocorrelation
  pitch on 40 ms frames, 60–400 Hz);
* intensity: mean frame RMS level, dB;
* energy: share of energy above 1 kHz, dB (vocal effort).

Each is standardised against the same speaker's running baseline (the mean and
spread of their earlier units, Welford's algorithm), the z-scores are averaged
and squashed with tanh to [−1, 1]. Until the baseline holds ``warmup`` units
the index is 0 (no evidence of a change from the speaker's usual voice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME = 640  # 40 ms at 16 kHz
HOP = 160  # 10 ms
F0_MIN, F0_MAX = 60.0, 400.0
#: Normalised autocorrelation peak that makes a frame voiced.
VOICING = 0.45


@dataclass(frozen=True)
class Prosody:
    """The unit's measures (NaN pitch if no frame was voiced)."""

    pitch_st: float
    intensity_db: float
    energy_db: float

    def vector(self) -> np.ndarray:
        """(pitch, intensity, energy) as an array."""
        return np.array([self.pitch_st, self.intensity_db, self.energy_db])


def _frames(signal: np.ndarray) -> np.ndarray:
    if signal.size < FRAME:
        signal = np.pad(signal, (0, FRAME - signal.size))
    frames = np.lib.stride_tricks.sliding_window_view(signal, FRAME)[::HOP]
    return frames - frames.mean(axis=1, keepdims=True)


def pitch_track(frames: np.ndarray, rate: int) -> np.ndarray:
    """F0 per frame in Hz (NaN where unvoiced), by normalised autocorrelation."""
    window = np.hanning(FRAME)
    spectrum = np.fft.rfft(frames * window, n=2 * FRAME, axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :FRAME]
    # Correct for the window's own autocorrelation so peaks at long lags are not penalised.
    win_acf = np.fft.irfft(np.abs(np.fft.rfft(window, n=2 * FRAME)) ** 2)[:FRAME]
    acf = acf / np.maximum(acf[:, :1], 1e-12) / (win_acf / win_acf[0])
    lo, hi = int(rate / F0_MAX), int(rate / F0_MIN)
    search = acf[:, lo:hi]
    # The first peak close to the highest one is the period (later ones are its multiples).
    first = np.argmax(search >= 0.85 * search.max(axis=1, keepdims=True), axis=1)
    near = np.minimum(first[:, None] + np.arange(lo), hi - lo - 1)
    lag = lo + near[np.arange(len(near)), np.argmax(np.take_along_axis(search, near, axis=1), axis=1)]
    peak = acf[np.arange(len(acf)), lag]
    return np.where(peak >= VOICING, rate / lag, np.nan)


def prosody(signal: np.ndarray, rate: int = 16000) -> Prosody:
    """Pitch, intensity and high-band energy of one unit's samples."""
    frames = _frames(np.asarray(signal, np.float64))
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = rms > rms.max() * 0.1  # ignore the quiet edges of the unit
    f0 = pitch_track(frames[loud], rate)
    voiced = f0[np.isfinite(f0)]
    power = np.abs(np.fft.rfft(frames[loud], axis=1)) ** 2
    high = power[:, int(1000 * FRAME / rate) :].sum()
    return Prosody(
        pitch_st=float(12 * np.log2(np.median(voiced) / 100.0)) if voiced.size else float("nan"),
        intensity_db=float(20 * np.log10(np.mean(rms[loud]) + 1e-9)),
        energy_db=float(10 * np.log10((high + 1e-12) / (power.sum() + 1e-12))),
    )


class ArousalBaseline:
    """A speaker's running baseline of prosody, and the arousal index against it."""

    def __init__(self, warmup: int = 3, min_spread: tuple[float, float, float] = (1.0, 2.0, 1.0)):
        self.warmup = warmup
        self._n = np.zeros(3)
        self._mean = np.zeros(3)
        self._m2 = np.zeros(3)
        self._min_spread = np.asarray(min_spread)

    def arousal(self, measures: Prosody) -> float:
        """The index of this unit against the baseline so far; then the unit joins it.

        Only measures with ``warmup`` earlier values count (pitch is missing
        from units with no voiced frame).
        """
        x = measures.vector()
        ready = (self._n >= self.warmup) & np.isfinite(x)
        index = 0.0
        if ready.any():
            spread = np.maximum(np.sqrt(self._m2 / np.maximum(self._n - 1, 1)), self._min_spread)
            index = float(np.tanh(np.mean(((x - self._mean) / spread)[ready])))
        finite = np.isfinite(x)
        self._n[finite] += 1
        delta = x[finite] - self._mean[finite]
        self._mean[finite] += delta / self._n[finite]
        self._m2[finite] += delta * (x[finite] - self._mean[finite])
        return index
