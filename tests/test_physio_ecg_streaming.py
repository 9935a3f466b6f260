"""The live ECG processor on real recordings fed the way a session feeds it.

Chunk sizes, session timestamps, emitted features, dropouts (NaN), broken
timestamps, implausible and irregular rhythms, and a noisy real record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from scipy import signal as sps

from dyadscope.stream.processors.physio._rpeaks import LEARNING_PERIOD
from dyadscope.stream.processors.physio.ecg import HeartRateConfig, HeartRateProcessor, ecg_rpeaks
from dyadscope.stream.types import Chunk, Feature, StreamInfo

#: MIT-BIH annotation symbols that mark a beat.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")


def ecg_info(rate: float) -> StreamInfo:
    return StreamInfo(name="chest-ecg", modality="ECG", channel_count=1, nominal_rate=rate, role="patient")


def feed(processor: HeartRateProcessor, values: np.ndarray, times: np.ndarray, chunk: int) -> list[Feature]:
    """All features from feeding ``values`` (1-D) with ``times`` in chunks of ``chunk`` samples."""
    features = []
    for start in range(0, values.shape[0], chunk):
        piece = Chunk(processor.info, times[start : start + chunk], values[start : start + chunk, None])
        features.extend(processor.process(piece))
    return features


def of_kind(features: list[Feature], kind: str) -> list[Feature]:
    return [f for f in features if f.kind == kind]


def nearest_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each element of ``a``, the distance to the nearest element of ``b``."""
    return np.abs(a[:, None] - b[None, :]).min(axis=1)


@pytest.fixture(scope="module")
def record_100(shared_data: Path) -> tuple[np.ndarray, int, np.ndarray]:
    """The first 5 minutes of MIT-BIH 100 (MLII), its rate, and its annotated beats."""
    path = str(shared_data / "ecg-annotated" / "100")
    record = wfdb.rdrecord(path, sampto=5 * 60 * 360)
    annotation = wfdb.rdann(path, "atr", sampto=5 * 60 * 360)
    beats = np.array([s for s, sym in zip(annotation.sample, annotation.symbol) if sym in BEAT_SYMBOLS])
    return record.p_signal[:, 0], int(record.fs), beats


@pytest.fixture(scope="module")
def ecg_1000hz(shared_data: Path) -> np.ndarray:
    return pd.read_csv(shared_data / "physio" / "ecg_1000hz.csv")["ECG"].to_numpy()


