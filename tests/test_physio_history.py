"""Resting baseline and within-person history: resting values, reactivity, state against trait."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from _physio_support import T0, chunks, interleave, of, recording, run_pipeline, stream

from dyadscope.stream.processors.physio.baseline import Baseline, BaselineConfig
from dyadscope.stream.processors.physio.history import (
    MEASURES,
    MIN_SESSIONS,
    DeviationProcessor,
    History,
    Norm,
    SessionSummary,
    check_id,
)
from dyadscope.stream.processors.physio.rsa import RSAProcessor
from dyadscope.stream.types import Feature


def hr(t, bpm, quality="good", role="patient"):
    return Feature("heart_rate", role, t, {"bpm": bpm, "quality": quality})


def test_baseline_collects_resting_values_and_completes_once():
    baseline = Baseline(BaselineConfig(duration_s=10.0))
    assert baseline.state("patient") == "idle" and baseline.consume(hr(0.0, 70.0)) == []
    baseline.start(100.0)
    assert baseline.state("patient") == "running" and baseline.end_t == 110.0
    out = []
    for i, bpm in enumerate([60.0, 70.0, 80.0]):
        out += baseline.consume(hr(101.0 + i, bpm))
    out += baseline.consume(hr(104.0, 200.0, quality="poor"))  # left out
    out += baseline.consume(Feature("eda", "patient", 105.0, {"tonic_us": 4.0, "phasic_us": 0.0, "quality": "good"}))
    scored = [[99.0, 500.0], [102.0, 40.0], [106.0, 60.0], [106.0, 60.0]]
    rsa = {"spectral_ln": 6.0, "breaths_scored": scored, "quality": "good"}
    out += baseline.consume(Feature("rsa", "patient", 107.0, rsa))
    assert out == [] and baseline.resting("patient") is None
    done = baseline.consume(hr(110.5, 90.0))
    assert [f.kind for f in done] == ["baseline"] and baseline.state("patient") == "done"
    rest = baseline.resting("patient")
    assert rest.heart_rate_bpm == 70.0 and rest.eda_tonic_us == 4.0 and rest.rsa_spectral_ln == 6.0
    assert rest.rsa_p2t_ms == 50.0 and rest.breaths == 2  # the breath before the phase and the repeat left out
    assert rest.scr_per_min is None and done[0].data["end_t"] == 110.0
    assert baseline.consume(hr(111.0, 90.0)) == []  # completes once
    assert baseline.reactivity("patient", "heart_rate_bpm", 85.0) == 15.0
    assert baseline.reactivity("therapist", "heart_rate_bpm", 85.0) is None  # therapist saw nothing
    assert baseline.state("therapist") == "running"


def test_baseline_and_session_summary_on_a_real_recording(shared_data):
    data = recording(shared_data / "physio" / "bio_resting_8min_100hz.csv")
    baseline = Baseline(BaselineConfig(duration_s=180.0))
    baseline.start(T0)
    summary = SessionSummary()
    streams = [chunks(stream(m), data[m].to_numpy(), 25) for m in ("ECG", "RSP", "EDA")]
    features = run_pipeline([RSAProcessor(), baseline, summary], interleave(*streams))
    done = of(features, "baseline")
    assert len(done) == 1
    rest = baseline.resting("patient")
    assert 40 < rest.heart_rate_bpm < 100 and 1 < rest.eda_tonic_us < 40 and rest.rsa_p2t_ms > 0
    session = summary.summary("patient")
    assert set(session) == set(MEASURES)
    assert session["resting_heart_rate_bpm"] == rest.heart_rate_bpm
    late_hr = [f.data["bpm"] for f in of(features, "heart_rate") if f.t >= T0 + 180 and f.data["quality"] == "good"]
    assert session["session_heart_rate_bpm"] == pytest.approx(np.mean(late_hr))
    assert session["session_scr_per_min"] is not None and session["session_rsa_spectral_ln"] is not None


def test_ids_must_be_pseudonyms(tmp_path):
    assert check_id("P-017_a") == "P-017_a"
    for bad in ("Jane Doe", "jane@example.org", "../etc", "", "x" * 65, "Müller", "id;drop"):
        with pytest.raises(ValueError, match="a pseudonym, never a name"):
            check_id(bad)
    with History(tmp_path) as history, pytest.raises(ValueError, match="a pseudonym, never a name"):
        history.record("Jane Doe", "s1", {"session_heart_rate_bpm": 70.0})


def test_history_stores_summaries_and_gives_deviations(tmp_path):
    rates = [70.0, 74.0, 66.0, 72.0]
    with History(tmp_path / "data") as history:
        for i, bpm in enumerate(rates[:2]):
            history.record("P01", f"s{i}", {"session_heart_rate_bpm": bpm, "resting_rsa_p2t_ms": None})
        assert history.norms("P01")["session_heart_rate_bpm"].z(80.0) is None  # only 2 past sessions
        for i, bpm in enumerate(rates[2:], start=2):
            history.record("P01", f"s{i}", {"session_heart_rate_bpm": bpm})
        history.record("P02", "s0", {"session_heart_rate_bpm": 120.0})
        with pytest.raises(ValueError, match="unknown measures .'favourite_colour'."):
            history.record("P01", "s9", {"favourite_colour": 1.0})
    # reopened from disk: nothing but ids and numbers in it
    with History(tmp_path / "data") as history:
        sessions = history.sessions("P01")
        assert list(sessions) == ["s0", "s1", "s2", "s3"] and sessions["s0"]["resting_rsa_p2t_ms"] is None
        norm = history.norms("P01")["session_heart_rate_bpm"]
        assert norm.n == 4 and norm.mean == pytest.approx(np.mean(rates))
        assert norm.sd == pytest.approx(np.std(rates, ddof=1))
        assert norm.z(80.0) == pytest.approx((80.0 - np.mean(rates)) / np.std(rates, ddof=1))
        # the current session is not its own history
        assert history.norms("P01", exclude_session="s3")["session_heart_rate_bpm"].n == 3
        # re-recording a session replaces it
        history.record("P01", "s3", {"session_heart_rate_bpm": 90.0})
        assert history.norms("P01")["session_heart_rate_bpm"].n == 4
    db = sqlite3.connect(tmp_path / "data" / History.FILENAME)
    rows = db.execute("SELECT DISTINCT participant FROM summaries").fetchall()
    assert sorted(r[0] for r in rows) == ["P01", "P02"]


def test_deviation_features_once_there_are_enough_sessions():
    norms = {
        "patient": {"session_heart_rate_bpm": Norm(70.0, 5.0, MIN_SESSIONS)},
        "therapist": {"session_heart_rate_bpm": Norm(60.0, 4.0, 2)},
    }
    deviation = DeviationProcessor(norms)
    out = deviation.consume(Feature("heart_rate", "patient", 10.2, {"bpm": 80.0, "quality": "good"}))
    assert [f.data for f in out] == [
        {"measure": "session_heart_rate_bpm", "value": 80.0, "mean": 70.0, "sd": 5.0, "z": 2.0, "n": MIN_SESSIONS}
    ]
    assert deviation.consume(Feature("heart_rate", "patient", 10.7, {"bpm": 81.0})) == []  # once a second
    assert len(deviation.consume(Feature("heart_rate", "patient", 11.0, {"bpm": 81.0}))) == 1
    assert deviation.consume(Feature("heart_rate", "therapist", 12.0, {"bpm": 70.0})) == []  # 2 sessions: too few
