"""Dissonance engine: voice against face over each patient speech segment; affect streams."""

from __future__ import annotations

import numpy as np
import pytest

from dyadscope.stream.processors.affect_streams import affect_stream_processors
from dyadscope.stream.processors.dyadic.dissonance import DissonanceConfig, DissonanceProcessor
from dyadscope.stream.types import Chunk, Feature, StreamInfo


def face(t: float, valence: float | None, arousal: float | None, role: str = "patient") -> Feature:
    return Feature("face_affect", role, t, {"valence": valence, "arousal": arousal})


def voice(start: float, end: float, valence: float | None, arousal: float, role: str = "patient") -> Feature:
    data = {"start": start, "end": end, "duration_s": end - start, "valence": valence, "arousal": arousal}
    return Feature("voice_segment", role, end, data)


def judge(features: list[Feature], config: DissonanceConfig = DissonanceConfig()) -> list[dict]:
    processor = DissonanceProcessor(config)
    return [f.data for feature in features for f in processor.consume(feature)]


def segment_with_face(voice_va: tuple[float | None, float], face_va: tuple[float, float], frames: int = 4) -> list:
    """A 1-2 s segment; face frames at 0.9 s (outside), inside, and 2.1 s (outside, closes it)."""
    inside = [face(1.0 + i / frames, *face_va) for i in range(frames + 1)]
    return [face(0.9, 1.0, 1.0), *inside, voice(1.0, 2.0, *voice_va), face(2.1, -1.0, -1.0)]


@pytest.mark.parametrize(
    ("voice_va", "face_va", "dissonant", "crossed"),
    [
        ((0.75, 0.0), (0.25, 0.0), False, []),  # |ΔV| = 0.5 exactly: the edge is not dissonant
        ((0.75, 0.0), (0.2490234375, 0.0), True, ["valence"]),  # just over
        ((0.0, -0.25), (0.0, 0.25), False, []),  # |ΔA| = 0.5 exactly
        ((0.0, -0.25), (0.0, 0.2509765625), True, ["arousal"]),
        ((0.9, -0.9), (-0.9, 0.9), True, ["valence", "arousal"]),
        ((0.1, 0.1), (0.1, 0.1), False, []),
    ],
)
def test_dissonance_triggers_exactly_by_the_definition(voice_va, face_va, dissonant, crossed):
    (event,) = judge(segment_with_face(voice_va, face_va))
    assert event["dissonant"] is dissonant
    assert event["crossed"] == crossed
    assert event["start"] == 1.0 and event["end"] == 2.0
    assert event["face"] == {"valence": face_va[0], "arousal": face_va[1]}  # frames outside did not count
    assert event["face_frames"] == 5
    expected = max(abs(voice_va[0] - face_va[0]), abs(voice_va[1] - face_va[1]))
    assert event["score"] == expected
    assert event["dimensions"] == ["valence", "arousal"]


def test_face_is_averaged_over_the_frames_inside_the_segment():
    frames = [face(1.0, 0.0, 0.2), face(1.5, 0.4, 0.4), face(2.0, 0.8, 0.6)]  # ends included
    (event,) = judge([*frames, voice(1.0, 2.0, 0.4, 0.4), face(2.2, 0.0, 0.0)])
    assert event["face"]["valence"] == pytest.approx(0.4)
    assert event["face"]["arousal"] == pytest.approx(0.4)
    assert event["diff"] == pytest.approx({"valence": 0.0, "arousal": 0.0})


def test_voice_without_valence_uses_arousal_only_and_says_so():
    (event,) = judge(segment_with_face((None, 0.9), (-0.9, 0.1)))
    assert event["dimensions"] == ["arousal"]
    assert event["voice"]["valence"] is None
    assert "valence" not in event["diff"]
    assert event["dissonant"] is True and event["crossed"] == ["arousal"]
    (calm,) = judge(segment_with_face((None, 0.3), (-0.9, 0.1)))  # valence gap ignored: not dissonant
    assert calm["dissonant"] is False


def test_threshold_is_configurable_and_only_the_patient_is_judged():
    events = judge(segment_with_face((0.4, 0.0), (0.0, 0.0)), DissonanceConfig(threshold=0.3))
    assert [e["dissonant"] for e in events] == [True]
    therapist = [face(1.5, 0.0, 0.0, "therapist"), voice(1.0, 2.0, 0.9, 0.9, "therapist"), face(2.1, 0, 0, "therapist")]
    assert judge(therapist) == []


def test_segment_waits_for_late_face_frames_and_is_judged_when_face_stalls():
    processor = DissonanceProcessor(DissonanceConfig(face_wait_s=3.0))
    assert processor.consume(face(1.2, 0.0, 0.0)) == []
    assert processor.consume(voice(1.0, 2.0, 0.9, 0.0)) == []  # face frames up to 2.0 may still come
    assert processor.consume(face(1.8, 0.0, 0.0)) == []  # a late frame inside the span
    # The face stream stalls; a later segment ending 3 s past the first one's end closes it.
    (event,) = processor.consume(voice(4.0, 5.0, 0.0, 0.0))
    assert event.data["face_frames"] == 2 and event.data["dissonant"] is True
    assert event.t == 2.0


def test_affect_streams_become_the_same_features():
    face_info = StreamInfo("FaceAffect", "FaceAffect", 2, 0.0, role="patient", channel_labels=("arousal", "valence"))
    voice_info = StreamInfo("VoiceAffect", "VoiceAffect", 3, 0.0, role="patient")
    assert affect_stream_processors(StreamInfo("FaceAffect", "FaceAffect", 2, 0.0)) == []  # unassigned
    assert affect_stream_processors(StreamInfo("ECG", "ECG", 1, 250.0, role="patient")) == []
    (face_proc,) = affect_stream_processors(face_info)
    (voice_proc,) = affect_stream_processors(voice_info)
    stamps = np.array([1.0, 1.25, 1.5, 1.75, 2.0, 2.1])
    faces = face_proc.process(Chunk(face_info, stamps, np.tile([[0.0, 0.25]], (6, 1))))  # arousal 0, valence 0.25
    assert faces[0] == Feature("face_affect", "patient", 1.0, {"arousal": 0.0, "valence": 0.25})
    voices = voice_proc.process(Chunk(voice_info, np.array([2.0]), np.array([[np.nan, 0.6, 1.0]])))
    segment = {"start": 1.0, "end": 2.0, "duration_s": 1.0, "arousal": 0.6, "valence": None}
    assert voices == [Feature("voice_segment", "patient", 2.0, segment)]
    (event,) = judge(faces[:-1] + voices + faces[-1:])
    assert event["dimensions"] == ["arousal"] and event["diff"]["arousal"] == pytest.approx(0.6)
