"""Windowed lagged cross-correlation: numpy reference on real dyads, planted truth, peak picking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

import dyadscope.stream.processors.dyadic._xcorr_kernels as xcorr_kernels
from dyadscope.stream.processors.dyadic._xcorr import LaggedCrossCorrelation, fisher_z, pick_peak
from dyadscope.stream.processors.dyadic.synchrony import DyadicConfig, SyncConfig, SynchronyProcessor
from dyadscope.stream.types import Feature

MOVEMENT_FILES = ["dropout_100_01", "dropout_101_01", "normal_200_01", "normal_201_01"]


def reference_wlcc(x: np.ndarray, y: np.ndarray, start: int, window: int, lags: np.ndarray) -> np.ndarray:
    """Plain loops: Pearson r of x[start:start+w] with y[start+lag : start+lag+w], per lag."""
    out = np.full(lags.size, np.nan)
    xs = x[start : start + window]
    for j, lag in enumerate(lags):
        ys = y[start + lag : start + lag + window]
        xm, ym = xs - xs.mean(), ys - ys.mean()
        denominator = np.sqrt((xm * xm).sum() * (ym * ym).sum())
        if denominator > 0:
            out[j] = (xm * ym).sum() / denominator
    return out


def load_dyad(shared_data, name: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(shared_data / "dyadic" / f"{name}.txt", skiprows=1)
    assert data.shape == (15000, 2)
    return data[:, 0], data[:, 1]


@pytest.mark.parametrize("steady", [False, True], ids=["uneven", "steady"])
@pytest.mark.parametrize("name", MOVEMENT_FILES)
def test_incremental_matches_numpy_loops_on_real_movement(shared_data, name, steady):
    """Movement energy at 25 Hz, 30 s window, ±5 s lag, read after uneven chunks or every 2 s.

    Steady reads take the path where an entering block's sums are kept and
    subtracted when the block leaves; uneven reads compute the leaving samples.
    """
    x, y = load_dyad(shared_data, name)
    rate = 25
    window, max_lag, hop = 30 * rate, 5 * rate, 2 * rate
    engine = LaggedCrossCorrelation(window, max_lag, lag_step=1, refresh_after=10**9)  # no refresh: drift shows
    rng = np.random.default_rng(4)
    fed, checked, worst = 0, 0, 0.0
    while fed < x.size:
        n = hop if steady else int(rng.integers(1, 3 * hop))
        engine.extend(x[fed : fed + n], y[fed : fed + n])
        fed = min(fed + n, x.size)
        r = engine.correlations()
        if r is None:
            continue
        expected = reference_wlcc(x, y, engine.latest_start, window, engine.lags)
        np.testing.assert_array_equal(np.isnan(r), np.isnan(expected))
        finite = np.isfinite(expected)
        worst = max(worst, float(np.abs(r[finite] - expected[finite]).max(initial=0.0)))
        checked += 1
    assert checked > 100
    assert worst < 1e-6


def test_lag_step_and_exact_refresh_match_reference(shared_data):
    x, y = load_dyad(shared_data, "normal_200_01")
    window, max_lag, step = 250, 50, 5
    engine = LaggedCrossCorrelation(window, max_lag, lag_step=step, refresh_after=300)
    assert engine.lags.tolist() == list(range(-50, 51, 5))
    for start in range(0, 6000, 40):
        engine.extend(x[start : start + 40], y[start : start + 40])
        r = engine.correlations()
        if r is not None:
            expected = reference_wlcc(x, y, engine.latest_start, window, engine.lags)
            np.testing.assert_allclose(r, expected, atol=1e-6)


def test_missing_samples_blank_the_windows_that_hold_them():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(400), rng.standard_normal(400)
    y[150] = np.nan
    engine = LaggedCrossCorrelation(40, 8)
    results = {}
    for start in range(0, 400, 10):
        engine.extend(x[start : start + 10], y[start : start + 10])
        results[engine.latest_start] = engine.correlations()
    # Windows whose lagged span [a - 8, a + 48) holds index 150 give nothing; later ones recover exactly.
    for a, r in results.items():
        if a - 8 < 0 or a - 8 <= 150 < a + 48:
            assert r is None, a
        else:
            np.testing.assert_allclose(r, reference_wlcc(x, y, a, 40, engine.lags), atol=1e-9)


def test_kernels_have_one_signature_and_never_compile_another():
    """Contiguous and strided float64 input share the one compiled signature; other dtypes are refused."""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(800), rng.standard_normal(800)
    contiguous, strided = LaggedCrossCorrelation(40, 8), LaggedCrossCorrelation(40, 8)
    contiguous.extend(x[::2].copy(), y[::2].copy())
    strided.extend(x[::2], y[::2])
    np.testing.assert_array_equal(contiguous.correlations(), strided.correlations())
    with pytest.raises(TypeError, match="No matching definition for argument type.*float32"):
        strided.extend(x[:10].astype(np.float32), y[:10].astype(np.float32))
    kernels = [xcorr_kernels.append_pairs, xcorr_kernels.correlate, xcorr_kernels.peak_index]
    assert [len(kernel.signatures) for kernel in kernels] == [1, 1, 1]


def test_sign_convention_positive_lag_means_therapist_follows():
    rng = np.random.default_rng(1)
    patient = rng.standard_normal(600)
    therapist = np.roll(patient, 7)  # therapist at t = patient at t - 7
    engine = LaggedCrossCorrelation(100, 20)
    engine.extend(patient, therapist)
    r = engine.correlations()
    assert engine.lags[pick_peak(r)] == 7
    assert r.max() == pytest.approx(1.0)


def test_peak_picking_nearest_local_maximum_vs_global():
    r = np.array([0.9, 0.2, 0.5, 0.3, 0.1, 0.3, 0.6, 0.4, 0.8])  # centre (lag 0) at index 4
    assert pick_peak(r, "global") == 0
    assert pick_peak(r, "nearest") == 6  # local maxima at 2 (0.5) and 6 (0.6): same distance, higher wins
    assert pick_peak(r, "nearest", span=2) == 0  # 0.5 and 0.6 are beaten within ±2 lags: global
    assert pick_peak(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), "nearest") == 4  # no local max: global
    assert pick_peak(np.full(5, np.nan)) is None
    assert fisher_z(0.5) == pytest.approx(np.arctanh(0.5))
    assert np.isfinite(fisher_z(1.0))


def smooth_noise(rng: np.random.Generator, n: int, rate: float, cutoff: float) -> np.ndarray:
    sos = butter(2, cutoff, fs=rate, output="sos")
    s = sosfiltfilt(sos, rng.standard_normal(n + 400))[200:-200]
    return s / s.std()


RATE, LAG_S = 4.0, 1.5
IN_SYNC = [(200.0, 320.0), (440.0, 560.0)]
DURATION_S = 700
# Smooth noise (not SCRs), so a short window on the levels: this tests lag, chance and states.
PLANTED = SyncConfig(window_s=8.0, max_lag_s=4.0, lag_step_s=0.25)


def planted_dyad(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phasic EDA-like noise at 4 Hz; the therapist follows the patient by 1.5 s inside IN_SYNC."""
    rng = np.random.default_rng(seed)
    n, shift = int(DURATION_S * RATE), int(LAG_S * RATE)
    source = smooth_noise(rng, n + shift, RATE, 1.0)
    t = np.arange(n) / RATE + 0.1
    patient = source[shift:]
    inside = np.zeros(n, dtype=bool)
    for start, end in IN_SYNC:
        inside |= (t >= start) & (t < end)
    follows = source[:n] + 0.3 * smooth_noise(rng, n, RATE, 1.0)  # therapist(t) = patient(t - 1.5 s) + noise
    therapist = np.where(inside, follows, smooth_noise(rng, n, RATE, 1.0))
    return t, patient, therapist


def overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


@pytest.mark.parametrize("seed", [1, 2])
def test_planted_lag_and_in_sync_stretches_recovered_without_flicker(seed):
    t, patient, therapist = planted_dyad(seed)
    processor = SynchronyProcessor(DyadicConfig(sync={"eda": PLANTED}))
    out: list[Feature] = []
    for k in range(t.size):
        out += processor.consume(Feature("eda", "patient", t[k], {"phasic_us": patient[k], "tonic_us": 2.0}))
        out += processor.consume(Feature("eda", "therapist", t[k] + 0.013, {"phasic_us": therapist[k]}))
    syncs = [f.data for f in out if f.kind == "sync"]
    assert len(syncs) >= (DURATION_S - 20) / 2  # one every 2 s
    assert all(f.data["modality"] == "eda" for f in out)

    # Lag: within ±0.25 s in (nearly) every window well inside the stretches; the patient leads.
    inner = [s for s in syncs if any(a + 8 < s["t_center"] < b - 8 for a, b in IN_SYNC)]
    lags = np.array([s["lag_s"] for s in inner])
    assert np.mean(np.abs(lags - LAG_S) <= 0.25) >= 0.9
    assert np.median(lags) == pytest.approx(LAG_S, abs=0.25)
    assert all(s["leader"] == "patient" for s in inner if s["lag_s"] > 0)
    assert np.mean([s["above_chance"] for s in inner]) >= 0.9
    # Where the therapist is independent, the chance level is exceeded about as often as it says.
    apart = [
        s for s in syncs if s["above_chance"] is not None and not any(a - 8 < s["t_center"] < b + 8 for a, b in IN_SYNC)
    ]
    assert len(apart) > 100
    assert np.mean([s["above_chance"] for s in apart]) <= 0.10

    # States: in-sync stretches overlap the planted ones by >= 90 % both ways, no flicker.
    states = [f.data for f in out if f.kind == "sync_state"]
    assert [s["state"] for s in states] == ["out_of_sync", "in_sync", "out_of_sync", "in_sync", "out_of_sync"]
    found = [(a["since"], b["since"]) for a, b in zip(states, states[1:]) if a["state"] == "in_sync"]
    truth_s = sum(e - s for s, e in IN_SYNC)
    found_s = sum(e - s for s, e in found)
    assert overlap(found, IN_SYNC) >= 0.9 * truth_s
    assert overlap(found, IN_SYNC) >= 0.9 * found_s


