"""All dyadic processors in one pipeline, fed by FaceAffect/VoiceAffect streams and features."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.processors.affect_streams import affect_stream_processors
from dyadscope.stream.processors.dyadic.synchrony import dyadic_processors
from dyadscope.stream.types import ROLES, Chunk, Feature, StreamInfo

FACE_RATE, DURATION, LAG_S = 10.0, 180.0, 1.0


def face_valence(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patient face valence wanders; the therapist's mirrors it 1 s later."""
    rng = np.random.default_rng(seed)
    n, shift = int(DURATION * FACE_RATE), int(LAG_S * FACE_RATE)
    sos = butter(2, 1.0, fs=FACE_RATE, output="sos")
    source = np.tanh(sosfiltfilt(sos, rng.standard_normal(n + shift + 200))[100:-100] * 3)
    t = np.arange(n) / FACE_RATE
    return t, source[shift:], source[:n] * 0.8 + 0.05 * rng.standard_normal(n)


def test_streams_and_features_flow_through_every_dyadic_processor():
    pipeline = Pipeline([affect_stream_processors], dyadic_processors())
    face = {role: StreamInfo(f"FaceAffect-{role}", "FaceAffect", 2, FACE_RATE, role=role) for role in ROLES}
    voice = StreamInfo("VoiceAffect-patient", "VoiceAffect", 3, 0.0, role="patient")
    t, patient, therapist = face_valence(0)
    out: list[Feature] = []
    segment_ends = np.arange(3.0, DURATION - 2, 3.0)  # a 2 s patient utterance every 3 s
    voice_valence = np.where(np.arange(segment_ends.size) % 4 == 0, 1.0, np.nan)  # some far from the face
    for start in range(0, t.size, 5):  # face chunks of 0.5 s, voice segments as they end
        block = slice(start, start + 5)
        for role, valence in zip(ROLES, (patient, therapist), strict=True):
            values = np.column_stack((valence[block], np.zeros(valence[block].size)))
            out += pipeline.process(Chunk(face[role], t[block], values))
        for k in np.flatnonzero((segment_ends > t[block][0] - 0.1) & (segment_ends <= t[block][-1])):
            end = segment_ends[k]
            arousal = 0.2 if k % 2 else 0.3
            out += pipeline.process(Chunk(voice, np.array([end]), np.array([[voice_valence[k], arousal, 2.0]])))
        for role in ROLES:  # heart rate features at 1 Hz from another processor
            if start % 10 == 0:
                bpm = 70 + 3 * np.sin(t[start] / 9 + (role == "therapist"))
                out += pipeline.feed([Feature("heart_rate", role, t[start] + 0.3, {"bpm": bpm, "quality": "good"})])

    kinds = {f.kind for f in out}
    # Coregulation needs 502 s of data before its first estimate: tests/test_dyadic_coregulation.py.
    assert {"face_affect", "voice_segment", "sync", "dissonance", "sync_flexibility"} <= kinds
    face_sync = [f.data for f in out if f.kind == "sync" and f.data["modality"] == "face_valence"]
    assert len(face_sync) >= (DURATION - 20) / 2 - 2
    lags = np.array([s["lag_s"] for s in face_sync])
    assert np.median(lags) == pytest.approx(LAG_S, abs=0.2)
    assert np.mean([s["leader"] == "patient" for s in face_sync]) >= 0.9
    assert np.median([s["r"] for s in face_sync]) > 0.9
    # Only the patient speaks here: no vocal synchrony from one voice.
    assert {f.data["modality"] for f in out if f.kind == "sync"} == {"face_valence", "heart_rate"}

    dissonance = [f.data for f in out if f.kind == "dissonance"]
    assert len(dissonance) >= segment_ends.size - 2
    for event in dissonance:
        k = int(np.argmin(np.abs(segment_ends - event["end"])))
        both = not np.isnan(voice_valence[k])
        assert event["dimensions"] == (["valence", "arousal"] if both else ["arousal"])
        assert event["face_frames"] == 21  # 2 s at 10 Hz, both ends included
        assert event["dissonant"] == (max(event["diff"].values()) > 0.5)
    assert any(e["dissonant"] for e in dissonance) and not all(e["dissonant"] for e in dissonance)


def turns(follow: bool, seed: int, duration: float = 400.0) -> list[Feature]:
    """Turn-taking: a patient turn of 1-3 utterances, then a therapist turn; per-utterance arousal.

    With ``follow`` the therapist's utterances echo the arousal of the patient's last turn.
    """
    rng = np.random.default_rng(seed)
    features, t, level = [], 0.0, 0.0
    while t < duration:
        level = float(np.clip(0.7 * level + rng.normal(0, 0.5), -1, 1))
        for role in ROLES:
            for _ in range(int(rng.integers(1, 4))):
                length = float(rng.uniform(0.8, 2.5))
                if role == "patient" or follow:
                    arousal = level + float(rng.normal(0, 0.05))
                else:
                    arousal = float(rng.uniform(-1, 1))
                data = {"start": t, "end": t + length, "duration_s": length, "arousal": arousal, "valence": None}
                features.append(Feature("voice_segment", role, t + length, data))
                t += length + float(rng.uniform(0.2, 0.6))
    return features


def test_per_utterance_vocal_arousal_is_gridded_and_synchronised():
    followed = Pipeline([], dyadic_processors()).feed(turns(True, 1, duration=720.0))  # coregulation from 685 s
    unrelated = Pipeline([], dyadic_processors()).feed(turns(False, 1))
    sync = [f.data for f in followed if f.kind == "sync" and f.data["modality"] == "vocal_arousal"]
    other = [f.data for f in unrelated if f.kind == "sync" and f.data["modality"] == "vocal_arousal"]
    assert len(sync) >= 150 and len(other) >= 150
    assert np.median([s["r"] for s in sync]) > 0.8 > np.median([s["r"] for s in other])
    # The therapist answers the patient's turn: positive lags, the patient leads.
    assert np.mean([s["leader"] == "patient" for s in sync]) >= 0.9
    assert 0 < np.median([s["lag_s"] for s in sync]) <= 8
    assert any(f.kind == "coregulation" and f.data["modality"] == "vocal_arousal" for f in followed)
    for feature in followed:  # every event is plain JSON
        json.dumps(feature.data, allow_nan=False)
