"""Signal quality per stream: is this stream fit to compute measures from, right now?

:class:`QualityMonitor` looks at a stream once a second (data time) over a
trailing window (default 8 s) and names what is wrong with it:

* ``"nan"`` -- missing values (NaN) arrived;
* ``"flat"`` -- a channel did not move over the last ``flat_s`` (2 s; peak
  to peak below a tolerance): a sensor stuck, or disconnected and sending a
  constant;
* ``"clipping"`` -- a large share of samples sit exactly at the window's
  maximum or minimum: the amplifier saturates (also what many ECG and EDA
  front-ends do when a lead comes off);
* ``"out_of_range"`` -- values outside the plausible range of the modality
  (EDA below 0.05 µS is an open electrode, above 100 µS is not skin);
* ``"gap"`` -- a jump in timestamps longer than ``gap_s``: samples were lost;
* ``"rate"`` -- the effective sample rate over the window is more than
  ``rate_tolerance`` away from the nominal one (clock or transport trouble);
* ``"noisy"`` (ECG only) -- the kurtosis of the 0.5-40 Hz band-passed ECG
  over the window is below ``kurtosis_min``: clean ECG is spiky (kurtosis
  well above 5, Clifford's kSQI), noise and artefact are close to Gaussian
  (about 3), as throughout the noisy ``v102s`` record.

Everything is kept as per-second block statistics (counts, extrema, power
sums), so each call costs time proportional to its new samples, and the
window's verdict is combined from a handful of blocks.

:class:`QualityProcessor` turns the verdicts into ``quality`` features for the
research assistant: on every change, and again every ``resend_s`` seconds so
that a monitor that joins late learns the current state. The physiology
processors own a monitor of their own to mark their measures ``"poor"``.
(Implausible heart rate is judged by the ECG processor, which knows the rate.)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.physio._filters import StreamingSOSFilter
from dyadscope.stream.processors.ticks import ForwardFill, Ticker
from dyadscope.stream.types import Chunk, Feature, StreamInfo

#: The problems a verdict can name, in the order a verdict lists them.
PROBLEMS = {
    "nan": "missing values (NaN) arrived",
    "flat": "a channel did not move over the last flat_s",
    "clipping": "many samples pinned at the window's maximum or minimum",
    "out_of_range": "values outside the modality's plausible range",
    "gap": "a jump in timestamps longer than gap_s",
    "rate": "effective sample rate off the nominal one by more than rate_tolerance",
    "noisy": "ECG band-passed kurtosis below kurtosis_min (noise, not beats)",
}

#: Plausible value ranges by modality (LSL type); others are not range-checked.
DEFAULT_RANGES: dict[str, tuple[float, float]] = {"EDA": (0.05, 100.0)}


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict on a stream's trailing window at data time ``t``."""

    t: float
    problems: tuple[str, ...]

    @property
    def status(self) -> str:
        """``"good"`` when nothing is wrong, else ``"poor"``."""
        return "poor" if self.problems else "good"


class _Block:
    """Statistics of the samples between two assessments (one second), per channel."""

    __slots__ = ("n", "nan", "lo", "hi", "at_lo", "at_hi", "out", "gaps", "t0", "t1", "m2", "m4")

    def __init__(self, channels: int):
        self.n = 0
        self.nan = 0
        self.lo = np.full(channels, np.inf)
        self.hi = np.full(channels, -np.inf)
        self.at_lo = np.zeros(channels)
        self.at_hi = np.zeros(channels)
        self.out = 0
        self.gaps = 0
        self.t0 = np.nan
        self.t1 = np.nan
        self.m2 = 0.0  # power sums of the band-passed ECG (noise check)
        self.m4 = 0.0

    def add(self, t: np.ndarray, x: np.ndarray, valid_range: tuple[float, float] | None) -> None:
        nan = np.isnan(x)
        missing = int(nan.sum())
        if missing:
            self.nan += missing
            lo = np.where(nan, np.inf, x).min(axis=0)
            hi = np.where(nan, -np.inf, x).max(axis=0)
        else:
            lo = x.min(axis=0)
            hi = x.max(axis=0)
        if np.isnan(self.t0):
            self.t0 = float(t[0])
        self.t1 = float(t[-1])
        self.n += t.shape[0]
        at_lo = (x == lo).sum(axis=0)
        at_hi = (x == hi).sum(axis=0)
        self.at_lo = np.where(lo < self.lo, at_lo, np.where(lo == self.lo, self.at_lo + at_lo, self.at_lo))
        self.at_hi = np.where(hi > self.hi, at_hi, np.where(hi == self.hi, self.at_hi + at_hi, self.at_hi))
        self.lo = np.minimum(self.lo, lo)
        self.hi = np.maximum(self.hi, hi)
        if valid_range is not None and (lo.min() < valid_range[0] or hi.max() > valid_range[1]):
            self.out += int(((x < valid_range[0]) | (x > valid_range[1])).sum())


