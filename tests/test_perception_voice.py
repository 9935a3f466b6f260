"""Voice: Silero VAD through our runtime, inter-pausal units and the arousal index, on espeak-ng speech."""

from __future__ import annotations

import numpy as np
import pytest
from _models_support import audeering_like, default_models, espeak, speech_track

from dyadscope.models.contracts import check_model
from dyadscope.models.library import ModelLibrary
from dyadscope.models.runtime import ModelSession
from dyadscope.models.vad import WINDOW, VadStream, direct_scorer, run_vad_batch
from dyadscope.models.voice_affect import SpeechAffectModel
from dyadscope.perception.prosody import ArousalBaseline, Prosody, prosody
from dyadscope.perception.speech_units import IpuSegmenter
from dyadscope.perception.voice import VoiceAnalyzer
from dyadscope.stream.types import Chunk, StreamInfo

RATE = 16000
AUDIO = StreamInfo("mic-patient", "Audio", 1, RATE, role="patient")
SENTENCES = ["I have been feeling anxious all week.", "Tell me more about that.", "It started on Monday morning."]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return ModelLibrary(default_models(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def speech():
    return speech_track([espeak(s) for s in SENTENCES], [0.6, 0.3, 0.8])


def _analyzer(library, **kwargs):
    session, _ = library.session("silero_vad")
    return VoiceAnalyzer("patient", VadStream(direct_scorer(session)), **kwargs)


def _feed(analyzer, signal, t0=100.0, chunk=320):
    """Stream the signal in 20 ms chunks, as WebRTC delivers it."""
    features = []
    for i in range(0, signal.size, chunk):
        part = signal[i : i + chunk]
        times = t0 + (i + np.arange(part.size)) / RATE
        features += analyzer.process(Chunk(AUDIO, times, part[:, None]))
    return features


def test_silero_signature_is_the_v5_one(library):
    session, manifest = library.session("silero_vad")
    assert set(session.inputs) == {"input", "state", "sr"}
    assert session.inputs["state"][0][0] == 2 and session.inputs["state"][0][2] == 128
    assert set(session.outputs) == {"output", "stateN"}
    assert manifest.contract == "silero_vad"


def test_vad_batches_across_streams_like_single_runs(library, speech):
    session, _ = library.session("silero_vad")
    signal = speech[0]
    a, b = VadStream(direct_scorer(session)), VadStream(direct_scorer(session))
    single = [
        (a.probability(signal[i : i + WINDOW]), b.probability(signal[i + 8000 : i + 8000 + WINDOW]))
        for i in range(0, 40 * WINDOW, WINDOW)
    ]
    batched = []
    states = [np.zeros((2, 128), np.float32)] * 2
    contexts = [np.zeros(64, np.float32)] * 2
    for i in range(0, 40 * WINDOW, WINDOW):
        windows = [
            np.concatenate((contexts[0], signal[i : i + WINDOW])),
            np.concatenate((contexts[1], signal[i + 8000 : i + 8000 + WINDOW])),
        ]
        out = run_vad_batch(session, list(zip(windows, states, strict=True)))
        batched.append((out[0][0], out[1][0]))
        states = [o[1] for o in out]
        contexts = [w[-64:] for w in windows]
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert max(p for pair in single for p in pair) > 0.9


def test_units_match_the_spoken_sentences(library, speech):
    signal, spans = speech
    units = _feed(_analyzer(library), signal)
    assert [u.kind for u in units] == ["voice_segment"] * 3
    for unit, (start, end) in zip(units, spans, strict=True):
        data = unit.data
        assert data["start"] == pytest.approx(100.0 + start, abs=0.1)
        assert data["end"] == pytest.approx(100.0 + end, abs=0.15)
        assert data["duration_s"] == pytest.approx(end - start, abs=0.2)
        assert unit.t == data["end"] and unit.role == "patient"
        assert data["valence"] is None and data["model"] == "acoustic_arousal"
        assert -1.0 <= data["arousal"] <= 1.0


def test_segmenter_splits_on_pauses_of_50_ms():
    seg = IpuSegmenter(min_speech_s=0.0)
    w = WINDOW / RATE

    def run(pattern):
        out = []
        for k, c in enumerate(pattern):
            unit = seg.push(k * w, (k + 1) * w, 0.9 if c == "#" else 0.05, k * WINDOW, WINDOW)
            if unit:
                out.append(unit)
        return out

    units = run("##.##..###...")  # one silent window (32 ms) joins, two (64 ms) split
    assert [(round(u.start / w), round(u.end / w)) for u in units] == [(0, 5), (7, 10)]
    assert units[1].start_index == 7 * WINDOW and units[1].end_index == 10 * WINDOW


def test_pitch_is_found_on_known_tones():
    t = np.arange(RATE) / RATE
    for f0 in (80.0, 150.0, 300.0):
        tone = 0.3 * np.sign(np.sin(2 * np.pi * f0 * t))
        assert 100 * 2 ** (prosody(tone).pitch_st / 12) == pytest.approx(f0, rel=0.02)
    assert np.isnan(prosody(np.random.default_rng(0).normal(size=RATE) * 0.1).pitch_st)


def test_arousal_rises_for_high_loud_speech_and_falls_for_low_quiet_speech(library):
    usual = [espeak(s) for s in SENTENCES]
    aroused = espeak("I cannot take this anymore.", pitch=95, amplitude=190)
    calm = espeak("I cannot take this anymore.", pitch=15, amplitude=40)
    signal, _ = speech_track([*usual, aroused, *usual, calm], [0.4] * 8)
    units = _feed(_analyzer(library), signal)
    assert len(units) == 8
    arousal = [u.data["arousal"] for u in units]
    assert arousal[:3] == [0.0, 0.0, 0.0]  # the baseline is still forming
    assert arousal[3] > 0.4 and arousal[7] < -0.4
    assert all(-1.0 <= a <= 1.0 for a in arousal)


def test_baseline_ignores_missing_pitch():
    baseline = ArousalBaseline(warmup=2)
    for level in (-30.0, -28.0, -32.0):
        baseline.arousal(Prosody(float("nan"), level, -10.0))
    assert baseline.arousal(Prosody(float("nan"), -10.0, -10.0)) > 0.5


def test_audeering_contract_maps_0_1_to_minus_1_plus_1(library, speech, tmp_path):
    path = audeering_like(tmp_path / "w2v2_dim.onnx")
    manifest = check_model(path, "audeering_dim")
    assert manifest.input_name == "signal"
    model = SpeechAffectModel(ModelSession(path), manifest)
    assert model.arousal_valence(np.full(16000, 0.02, np.float32)) == pytest.approx((2 * 0.2 - 1, 0.5), abs=1e-4)
    signal, _ = speech
    units = _feed(_analyzer(library, affect_model=model), signal)
    assert len(units) == 3
    for unit in units:
        assert unit.data["valence"] == pytest.approx(0.5) and unit.data["model"] == "w2v2_dim"
        assert -1.0 < unit.data["arousal"] < 1.0
