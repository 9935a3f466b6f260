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


def units(pairs, face_extra=None, voice_model="acoustic_arousal"):
    """Unit k spans [3k + 1, 3k + 2] s with voice arousal ``pairs[k][0]`` and face arousal ``pairs[k][1]``.

    Face frames every 0.25 s inside (valence 0, an uncalibrated model unless ``face_extra`` says otherwise)
    and one at 3k + 2.5, outside every unit, that closes the unit.
    """
    extra = {"calibrated": False} if face_extra is None else face_extra
    features = []
    for k, (voice_arousal, face_arousal) in enumerate(pairs):
        t0 = 3.0 * k + 1.0
        frames = [] if face_arousal is None else [t0 + i / 4 for i in range(5)]
        for t in [*frames, t0 + 1.5]:
            features.append(Feature("face_affect", "patient", t, {"valence": 0.0, "arousal": face_arousal, **extra}))
        data = {"start": t0, "end": t0 + 1.0, "duration_s": 1.0, "valence": None, "arousal": voice_arousal}
        features.insert(len(features) - 1, Feature("voice_segment", "patient", t0 + 1.0, data | {"model": voice_model}))
    return features


def test_default_models_are_compared_relative_to_the_persons_own_baseline():
    """The acoustic voice index is tanh(z) against the speaker's earlier units; the face is standardised alike."""
    z = 2.5
    events = judge(units([(0.0, 0.5), (0.0, 0.5), (0.0, 0.5), (float(np.tanh(z)), 0.5), (0.0, 0.8)]))
    assert [e["status"] for e in events] == ["baseline filling"] * 3 + ["judged"] * 2
    assert events[0]["reason"] == "own baselines fill: voice 0/3, face 0/3 units"
    assert all(e["dissonant"] is False and e["score"] is None and e["episode"] is None for e in events[:3])
    aroused, face_moved = events[3], events[4]
    assert aroused["scale"] == "relative" and aroused["threshold"] == 2.0
    assert aroused["dimensions"] == ["arousal"]
    # the face has not moved from its baseline (spread floored at 0.1): z 0; the voice is z = 2.5 out
    assert aroused["face"]["arousal"] == pytest.approx(0.0) and aroused["voice"]["arousal"] == pytest.approx(z)
    assert aroused["dissonant"] is True and aroused["size"] == pytest.approx(z / 2.0)
    assert aroused["direction"] == "face calm, voice aroused"
    # the voice back at its usual level, the face 0.3 above its baseline of four units at 0.5
    assert face_moved["face"]["arousal"] == pytest.approx(0.3 / 0.1)
    assert face_moved["direction"] == "face aroused, voice calm" and face_moved["dissonant"] is True


def test_absolute_scale_only_when_both_models_are_calibrated():
    same = [(0.6, 0.0)] * 4
    calibrated = judge(units(same, face_extra={"calibrated": True}, voice_model="w2v2_dim"))
    assert [e["scale"] for e in calibrated] == ["absolute"] * 4
    assert all(e["status"] == "judged" and e["dissonant"] and e["threshold"] == 0.5 for e in calibrated)
    assert calibrated[0]["size"] == pytest.approx(0.6 / 0.5)
    # a calibrated voice model against the uncalibrated fer face: both go relative, the voice standardised here
    mixed = judge(units(same, voice_model="w2v2_dim"))
    assert [e["scale"] for e in mixed] == ["relative"] * 4
    assert [e["status"] for e in mixed] == ["baseline filling"] * 3 + ["judged"]
    assert mixed[3]["voice"]["arousal"] == pytest.approx(0.0) and mixed[3]["dissonant"] is False
    # the acoustic index is relative whatever the face model
    assert {e["scale"] for e in judge(units(same, face_extra={"calibrated": True}))} == {"relative"}


def test_consecutive_dissonant_units_are_one_episode_and_an_unjudged_unit_ends_it():
    high = float(np.tanh(3.0))
    pairs = [(0.0, 0.5)] * 3 + [(high, 0.5), (high, 0.5), (0.0, 0.5), (high, 0.5), (high, None), (high, 0.5)]
    events = judge(units(pairs))
    assert [e["dissonant"] for e in events] == [False] * 3 + [True, True, False, True, False, True]
    assert events[3]["episode"] == {"start": 10.0, "end": 11.0, "units": 1}
    assert events[4]["episode"] == {"start": 10.0, "end": 14.0, "units": 2}
    assert events[5]["episode"] is None and events[6]["episode"] == {"start": 19.0, "end": 20.0, "units": 1}
    no_face = events[7]
    assert no_face["status"] == "not comparable" and no_face["reason"] == "no face in view during the segment"
    assert no_face["face_frames"] == 0 and no_face["dimensions"] == ["arousal"] and no_face["direction"] is None
    assert events[8]["episode"]["units"] == 1


def test_face_frames_are_weighted_by_their_confidence():
    frames = [face(1.0, 0.0, 0.0), face(1.5, 0.0, 0.9), face(2.0, 0.0, 0.0)]
    frames[1].data["confidence"] = 0.0
    frames[0].data["confidence"] = frames[2].data["confidence"] = 0.5
    (event,) = judge([*frames, voice(1.0, 2.0, None, 0.0), face(2.2, 0.0, 0.0)])
    assert event["face"]["arousal"] == pytest.approx(0.0) and event["face_frames"] == 3


def test_the_relative_voice_model_is_the_voice_pipelines_acoustic_index():
    from dyadscope.perception.voice import ACOUSTIC_MODEL
    from dyadscope.stream.processors.dyadic._affect_scale import RELATIVE_VOICE_MODELS

    assert {ACOUSTIC_MODEL} == RELATIVE_VOICE_MODELS
