"""Respiration: breaths and breathing rate from the RSP stream, as they happen.

NeuroKit2's default (``rsp_process``, method ``"khodadad2018"``) cleans the
signal with a 0.05-3 Hz Butterworth band-pass (order 2, zero-phase), takes one
extremum between each pair of zero crossings, drops extrema whose vertical
distance to the next one is below 0.3 times the median such distance, drops
extrema that do not alternate (the middle of a monotonic run), and reads the
rest as troughs (inhalation onsets) and peaks (end of inhalation).

:class:`BreathDetector` does the same sample by sample, on a causal version
of that band-pass:

* a causal high-pass shifts the broad troughs of a breath by up to half a
  second (its phase lead grows towards 0.05 Hz), which moves beats between
  phases and biased RSA by 10 %; so the zero crossings and sizes come from
  the band-passed signal but each extremum is *placed* on the 3 Hz low-passed
  signal (no high-pass), whose delay is a near-constant 0.07 s. With these
  breaths and NeuroKit2's own R-peaks, RSA peak-to-trough is within 2.5 % of
  NeuroKit2's on its example recordings;
* the median distance is over the last ``median_memory`` distances instead
  of the whole recording;
* an extremum is settled once the next zero crossing ends its half-cycle,
  kept once the next extremum shows its distance, and accepted once the one
  after that shows it alternates, so a breath (trough -> peak -> trough) is
  reported about one and a half breaths after its onset.

A breath's inhalation is ``onset_t -> peak_t`` and its exhalation
``peak_t -> next_onset_t``: the phase boundaries RSA peak-to-trough needs.
:class:`BreathDetector` works on any zero-mean oscillation, so the RSA
processor reuses it for ECG-derived respiration.

Features (per person):

* ``Feature("breath", role, t=onset_t, {"onset_t", "peak_t", "next_onset_t",
  "duration_s", "depth", "quality"})`` per breath (``depth`` in the
  stream's units: peak minus onset of the cleaned signal);
* ``Feature("breathing_rate", role, t, {"rate_bpm", "breaths", "quality"})``
  every ``hop_s`` (1 s) of data: breaths per minute over the breaths that ended
  in the last ``rate_window_s`` (``None`` when there were none), ``"poor"``
  when the signal is poor or the rate implausible.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.physio._filters import StreamingSOSFilter
from dyadscope.stream.processors.physio.quality import QualityTrack
from dyadscope.stream.processors.ticks import ForwardFill, Ticker, contiguous_runs
from dyadscope.stream.types import Chunk, Feature, StreamInfo


@dataclass(frozen=True, slots=True)
class Breath:
    """One respiratory cycle: inhalation onset -> peak -> next onset, found at ``found_t``."""

    onset_t: float
    peak_t: float
    next_onset_t: float
    depth: float
    found_t: float

    @property
    def duration_s(self) -> float:
        """Onset to next onset."""
        return self.next_onset_t - self.onset_t


class BreathDetector:
    """NeuroKit2's Khodadad et al. (2018) breath extrema, on a stream of zero-mean samples.

    Feed consecutive blocks of the cleaned (band-passed) signal with their
    timestamps; each call returns the breaths it completed.
    """

    def __init__(self, amplitude_min: float = 0.3, median_memory: int = 20):
        self.amplitude_min = amplitude_min
        self.median_memory = median_memory
        self.reset()

    def reset(self) -> None:
        """Forget everything (e.g. after a gap in the signal)."""
        self._sign = 0.0  # sign of the last non-zero sample
        self._tracking = False  # past the first zero crossing
        self._ext: tuple[float, float] | None = None  # (t, value) of this half-cycle's extremum
        self._ext_at = 0.0  # its value in the locating signal
        self._raw: tuple[float, float] | None = None  # last extremum, awaiting its distance
        self._distances: deque[float] = deque(maxlen=self.median_memory)
        self._kept: list[tuple[float, float]] = []  # last two kept extrema, awaiting alternation
        self._survivor: tuple[float, float] | None = None
        self._first_survivor: tuple[float, float] | None = None
        self._onset: tuple[float, float] | None = None
        self._peak: tuple[float, float] | None = None

    def feed(self, t: np.ndarray, x: np.ndarray, locate: np.ndarray | None = None) -> list[Breath]:
        """Take the next samples; return the breaths completed by them.

        ``x`` (zero-mean) sets the zero crossings and the extrema's sizes;
        ``locate`` (default ``x``), a version of the same signal with less
        phase distortion, sets where in each half-cycle the extremum lies.
        """
        if x.shape[0] == 0:
            return []
        if locate is None:
            locate = x
        signs = np.sign(x)
        signs[signs == 0] = np.nan
        held = np.concatenate(([self._sign if self._sign else np.nan], signs))
        # carry the last non-zero sign over zeros, so a zero sample is no crossing
        idx = np.where(np.isnan(held), 0, np.arange(held.shape[0]))
        np.maximum.accumulate(idx, out=idx)
        held = held[idx]
        crossings = np.flatnonzero((held[1:] != held[:-1]) & ~np.isnan(held[:-1]) & ~np.isnan(held[1:]))
        breaths: list[Breath] = []
        start = 0
        for c in crossings:
            self._track(t[start:c], x[start:c], locate[start:c])
            if self._tracking and self._ext is not None:
                breaths.extend(self._extremum(*self._ext, found_t=float(t[c])))
            self._tracking = True
            self._ext = None
            self._rising = held[c + 1] > 0
            start = c
        self._track(t[start:], x[start:], locate[start:])
        if not np.isnan(held[-1]):
            self._sign = float(held[-1])
        return breaths

    def _track(self, t: np.ndarray, x: np.ndarray, locate: np.ndarray) -> None:
        if not self._tracking or x.shape[0] == 0:
            return
        i = int(np.argmax(locate)) if self._rising else int(np.argmin(locate))
        at = float(locate[i])
        if self._ext is None or (at > self._ext_at if self._rising else at < self._ext_at):
            self._ext = (float(t[i]), float(x[i]))
            self._ext_at = at

    def _extremum(self, t: float, v: float, found_t: float) -> list[Breath]:
        """A raw extremum: keep the previous one if its distance to this one is large enough."""
        previous, self._raw = self._raw, (t, v)
        if previous is None:
            return []
        distance = abs(v - previous[1])
        self._distances.append(distance)
        if distance <= self.amplitude_min * float(np.median(self._distances)):
            return []
        return self._kept_extremum(previous, found_t)

    def _kept_extremum(self, point: tuple[float, float], found_t: float) -> list[Breath]:
        """A kept extremum: the one before it survives unless it sits mid-way in a monotonic run."""
        kept = self._kept
        kept.append(point)
        if len(kept) == 1:
            return self._survive(point, found_t)
        if len(kept) < 3:
            return []
        before, middle, after = kept
        del kept[0]
        if np.sign(middle[1] - before[1]) + np.sign(after[1] - middle[1]) != 0:
            return []
        return self._survive(middle, found_t)

    def _survive(self, point: tuple[float, float], found_t: float) -> list[Breath]:
        """A surviving extremum: a trough if below the survivor before it, else a peak."""
        previous, self._survivor = self._survivor, point
        if previous is None:
            self._first_survivor = point
            return []
        out: list[Breath] = []
        if self._first_survivor is not None:
            first, self._first_survivor = self._first_survivor, None
            if first[1] < point[1]:
                out += self._trough(first, found_t)
        if point[1] < previous[1]:
            out += self._trough(point, found_t)
        elif self._onset is not None:
            self._peak = point
        return out

    def _trough(self, point: tuple[float, float], found_t: float) -> list[Breath]:
        onset, peak = self._onset, self._peak
        self._onset, self._peak = point, None
        if onset is None or peak is None:
            return []
        return [Breath(onset[0], peak[0], point[0], peak[1] - onset[1], found_t)]


@dataclass(frozen=True)
class RespirationConfig:
    """Breath detection band (Hz) and depth, breathing-rate window and cadence (s), plausible rates."""

    band_hz: tuple[float, float] = (0.05, 3.0)
    amplitude_min: float = 0.3
    rate_window_s: float = 30.0
    hop_s: float = 1.0
    gap_s: float = 2.0
    plausible_bpm: tuple[float, float] = (4.0, 40.0)


class RespirationProcessor:
    """Breaths and breathing rate from one RSP stream (first channel).

    A gap in the timestamps longer than ``gap_s`` (:class:`RespirationConfig`)
    restarts the cleaning filter and the detector, so no breath spans missing
    data. ``quality`` (a :class:`~.quality.QualityTrack`, shared with the
    stream's :class:`~.quality.QualityProcessor`) marks the features; by
    default its own.
    """

    def __init__(
        self, info: StreamInfo, config: RespirationConfig = RespirationConfig(), *, quality: QualityTrack | None = None
    ):
        self.info = info
        self.config = config
        band = config.band_hz
        self._filter = StreamingSOSFilter.butter(info.nominal_rate, low=band[0], high=band[1], order=2)
        self._locator = StreamingSOSFilter.butter(info.nominal_rate, high=band[1], order=2)
        self._detector = BreathDetector(amplitude_min=config.amplitude_min)
        self._fill = ForwardFill()
        self._ticker = Ticker(config.hop_s)
        self.quality = quality if quality is not None else QualityTrack(info)
        self._recent: deque[Breath] = deque()
        self._last_t: float | None = None

    def process(self, chunk: Chunk) -> list[Feature]:
        """Consume the next chunk; return breath and breathing-rate features."""
        t = chunk.timestamps
        if t.shape[0] == 0:
            return []
        self.quality.update(chunk)
        x = self._fill(chunk.values[:, 0])
        finite = np.isfinite(x)
        t, x = t[finite], x[finite]
        breaths: list[Breath] = []
        for run in contiguous_runs(t, self.config.gap_s):
            if self._last_t is not None and t[run.start] - self._last_t > self.config.gap_s:
                self._filter.reset()
                self._locator.reset()
                self._detector.reset()
            breaths += self._detector.feed(t[run], self._filter(x[run]), self._locator(x[run]))
            self._last_t = float(t[run.stop - 1])
        return self._features(breaths, chunk.timestamps)

    def _features(self, breaths: list[Breath], t: np.ndarray) -> list[Feature]:
        """Breaths and rates in the order they became known (a breath at ``found_t``)."""
        out: list[Feature] = []
        pending = deque(breaths)
        for i in self._ticker.due(t):
            now = float(t[i])
            while pending and pending[0].found_t <= now:
                out.append(self._breath(pending[0]))
                self._recent.append(pending.popleft())
            out.append(self._rate(now))
        out += [self._breath(b) for b in pending]
        self._recent.extend(pending)
        return out

    def _breath(self, b: Breath) -> Feature:
        data = {
            "onset_t": b.onset_t,
            "peak_t": b.peak_t,
            "next_onset_t": b.next_onset_t,
            "duration_s": b.duration_s,
            "depth": b.depth,
            "quality": self.quality.at(b.found_t),
        }
        return Feature(kinds.BREATH, self.info.role, b.onset_t, data)

    def _rate(self, now: float) -> Feature:
        while self._recent and self._recent[0].next_onset_t < now - self.config.rate_window_s:
            self._recent.popleft()
        counted = self._recent
        rate = 60.0 * len(counted) / sum(b.duration_s for b in counted) if counted else None
        plausible = rate is not None and self.config.plausible_bpm[0] <= rate <= self.config.plausible_bpm[1]
        quality = self.quality.at(now) if plausible else "poor"
        return Feature(
            kinds.BREATHING_RATE,
            self.info.role,
            now,
            {"rate_bpm": rate, "breaths": len(counted), "quality": quality},
        )
