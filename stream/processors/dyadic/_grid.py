"""Bringing both people's feature series onto one common, fixed-rate time grid.

Features arrive at their own rates (EDA 4 Hz, heart rate ~1 Hz, face per
processed frame, voice once per inter-pausal unit), one at a time, per role.
The dyadic measures need two equally spaced, time-aligned series, so each
role's series is resampled onto the grid ``t_k = k / rate`` on the session
clock (the same ``k`` for both roles) by one of two documented methods:

* ``"linear"`` (point samples: EDA, heart rate, RSA, face, movement): linear
  interpolation between consecutive samples; grid points between two samples
  more than ``max_gap_s`` seconds apart are missing (NaN). A grid point is
  final once a sample at or after it has arrived.
* ``"hold"`` (segments, i.e. per-utterance vocal arousal): a segment's value
  holds over its span ``[start, end]`` and, after it, through the pause until
  the next segment (zero-order hold, "the arousal of the last utterance") for
  at most ``max_gap_s`` seconds; beyond that the series is missing.

Both people's grid points are released in pairs once both are final. When one
role falls silent (sensor off, no speech) for ``max_latency_s`` seconds behind
the other, its grid points up to that lag are settled with what is known
(NaN, or the held value within ``max_gap_s``) so the other role is not held up
and memory stays bounded; data that arrives later than that for settled grid
points is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Literal

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.types import ROLES, Feature, Role

GridMethod = Literal["linear", "hold"]


@dataclass(frozen=True)
class FeatureSource:
    """Where one modality's series comes from, and how it goes onto the grid.

    ``fields`` are summed (one field for most; tonic + phasic for the total
    skin conductance level). A feature whose ``quality`` is ``"poor"`` counts
    as missing. ``"hold"`` sources read the span from the ``start``/``end``
    fields of the feature.
    """

    kind: str
    fields: tuple[str, ...]
    rate_hz: float
    max_gap_s: float
    method: GridMethod = "linear"
    max_latency_s: float = 5.0

    def span(self, feature: Feature) -> tuple[float, float, float]:
        """(start, end, value) of a feature; value NaN when missing or marked poor."""
        data = feature.data
        value = math.nan
        if data.get("quality") != "poor":
            parts = [data.get(name) for name in self.fields]
            if all(isinstance(p, Real) for p in parts):
                value = float(sum(parts))
        if self.method == "hold":
            return float(data.get("start", feature.t)), float(data.get("end", feature.t)), value
        return feature.t, feature.t, value


#: The input contract of the dyadic measures: modality -> the feature it reads.
#: Edit this one table when an upstream processor renames a kind or a field.
SOURCES: dict[str, FeatureSource] = {
    "eda": FeatureSource(kinds.EDA, ("phasic_us",), rate_hz=4.0, max_gap_s=1.0),
    "eda_level": FeatureSource(kinds.EDA, ("tonic_us", "phasic_us"), rate_hz=4.0, max_gap_s=1.0),
    "heart_rate": FeatureSource(kinds.HEART_RATE, ("bpm",), rate_hz=1.0, max_gap_s=3.0),
    "rsa": FeatureSource(kinds.RSA, ("p2t_ms",), rate_hz=1.0, max_gap_s=5.0),
    "face_valence": FeatureSource(kinds.FACE_AFFECT, ("valence",), rate_hz=5.0, max_gap_s=1.0),
    "face_arousal": FeatureSource(kinds.FACE_AFFECT, ("arousal",), rate_hz=5.0, max_gap_s=1.0),
    "vocal_arousal": FeatureSource(
        kinds.VOICE_SEGMENT, ("arousal",), rate_hz=1.0, max_gap_s=30.0, method="hold", max_latency_s=15.0
    ),
    "movement": FeatureSource(kinds.MOVEMENT, ("energy",), rate_hz=10.0, max_gap_s=1.0),
}


class GridSeries:
    """One role's series on the grid ``k / rate``; final grid values queue up in ``values``."""

    def __init__(self, rate_hz: float, max_gap_s: float, method: GridMethod):
        self._rate = rate_hz
        self._max_gap = max_gap_s
        self._method = method
        self.next_index: int | None = None  # first grid index not yet final
        self.first_index: int | None = None  # grid index of values[0]
        self.values: list[float] = []
        self._last: tuple[float, float] | None = None  # (time, value) of the last sample / segment end

    def _emit(self, values: np.ndarray | list[float]) -> None:
        if self.first_index is None or not self.values:
            self.first_index = self.next_index
        self.values.extend(np.asarray(values, dtype=float).tolist())
        self.next_index += len(values)

    def _grid(self, stop_time: float, inclusive: bool = True) -> np.ndarray:
        """Grid times from ``next_index`` up to ``stop_time``."""
        stop = math.floor(stop_time * self._rate + 1e-9) if inclusive else math.ceil(stop_time * self._rate - 1e-9) - 1
        return np.arange(self.next_index, max(stop + 1, self.next_index)) / self._rate

    def add(self, start: float, end: float, value: float) -> None:
        """A sample (``start == end``) or a segment with its value; times increase."""
        if self.next_index is None or self._last is None:
            first = math.ceil(start * self._rate - 1e-9)
            if self.next_index is None:
                self.next_index = first
            elif first > self.next_index:  # a fresh stretch after a gap: the gap is missing
                self._emit(np.full(first - self.next_index, math.nan))
            if self._method == "hold":
                self._emit(np.full(self._grid(end).size, value))
            self._last = (end, value)
            return
        last_t, last_v = self._last
        if self._method == "linear":
            times = self._grid(end)
            if end - last_t <= self._max_gap and end > last_t:
                self._emit(last_v + (value - last_v) * (times - last_t) / (end - last_t))
            else:  # a gap: missing, except grid points that are the samples themselves
                held = np.where(np.abs(times - last_t) < 1e-9, last_v, math.nan)
                self._emit(np.where(np.abs(times - end) < 1e-9, value, held))
        else:
            self._emit(self._held(self._grid(start, inclusive=False)))
            self._emit(np.full(self._grid(end).size, value))
        self._last = (end, value)

    def _held(self, times: np.ndarray) -> np.ndarray:
        """Grid values after the last segment: its value within ``max_gap_s``, else NaN."""
        if self._last is None:
            return np.full(times.size, math.nan)
        last_t, last_v = self._last
        return np.where(times - last_t <= self._max_gap, last_v, math.nan)

    def settle(self, until: float) -> None:
        """Make every grid point up to ``until`` final with what is known now."""
        if self.next_index is None:
            self.next_index = self.first_index = math.floor(until * self._rate + 1e-9) + 1
            return
        times = self._grid(until)
        if self._method == "hold":
            self._emit(self._held(times))
        else:
            self._emit(np.full(times.size, math.nan))
            self._last = None  # the next sample starts a new stretch

    def pop_from(self, index: int, count: int) -> np.ndarray:
        """Remove values before ``index`` and return (and remove) ``count`` values from ``index``."""
        drop = max(0, index - self.first_index)
        out = np.asarray(self.values[drop : drop + count], dtype=float)
        del self.values[: drop + count]
        self.first_index += drop + count
        return out


