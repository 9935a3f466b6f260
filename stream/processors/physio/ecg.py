"""ECG → R-peaks → inter-beat intervals → heart rate, chunk by chunk.

:class:`HeartRateProcessor` is the live ECG processor: it feeds channel 0 of
each chunk to a :class:`~._rpeaks.RPeakDetector` and emits

* ``Feature("rpeak", role, t, {"ibi_ms": float | None})`` for every beat, at
  the timestamp of the R-peak sample; ``ibi_ms`` is the interval to the
  previous beat (None for the first beat and the first after a gap);
* ``Feature("heart_rate", role, t, {"bpm", "ibi_ms", "beats", "quality",
  "reason"})`` once per ``hop_s`` seconds of data, on the data's own grid
  (:class:`~.ticks.Ticker`: at the first sample at or after each multiple
  of ``hop_s``, whatever the chunking), once a first interval is known.
  ``ibi_ms`` is the median of the intervals of the beats in the last
  ``window_s`` seconds and ``bpm`` is 60000 / ``ibi_ms`` (the median resists
  a missed or extra beat); ``beats`` is the number of beats in that window.
  ``quality`` is ``"good"`` or ``"poor"``; ``reason`` is None or the first
  that applies of :data:`REASONS`, which include the stream's signal-quality
  problems (:mod:`.quality`: flat, noisy ...). While no interval falls in the
  window (no beat, or a long dropout), the last known rate is repeated,
  marked ``"poor"``, so the monitor sees why.

Missing samples (NaN values or timestamps) are a gap: nothing is detected
inside, and detection restarts after it (filters re-initialised at the first
sample back, so the gap leaves no trace in the state). A step in the
timestamps longer than ``max_step_s`` seconds, or backwards, is a gap too.

:func:`ecg_rpeaks` runs the same processor over a recording in chunks, for
tests and offline use.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.physio._rpeaks import RPeakDetector
from dyadscope.stream.processors.physio.quality import PROBLEMS, QualityTrack
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.ring import RingBuffer
from dyadscope.stream.types import Chunk, Feature, Role, StreamInfo

#: Why a heart rate is marked poor, most serious first: no beats, missing
#: samples, the stream's own signal-quality problems, then the rate itself.
REASONS = {
    "no_beat": "no beat for longer than max_beat_gap_s (or twice the usual interval)",
    "dropout": "missing samples in the window",
    **PROBLEMS,
    "implausible_rate": "rate outside min_bpm..max_bpm",
    "irregular": "over a fifth of the intervals more than 30 % off their median",
}


@dataclass(frozen=True)
class HeartRateConfig:
    """Heart-rate cadence, window and what makes a rate poor (seconds, beats per minute)."""

    hop_s: float = 1.0
    window_s: float = 8.0
    max_beat_gap_s: float = 3.0
    min_bpm: float = 30.0
    max_bpm: float = 220.0
    max_step_s: float = 0.5


class HeartRateProcessor:
    """Beats and heart rate from one ECG stream (channel 0), incrementally.

    ``window_s`` seconds of beats make each heart rate; ``max_beat_gap_s``
    seconds without a beat, a gap in the window, a poor signal, a rate
    outside ``min_bpm``..``max_bpm`` or wildly irregular intervals make it
    ``"poor"`` (:class:`HeartRateConfig`). ``quality`` (a
    :class:`~.quality.QualityTrack`, shared with the stream's
    :class:`~.quality.QualityProcessor`) judges the signal; by default its own.
    """

    def __init__(
        self, info: StreamInfo, config: HeartRateConfig = HeartRateConfig(), *, quality: QualityTrack | None = None
    ):
        self.info = info
        self.config = config
        self.quality = quality if quality is not None else QualityTrack(info)
        self._ticker = Ticker(config.hop_s)
        self._detector = RPeakDetector(info.nominal_rate)
        # Detect in blocks of at most a second, well inside the detector's history.
        self._block = max(1, int(round(info.nominal_rate)))
        self._times = RingBuffer(self._detector.history)
        self._beats: deque[tuple[float, float | None]] = deque()  # (t, ibi_ms) in the window
        self._last_beat: float | None = None  # time of the last beat since the last gap
        self._last_seen_beat: float | None = None  # time of the last beat ever
        self._last_time: float | None = None
        self._last_gap: float | None = None
        self._median_ibi: float | None = None

    def process(self, chunk: Chunk) -> list[Feature]:
        """Consume the next chunk; return its beats and the heart rates due, in time order."""
        if len(chunk) == 0 or chunk.values.shape[1] == 0:
            return []
        self.quality.update(chunk)
        values = chunk.values[:, 0].astype(np.float64)
        times = chunk.timestamps.astype(np.float64)
        n = times.shape[0]
        finite = np.isfinite(times)
        if finite.all():
            due = self._ticker.due(times)
        else:
            present = np.flatnonzero(finite)
            due = present[self._ticker.due(times[present])].tolist()
        ends = {i + 1 for i in due}  # a block ends at each tick, and at least every second
        features: list[Feature] = []
        start = 0
        for stop in sorted(ends.union(range(self._block, n, self._block), (n,))):
            features.extend(self._process_block(chunk.info.role, values[start:stop], times[start:stop]))
            if stop in ends:
                features.extend(self._heart_rate(chunk.info.role, float(times[stop - 1])))
            start = stop
        return features

    def _process_block(self, role: Role | None, values: np.ndarray, times: np.ndarray) -> list[Feature]:
        """Detect beats in one block (at most a second, ending at a tick or before it)."""
        missing = ~(np.isfinite(values) & np.isfinite(times))
        breaks = self._time_breaks(times, missing)
        if not missing.any() and breaks.shape[0] == 0:  # the usual case: one clean run
            self._times.extend(times)
            features = [self._beat(role, p) for p in self._detector.feed(values)]
        else:
            self._times.extend(np.where(missing, np.nan, times))
            features = self._process_runs(role, values, times, missing, breaks)
        finite = times[np.isfinite(times)]
        if finite.shape[0]:
            self._last_time = float(finite[-1])
        return features

    def _process_runs(
        self, role: Role | None, values: np.ndarray, times: np.ndarray, missing: np.ndarray, breaks: np.ndarray
    ) -> list[Feature]:
        """Feed the runs of present samples between gaps and breaks, restarting at each."""
        features: list[Feature] = []
        cuts = np.union1d(np.flatnonzero(missing[1:] != missing[:-1]) + 1, breaks)
        for run_start, run_end in zip(np.r_[0, cuts], np.r_[cuts, values.shape[0]]):
            gap = bool(missing[run_start])
            if gap or run_start in breaks:
                skipped = int(run_end - run_start) if gap else 0
                features.extend(self._beat(role, p) for p in self._detector.restart(gap=skipped))
                self._start_gap(times[run_start:run_end] if gap else times[run_start - 1 : run_start])
            if not gap:
                features.extend(self._beat(role, p) for p in self._detector.feed(values[run_start:run_end]))
        return features

    def _time_breaks(self, times: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """Positions whose timestamp jumps ahead by more than ``max_step_s`` or goes back."""
        step = np.empty(times.shape[0])
        step[0] = np.nan if self._last_time is None else times[0] - self._last_time
        np.subtract(times[1:], times[:-1], out=step[1:])
        return np.flatnonzero(((step > self.config.max_step_s) | (step < 0)) & ~missing)

    def _start_gap(self, times: np.ndarray) -> None:
        """Note a gap: no interval spans it, and the window around it is poor."""
        self._last_beat = None
        finite = times[np.isfinite(times)]
        if finite.shape[0]:
            self._last_gap = float(finite[-1])
        elif self._last_time is not None:
            self._last_gap = self._last_time

    def _beat(self, role: Role | None, peak: int) -> Feature:
        """The rpeak feature of a detected peak (absolute sample index)."""
        t = float(self._times.since(peak)[0])
        ibi = None
        if self._last_beat is not None and t > self._last_beat:
            ibi = (t - self._last_beat) * 1000.0
        self._last_beat = self._last_seen_beat = t
        self._beats.append((t, ibi))
        return Feature(kinds.RPEAK, role, t, {"ibi_ms": ibi})

    def _heart_rate(self, role: Role | None, now: float) -> list[Feature]:
        """The heart_rate feature at a tick, once an interval is known."""
        while self._beats and self._beats[0][0] <= now - self.config.window_s:
            self._beats.popleft()
        ibis = np.array([ibi for _, ibi in self._beats if ibi is not None])
        if ibis.shape[0]:
            self._median_ibi = float(np.median(ibis))
        if self._median_ibi is None:
            return []
        reason = self._poor_reason(now, ibis)
        data = {
            "bpm": 60000.0 / self._median_ibi,
            "ibi_ms": self._median_ibi,
            "beats": len(self._beats),
            "quality": "good" if reason is None else "poor",
            "reason": reason,
        }
        return [Feature(kinds.HEART_RATE, role, now, data)]

    def _poor_reason(self, now: float, ibis: np.ndarray) -> str | None:
        """The first of :data:`REASONS` that applies to the current window, or None."""
        usual = 2.0 * self._median_ibi / 1000.0
        if self._last_seen_beat is None or now - self._last_seen_beat > max(self.config.max_beat_gap_s, usual):
            return "no_beat"
        if self._last_gap is not None and now - self._last_gap < self.config.window_s:
            return "dropout"
        problems = self.quality.problems_at(now)
        if problems:
            return problems[0]
        bpm = 60000.0 / self._median_ibi
        if not self.config.min_bpm <= bpm <= self.config.max_bpm:
            return "implausible_rate"
        off = np.abs(ibis - self._median_ibi) > 0.3 * self._median_ibi
        if ibis.shape[0] >= 3 and off.mean() > 0.2:
            return "irregular"
        return None


def ecg_rpeaks(signal: np.ndarray, rate: float, chunk_size: int | None = None) -> np.ndarray:
    """R-peak sample indices of a single-lead ECG, found by the live processor.

    The recording is fed to :class:`HeartRateProcessor` in chunks of
    ``chunk_size`` samples (default: 0.1 s, a typical live chunk), so offline
    results are the live results. NaN samples are gaps.
    """
    signal = np.asarray(signal, dtype=np.float64).reshape(-1)
    step = chunk_size or max(1, int(round(0.1 * rate)))
    info = StreamInfo(name="ecg", modality="ECG", channel_count=1, nominal_rate=float(rate))
    processor = HeartRateProcessor(info)
    times = np.arange(signal.shape[0]) / rate
    peaks = []
    for start in range(0, signal.shape[0], step):
        chunk = Chunk(info, times[start : start + step], signal[start : start + step, None])
        peaks.extend(f.t for f in processor.process(chunk) if f.kind == kinds.RPEAK)
    return np.rint(np.asarray(peaks) * rate).astype(np.int64)
