"""The dissonance engine: does the patient's voice say something other than their face?

For every speech segment (inter-pausal unit) of the patient, the face's
valence and arousal are averaged over the face frames whose time lies inside
the segment's span (``start <= t <= end``, both ends included) and compared
with the voice's values for the segment::

    dissonance = max(|V_voice − V_face|, |A_voice − A_face|) > T

strictly greater (a difference of exactly ``T`` is not dissonant), with V and
A on [−1, 1] and ``T = 0.5`` by default. Where a model gives only some
dimensions (a voice model without valence), the maximum runs over the
dimensions both sides have, and the event lists them in ``"dimensions"``.

A segment arrives when it ends; it is judged once a face frame after its end
has arrived (so every frame inside it is known) or, if the face stream has
stalled, once the voice stream is ``face_wait_s`` past the segment's end.
Segments without any face frame inside are not judged.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from itertools import takewhile
from numbers import Real

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.types import Feature, Role

DIMENSIONS = ("valence", "arousal")


@dataclass(frozen=True)
class DissonanceConfig:
    """Threshold, whose segments, and how long face data is waited for and kept."""

    threshold: float = 0.5
    role: Role = "patient"
    face_wait_s: float = 3.0
    face_horizon_s: float = 120.0


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    voice: dict[str, float]


def _number(value: object) -> float:
    """A finite float, or NaN for None and anything non-numeric."""
    return float(value) if isinstance(value, Real) else math.nan


class DissonanceProcessor:
    """Judges each patient speech segment; emits ``dissonance`` for each judged segment."""

    consumes = frozenset({kinds.FACE_AFFECT, kinds.VOICE_SEGMENT})

    def __init__(self, config: DissonanceConfig = DissonanceConfig()):
        self._config = config
        self._faces: deque[tuple[float, float, float]] = deque()  # (t, valence, arousal)
        self._pending: deque[_Segment] = deque(maxlen=256)

    def consume(self, feature: Feature) -> list[Feature]:
        """Take a face frame or a voice segment; return the segments it lets us judge."""
        if feature.role != self._config.role:
            return []
        if feature.kind == kinds.FACE_AFFECT:
            self._faces.append((feature.t, _number(feature.data.get("valence")), _number(feature.data.get("arousal"))))
            while self._faces[0][0] < feature.t - self._config.face_horizon_s:
                self._faces.popleft()
            return self._judge_until(face_t=feature.t, voice_t=-math.inf)
        if feature.kind == kinds.VOICE_SEGMENT:
            data = feature.data
            end = _number(data.get("end", feature.t))
            start = _number(data.get("start", end - _number(data.get("duration_s"))))
            self._pending.append(_Segment(start, end, {d: _number(data.get(d)) for d in DIMENSIONS}))
            face_t = self._faces[-1][0] if self._faces else -math.inf
            return self._judge_until(face_t=face_t, voice_t=end)
        return []

    def _judge_until(self, face_t: float, voice_t: float) -> list[Feature]:
        out = []
        while self._pending and (
            self._pending[0].end < face_t or self._pending[0].end + self._config.face_wait_s <= voice_t
        ):
            judged = self._judge(self._pending.popleft())
            if judged is not None:
                out.append(judged)
        return out

    def _judge(self, segment: _Segment) -> Feature | None:
        # Frames before this segment cannot fall inside a later one (segments come in order).
        while self._faces and self._faces[0][0] < segment.start:
            self._faces.popleft()
        frames = list(takewhile(lambda frame: frame[0] <= segment.end, self._faces))
        if not frames:
            return None
        inside = np.array(frames)[:, 1:]
        counts = np.isfinite(inside).sum(axis=0)
        sums = np.where(np.isfinite(inside), inside, 0.0).sum(axis=0)
        face = {d: float(sums[i] / counts[i]) if counts[i] else math.nan for i, d in enumerate(DIMENSIONS)}
        dims = [d for d in DIMENSIONS if math.isfinite(segment.voice[d]) and math.isfinite(face[d])]
        if not dims:
            return None
        diff = {d: abs(segment.voice[d] - face[d]) for d in dims}
        threshold = self._config.threshold
        score = max(diff.values())
        data = {
            "start": segment.start,
            "end": segment.end,
            "voice": {d: segment.voice[d] if math.isfinite(segment.voice[d]) else None for d in DIMENSIONS},
            "face": {d: face[d] if math.isfinite(face[d]) else None for d in DIMENSIONS},
            "diff": diff,
            "score": score,
            "threshold": threshold,
            "dissonant": score > threshold,
            "crossed": [d for d in dims if diff[d] > threshold],
            "dimensions": dims,
            "face_frames": len(frames),
        }
        return Feature(kinds.DISSONANCE, self._config.role, segment.end, data)
