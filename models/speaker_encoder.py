"""Speaker embeddings of 16 kHz speech with the converted Resemblyzer encoder.

Resemblyzer's front end, in numpy: the signal is raised to −30 dBFS RMS when
quieter (never lowered), framed into a mel power spectrogram (400-sample Hann
window = 25 ms, 160-sample hop = 10 ms, centred with zero padding, 40 Slaney
mel bands over 0–8 kHz, as ``librosa.feature.melspectrogram``), cut into
partial utterances of 160 frames (1.6 s) every 77 frames (Resemblyzer's rate
of 1.3 partials per second, about 50 % overlap; a last partial under 75 %
covered is dropped unless it is the only one). The embedding of the speech
is the L2-normalised mean of the partials' embeddings.
"""

from __future__ import annotations

import numpy as np

from dyadscope.models.manifest import Manifest
from dyadscope.models.runtime import ModelSession

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 40
PARTIAL_FRAMES = 160
PARTIAL_STEP = int(round(SAMPLE_RATE / 1.3 / HOP))
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0
_INT16_MAX = 2**15 - 1


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, 3.0 * f / 200.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), 200.0 * m / 3.0)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-normalised triangular mel filters, [n_mels, 1 + n_fft // 2] (librosa's default)."""
    fft_hz = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]


_FILTERS = mel_filterbank().astype(np.float32)
_WINDOW = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def normalise_volume(signal: np.ndarray) -> np.ndarray:
    """``signal`` raised to −30 dBFS RMS if quieter (Resemblyzer's ``increase_only``)."""
    rms = float(np.sqrt(np.mean((signal.astype(np.float64) * _INT16_MAX) ** 2)))
    if rms <= 0.0:
        return signal
    change_db = TARGET_DBFS - 20.0 * np.log10(rms / _INT16_MAX)
    return signal * np.float32(10 ** (change_db / 20.0)) if change_db > 0 else signal


def mel_frames(signal: np.ndarray) -> np.ndarray:
    """Mel power frames of 16 kHz samples, [1 + n // 160, 40] float32."""
    padded = np.pad(np.asarray(signal, np.float32), N_FFT // 2)
    n_frames = 1 + (padded.size - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    spectrum = np.abs(np.fft.rfft(padded[idx] * _WINDOW, axis=1)) ** 2
    return (spectrum.astype(np.float32) @ _FILTERS.T).astype(np.float32)


def partial_starts(n_samples: int) -> list[int]:
    """First mel frame of each 160-frame partial of ``n_samples`` samples (Resemblyzer's slicing)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + PARTIAL_STEP + 1), PARTIAL_STEP))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts


def partial_mels(signal: np.ndarray) -> np.ndarray:
    """The partial utterances of ``signal`` as mel frames, [n_partials, 160, 40]."""
    signal = normalise_volume(np.asarray(signal, np.float32))
    starts = partial_starts(signal.size)
    needed = (starts[-1] + PARTIAL_FRAMES) * HOP
    if needed >= signal.size:
        signal = np.pad(signal, (0, needed - signal.size))
    mel = mel_frames(signal)
    return np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])


class SpeakerEncoder:
    """256-d speaker embeddings from a model under the ``speaker_encoder`` contract."""

    def __init__(self, session: ModelSession, manifest: Manifest):
        if manifest.contract != "speaker_encoder":
            raise ValueError(f"{manifest.name}: contract {manifest.contract!r} is not the speaker encoder contract")
        self.session = session
        self.manifest = manifest

    def partials(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings of partial utterances ``mels`` [n, frames, 40] → [n, 256]."""
        return self.session.run({self.manifest.input_name: np.asarray(mels, np.float32)})["embedding"]

    def embed(self, signal: np.ndarray) -> np.ndarray:
        """The L2-normalised embedding of 16 kHz mono speech (any length), [256]."""
        mean = self.partials(partial_mels(signal)).mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)
