"""The streaming filter helpers give the batch result whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

import dyadscope.stream.processors.physio._filters as filters
from dyadscope.stream.processors.physio._filters import MovingAverage, StreamingSOSFilter


def _chunked(apply, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    """``apply`` called on consecutive pieces of ``x`` with the given sizes (cycled)."""
    out, start, i = [], 0, 0
    while start < x.shape[0]:
        out.append(apply(x[start : start + sizes[i % len(sizes)]]))
        start += sizes[i % len(sizes)]
        i += 1
    return np.concatenate(out)


@pytest.fixture
def noise() -> np.ndarray:
    return np.random.default_rng(7).normal(size=2000) + 3.0


def test_sos_filter_matches_batch_sosfilt_started_at_steady_state(noise):
    sos = sps.butter(2, (0.5, 40), btype="bandpass", fs=250, output="sos")
    batch, _ = sps.sosfilt(sos, noise, zi=sps.sosfilt_zi(sos) * noise[0])
    streamed = _chunked(StreamingSOSFilter.butter(250, low=0.5, high=40), noise, [1, 7, 250, 3])
    np.testing.assert_array_equal(streamed, batch)


def test_sos_filter_public_scipy_path_gives_the_same(noise, monkeypatch):
    fast = _chunked(StreamingSOSFilter.butter(250, low=0.5, high=40), noise, [1, 33])
    monkeypatch.setattr(filters, "_sosfilt_kernel", None)  # as on a SciPy without the kernel
    public = _chunked(StreamingSOSFilter.butter(250, low=0.5, high=40), noise, [1, 33])
    np.testing.assert_array_equal(public, fast)


def test_sos_filter_has_no_step_transient_at_an_offset_start():
    constant = np.full(500, 42.0)
    assert np.abs(StreamingSOSFilter.butter(100, low=0.5)(constant)).max() < 1e-9


def test_sos_filter_reset_restarts_from_the_next_sample(noise):
    fresh = StreamingSOSFilter.butter(100, high=10)
    used = StreamingSOSFilter.butter(100, high=10)
    used(noise[:500] * 50)
    used.reset()
    np.testing.assert_array_equal(used(noise[500:]), fresh(noise[500:]))


def test_sos_filter_clamps_a_cutoff_above_nyquist():
    # 40 Hz at 50 Hz sampling: lowered to 22.5 Hz instead of failing.
    filt = StreamingSOSFilter.butter(50, low=0.5, high=40)
    assert filt.sos.shape == (2, 6)
    with pytest.raises(ValueError, match="low cut-off, a high cut-off or both"):
        StreamingSOSFilter.butter(50)


def test_sos_filter_filters_channels_independently(noise):
    two = np.column_stack((noise, -2 * noise))
    streamed = _chunked(StreamingSOSFilter.butter(100, low=1), two, [13, 1])
    single = StreamingSOSFilter.butter(100, low=1)(noise)
    np.testing.assert_allclose(streamed[:, 0], single)
    np.testing.assert_allclose(streamed[:, 1], -2 * single)


@pytest.mark.parametrize("size", [1, 2, 25, 300])
def test_moving_average_is_the_trailing_mean(noise, size):
    expected = np.array([noise[max(0, i - size + 1) : i + 1].mean() for i in range(noise.shape[0])])
    streamed = _chunked(MovingAverage(size), noise, [1, 5, 400, 2])
    np.testing.assert_allclose(streamed, expected, rtol=1e-12)


def test_moving_average_reset_forgets_history(noise):
    average = MovingAverage(10)
    average(noise)
    average.reset()
    assert average(np.array([5.0]))[0] == 5.0
