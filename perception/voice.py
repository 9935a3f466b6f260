"""One microphone's voice analysis: 16 kHz audio in, speech units with affect out.

Audio (mono, 16 kHz, float32 in [−1, 1], one timestamp per sample on the
session clock) is cut into 512-sample windows for Silero VAD, windows become
inter-pausal units (:mod:`dyadscope.perception.speech_units`), and each closed unit gets its affect: the
acoustic arousal index against the speaker's baseline (:mod:`.prosody`) by
default, or arousal and valence from an audeering-contract model.

Feature: ``voice_segment`` (role = the speaker, t = unit end, {"start", "end",
"duration_s", "arousal", "valence" (None without a valence model), "model",
"speaker", "confidence", "source"}).

Who spoke (:mod:`.speakers`, :mod:`.speaker_room`): without a room, or
before it can tell, every unit is the microphone's owner's (``source``
"microphone", ``confidence`` None); a shared microphone (``role`` None) has no
owner, so its units wait for the room to tell. With a
:class:`~.speaker_room.SpeakerRoom` of enrolled voiceprints (and mouth tracks
where a camera sees the people) each unit goes to the most probable person,
so one shared microphone serves both; a unit inside an enrolment window is
the window's person's (``source`` "enrolment"). On a microphone owned by one
person, a unit attributed to someone else is crosstalk and is dropped: the
speaker's own microphone has it; the mouth cue alone never does this (it
stays the owner's unit), only with the voice.
"""

from __future__ import annotations

import numpy as np

from dyadscope.models.vad import SAMPLE_RATE, WINDOW, VadStream
from dyadscope.models.voice_affect import SpeechAffectModel
from dyadscope.perception.prosody import ArousalBaseline, prosody
from dyadscope.perception.speaker_room import SpeakerRoom
from dyadscope.perception.speakers import Attribution, is_crosstalk
from dyadscope.perception.speech_units import Ipu, IpuSegmenter
from dyadscope.stream import kinds
from dyadscope.stream.ring import RingBuffer
from dyadscope.stream.types import Chunk, Feature, Role

ACOUSTIC_MODEL = "acoustic_arousal"


class VoiceAnalyzer:
    """VAD, speech units and their affect for one person's microphone (an :class:`~.base.Analyzer` of chunks)."""

    def __init__(
        self,
        role: Role | None,
        vad: VadStream,
        segmenter: IpuSegmenter | None = None,
        affect_model: SpeechAffectModel | None = None,
        speakers: SpeakerRoom | None = None,
    ):
        self.role = role
        self.vad = vad
        self.segmenter = segmenter or IpuSegmenter()
        self.affect_model = affect_model
        self.speakers = speakers
        #: Each speaker's own acoustic baseline (on a shared microphone, each person's voice against their own).
        self.baselines: dict[Role | None, ArousalBaseline] = {}
        capacity = int((self.segmenter.max_unit_s + 2.0) * SAMPLE_RATE)
        self._audio = RingBuffer(capacity, dtype=np.float32)
        self._pending = np.zeros(0, np.float32)
        self._pending_times = np.zeros(0, np.float64)

    def process(self, chunk: Chunk) -> list[Feature]:
        """Consume 16 kHz mono samples; return the units that closed."""
        if chunk.info.nominal_rate != SAMPLE_RATE:
            raise ValueError(f"voice analysis needs {SAMPLE_RATE} Hz audio, got {chunk.info.nominal_rate}")
        samples = np.asarray(chunk.values[:, 0], np.float32)
        self._audio.extend(samples)
        self._pending = np.concatenate((self._pending, samples))
        self._pending_times = np.concatenate((self._pending_times, chunk.timestamps))
        first_index = self._audio.total - self._pending.size
        features = []
        n_windows = self._pending.size // WINDOW
        for k in range(n_windows):
            window = self._pending[k * WINDOW : (k + 1) * WINDOW]
            start = float(self._pending_times[k * WINDOW])
            end = start + WINDOW / SAMPLE_RATE
            unit = self.segmenter.push(start, end, self.vad.probability(window), first_index + k * WINDOW, WINDOW)
            feature = self._describe(unit) if unit is not None else None
            if feature is not None:
                features.append(feature)
        used = n_windows * WINDOW
        self._pending = self._pending[used:]
        self._pending_times = self._pending_times[used:]
        return features

    def _unit_audio(self, unit: Ipu) -> np.ndarray:
        held_from = self._audio.total - len(self._audio)
        start = max(unit.start_index, held_from)
        return self._audio.since(start)[: unit.end_index - start]

    def _attribute(self, audio: np.ndarray, unit: Ipu) -> Attribution | None:
        if self.speakers is None:
            return None
        who = self.speakers.unit(self.role, audio, unit.start, unit.end)
        if who is not None and who.source == "face" and self.role not in (None, who.speaker):
            return None  # the mouths alone never take a unit from its microphone's owner: a listener's nod is no voice
        return who

    def _describe(self, unit: Ipu) -> Feature | None:
        audio = self._unit_audio(unit)
        who = self._attribute(audio, unit)
        if is_crosstalk(self.role, who) or (who is None and self.role is None):
            return None
        speaker, confidence, source = (
            (who.speaker, who.confidence, who.source) if who else (self.role, None, "microphone")
        )
        if self.affect_model is not None:
            arousal, valence = self.affect_model.arousal_valence(audio)
            model = self.affect_model.name
        else:
            baseline = self.baselines.setdefault(speaker, ArousalBaseline())
            arousal, valence, model = baseline.arousal(prosody(audio, SAMPLE_RATE)), None, ACOUSTIC_MODEL
        return Feature(
            kinds.VOICE_SEGMENT,
            speaker,
            unit.end,
            {
                "start": unit.start,
                "end": unit.end,
                "duration_s": unit.duration,
                "arousal": arousal,
                "valence": valence,
                "model": model,
                "speaker": speaker,
                "confidence": confidence,
                "source": source,
            },
        )
