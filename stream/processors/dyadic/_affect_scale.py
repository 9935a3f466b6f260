"""Putting voice and face affect on one scale: absolute where both models are calibrated, else relative.

*Absolute*: both sides give calibrated valence/arousal on [−1, 1] — a face
model that regresses rated valence and arousal (``calibrated`` true in its
``face_affect``; affect streamed in over LSL is taken at its word) and a
voice model other than the acoustic arousal index (the audeering contract,
trained on rated dimensions). Values are compared as they are.

*Relative*: otherwise. Each side becomes its departure from the same person's
own running baseline in this session, in units of that baseline's spread,
exactly as the voice's acoustic arousal index is built
(:mod:`dyadscope.perception.prosody`): the unit's value is standardised
against the mean and standard deviation of the person's *earlier* units
(Welford's algorithm), the spread floored at ``min_spread``, and the value
then joins the baseline. The acoustic index already is ``tanh`` of such a
departure (the mean z of pitch, intensity and energy), so ``arctanh`` of it
gives the voice's z back; the face's per-unit mean is standardised here
with the same rule. Until a side's baseline holds ``warmup`` earlier units it
has no relative value (the acoustic index reads exactly 0 then).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

#: Voice models whose arousal is already relative to the speaker's baseline
#: (``dyadscope.perception.voice.ACOUSTIC_MODEL``; the stream room cannot import it).
RELATIVE_VOICE_MODELS = frozenset({"acoustic_arousal"})
#: ``arctanh`` of the acoustic index is taken at most at this magnitude (z ≈ 3.8).
_MAX_INDEX = 0.999

_WORDS = {
    "arousal": ("aroused", "calm"),
    "valence": ("positive", "negative"),
}


def voice_is_relative(voice: Mapping[str, object]) -> bool:
    """Whether a ``voice_segment`` holds arousal relative to the speaker's baseline."""
    return voice.get("model") in RELATIVE_VOICE_MODELS


def voice_is_calibrated(voice: Mapping[str, object]) -> bool:
    """Whether a ``voice_segment``'s values are calibrated absolute ones (any model but the acoustic index)."""
    return not voice_is_relative(voice)


def index_to_z(index: float) -> float:
    """The departure z behind a ``tanh(z)`` index such as the acoustic arousal."""
    return math.atanh(max(-_MAX_INDEX, min(_MAX_INDEX, index)))


def direction(dimension: str, voice_minus_face: float) -> str:
    """How voice and face disagree, in words: e.g. ``"face calm, voice aroused"``."""
    high, low = _WORDS[dimension]
    return f"face {low}, voice {high}" if voice_minus_face > 0 else f"face {high}, voice {low}"


class RunningBaseline:
    """One person's running mean and spread per dimension, over their earlier units (Welford)."""

    def __init__(self, warmup: int, min_spread: float):
        self.warmup = warmup
        self.min_spread = min_spread
        self._stats: dict[str, tuple[int, float, float]] = {}

    def count(self, dimension: str) -> int:
        """Earlier units in the baseline of ``dimension``."""
        return self._stats.get(dimension, (0, 0.0, 0.0))[0]

    def z(self, dimension: str, value: float) -> float:
        """The value's departure from the baseline in spreads; NaN until ``warmup`` units are in."""
        n, mean, m2 = self._stats.get(dimension, (0, 0.0, 0.0))
        if n < self.warmup or not math.isfinite(value):
            return math.nan
        spread = max(math.sqrt(m2 / max(n - 1, 1)), self.min_spread)
        return (value - mean) / spread

    def add(self, dimension: str, value: float) -> None:
        """Let one unit's value join the baseline."""
        if not math.isfinite(value):
            return
        n, mean, m2 = self._stats.get(dimension, (0, 0.0, 0.0))
        n += 1
        delta = value - mean
        mean += delta / n
        self._stats[dimension] = (n, mean, m2 + delta * (value - mean))