@dataclass(frozen=True)
class QualityConfig:
    """What the quality verdicts look at, and how often they are resent (seconds, fractions).

    ``valid_range`` None takes the modality's :data:`DEFAULT_RANGES`; ``gap_s``
    None the larger of 0.25 s and five nominal sample periods.
    """

    window_s: float = 8.0
    hop_s: float = 1.0
    flat_tolerance: float = 1e-6
    flat_s: float = 2.0
    clip_fraction: float = 0.05
    valid_range: tuple[float, float] | None = None
    gap_s: float | None = None
    rate_tolerance: float = 0.1
    kurtosis_min: float = 5.0
    resend_s: float = 10.0


class QualityMonitor:
    """Assesses one numeric stream once a second over a trailing window; pure and incremental.

    ``config`` (:class:`QualityConfig`) sets the window, the tolerances and
    the plausible range.
    """

    def __init__(self, info: StreamInfo, config: QualityConfig = QualityConfig()):
        if info.channel_format == "string":
            raise ValueError(f"stream {info.name!r} carries strings: there is no signal quality to judge")
        self.info = info
        self.config = config
        self.flat_blocks = max(1, int(round(config.flat_s / config.hop_s)))
        self.valid_range = config.valid_range if config.valid_range is not None else DEFAULT_RANGES.get(info.modality)
        rate = info.nominal_rate
        self.gap_s = config.gap_s if config.gap_s is not None else max(0.25, 5.0 / rate if rate > 0 else 0.0)
        self._channels = max(1, info.channel_count)
        self._ticker = Ticker(config.hop_s)
        self._blocks: deque[_Block] = deque()
        self._block = _Block(self._channels)
        self._last_t: float | None = None
        self._ecg_band = (
            StreamingSOSFilter.butter(rate, low=0.5, high=40.0, order=2)
            if info.modality == "ECG" and rate > 0
            else None
        )
        self._ecg_fill = ForwardFill()
        self.latest: Assessment | None = None

    def update(self, chunk: Chunk) -> list[Assessment]:
        """Take the next chunk; return the assessments that fell due within it."""
        t = chunk.timestamps
        if t.shape[0] == 0:
            return []
        x = chunk.values.reshape(t.shape[0], -1)[:, : self._channels].astype(np.float64, copy=False)
        out: list[Assessment] = []
        start = 0
        for tick in self._ticker.due(t):
            self._add(t[start : tick + 1], x[start : tick + 1])
            start = tick + 1
            out.append(self._assess(float(t[tick])))
        if start < t.shape[0]:
            self._add(t[start:], x[start:])
        if out:
            self.latest = out[-1]
        return out

    def _add(self, t: np.ndarray, x: np.ndarray) -> None:
        if t.shape[0] == 0:
            return
        block = self._block
        block.add(t, x, self.valid_range)
        steps = np.diff(t, prepend=t[0] if self._last_t is None else self._last_t)
        block.gaps += int((steps > self.gap_s).sum())
        self._last_t = float(t[-1])
        if self._ecg_band is not None:
            y = self._ecg_band(self._ecg_fill(x[:, 0]))
            y = y[np.isfinite(y)]
            y2 = y * y
            block.m2 += float(y2.sum())
            block.m4 += float((y2 * y2).sum())

    def _flat(self, blocks) -> np.ndarray:
        """Per channel: did it stay within the tolerance over these blocks?"""
        lo = np.min([b.lo for b in blocks], axis=0)
        hi = np.max([b.hi for b in blocks], axis=0)
        return hi - lo <= self.config.flat_tolerance * np.maximum(1.0, np.abs(hi))

    def _assess(self, t: float) -> Assessment:
        self._blocks.append(self._block)
        self._block = _Block(self._channels)
        while self._blocks and self._blocks[0].t1 < t - self.config.window_s:
            self._blocks.popleft()
        blocks = self._blocks
        n = sum(b.n for b in blocks)
        problems: list[str] = []
        if sum(b.nan for b in blocks):
            problems.append("nan")
        lo = np.min([b.lo for b in blocks], axis=0)
        hi = np.max([b.hi for b in blocks], axis=0)
        at_lo = sum(np.where(b.lo == lo, b.at_lo, 0) for b in blocks)
        at_hi = sum(np.where(b.hi == hi, b.at_hi, 0) for b in blocks)
        flat = self._flat(list(blocks)[-self.flat_blocks :])
        if flat.any():
            problems.append("flat")
        # Every window has a sample at its minimum and one at its maximum;
        # clipping is the samples pinned there beyond those two.
        if n and (((at_lo + at_hi - 2) / n >= self.config.clip_fraction) & ~flat).any():
            problems.append("clipping")
        if sum(b.out for b in blocks):
            problems.append("out_of_range")
        if sum(b.gaps for b in blocks):
            problems.append("gap")
        duration = blocks[-1].t1 - blocks[0].t0
        rate = self.info.nominal_rate
        if rate > 0 and duration >= 0.5 * self.config.window_s and n > 1:
            effective = (n - 1) / duration
            if abs(effective / rate - 1.0) > self.config.rate_tolerance:
                problems.append("rate")
        if self._ecg_band is not None and n and not self._flat(blocks)[0]:
            m2 = sum(b.m2 for b in blocks) / n
            m4 = sum(b.m4 for b in blocks) / n
            if m2 > 0 and m4 / (m2 * m2) < self.config.kurtosis_min:
                problems.append("noisy")
        return Assessment(t, tuple(problems))


