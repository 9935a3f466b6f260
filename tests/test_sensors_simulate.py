"""The simulated dyad: deterministic, chunking-invariant, and carrying its planted structure."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.signal import find_peaks

from dyadscope.sensors.simulate import DyadSchedule, SimulatedDyad


def _concat(blocks, index):
    return (
        np.concatenate([b.chunks[index].timestamps for b in blocks]),
        np.concatenate([b.chunks[index].values for b in blocks]),
    )


@pytest.fixture(scope="module")
def session():
    """660 s of one dyad: the rest, two follow and two independent EDA stretches, one patient arousal."""
    dyad = SimulatedDyad(3, start_time=1000.0)
    return dyad, dyad.advance(1660.0)


def test_stream_infos_describe_six_streams():
    infos = SimulatedDyad(42).stream_infos()
    assert [(i.role, i.modality, i.nominal_rate) for i in infos] == [
        ("patient", "ECG", 500.0),
        ("patient", "RSP", 50.0),
        ("patient", "EDA", 32.0),
        ("therapist", "ECG", 500.0),
        ("therapist", "RSP", 50.0),
        ("therapist", "EDA", 32.0),
    ]
    assert infos[0].name == "DyadScope patient ECG"
    assert infos[0].source_id == "dyadscope-sim-42-patient-ECG"
    assert infos[2].units == ("µS",) and infos[2].channel_labels == ("EDA",)
    assert SimulatedDyad(42, tag="x1").stream_infos()[5].source_id == "dyadscope-sim-42-therapist-EDA-x1"


def test_same_seed_same_samples_whatever_the_chunking():
    whole = SimulatedDyad(11, start_time=5.0).advance(65.0)
    pieces = []
    dyad = SimulatedDyad(11, start_time=5.0)
    rng = np.random.default_rng(0)
    t = 5.0
    while t < 65.0:
        t = min(65.0, t + rng.choice([0.001, 0.013, 0.25, 1.7, 4.0]))
        pieces.append(dyad.advance(t))
    for index, chunk in enumerate(whole.chunks):
        timestamps, values = _concat(pieces, index)
        assert np.array_equal(timestamps, chunk.timestamps)
        assert np.array_equal(values, chunk.values)
        assert len(chunk) == 60 * chunk.info.nominal_rate
    for role in ("patient", "therapist"):
        assert np.array_equal(np.concatenate([p.r_peaks[role] for p in pieces]), whole.r_peaks[role])
        assert np.array_equal(np.concatenate([p.scrs[role] for p in pieces]), whole.scrs[role])
    other = SimulatedDyad(12, start_time=5.0).advance(65.0)
    assert not np.allclose(other.chunks[0].values, whole.chunks[0].values)


def test_ecg_has_detectable_beats_at_the_planted_r_peaks(session):
    dyad, block = session
    ecg = block.chunks[0]
    peaks, _ = find_peaks(ecg.values[:, 0], height=0.6, distance=int(0.3 * 500))
    detected = ecg.timestamps[peaks]
    truth = block.r_peaks["patient"]
    assert len(detected) == len(truth)
    assert np.abs(detected - truth).max() < 0.005


def _ibi_by_breath_half(dyad, block, start, end):
    """Mean IBI of beats starting in inhalation and in exhalation (phase from the RSP signal)."""
    rsp = block.chunks[1]
    beats = block.r_peaks["patient"]
    ibi, onset = np.diff(beats), beats[:-1]
    rising = np.interp(onset, rsp.timestamps, np.gradient(rsp.values[:, 0], rsp.timestamps)) > 0
    inside = (onset >= dyad.start_time + start) & (onset < dyad.start_time + end)
    return ibi[inside & rising].mean(), ibi[inside & ~rising].mean()


def test_heart_period_shorter_in_inhalation_and_rsa_follows_schedule(session):
    dyad, block = session
    schedule = dyad.schedule
    rest_in, rest_out = _ibi_by_breath_half(dyad, block, 10, schedule.rest_duration)
    ((arousal_start, arousal_end),) = schedule.arousal_episodes("patient", 660)
    aroused_in, aroused_out = _ibi_by_breath_half(dyad, block, arousal_start + 15, arousal_end - 15)
    assert rest_out - rest_in > 0.04  # planted swing 2 x 45 ms, blurred by the beat timing
    assert 0 < aroused_out - aroused_in < (rest_out - rest_in) / 2
    assert aroused_in + aroused_out < rest_in + rest_out  # heart rate up while aroused


def test_therapist_eda_follows_patient_at_the_planted_lag_only_in_follow_stretches(session):
    dyad, block = session
    schedule = dyad.schedule
    patient, therapist = block.chunks[2], block.chunks[5]
    step = 8  # 32 Hz -> 4 Hz
    slope_p = np.diff(patient.values[:, 0].reshape(-1, step).mean(axis=1))
    slope_t = np.diff(therapist.values[:, 0].reshape(-1, step).mean(axis=1))
    times = patient.timestamps[::step][1:] - dyad.start_time
    lag = int(schedule.eda_lag * 32 / step)
    follow = schedule.follow_stretches(660)
    assert follow == [(180.0, 300.0), (420.0, 540.0)]

    def correlation(start, end, shift):
        idx = np.nonzero((times >= start + 5) & (times < end - 5))[0]
        return np.corrcoef(slope_p[idx], slope_t[idx + shift])[0, 1]

    for start, end in follow:
        assert correlation(start, end, lag) > 0.8
        assert correlation(start, end, lag) > correlation(start, end, 0) + 0.5
    for start, end in [(0.0, 180.0), (300.0, 420.0), (540.0, 655.0)]:
        assert abs(correlation(start, end, lag)) < 0.4


def test_patient_arousal_brings_more_scrs(session):
    dyad, block = session
    ((start, end),) = dyad.schedule.arousal_episodes("patient", 660)
    onsets = block.scrs["patient"][:, 0] - dyad.start_time
    aroused = np.sum((onsets >= start) & (onsets < end)) / (end - start)
    calm = np.sum(onsets < dyad.schedule.rest_duration) / dyad.schedule.rest_duration
    assert aroused > 2 * calm


def test_schedule_is_configurable_and_listed():
    schedule = DyadSchedule(rest_duration=60, cycle=100, arousal_windows={"patient": (10, 30), "therapist": (50, 70)})
    assert schedule.arousal_episodes("patient", 300) == [(70, 90), (170, 190), (270, 290)]
    assert schedule.arousal("therapist", 120.0) == pytest.approx(1.0)
    assert schedule.arousal("therapist", 0.0) == 0.0
    assert schedule.rsa_amplitude("patient", 30.0) == pytest.approx(schedule.rsa_rest)
    dyad = SimulatedDyad(1, schedule=schedule)
    assert dyad.schedule is schedule


def test_memory_stays_bounded_as_the_session_goes_on():
    dyad = SimulatedDyad(5)
    for t in range(10, 310, 10):
        dyad.advance(float(t))
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for t in range(310, 910, 10):
            dyad.advance(float(t))
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 50_000  # bytes held after 10 more minutes: a few beats and SCRs at most
