"""EDA processor: tonic, phasic, SCRs and SCR rate, against NeuroKit2 on real recordings."""

from __future__ import annotations

import numpy as np
import pytest
from _physio_support import RATE, T0, chunks, neurokit, of, recording, run, stream
from scipy import signal as sps

from dyadscope.stream.processors.physio.eda import EDAConfig, EDAProcessor


@pytest.fixture
def path(shared_data):
    return shared_data / "physio" / "bio_eventrelated_100hz.csv"


def eda_features(x, sizes=10, **options):
    info = stream("EDA")
    return run(EDAProcessor(info, EDAConfig(**options)), chunks(info, np.asarray(x), sizes))


def test_scr_count_within_one_of_neurokit(path):
    reference = T0 + neurokit(path)["scr_peaks"] / RATE
    scrs = of(eda_features(recording(path)["EDA"]), "scr")
    assert abs(len(scrs) - len(reference)) <= 1
    peaks = np.array([s.t for s in scrs])
    matched = [np.min(np.abs(peaks - r)) < 1.5 for r in reference]
    assert sum(matched) >= len(reference) - 2
    for s in scrs:
        d = s.data
        assert s.t == d["peak_t"] and d["onset_t"] < d["peak_t"]
        assert d["rise_time_s"] == pytest.approx(d["peak_t"] - d["onset_t"]) and 0 < d["rise_time_s"] <= 4.0
        assert d["amplitude_us"] >= 0.05 and d["quality"] == "good"


def test_chunk_size_does_not_change_results(path):
    x = recording(path)["EDA"].to_numpy()
    reference = eda_features(x, 1)
    for sizes in (10, 33, [5, 64, 3, 300]):
        assert eda_features(x, sizes) == reference


def test_tonic_and_phasic_are_neurokits_filters_run_causally(path):
    """At every 4 Hz output, the values of the 3 Hz low-pass then 0.05 Hz split, run once over the recording."""
    x = recording(path)["EDA"].to_numpy()
    eda = of(eda_features(x), "eda")
    assert len(eda) == pytest.approx(4 * len(x) / RATE, abs=2)

    def causal(sos, y):
        return sps.sosfilt(sos, y, zi=sps.sosfilt_zi(sos) * y[0])[0]

    clean = causal(sps.butter(4, 3.0, fs=RATE, output="sos"), x)
    tonic = causal(sps.butter(2, 0.05, fs=RATE, output="sos"), clean)
    phasic = causal(sps.butter(2, 0.05, btype="highpass", fs=RATE, output="sos"), clean)
    idx = np.rint((np.array([f.t for f in eda]) - T0) * RATE).astype(int)
    np.testing.assert_allclose([f.data["tonic_us"] for f in eda], tonic[idx], atol=1e-9)
    np.testing.assert_allclose([f.data["phasic_us"] for f in eda], phasic[idx], atol=1e-9)
    # and the decomposition follows NeuroKit2's zero-phase one
    ref = neurokit(path)["eda"]
    assert np.corrcoef([f.data["phasic_us"] for f in eda], ref["EDA_Phasic"].to_numpy()[idx])[0, 1] > 0.5
    assert np.mean(np.abs(np.array([f.data["tonic_us"] for f in eda]) - ref["EDA_Tonic"].to_numpy()[idx])) < 0.5


def test_scr_rate_counts_the_last_minute(path):
    features = eda_features(recording(path)["EDA"])
    peaks = np.array([s.t for s in of(features, "scr")])
    rates = of(features, "scr_rate")
    assert len(rates) == pytest.approx(len(recording(path)) / RATE, abs=2)
    for r in rates:
        if r.t >= T0 + 60:
            known = [s.t for s in of(features, "scr") if features.index(s) < features.index(r)]
            assert r.data["per_min"] == sum(r.t - 60 < p <= r.t for p in known)
    assert max(r.data["per_min"] for r in rates) >= 3 and np.all(peaks > T0)


def test_open_electrode_is_poor_quality(path):
    x = recording(path)["EDA"].to_numpy().copy()
    x[6000:9000] = 0.0  # electrode off for 30 s
    features = eda_features(x)
    poor = [f.t for f in of(features, "eda") if f.data["quality"] == "poor"]
    assert poor and min(poor) == pytest.approx(T0 + 60, abs=1.5) and max(poor) == pytest.approx(T0 + 98, abs=1.5)
    assert all(f.data["quality"] == "good" for f in of(features, "eda") if f.t < T0 + 59)


def test_low_rate_eda_skips_cleaning_like_neurokit():
    """At 4 Hz (wrist devices) there is no room for the 3 Hz low-pass; the split still works."""
    info = stream("EDA", rate=4.0)
    t = np.arange(4 * 120) / 4.0
    x = 5.0 + 0.01 * t + 0.6 * np.exp(-((t - 60.0) ** 2) / 4.0)  # one response at 60 s on a drift
    features = run(EDAProcessor(info), chunks(info, x, 3))
    scrs = of(features, "scr")
    assert len(scrs) == 1 and scrs[0].t == pytest.approx(T0 + 60, abs=1.0)
    assert of(features, "eda")[-1].data["tonic_us"] == pytest.approx(x[-1], abs=0.5)
