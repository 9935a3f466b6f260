"""The dissonance engine: does the patient's voice say something other than their face?

For every speech segment (inter-pausal unit) of the patient, the face's
valence and arousal are averaged over the face frames whose time lies inside
the segment's span (``start <= t <= end``, both ends included; each frame
weighted by its ``confidence`` where the face pipeline gives one) and compared
with the voice's values for the segment::

    dissonance = max(|V_voice − V_face|, |A_voice − A_face|) > T

strictly greater (a difference of exactly ``T`` is not dissonant). Both sides
must be on one scale (:mod:`._affect_scale`):

* ``scale = "absolute"`` when both models give calibrated values: V and A on
  [−1, 1], ``T = threshold`` (0.5);
* ``scale = "relative"`` otherwise (the default models: the acoustic voice
  index is relative to the speaker's earlier units, and the fer face model's
  circumplex values are not calibrated — any smile reads arousal 0.51): each
  side is its departure from the person's own running baseline in this
  session, in baseline spreads, and ``T = relative_threshold`` (2 spreads:
  ordinary variation of a normal variable passes it in 4.6 % of units).

Where a model gives only some dimensions (a voice model without valence), the
maximum runs over the dimensions both sides have, listed in ``"dimensions"``.
A segment that cannot be judged says why instead of flagging: ``status`` is
``"baseline filling"`` until both sides' baselines hold ``baseline_units``
earlier units, or ``"not comparable"`` (no face in view, no common
dimension); else ``"judged"``. A judged event gives its ``size`` (score / T),
its ``direction`` in words ("face calm, voice aroused") and, when dissonant,
its ``episode``: consecutive dissonant segments merge into one (first start,
latest end, units so far); any other segment ends it.

A segment arrives when it ends; it is judged once a face frame after its end
has arrived (so every frame inside it is known) or, if the face stream has
stalled, once the voice stream is ``face_wait_s`` past the segment's end.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from itertools import takewhile
from numbers import Real

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.dyadic._affect_scale import (
    RunningBaseline,
    direction,
    index_to_z,
    voice_is_calibrated,
    voice_is_relative,
)
from dyadscope.stream.types import Feature, Role

DIMENSIONS = ("valence", "arousal")


@dataclass(frozen=True)
class DissonanceConfig:
    """Thresholds per scale, the baselines, whose segments, and how long face data is waited for and kept.

    ``baseline_units`` matches the acoustic voice index's warm-up (3 units);
    ``face_min_spread`` floors the face baseline's spread on [−1, 1] as the
    voice's floors its own (a unit-to-unit change under 0.1, a fifth of a
    smile's circumplex arousal, is no change of expression).
    """

    threshold: float = 0.5
    relative_threshold: float = 2.0
    baseline_units: int = 3
    face_min_spread: float = 0.1
    role: Role = "patient"
    face_wait_s: float = 3.0
    face_horizon_s: float = 120.0


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    voice: dict[str, float]
    relative: bool  # the voice's values are already relative (the acoustic index)
    calibrated: bool


def _number(value: object) -> float:
    """A finite float, or NaN for None and anything non-numeric (bools too)."""
    return float(value) if isinstance(value, Real) and not isinstance(value, bool) else math.nan


def _or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class DissonanceProcessor:
    """Judges each patient speech segment; emits ``dissonance`` for each, judged or saying why not."""

    consumes = frozenset({kinds.FACE_AFFECT, kinds.VOICE_SEGMENT})

    def __init__(self, config: DissonanceConfig = DissonanceConfig()):
        self._config = config
        self._faces: deque[tuple[float, float, float, float]] = deque()  # (t, valence, arousal, weight)
        self._face_calibrated = True
        self._pending: deque[_Segment] = deque(maxlen=256)
        self._voice_baseline = RunningBaseline(config.baseline_units, config.face_min_spread)
        self._face_baseline = RunningBaseline(config.baseline_units, config.face_min_spread)
        self._episode: dict | None = None

    def consume(self, feature: Feature) -> list[Feature]:
        """Take a face frame or a voice segment; return the segments it lets us judge."""
        if feature.role != self._config.role:
            return []
        data = feature.data
        if feature.kind == kinds.FACE_AFFECT:
            weight = _number(data.get("confidence", 1.0))
            self._faces.append((feature.t, _number(data.get("valence")), _number(data.get("arousal")), weight))
            self._face_calibrated = data.get("calibrated", True) is not False
            while self._faces[0][0] < feature.t - self._config.face_horizon_s:
                self._faces.popleft()
            return self._judge_until(face_t=feature.t, voice_t=-math.inf)
        if feature.kind == kinds.VOICE_SEGMENT:
            end = _number(data.get("end", feature.t))
            start = _number(data.get("start", end - _number(data.get("duration_s"))))
            voice = {d: _number(data.get(d)) for d in DIMENSIONS}
            self._pending.append(_Segment(start, end, voice, voice_is_relative(data), voice_is_calibrated(data)))
            face_t = self._faces[-1][0] if self._faces else -math.inf
            return self._judge_until(face_t=face_t, voice_t=end)
        return []

    def _judge_until(self, face_t: float, voice_t: float) -> list[Feature]:
        out = []
        while self._pending and (
            self._pending[0].end < face_t or self._pending[0].end + self._config.face_wait_s <= voice_t
        ):
            out.append(self._judge(self._pending.popleft()))
        return out

    def _face_over(self, segment: _Segment) -> tuple[dict[str, float], int]:
        """The face's confidence-weighted mean valence and arousal inside the segment, and its frame count."""
        # Frames before this segment cannot fall inside a later one (segments come in order).
        while self._faces and self._faces[0][0] < segment.start:
            self._faces.popleft()
        frames = list(takewhile(lambda frame: frame[0] <= segment.end, self._faces))
        if not frames:
            return dict.fromkeys(DIMENSIONS, math.nan), 0
        inside = np.array(frames)
        weights = np.where(np.isfinite(inside[:, 3]), inside[:, 3], 1.0)
        weights = weights if weights.sum() > 0 else np.ones(len(frames))
        face = {}
        for i, d in enumerate(DIMENSIONS, start=1):
            ok = np.isfinite(inside[:, i])
            face[d] = float(np.average(inside[ok, i], weights=weights[ok])) if weights[ok].sum() > 0 else math.nan
        return face, len(frames)

    def _on_scale(self, segment: _Segment, face: dict[str, float], scale: str) -> tuple[dict, dict]:
        """Both sides' values on ``scale`` (NaN where a baseline is still filling); then the unit joins them."""
        if scale == "absolute":
            voice_on, face_on = dict(segment.voice), dict(face)
        else:
            voice_on, face_on = {}, {}
            for d in DIMENSIONS:
                ready = self._voice_baseline.count(d) >= self._config.baseline_units
                if segment.relative:
                    voice_on[d] = index_to_z(segment.voice[d]) if ready else math.nan
                else:
                    voice_on[d] = self._voice_baseline.z(d, segment.voice[d])
                face_on[d] = self._face_baseline.z(d, face[d])
        for d in DIMENSIONS:
            self._voice_baseline.add(d, segment.voice[d])
            self._face_baseline.add(d, face[d])
        return voice_on, face_on

    def _judge(self, segment: _Segment) -> Feature:
        face, frames = self._face_over(segment)
        calibrated = segment.calibrated and self._face_calibrated
        scale = "absolute" if calibrated else "relative"
        threshold = self._config.threshold if calibrated else self._config.relative_threshold
        # Without a face in view, the dimensions the voice offers (what would have been compared).
        dims = [d for d in DIMENSIONS if math.isfinite(segment.voice[d]) and (not frames or math.isfinite(face[d]))]
        filled = [min(b.count(d) for d in dims) for b in (self._voice_baseline, self._face_baseline)] if dims else []
        voice_on, face_on = self._on_scale(segment, face, scale)
        data = {
            "start": segment.start,
            "end": segment.end,
            "scale": scale,
            "dimensions": dims,
            "threshold": threshold,
            "face_frames": frames,
        }
        if not frames or not dims:
            why = "no face in view during the segment" if not frames else "voice and face give no common dimension"
            return self._status(segment, data, "not comparable", why)
        if not all(math.isfinite(voice_on[d]) and math.isfinite(face_on[d]) for d in dims):
            need = self._config.baseline_units
            why = f"own baselines fill: voice {min(filled[0], need)}/{need}, face {min(filled[1], need)}/{need} units"
            return self._status(segment, data, "baseline filling", why)
        return self._verdict(segment, data, {d: voice_on[d] for d in dims}, {d: face_on[d] for d in dims})

    def _status(self, segment: _Segment, data: dict, status: str, reason: str) -> Feature:
        """An event for a segment that cannot be judged: says why, never flags, ends any episode."""
        self._episode = None
        nothing = dict.fromkeys(DIMENSIONS)
        data |= {"status": status, "reason": reason, "voice": nothing, "face": nothing, "diff": {}, "score": None}
        data |= {"size": None, "dissonant": False, "crossed": [], "direction": None, "episode": None}
        return Feature(kinds.DISSONANCE, self._config.role, segment.end, data)

    def _verdict(self, segment: _Segment, data: dict, voice: dict, face: dict) -> Feature:
        """The judged event: differences, score, size, direction and the episode it belongs to."""
        signed = {d: voice[d] - face[d] for d in voice}
        diff = {d: abs(v) for d, v in signed.items()}
        score = max(diff.values())
        deciding = max(diff, key=diff.get)
        threshold = data["threshold"]
        dissonant = score > threshold
        if not dissonant:
            self._episode = None
        elif self._episode is None:
            self._episode = {"start": segment.start, "end": segment.end, "units": 1}
        else:
            self._episode = self._episode | {"end": segment.end, "units": self._episode["units"] + 1}
        data |= {
            "status": "judged",
            "reason": None,
            "voice": {d: _or_none(voice.get(d, math.nan)) for d in DIMENSIONS},
            "face": {d: _or_none(face.get(d, math.nan)) for d in DIMENSIONS},
            "diff": diff,
            "score": score,
            "size": score / threshold,
            "dissonant": dissonant,
            "crossed": [d for d in diff if diff[d] > threshold],
            "direction": direction(deciding, signed[deciding]),
            "episode": dict(self._episode) if dissonant else None,
        }
        return Feature(kinds.DISSONANCE, self._config.role, segment.end, data)
