"""Track reading: audio resampled to 16 kHz mono, stamped by sample count, moved forward only after losses;
video converted by one kept converter to what PyAV's own conversion gives."""

from __future__ import annotations

import fractions
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest
import skimage.data

from dyadscope.sensors.av_tracks import AudioReader, VideoReader, audio_stream_info


def _frame(index: int, rate: int = 48000, samples: int = 960, skipped_s: float = 0.0) -> av.AudioFrame:
    """20 ms of stereo s16 at 48 kHz, as WebRTC's Opus decoder gives it, ``skipped_s`` after lost packets."""
    t = (index * samples + np.arange(samples)) / rate
    tone = (0.2 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2)[None, :], format="s16", layout="stereo")
    frame.sample_rate, frame.time_base = rate, fractions.Fraction(1, rate)
    frame.pts = index * samples + round(skipped_s * rate)
    return frame


def _reader() -> AudioReader:
    """A reader that is only asked to stamp (no track, no sink: the sensor layer needs no models)."""
    return AudioReader(None, audio_stream_info("mic", "patient"), None, None)


def test_audio_is_resampled_and_stamped_by_sample_count():
    consumer = _reader()
    arrivals = 10.0 + 0.02 * np.arange(1, 51) + np.random.default_rng(1).uniform(0, 0.01, 50)  # jittery network
    chunks = [consumer._to_chunk(_frame(i), t) for i, t in enumerate(arrivals)]
    chunks = [c for c in chunks if c is not None]
    times = np.concatenate([c.timestamps for c in chunks])
    values = np.concatenate([c.values[:, 0] for c in chunks])
    assert chunks[0].info.nominal_rate == 16000 and chunks[0].values.shape[1] == 1
    assert values.size == pytest.approx(50 * 320, abs=64)  # 1 s of audio, minus the resampler's delay
    np.testing.assert_allclose(np.diff(times), 1 / 16000, rtol=1e-6)  # no jitter
    assert times[0] == pytest.approx(10.0, abs=0.02)
    assert np.abs(values).max() == pytest.approx(0.2, abs=0.02)


def test_lost_audio_moves_the_timeline_forward_never_back():
    consumer = _reader()
    times = []
    for i in range(20):
        late = 2.0 if i >= 10 else 0.0  # a two-second loss after frame 10
        chunk = consumer._to_chunk(_frame(i, skipped_s=late), 5.0 + 0.02 * (i + 1) + late)
        if chunk is not None:
            times.append(chunk.timestamps)
    early = 3.0 - 0.02 * 5  # a burst: frames arriving sooner than real time
    for i in range(20, 25):
        times.append(consumer._to_chunk(_frame(i), early + 0.001 * i).timestamps)
    stamps = np.concatenate(times)
    steps = np.diff(stamps)
    assert (steps > 0).all()
    assert steps.max() == pytest.approx(2.0, abs=0.05)
    assert (steps < 1e-3).sum() == steps.size - 1


def test_late_audio_without_a_loss_keeps_its_sample_count_stamps():
    """A busy machine reads frames late; their timestamps say nothing is missing, so speech keeps its length."""
    consumer = _reader()
    chunks = []
    for i in range(40):
        stall = 0.55 if i >= 20 else 0.0  # the reader stalls once, then catches up late
        chunks.append(consumer._to_chunk(_frame(i), 5.0 + 0.02 * (i + 1) + stall))
    stamps = np.concatenate([c.timestamps for c in chunks if c is not None])
    np.testing.assert_allclose(np.diff(stamps), 1 / 16000, rtol=1e-6)


def test_audio_without_timestamps_moves_forward_after_half_a_second_late():
    consumer = _reader()
    stamps = []
    for i in range(20):
        frame = _frame(i)
        frame.pts = None
        chunk = consumer._to_chunk(frame, 5.0 + 0.02 * (i + 1) + (0.8 if i >= 10 else 0.0))
        if chunk is not None:
            stamps.append(chunk.timestamps)
    steps = np.diff(np.concatenate(stamps))
    assert steps.max() == pytest.approx(0.8, abs=0.05)
    assert (steps < 1e-3).sum() == steps.size - 1


def _camera_frames(width: int, height: int, count: int) -> list[av.VideoFrame]:
    """Frames of a real picture moving right, in yuv420p as a camera's decoder gives them."""
    image = cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), (width, height))
    return [
        av.VideoFrame.from_ndarray(np.roll(image, 7 * i, axis=1), format="bgr24").reformat(format="yuv420p")
        for i in range(count)
    ]


@pytest.mark.parametrize("colour", [True, False])
def test_video_frames_convert_as_pyav_does_through_a_size_change(colour):
    """The kept converter gives PyAV's own ``to_ndarray``, also after the sender changes resolution."""
    reader = VideoReader(None, SimpleNamespace(colour=colour), None)
    fmt = "bgr24" if colour else "gray"
    frames = _camera_frames(640, 480, 3) + _camera_frames(320, 240, 3) + _camera_frames(640, 480, 2)
    for frame in frames:
        image = reader._convert(frame)
        assert image.shape == ((frame.height, frame.width, 3) if colour else (frame.height, frame.width))
        np.testing.assert_array_equal(image, frame.to_ndarray(format=fmt))