def test_flexibility_and_desync_flag_are_reported():
    t, patient, therapist = planted_dyad(4)
    config = DyadicConfig(sync={"eda": PLANTED}, desync_after_s=60.0, desync_every_s=200.0)
    processor = SynchronyProcessor(config)
    out: list[Feature] = []
    for k in range(t.size):
        out += processor.consume(Feature("eda", "patient", t[k], {"phasic_us": patient[k]}))
        out += processor.consume(Feature("eda", "therapist", t[k], {"phasic_us": therapist[k]}))
    flex = [f for f in out if f.kind == "sync_flexibility"]
    assert 20 <= len(flex) <= 24  # every 30 s over 700 s
    last = flex[-1].data
    transitions = [f for f in out if f.kind == "sync_state" and f.t <= flex[-1].t]
    assert len(transitions) >= 5  # the first state, into and out of both planted stretches
    assert last["transitions_per_min_session"] == pytest.approx(len(transitions) / ((flex[-1].t - 16.0) / 60), rel=0.1)
    assert last["sd_z"] > 0.2
    flags = [f for f in out if f.kind == "desync_flag"]
    # Lost for > 60 s after each in-sync stretch (320-440 s, after 560 s), once each; never before
    # the first in-sync stretch, when the dyad had not been in sync.
    assert len(flags) == 2
    for flag, (start, end) in zip(flags, IN_SYNC):
        assert flag.data["since"] == pytest.approx(end, abs=15)
        assert flag.data["in_sync_s"] == pytest.approx(end - start, abs=20)
        assert flag.data["out_of_sync_s"] > 60
