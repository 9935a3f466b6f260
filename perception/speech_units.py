"""Inter-pausal units: stretches of speech separated by pauses of at least 50 ms.

Speech probabilities arrive per VAD window (32 ms at 16 kHz). A unit opens
when a window's probability reaches ``onset`` and continues while it stays
above ``offset`` (hysteresis, as Silero's own segmenter does); it closes when
the silence since its last speech window lasts at least ``min_pause_s``. Units
shorter than ``min_speech_s`` (clicks, breaths) are dropped, and a unit that
runs past ``max_unit_s`` is closed so its values reach the monitor in time.
The time resolution is one window.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ipu:
    """One inter-pausal unit, in session seconds."""

    start: float
    end: float
    #: Absolute sample indices of the unit's first and one-past-last sample.
    start_index: int = 0
    end_index: int = 0

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


class IpuSegmenter:
    """Turns per-window speech probabilities into closed units."""

    def __init__(
        self,
        onset: float = 0.5,
        offset: float = 0.35,
        min_pause_s: float = 0.05,
        min_speech_s: float = 0.1,
        max_unit_s: float = 20.0,
    ):
        self.onset = onset
        self.offset = offset
        self.min_pause_s = min_pause_s
        self.min_speech_s = min_speech_s
        self.max_unit_s = max_unit_s
        self._start: float | None = None
        self._start_index = 0
        self._last_speech_end = 0.0
        self._last_speech_index = 0

    def push(self, start: float, end: float, probability: float, index: int = 0, length: int = 0) -> Ipu | None:
        """Add one window; returns a unit it closed.

        ``start``/``end`` are the window's times, ``index``/``length`` its
        first absolute sample and size (kept so callers can cut the unit's audio).
        """
        speaking = self._start is not None
        if probability >= self.onset or (speaking and probability >= self.offset):
            if not speaking:
                self._start, self._start_index = start, index
            self._last_speech_end, self._last_speech_index = end, index + length
            if end - self._start >= self.max_unit_s:
                return self._close()
            return None
        if speaking and end - self._last_speech_end >= self.min_pause_s:
            return self._close()
        return None

    def _close(self) -> Ipu | None:
        unit = Ipu(self._start, self._last_speech_end, self._start_index, self._last_speech_index)
        self._start = None
        return unit if unit.duration >= self.min_speech_s else None
