"""Electrodermal activity: tonic level, phasic component and skin-conductance responses, live.

NeuroKit2's default (``eda_process``) cleans EDA with a 3 Hz low-pass
Butterworth (order 4, zero-phase; skipped at 6 Hz or less), splits it with its
``"highpass"`` decomposition -- phasic = 0.05 Hz high-pass, tonic = 0.05 Hz
low-pass (Butterworth, order 2, zero-phase) -- and finds SCRs as the peaks
of the phasic signal whose prominence is at least 10 % of the largest in the
recording, each with its onset at the nearest trough before it.

:class:`EDAProcessor` runs the same filters causally, with kept state (so the
output does not depend on how the stream is chunked), and finds SCRs with
:class:`SCRDetector` as they complete:

* a response is a rise of the phasic signal from a trough to a peak; its
  onset is where the rise gets going -- the first sample whose slope reaches
  ``onset_slope_fraction`` (20 %) of the steepest slope of that rise -- so
  that a slow drift into the rise (the causal high-pass's undershoot after an
  earlier response) does not count as part of it;
* it counts if it rose within ``max_rise_s`` (4 s; SCR rise times are 1-3 s,
  Boucsein 2012) and its amplitude (peak minus onset) is at least
  ``amplitude_min_us`` (0.05 µS) and ``relative_min`` (10 %) of the largest
  response of the last ``relative_memory_s`` (5 min): NeuroKit2's relative
  rule, made causal;
* it is reported when the phasic signal first falls after the peak.

Features (per person):

* ``Feature("eda", role, t, {"tonic_us", "phasic_us", "quality"})`` at
  ``eda_hz`` (4 Hz) of data time -- the phasic value is what EDA synchrony
  uses;
* ``Feature("scr", role, t=peak_t, {"onset_t", "peak_t", "amplitude_us",
  "rise_time_s", "quality"})`` per response;
* ``Feature("scr_rate", role, t, {"per_min", "window_s", "quality"})`` every
  ``hop_s`` (1 s): responses that peaked in the last ``rate_window_s`` (60 s)
  per minute (over the time observed, until a full window has been).

``quality`` is the stream's :class:`~.quality.QualityMonitor` verdict
(``"good"``/``"poor"``) at that time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.physio._filters import StreamingSOSFilter
from dyadscope.stream.processors.physio.quality import QualityTrack
from dyadscope.stream.processors.ticks import ForwardFill, Ticker, contiguous_runs
from dyadscope.stream.ring import RingBuffer
from dyadscope.stream.types import Chunk, Feature, StreamInfo


@dataclass(frozen=True, slots=True)
class SCR:
    """One skin-conductance response, reported at ``found_t``."""

    onset_t: float
    peak_t: float
    amplitude_us: float
    found_t: float

    @property
    def rise_time_s(self) -> float:
        """Onset to peak."""
        return self.peak_t - self.onset_t


@dataclass(frozen=True)
class SCRConfig:
    """What counts as a skin-conductance response: size (µS, relative) and rise (s)."""

    amplitude_min_us: float = 0.05
    relative_min: float = 0.1
    relative_memory_s: float = 300.0
    onset_slope_fraction: float = 0.2
    max_rise_s: float = 4.0


class SCRDetector:
    """Skin-conductance responses in a stream of phasic EDA samples (µS)."""

    def __init__(self, rate: float, config: SCRConfig = SCRConfig()):
        self.config = config
        max_rise_s = config.max_rise_s
        # a rise is judged on its last 2 * max_rise_s at most
        self._history = RingBuffer(max(4, int(np.ceil(2 * max_rise_s * rate))), channels=2)
        self._recent: deque[SCR] = deque()
        self.reset()

    def reset(self) -> None:
        """Forget the signal (e.g. after a gap); the memory of response sizes stays."""
        self._history.clear()
        self._last: float | None = None
        self._rising = False
        self._trough_index = 0  # absolute index (history.total) of the rise's start

    def feed(self, t: np.ndarray, x: np.ndarray) -> list[SCR]:
        """Take the next phasic samples; return the responses completed by them."""
        n = x.shape[0]
        if n == 0:
            return []
        base = self._history.total
        self._history.extend(np.column_stack((t, x)))
        previous = np.concatenate(([x[0] if self._last is None else self._last], x))
        up = np.diff(previous) > 0
        state = np.concatenate(([self._rising], up))
        turns = np.flatnonzero(state[1:] != state[:-1])
        out: list[SCR] = []
        for i in turns:
            if up[i]:
                self._trough_index = base + i - 1  # the sample before the first rise
            else:
                scr = self._response(base + i - 1, float(t[i]))
                if scr is not None:
                    out.append(scr)
        self._rising = bool(up[-1])
        self._last = float(x[-1])
        return out

    def _response(self, peak_index: int, found_t: float) -> SCR | None:
        """Judge the rise that ended at ``peak_index`` (absolute)."""
        start = max(self._trough_index, self._history.total - len(self._history))
        rise = self._history.since(start)[: peak_index - start + 1]
        if rise.shape[0] < 2:
            return None
        slope = np.diff(rise[:, 1])
        onset = int(np.argmax(slope >= self.config.onset_slope_fraction * slope.max()))
        onset_t, onset_v = rise[onset]
        peak_t, peak_v = rise[-1]
        amplitude = float(peak_v - onset_v)
        while self._recent and self._recent[0].peak_t < peak_t - self.config.relative_memory_s:
            self._recent.popleft()
        largest = max((r.amplitude_us for r in self._recent), default=0.0)
        if peak_t - onset_t > self.config.max_rise_s or amplitude < max(
            self.config.amplitude_min_us, self.config.relative_min * largest
        ):
            return None
        scr = SCR(float(onset_t), float(peak_t), amplitude, found_t)
        self._recent.append(scr)
        return scr


@dataclass(frozen=True)
class EDAConfig:
    """Tonic/phasic split (Hz), output cadences (Hz, s), SCR-rate window and gap (s), and SCRs."""

    cutoff_hz: float = 0.05
    eda_hz: float = 4.0
    hop_s: float = 1.0
    rate_window_s: float = 60.0
    gap_s: float = 2.0
    scr: SCRConfig = SCRConfig()


class EDAProcessor:
    """Tonic, phasic, SCRs and SCR rate from one EDA stream (first channel, µS).

    A gap in the timestamps longer than ``gap_s`` (:class:`EDAConfig`)
    restarts the filters (from the first sample back, so no step transient)
    and the SCR detector. ``quality`` (a :class:`~.quality.QualityTrack`,
    shared with the stream's :class:`~.quality.QualityProcessor`) marks the
    features; by default its own.
    """

    def __init__(self, info: StreamInfo, config: EDAConfig = EDAConfig(), *, quality: QualityTrack | None = None):
        self.info = info
        self.config = config
        rate = info.nominal_rate
        # NeuroKit2 skips cleaning at 6 Hz or less (its low-pass would not fit)
        self._clean = StreamingSOSFilter.butter(rate, high=3.0, order=4) if rate > 6 else None
        self._tonic = StreamingSOSFilter.butter(rate, high=config.cutoff_hz, order=2)
        self._phasic = StreamingSOSFilter.butter(rate, low=config.cutoff_hz, order=2)
        self._detector = SCRDetector(rate, config.scr)
        self._fill = ForwardFill()
        self._eda_ticker = Ticker(1.0 / config.eda_hz)
        self._rate_ticker = Ticker(config.hop_s)
        self.quality = quality if quality is not None else QualityTrack(info)
        self._recent: deque[SCR] = deque()
        self._first_t: float | None = None
        self._last_t: float | None = None

    def process(self, chunk: Chunk) -> list[Feature]:
        """Consume the next chunk; return eda, scr and scr_rate features."""
        if len(chunk) == 0:
            return []
        self.quality.update(chunk)
        x = self._fill(chunk.values[:, 0])
        finite = np.isfinite(x)
        t, x = chunk.timestamps[finite], x[finite]
        if t.shape[0] == 0:
            return []
        if self._first_t is None:
            self._first_t = float(t[0])
        tonic = np.empty_like(x)
        phasic = np.empty_like(x)
        scrs: list[SCR] = []
        for run in contiguous_runs(t, self.config.gap_s):
            if self._last_t is not None and t[run.start] - self._last_t > self.config.gap_s:
                for f in (self._clean, self._tonic, self._phasic):
                    if f is not None:
                        f.reset()
                self._detector.reset()
            clean = x[run] if self._clean is None else self._clean(x[run])
            tonic[run] = self._tonic(clean)
            phasic[run] = self._phasic(clean)
            scrs += self._detector.feed(t[run], phasic[run])
            self._last_t = float(t[run.stop - 1])
        return self._features(t, tonic, phasic, scrs)

    def _features(self, t: np.ndarray, tonic: np.ndarray, phasic: np.ndarray, scrs: list[SCR]) -> list[Feature]:
        """eda, scr and scr_rate features in the order they became known (an SCR at ``found_t``)."""
        role = self.info.role
        due = [(float(t[i]), i, kinds.EDA) for i in self._eda_ticker.due(t)]
        due += [(float(t[i]), i, kinds.SCR_RATE) for i in self._rate_ticker.due(t)]
        due.sort()
        out: list[Feature] = []
        pending = deque(scrs)
        for now, i, kind in due:
            while pending and pending[0].found_t <= now:
                out.append(self._scr_feature(pending[0]))
                self._recent.append(pending.popleft())
            if kind == kinds.EDA:
                data = {"tonic_us": float(tonic[i]), "phasic_us": float(phasic[i]), "quality": self.quality.at(now)}
                out.append(Feature(kinds.EDA, role, now, data))
            else:
                out.append(self._rate(now))
        out += [self._scr_feature(s) for s in pending]
        self._recent.extend(pending)
        return out

    def _scr_feature(self, scr: SCR) -> Feature:
        return Feature(
            kinds.SCR,
            self.info.role,
            scr.peak_t,
            {
                "onset_t": scr.onset_t,
                "peak_t": scr.peak_t,
                "amplitude_us": scr.amplitude_us,
                "rise_time_s": scr.rise_time_s,
                "quality": self.quality.at(scr.found_t),
            },
        )

    def _rate(self, now: float) -> Feature:
        while self._recent and self._recent[0].peak_t <= now - self.config.rate_window_s:
            self._recent.popleft()
        observed = min(self.config.rate_window_s, max(now - self._first_t, 1.0))
        return Feature(
            kinds.SCR_RATE,
            self.info.role,
            now,
            {
                "per_min": 60.0 * len(self._recent) / observed,
                "window_s": self.config.rate_window_s,
                "quality": self.quality.at(now),
            },
        )