@pytest.mark.parametrize("source, rate, seconds", [("record_100", 360, 30), ("ecg_1000hz", 1000, 12)])
def test_chunk_size_does_not_change_the_peaks(request, source: str, rate: int, seconds: int):
    loaded = request.getfixturevalue(source)
    ecg = (loaded[0] if isinstance(loaded, tuple) else loaded)[: seconds * rate]
    single = ecg_rpeaks(ecg, rate, chunk_size=1)
    tenth = ecg_rpeaks(ecg, rate, chunk_size=rate // 10)
    whole = ecg_rpeaks(ecg, rate, chunk_size=rate)
    assert single.shape[0] >= seconds  # beats were found at all
    np.testing.assert_array_equal(single, tenth)
    np.testing.assert_array_equal(single, whole)


def test_features_carry_session_time_role_and_intervals(record_100):
    ecg, rate, beats = record_100
    n = 120 * rate
    times = 5000.0 + np.arange(n) / rate  # an LSL clock does not start at zero
    features = feed(HeartRateProcessor(ecg_info(rate)), ecg[:n], times, rate // 10)
    peaks = of_kind(features, "rpeak")
    t = np.array([f.t for f in peaks])
    index = np.rint((t - 5000.0) * rate).astype(int)
    np.testing.assert_array_equal(t, times[index])  # the peak sample's own timestamp
    assert nearest_distance(index, beats).max() <= 0.05 * rate
    assert {f.role for f in features} == {"patient"}
    ibis = [f.data["ibi_ms"] for f in peaks]
    assert ibis[0] is None
    np.testing.assert_allclose(ibis[1:], np.diff(t) * 1000.0)

    rates = of_kind(features, "heart_rate")
    hr_t = np.array([f.t for f in rates])
    np.testing.assert_array_equal(hr_t, times[np.searchsorted(times, np.ceil(hr_t))])  # on the data grid
    np.testing.assert_array_equal(np.diff(np.ceil(hr_t)), 1.0)
    for f in rates:
        assert set(f.data) == {"bpm", "ibi_ms", "beats", "quality", "reason"}
        assert f.data["bpm"] == pytest.approx(60000.0 / f.data["ibi_ms"])
    good = [f for f in rates if f.data["quality"] == "good"]
    assert len(good) >= 0.95 * len(rates)
    # Against the annotations: median annotated interval over the same 8 s window.
    for f in rates[10::10]:
        recent = beats[(beats / rate > f.t - 5000.0 - 8.0) & (beats / rate <= f.t - 5000.0)]
        expected = 60.0 / np.median(np.diff(recent) / rate)
        assert f.data["bpm"] == pytest.approx(expected, abs=2.0)
        assert f.data["beats"] in range(len(recent) - 1, len(recent) + 1)


def test_beats_are_reported_within_half_a_second_of_data(record_100):
    ecg, rate, _ = record_100
    processor = HeartRateProcessor(ecg_info(rate))
    times = np.arange(60 * rate) / rate
    delays = []
    for start in range(0, times.shape[0], rate // 20):
        chunk = Chunk(processor.info, times[start : start + rate // 20], ecg[start : start + rate // 20, None])
        for f in processor.process(chunk):
            if f.kind == "rpeak":
                delays.append((f.t, chunk.timestamps[-1] - f.t))
    learned = [delay for t, delay in delays if t < LEARNING_PERIOD]
    steady = [delay for t, delay in delays if t >= LEARNING_PERIOD]
    assert len(steady) >= 60
    assert 0.3 < min(steady) and max(steady) < 0.6  # data time from R-peak to its report
    # beats of the learning phase come out together once it is over
    assert learned and max(learned) < LEARNING_PERIOD + 0.6


@pytest.mark.parametrize("hop_s", [0.5, 2.0])
def test_heart_rate_follows_hop_s_even_in_one_big_chunk(record_100, hop_s: float):
    ecg, rate, _ = record_100
    times = np.arange(60 * rate) / rate
    processor = HeartRateProcessor(ecg_info(rate), HeartRateConfig(hop_s=hop_s))
    rates = of_kind(feed(processor, ecg[: times.shape[0]], times, times.shape[0]), "heart_rate")
    hr_t = np.array([f.t for f in rates])
    assert hr_t.shape[0] >= (60 - LEARNING_PERIOD) / hop_s - 3
    np.testing.assert_allclose(np.diff(hr_t), hop_s, atol=1.5 / rate)


def test_heart_rate_comes_once_per_second_of_data_however_chunked(record_100):
    # Session timestamps off the sample grid, so a tick is the first sample past each second.
    ecg, rate, _ = record_100
    times = 5000.3 + np.arange(60 * rate) / rate
    by_size = {}
    for size in (10, 50, 150, 500, 5000):
        rates = of_kind(feed(HeartRateProcessor(ecg_info(rate)), ecg[: times.shape[0]], times, size), "heart_rate")
        by_size[size] = [(f.t, f.data) for f in rates]
    reference = by_size[10]
    hr_t = np.array([t for t, _ in reference])
    seconds = np.arange(np.ceil(hr_t[0]), times[-1])
    np.testing.assert_array_equal(hr_t, times[np.searchsorted(times, seconds)])  # one per second, on the grid
    assert hr_t[0] - times[0] <= LEARNING_PERIOD + 2.0
    for size, got in by_size.items():
        assert got == reference, f"{size}-sample chunks"


def test_empty_chunks_change_nothing(record_100):
    ecg, rate, _ = record_100
    times = np.arange(20 * rate) / rate
    plain = feed(HeartRateProcessor(ecg_info(rate)), ecg[: times.shape[0]], times, 36)
    processor = HeartRateProcessor(ecg_info(rate))
    interleaved = []
    for start in range(0, times.shape[0], 36):
        assert processor.process(Chunk(processor.info, np.empty(0), np.empty((0, 1)))) == []
        chunk = Chunk(processor.info, times[start : start + 36], ecg[start : start + 36, None])
        interleaved.extend(processor.process(chunk))
    assert interleaved == plain


def test_nan_dropouts_are_gaps_without_detections(record_100):
    ecg, rate, beats = record_100
    ecg = ecg.copy()
    gaps = [(60.0, 62.0), (120.3, 122.3), (200.0, 200.0 + 1 / rate), (240.0, 252.0)]
    for begin, end in gaps:
        ecg[int(begin * rate) : int(end * rate)] = np.nan
    ecg[30 * rate] = np.nan  # a single lost sample
    times = np.arange(ecg.shape[0]) / rate
    features = feed(HeartRateProcessor(ecg_info(rate)), ecg, times, rate // 10)
    peaks = of_kind(features, "rpeak")
    index = np.array([round(f.t * rate) for f in peaks])

    assert np.isfinite(ecg[index]).all()  # nothing inside a gap
    assert nearest_distance(index, beats).max() <= 0.150 * rate  # no false beats
    clear = beats[np.isfinite(ecg[beats])]
    found = nearest_distance(clear, index) <= 0.150 * rate
    assert found.mean() >= 0.99
    # No interval spans a gap: the first beat after each one has none.
    for _begin, end in gaps:
        after = next(f for f in peaks if f.t >= end)
        assert after.data["ibi_ms"] is None
    ibis = np.array([f.data["ibi_ms"] for f in peaks if f.data["ibi_ms"] is not None])
    assert ibis.max() < 1500

    rates = of_kind(features, "heart_rate")
    assert all(np.isfinite(f.data["bpm"]) for f in rates)
    reason_at = {round(f.t): f.data["reason"] for f in rates}
    assert reason_at[61] == reason_at[65] == "dropout"
    assert reason_at[246] == reason_at[251] == "no_beat"  # 12 s without a beat
    assert reason_at[244] == "no_beat"
    assert reason_at[110] is None and reason_at[290] is None  # good again 8 s after a gap


def test_flat_lead_gives_no_beats(record_100):
    # A sender that repeats its last value while the electrode is off.
    ecg, rate, beats = record_100
    ecg = ecg[: 120 * rate].copy()
    ecg[60 * rate : 90 * rate] = ecg[60 * rate - 1]
    features = feed(HeartRateProcessor(ecg_info(rate)), ecg, np.arange(ecg.shape[0]) / rate, rate // 10)
    t = np.array([f.t for f in of_kind(features, "rpeak")])
    assert not ((t > 60.0) & (t < 90.0)).any()
    after = beats[(beats > 91 * rate) & (beats < 119 * rate)] / rate
    assert nearest_distance(after, t).max() < 0.02  # back as soon as the lead is
    flat_reasons = {f.data["reason"] for f in of_kind(features, "heart_rate") if 63.5 < f.t < 90.0}
    assert flat_reasons == {"no_beat"}


@pytest.mark.parametrize("drop, lost_seconds", [(10, 0.0), (50, 4.0)])
def test_beats_follow_a_drop_in_gain(record_100, drop: int, lost_seconds: float):
    # The same lead suddenly recorded 10 or 50 times smaller (no gap in between).
    ecg, rate, beats = record_100
    ecg = ecg[: 120 * rate].copy()
    ecg[60 * rate :] /= drop
    found = ecg_rpeaks(ecg, rate)
    later = beats[(beats > (60 + lost_seconds) * rate) & (beats < 119 * rate)]
    assert nearest_distance(later, found).max() <= 0.05 * rate
    after = found[found >= 60 * rate]
    extra = after[nearest_distance(after, beats) > 0.05 * rate]
    assert (extra < 60.1 * rate).all()  # at most the step where the gain switched


def test_timestamp_jitter_and_jumps(record_100):
    ecg, rate, _ = record_100
    n = 150 * rate
    times = np.arange(n) / rate
    reference = ecg_rpeaks(ecg[:n], rate)

    jittered = times + np.random.default_rng(3).uniform(-5e-4, 5e-4, n)
    peaks = of_kind(feed(HeartRateProcessor(ecg_info(rate)), ecg[:n], jittered, 36), "rpeak")
    np.testing.assert_array_equal([f.t for f in peaks], jittered[reference])

    jumping = times.copy()
    jumping[60 * rate :] += 10.0  # the sender's clock jumped ahead
    jumping[100 * rate :] -= 25.0  # and back
    features = feed(HeartRateProcessor(ecg_info(rate)), ecg[:n], jumping, 36)
    peaks = of_kind(features, "rpeak")
    assert len(peaks) >= reference.shape[0] - 4  # one restart costs at most a beat or two
    t = np.array([f.t for f in peaks])
    after_forward = np.flatnonzero(t >= jumping[60 * rate])[0]
    after_back = np.flatnonzero(np.diff(t) < 0)[0] + 1
    assert peaks[after_forward].data["ibi_ms"] is None
    assert peaks[after_back].data["ibi_ms"] is None
    ibis = np.array([f.data["ibi_ms"] for f in peaks if f.data["ibi_ms"] is not None])
    assert ibis.min() > 400 and ibis.max() < 1500


def test_implausibly_slow_rate_is_poor(record_100):
    # Record 100 declared at a third of its rate: the same beats, 25 bpm.
    ecg, rate, _ = record_100
    slow = rate // 3
    times = np.arange(ecg.shape[0]) / slow
    rates = of_kind(feed(HeartRateProcessor(ecg_info(slow)), ecg, times, slow // 10), "heart_rate")
    assert len(rates) >= 800
    assert np.median([f.data["bpm"] for f in rates]) < 30
    reasons = [f.data["reason"] for f in rates]
    assert reasons.count("implausible_rate") >= 0.8 * len(reasons)  # the rest are 30-31 bpm


def test_irregular_rhythm_is_poor(record_100):
    # Each beat of record 100, from midpoint to midpoint, squeezed or stretched at random.
    ecg, rate, beats = record_100
    edges = (beats[:-1] + beats[1:]) // 2
    stretch = np.random.default_rng(11).choice([0.6, 1.6], edges.shape[0] - 1)
    pieces = [sps.resample(ecg[a:b], int((b - a) * s)) for a, b, s in zip(edges[:-1], edges[1:], stretch)]
    irregular = np.concatenate(pieces[:200])
    rates = of_kind(
        feed(HeartRateProcessor(ecg_info(rate)), irregular, np.arange(irregular.shape[0]) / rate, 36), "heart_rate"
    )
    reasons = [f.data["reason"] for f in rates[10:]]
    assert reasons.count("irregular") >= 0.8 * len(reasons)


def test_noisy_record_v102s(shared_data: Path):
    # A false ventricular-tachycardia alarm: sinus rhythm near 103 bpm whose QRS
    # complexes are buried in high-frequency bursts, and three lost samples.
    path = str(shared_data / "ecg-annotated" / "v102s")
    record = wfdb.rdrecord(path)
    ecg = record.p_signal[:, record.sig_name.index("II")]
    rate = int(record.fs)
    assert np.isnan(ecg).sum() == 3
    features = feed(HeartRateProcessor(ecg_info(rate)), ecg, np.arange(ecg.shape[0]) / rate, rate // 10)
    peaks = of_kind(features, "rpeak")
    ibis = np.array([f.data["ibi_ms"] for f in peaks if f.data["ibi_ms"] is not None])
    assert 480 <= len(peaks) <= 540
    assert np.mean(np.abs(ibis - np.median(ibis)) < 0.1 * np.median(ibis)) >= 0.95
    rates = of_kind(features, "heart_rate")
    bpm = np.array([f.data["bpm"] for f in rates])
    assert ((bpm > 95) & (bpm < 112)).all()
    reasons = [f.data["reason"] for f in rates]
    assert "dropout" in reasons  # around each lost sample
    # The beats are right, but the signal-quality verdict (noisy) marks the rate poor, as it does RSP and EDA.
    assert reasons.count("noisy") >= 0.8 * len(rates)
    assert all(f.data["quality"] == "poor" for f in rates if f.data["reason"] is not None)


def test_joining_a_stream_mid_beat_gives_no_false_first_beat():
    """A live inlet starts wherever the sender is: often in a T wave."""
    from dyadscope.sensors.simulate import SimulatedDyad

    dyad = SimulatedDyad(3)
    block = dyad.advance(12.0)
    ecg, truth = block.chunks[0], block.r_peaks["patient"]
    for start_s in np.arange(0.0, 1.5, 0.05):
        processor = HeartRateProcessor(ecg.info)
        i0 = int(start_s * ecg.info.nominal_rate)
        found = []
        for s in range(i0, len(ecg), 10):
            chunk = Chunk(ecg.info, ecg.timestamps[s : s + 10], ecg.values[s : s + 10])
            found += [f.t for f in processor.process(chunk) if f.kind == "rpeak"]
        planted = truth[(truth >= ecg.timestamps[i0]) & (truth < ecg.timestamps[-1] - 1.0)]
        errors = np.abs(np.subtract.outer(np.array(found), planted)).min(axis=1)
        # A T wave lies ~300 ms from its R wave; 50 ms tells a real beat from a
        # false one. (Joining right after an R wave starts the band-pass off
        # baseline and can put the first beat on its S wave, 30 ms late.)
        assert np.all(errors < 0.05), f"false beat when joining at {start_s:.2f} s"
        assert np.all(errors[1:] < 0.01)
        assert len(found) >= len(planted) - 1  # at most the beat cut by the join is missed
