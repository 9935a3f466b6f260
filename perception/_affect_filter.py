"""Temporal smoothing of one face's valence and arousal, weighted by how far each frame is trusted.

A frame-by-frame expression classifier flickers between neighbouring classes
on an ambivalent or small face (a swaying near-neutral face: 14–29 % of frame
steps move valence or arousal by more than 0.2, see
tests/test_perception_face.py), while a facial expression lasts 0.5–4 s
(Ekman 2003, macro-expressions). An exponential moving average in data time,

    y_k = y_{k−1} + α_k (x_k − y_{k−1}),   α_k = 1 − exp(−Δt_k · c_k / τ),

with time constant ``τ`` = 0.3 s removes the frame jitter and still reaches
95 % of a new expression within 3τ ≈ 0.9 s. ``c_k`` in (0, 1] is the frame's
confidence: a frame trusted half as much moves the estimate as if half the
time had passed. The filter restarts at the raw value for a new face or after
a gap of more than ``max_gap_s`` (no stale expression carries over).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class _State:
    face_id: int
    t: float
    values: tuple[float, float]


class AffectSmoother:
    """Exponential smoothing of (valence, arousal) per person, restarted per face."""

    def __init__(self, tau_s: float = 0.3, max_gap_s: float = 1.0):
        if tau_s <= 0:
            raise ValueError(f"tau_s must be positive, got {tau_s}")
        self.tau_s = tau_s
        self.max_gap_s = max_gap_s
        self._states: dict[str, _State] = {}

    def update(self, who: str, face_id: int, t: float, values: tuple[float, float], confidence: float) -> tuple:
        """The smoothed (valence, arousal) of ``who`` after this frame's raw ``values``."""
        state = self._states.get(who)
        if state is None or state.face_id != face_id or not 0 <= t - state.t <= self.max_gap_s:
            self._states[who] = _State(face_id, t, values)
            return values
        alpha = 1.0 - math.exp(-(t - state.t) * confidence / self.tau_s)
        state.values = tuple(y + alpha * (x - y) for x, y in zip(values, state.values, strict=True))
        state.t = t
        return state.values
