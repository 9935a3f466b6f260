"""Feature series onto the common grid: interpolation, gaps, held utterances, stalled roles."""

from __future__ import annotations

import math

import numpy as np

from dyadscope.stream.processors.dyadic._grid import SOURCES, FeatureSource, GridSeries, PairedGrid
from dyadscope.stream.types import Feature


def test_linear_grid_matches_numpy_interp_on_irregular_samples():
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.05, 0.3, 300)) + 0.37
    v = rng.standard_normal(300)
    series = GridSeries(rate_hz=4.0, max_gap_s=1.0, method="linear")
    for ti, vi in zip(t, v):
        series.add(ti, ti, vi)
    grid = np.arange(series.first_index, series.next_index) / 4.0
    assert grid[0] >= t[0] and grid[-1] <= t[-1]
    np.testing.assert_allclose(series.values, np.interp(grid, t, v), atol=1e-12)


def test_gap_longer_than_max_gap_is_missing():
    series = GridSeries(rate_hz=2.0, max_gap_s=1.0, method="linear")
    for t, v in [(0.0, 0.0), (0.5, 1.0), (3.0, 5.0), (3.5, 6.0)]:
        series.add(t, t, v)
    assert series.first_index == 0
    values = series.values
    assert values[:2] == [0.0, 1.0]
    assert all(math.isnan(v) for v in values[2:6])  # 1.0 .. 2.5 s lie in the 2.5 s gap
    assert values[6:] == [5.0, 6.0]


def test_held_utterances_fill_their_span_and_the_pause_up_to_max_gap():
    series = GridSeries(rate_hz=1.0, max_gap_s=3.0, method="hold")
    series.add(1.2, 3.5, 0.4)  # grid 2, 3
    series.add(5.0, 6.0, -0.2)  # pause 4 held, 5, 6 new value
    series.add(12.0, 13.0, 0.9)  # pause 7..11: held while within 3 s of 6.0, i.e. 7, 8, 9
    assert series.first_index == 2
    expected = [0.4, 0.4, 0.4, -0.2, -0.2, -0.2, -0.2, -0.2, math.nan, math.nan, 0.9, 0.9]
    np.testing.assert_array_equal(series.values, expected)


def test_pairs_are_aligned_and_a_silent_role_does_not_hold_up_the_other():
    source = FeatureSource("eda", ("phasic_us",), rate_hz=4.0, max_gap_s=1.0, max_latency_s=5.0)
    grid = PairedGrid(source)
    released = []
    for k in range(80):  # 20 s of both, then the therapist's sensor falls off for 20 s
        t = k / 4
        released.append(grid.add(Feature("eda", "patient", t, {"phasic_us": t})))
        if t < 10:
            released.append(grid.add(Feature("eda", "therapist", t + 0.01, {"phasic_us": -t})))
    chunks = [(t0, x, y) for t0, x, y in released if x.size]
    times = np.concatenate([t0 + np.arange(x.size) / 4 for t0, x, _ in chunks])
    x = np.concatenate([c[1] for c in chunks])
    y = np.concatenate([c[2] for c in chunks])
    np.testing.assert_allclose(np.diff(times), 0.25)  # contiguous grid
    np.testing.assert_allclose(x, times)  # the patient's value is its time
    both = times < 10
    np.testing.assert_allclose(y[both][1:], 0.01 - times[both][1:], atol=1e-9)  # sent at t + 0.01 with value -t
    assert np.isnan(y[times > 10.25]).all()
    assert times[-1] >= 19.75 - 5.0  # released up to the latency allowance behind the patient


def test_poor_quality_and_missing_fields_are_missing_values():
    source = SOURCES["heart_rate"]
    assert math.isnan(source.span(Feature("heart_rate", "patient", 1.0, {"bpm": 70.0, "quality": "poor"}))[2])
    assert source.span(Feature("heart_rate", "patient", 1.0, {"bpm": 70.0, "quality": "good"})) == (1.0, 1.0, 70.0)
    assert math.isnan(SOURCES["eda_level"].span(Feature("eda", "patient", 1.0, {"tonic_us": 2.0}))[2])
    level = Feature("eda", "patient", 1.0, {"tonic_us": np.float32(2.0), "phasic_us": 0.25})  # numpy scalars count
    assert SOURCES["eda_level"].span(level) == (1.0, 1.0, 2.25)
    voice = Feature("voice_segment", "patient", 9.0, {"start": 7.5, "end": 9.0, "duration_s": 1.5, "arousal": 0.3})
    assert SOURCES["vocal_arousal"].span(voice) == (7.5, 9.0, 0.3)
