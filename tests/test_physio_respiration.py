"""Respiration processor: breaths and breathing rate, against NeuroKit2 on real recordings."""

from __future__ import annotations

import numpy as np
import pytest
from _physio_support import RATE, T0, chunks, neurokit, of, recording, run, stream

from dyadscope.stream.processors.physio.respiration import RespirationProcessor

FILES = ["bio_eventrelated_100hz", "bio_resting_5min_100hz", "bio_resting_8min_100hz"]


@pytest.fixture(params=FILES)
def path(request, shared_data):
    return shared_data / "physio" / f"{request.param}.csv"


def breathe(path, sizes=10):
    info = stream("RSP")
    return run(RespirationProcessor(info), chunks(info, recording(path)["RSP"].to_numpy(), sizes))


def test_breaths_match_neurokit_rsp_peaks(path):
    ref = T0 + neurokit(path)["rsp_peaks"] / RATE
    breaths = of(breathe(path), "breath")
    peaks = np.array([b.data["peak_t"] for b in breaths])
    assert abs(len(peaks) - len(ref)) <= max(1, round(0.03 * len(ref)))
    # nearly every breath peak is one of NeuroKit2's, within a second
    nearest = np.min(np.abs(peaks[:, None] - ref[None, :]), axis=1)
    assert np.mean(nearest < 1.0) >= 0.9
    for b in breaths:
        d = b.data
        assert d["onset_t"] < d["peak_t"] < d["next_onset_t"] and b.t == d["onset_t"]
        assert d["depth"] > 0 and d["quality"] == "good"


def test_chunk_size_does_not_change_results(shared_data):
    path = shared_data / "physio" / "bio_eventrelated_100hz.csv"
    reference = breathe(path, 1)
    for sizes in (7, 32, 250, [3, 41, 17, 100]):
        assert breathe(path, sizes) == reference


def test_breathing_rate_every_second_and_close_to_neurokit(path):
    features = breathe(path)
    rates = of(features, "breathing_rate")
    duration = len(recording(path)) / RATE
    assert len(rates) == pytest.approx(duration, abs=2)
    assert np.all(np.diff([r.t for r in rates]) == pytest.approx(1.0, abs=0.011))
    settled = [r.data["rate_bpm"] for r in rates if r.t > T0 + 40]
    assert np.mean(settled) == pytest.approx(neurokit(path)["rsp_rate"], rel=0.1)
    assert all(r.data["quality"] == "good" for r in rates if r.t > T0 + 40)


def test_flat_signal_gives_no_breaths_and_a_poor_rate():
    info = stream("RSP")
    features = run(RespirationProcessor(info), chunks(info, np.full(6000, 0.5), 10))
    assert not of(features, "breath")
    rates = of(features, "breathing_rate")
    assert rates and all(r.data["rate_bpm"] is None and r.data["quality"] == "poor" for r in rates)


def test_no_breath_spans_a_gap(shared_data):
    x = recording(shared_data / "physio" / "bio_resting_5min_100hz.csv")["RSP"].to_numpy()
    info = stream("RSP")
    before = chunks(info, x[:12000], 10)
    after = chunks(info, x[12000:], 10, t0=T0 + 12000 / RATE + 20.0)  # 20 s lost
    breaths = of(run(RespirationProcessor(info), before + after), "breath")
    gap = (T0 + 12000 / RATE, T0 + 12000 / RATE + 20.0)
    assert breaths and not any(b.data["onset_t"] < gap[1] and b.data["next_onset_t"] > gap[0] for b in breaths)
    assert any(b.t > gap[1] for b in breaths)


def test_missing_samples_are_bridged_not_propagated(shared_data):
    x = recording(shared_data / "physio" / "bio_eventrelated_100hz.csv")["RSP"].to_numpy().copy()
    x[5000:5010] = np.nan
    info = stream("RSP")
    features = run(RespirationProcessor(info), chunks(info, x, 10))
    late = [b for b in of(features, "breath") if b.t > T0 + 60]
    assert len(late) >= 10
    assert all(np.isfinite(b.data["depth"]) for b in of(features, "breath"))
    poor = [r.t for r in of(features, "breathing_rate") if r.data["quality"] == "poor" and r.t > T0 + 40]
    assert poor and min(poor) >= T0 + 50 and max(poor) <= T0 + 60  # flagged while the NaNs are in the window