class PairedGrid:
    """Both people's series of one modality on a common grid, released in aligned pairs."""

    def __init__(self, source: FeatureSource):
        self.source = source
        self._series = {role: GridSeries(source.rate_hz, source.max_gap_s, source.method) for role in ROLES}
        self._latest = {role: -math.inf for role in ROLES}

    def add(self, feature: Feature) -> tuple[float, np.ndarray, np.ndarray]:
        """Take one feature; return the newly aligned (time of first, patient, therapist) samples."""
        role: Role | None = feature.role
        if role not in self._series:
            return 0.0, np.empty(0), np.empty(0)
        start, end, value = self.source.span(feature)
        self._series[role].add(start, end, value)
        self._latest[role] = max(self._latest[role], end)
        front = max(self._latest.values()) - self.source.max_latency_s
        for other in ROLES:
            lagging = self._series[other]
            if lagging.next_index is None or lagging.next_index / self.source.rate_hz <= front:
                lagging.settle(front)
        return self._release()

    def _release(self) -> tuple[float, np.ndarray, np.ndarray]:
        patient, therapist = (self._series[role] for role in ROLES)
        if patient.first_index is None or therapist.first_index is None:
            return 0.0, np.empty(0), np.empty(0)
        start = max(patient.first_index, therapist.first_index)
        count = max(0, min(patient.next_index, therapist.next_index) - start)
        return start / self.source.rate_hz, patient.pop_from(start, count), therapist.pop_from(start, count)