class QualityTrack:
    """A monitor's recent verdicts looked up by data time, shared by a stream's processors.

    Every processor of the stream that needs its quality calls :meth:`update`
    with each chunk: the first call assesses it, the others (same chunk
    object) get the same verdicts for free, so one monitor serves the stream's
    :class:`QualityProcessor` and the processors that mark their measures.
    :meth:`at` answers ``"good"`` or ``"poor"`` (and :meth:`problems_at` the
    problems) as of the latest verdict at or before a time within the last
    ``memory`` verdicts (``"good"`` before the first one).
    """

    def __init__(self, info: StreamInfo, config: QualityConfig = QualityConfig(), *, memory: int = 64):
        self.monitor = QualityMonitor(info, config)
        self._verdicts: deque[Assessment] = deque(maxlen=memory)
        self._chunk: Chunk | None = None
        self._new: list[Assessment] = []

    def update(self, chunk: Chunk) -> list[Assessment]:
        """Assess the next chunk (once, however many processors ask); return its verdicts."""
        if chunk is not self._chunk:
            self._chunk = chunk
            self._new = self.monitor.update(chunk)
            self._verdicts.extend(self._new)
        return self._new

    def at(self, t: float) -> str:
        """The stream's status at data time ``t``."""
        return "poor" if self.problems_at(t) else "good"

    def problems_at(self, t: float) -> tuple[str, ...]:
        """The stream's problems (names of this module's docstring) at data time ``t``."""
        for verdict in reversed(self._verdicts):
            if verdict.t <= t:
                return verdict.problems
        return ()


class QualityProcessor:
    """Emits a stream's ``quality`` feature on every change, and every ``resend_s`` seconds.

    ``Feature("quality", role, t, {"stream", "modality", "status", "problems"})``
    with ``status`` ``"good"`` or ``"poor"`` and ``problems`` a list of the
    names documented in this module. Give it the ``track`` of the stream's
    respiration or EDA processor (``.quality``) to share their monitor.
    """

    def __init__(self, info: StreamInfo, config: QualityConfig = QualityConfig(), *, track: QualityTrack | None = None):
        self.info = info
        self.resend_s = config.resend_s
        self.track = track if track is not None else QualityTrack(info, config)
        self._sent: Assessment | None = None

    def process(self, chunk: Chunk) -> list[Feature]:
        """Assess the chunk; return the quality features that are due."""
        out: list[Feature] = []
        for a in self.track.update(chunk):
            sent = self._sent
            if sent is None or a.problems != sent.problems or a.t - sent.t >= self.resend_s:
                self._sent = a
                out.append(
                    Feature(
                        kinds.QUALITY,
                        self.info.role,
                        a.t,
                        {
                            "stream": self.info.name,
                            "modality": self.info.modality,
                            "status": a.status,
                            "problems": list(a.problems),
                        },
                    )
                )
        return out
