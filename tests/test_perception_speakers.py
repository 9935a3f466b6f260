"""Who is speaking: the converted GE2E encoder, enrolment, attribution on a shared microphone, crosstalk."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _models_support import default_models
from _speaker_support import ENROLMENT, RATE, TURNS, say, turn_tracks

from dyadscope.models.convert_resemblyzer import (
    RESEMBLYZER_REQUIREMENT,
    RESEMBLYZER_WEIGHTS,
    reference_embed,
    resemblyzer_weights,
)
from dyadscope.models.library import ModelLibrary
from dyadscope.models.speaker_encoder import SpeakerEncoder, partial_mels
from dyadscope.models.vad import VadStream, direct_scorer
from dyadscope.models.wheels import fetch_wheel, read_member
from dyadscope.perception.speaker_room import SpeakerRoom, Window
from dyadscope.perception.speakers import (
    SIMILARITY_BIAS,
    SIMILARITY_WEIGHT,
    Attribution,
    MouthTracks,
    Speakers,
    combine,
)
from dyadscope.perception.voice import VoiceAnalyzer
from dyadscope.stream.types import Chunk, Feature, StreamInfo


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return default_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def library(models):
    return ModelLibrary(models)


@pytest.fixture(scope="module")
def encoder(library):
    return SpeakerEncoder(*library.session("speaker_encoder"))


@pytest.fixture(scope="module")
def checkpoint(models):
    return read_member(fetch_wheel(RESEMBLYZER_REQUIREMENT, models / "wheels"), RESEMBLYZER_WEIGHTS)


def test_onnx_encoder_matches_the_numpy_reference_on_speech(checkpoint, encoder):
    weights = resemblyzer_weights(checkpoint)
    assert "torch" not in sys.modules
    mels = partial_mels(say("patient", ENROLMENT["patient"]))[:3]
    onnx_out = encoder.partials(mels)
    reference = reference_embed(weights, mels)
    assert np.abs(onnx_out - reference).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(onnx_out, axis=1), 1.0, atol=1e-5)


def test_similarity_scale_is_the_checkpoints(checkpoint):
    from dyadscope.models._torch_pickle import load_checkpoint

    state = load_checkpoint(checkpoint)["model_state"]
    assert float(state["similarity_weight"][0]) == pytest.approx(SIMILARITY_WEIGHT)
    assert float(state["similarity_bias"][0]) == pytest.approx(SIMILARITY_BIAS)


def _analyzer(library, role, speakers):
    session, _ = library.session("silero_vad")
    return VoiceAnalyzer(role, VadStream(direct_scorer(session)), speakers=speakers)


def _feed(analyzer, signal, t0, name):
    info = StreamInfo(name, "Audio", 1, RATE, role=analyzer.role)
    features = []
    for i in range(0, signal.size, 320):
        part = signal[i : i + 320]
        features += analyzer.process(Chunk(info, t0 + (i + np.arange(part.size)) / RATE, part[:, None]))
    return features


def _enrol(room: SpeakerRoom, analyzers: dict, t0: float = 0.0) -> float:
    """Each person reads their enrolment text inside their window (every microphone hears it); returns the next t0."""
    for role, text in ENROLMENT.items():
        audio = np.concatenate((say(role, text), np.zeros(RATE, np.float32)))
        room.enrol(Window(role, t0, t0 + audio.size / RATE))
        for mic, analyzer in analyzers.items():
            units = _feed(analyzer, audio, t0, f"mic-{mic}")
            assert {u.data["source"] for u in units} == ({"enrolment"} if mic in (role, "shared") else set())
        t0 += audio.size / RATE + 1.0
    return t0


def _correct_time(units, spans, t0):
    """Seconds of true speech inside units given to the right person, and all true speech seconds."""
    right = 0.0
    for unit in units:
        for role, start, end in spans:
            overlap = min(unit.data["end"], t0 + end) - max(unit.data["start"], t0 + start)
            if overlap > 0 and unit.data["speaker"] == role:
                right += overlap
    return right, sum(end - start for _, start, end in spans)


@pytest.fixture(scope="module")
def conversation():
    return turn_tracks([(role, say(role, text)) for role, text in TURNS])


def test_shared_microphone_attributes_90_percent_of_speech_time(library, encoder, conversation):
    speakers = Speakers(encoder)
    room = SpeakerRoom(speakers)
    analyzer = _analyzer(library, None, room)
    t0 = _enrol(room, {"shared": analyzer})
    assert set(speakers.enrolled) == {"patient", "therapist"}
    tracks, spans = conversation
    units = _feed(analyzer, tracks["patient"] + tracks["therapist"], t0, "mic-shared")
    right, total = _correct_time(units, spans, t0)
    assert right / total >= 0.90
    assert {u.data["source"] for u in units} == {"voice"}
    assert all(u.role == u.data["speaker"] for u in units)
    assert all(0.5 <= u.data["confidence"] <= 1.0 for u in units)


def test_crosstalk_12_db_lower_goes_to_the_one_who_spoke(library, encoder, conversation):
    room = SpeakerRoom(Speakers(encoder))
    analyzers = {role: _analyzer(library, role, room) for role in ("patient", "therapist")}
    t0 = _enrol(room, analyzers)
    tracks, spans = conversation
    bleed = 10 ** (-12 / 20)
    mics = {
        "patient": tracks["patient"] + bleed * tracks["therapist"],
        "therapist": tracks["therapist"] + bleed * tracks["patient"],
    }
    units = [u for role, a in analyzers.items() for u in _feed(a, mics[role], t0, f"mic-{role}")]
    truth = [next((r for r, s, e in spans if t0 + s < u.data["end"] and u.data["start"] < t0 + e), None) for u in units]
    right = sum(u.data["speaker"] == who for u, who in zip(units, truth, strict=True))
    assert right / len(units) >= 0.95
    heard = {who for who in truth}
    assert heard == {"patient", "therapist"} and len(units) >= len(TURNS)


def _mouths(spans, t0, duration_s, seen=("patient", "therapist")):
    """30 fps mouth openings: the speaker's opens and closes at 4 Hz, the listener's barely moves."""
    rng = np.random.default_rng(3)
    mouths = MouthTracks(horizon_s=duration_s + 10.0)
    for t in np.arange(0.0, duration_s, 1 / 30):
        speaking = {role for role, start, end in spans if start <= t <= end}
        for role in seen:
            talk = 0.3 * (1 + np.sin(2 * np.pi * 4 * t)) if role in speaking else 0.0
            mouths.push(role, t0 + t, 0.1 + talk + 0.01 * rng.standard_normal())
    return mouths


def test_mouth_cue_alone_attributes_a_shared_microphone(library, encoder, conversation):
    tracks, spans = conversation
    signal = tracks["patient"] + tracks["therapist"]
    room = SpeakerRoom(Speakers(encoder, _mouths(spans, 50.0, signal.size / RATE)))
    units = _feed(_analyzer(library, None, room), signal, 50.0, "mic-shared")
    right, total = _correct_time(units, spans, 50.0)
    assert right / total >= 0.90
    assert {u.data["source"] for u in units} == {"face"}


def test_mouth_cue_joins_the_voice_and_needs_every_face():
    mouths = MouthTracks()
    for k in range(30):
        mouths.push("patient", k / 30, 0.3 * (k % 2))
        mouths.push("therapist", k / 30, 0.1)
    voice = {"patient": 0.3, "therapist": 0.7}
    both = combine(voice, mouths.probabilities(["patient", "therapist"], 0.0, 1.0))
    assert both.speaker == "patient" and both.source == "both" and both.confidence > 0.9
    assert mouths.probabilities(["patient", "therapist", "other"], 0.0, 1.0) is None
    assert combine(voice, None) == Attribution("therapist", 0.7, "voice")
    assert combine(None, None) is None


def test_a_window_in_the_past_enrols_the_units_the_room_holds(library, encoder):
    """The assistant says "the last N s were the patient" after the speech: held units enrol, cut to the window."""
    room = SpeakerRoom(Speakers(encoder))
    analyzer = _analyzer(library, None, room)
    speech = say("patient", ENROLMENT["patient"])
    assert _feed(analyzer, np.concatenate((speech, np.zeros(RATE, np.float32))), 10.0, "mic-shared") == []
    assert room.state() == {}
    half = 10.0 + speech.size / RATE / 2
    state = room.enrol(Window("patient", 10.0, half))
    assert 0.5 * (half - 10.0) < state["speech_s"] <= half - 10.0 and state["partials"] >= 2
    assert room.speakers.enrolled == ("patient",)
    room.forget("patient")
    assert room.state() == {} and room.speakers.enrolled == ()


def test_live_cameras_hand_each_faces_mouth_opening_to_the_room(encoder):
    """What a camera's face features leave in the session's room: one mouth sample per face frame, per person."""
    import asyncio

    from dyadscope.perception.live import MediaAnalysis

    published = []

    async def publish(features):
        published.extend(features)

    room = SpeakerRoom(Speakers(encoder))
    analysis = MediaAnalysis(None, publish, room)
    frames = [
        Feature("face_affect", role, k / 7.5, {"valence": 0.0, "arousal": 0.0, "mouth_open": 0.1 * (k % 3)})
        for k in range(8)
        for role in ("patient", "therapist")
    ]
    asyncio.run(analysis.publish_faces([*frames, Feature("movement", "patient", 1.0, {"energy": 0.1})]))
    assert len(published) == 17
    assert sorted(room.speakers.mouths.roles) == ["patient", "therapist"]
    assert room.speakers.mouths.activity("patient", 0.0, 1.0) == pytest.approx(
        np.std([0.1 * (k % 3) for k in range(8)])
    )


def test_the_mouths_alone_never_take_a_unit_from_its_microphones_owner(library, encoder, conversation):
    """The patient's own microphone, nobody enrolled: the therapist's moving mouth does not drop the patient's units."""
    tracks, spans = conversation
    signal = tracks["patient"]
    patient_spans = [(r, s, e) for r, s, e in spans if r == "patient"]
    swapped = [("therapist", s, e) for _, s, e in patient_spans]  # the therapist's mouth moves while the patient speaks
    room = SpeakerRoom(Speakers(encoder, _mouths(swapped, 0.0, signal.size / RATE)))
    units = _feed(_analyzer(library, "patient", room), signal, 0.0, "mic-patient")
    assert len(units) >= len(patient_spans)
    assert {(u.role, u.data["source"]) for u in units} == {("patient", "microphone")}
    shared = _feed(_analyzer(library, None, room), signal, 0.0, "mic-shared")  # a shared microphone follows the face
    assert {(u.role, u.data["source"]) for u in shared} == {("therapist", "face")}
