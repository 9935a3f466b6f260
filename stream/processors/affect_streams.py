"""Affect computed elsewhere, arriving as LSL streams, turned into the affect features.

* ``FaceAffect``: channels valence, arousal; one sample per frame →
  ``Feature("face_affect", role, t, {"valence", "arousal"})`` per sample.
* ``VoiceAffect``: irregular, one sample per speech segment stamped at its
  end; channels valence, arousal, duration_s →
  ``Feature("voice_segment", role, t=end, {"start", "end", "duration_s",
  "arousal", "valence"})`` per sample (valence None when NaN).

These are the same features the in-house face and voice pipelines emit, so
the dyadic measures treat streamed and computed affect alike, live and in
offline analysis. Channels are found by label when the stream labels them,
else taken in the order above. The stream must be assigned to a person.
"""

from __future__ import annotations

import math

from dyadscope.stream import kinds
from dyadscope.stream.processors.base import ChunkProcessor
from dyadscope.stream.types import Chunk, Feature, StreamInfo

FACE_CHANNELS = ("valence", "arousal")
VOICE_CHANNELS = ("valence", "arousal", "duration_s")


def _value(x: float) -> float | None:
    return None if math.isnan(x) else x


class AffectStreamProcessor:
    """Turns a ``FaceAffect`` or ``VoiceAffect`` stream's samples into affect features."""

    def __init__(self, info: StreamInfo, channels: tuple[str, ...]):
        labels = tuple(label.lower() for label in info.channel_labels)
        self._columns = {name: labels.index(name) if name in labels else i for i, name in enumerate(channels)}
        self._role = info.role
        self._voice = channels == VOICE_CHANNELS

    def process(self, chunk: Chunk) -> list[Feature]:
        """One feature per sample."""
        columns = {name: chunk.values[:, col].astype(float).tolist() for name, col in self._columns.items()}
        out = []
        for i, t in enumerate(chunk.timestamps.tolist()):
            sample = {name: values[i] for name, values in columns.items()}
            if self._voice:
                duration = sample["duration_s"]
                data = {
                    "start": t - duration,
                    "end": t,
                    "duration_s": duration,
                    "arousal": _value(sample["arousal"]),
                    "valence": _value(sample["valence"]),
                }
                out.append(Feature(kinds.VOICE_SEGMENT, self._role, t, data))
            else:
                out.append(Feature(kinds.FACE_AFFECT, self._role, t, {k: _value(v) for k, v in sample.items()}))
        return out


def affect_stream_processors(info: StreamInfo) -> list[ChunkProcessor]:
    """Chunk-processor factory: an :class:`AffectStreamProcessor` for assigned affect streams."""
    if info.role is None:
        return []
    for kind, channels in (("faceaffect", FACE_CHANNELS), ("voiceaffect", VOICE_CHANNELS)):
        if kind in (info.name.lower(), info.modality.lower()):
            return [AffectStreamProcessor(info, channels)]
    return []
