"""Reading XDF files: the XDF project's example files, and our own recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dyadscope.stream.assign import parse_override
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.xdf.reader import load_recording, load_xdf, merged_chunks
from dyadscope.xdf.recorder import Recorder


@pytest.fixture
def xdf_dir(shared_data: Path) -> Path:
    return shared_data / "xdf"


def test_minimal_file_values_offsets_and_strings(xdf_dir: Path) -> None:
    recording = load_recording(xdf_dir / "minimal.xdf")
    data = recording.stream("SendDataC")
    assert data.info.channel_format == "int16" and data.info.modality == "EEG"
    assert data.values.dtype == np.int16
    np.testing.assert_array_equal(data.values[:2], [[192, 255, 238], [12, 22, 32]])
    np.testing.assert_allclose(data.raw_timestamps, 5.1 + np.arange(9) / 10, atol=1e-9)
    np.testing.assert_allclose(data.timestamps, data.raw_timestamps - 0.1, atol=1e-9)  # clock offset -0.1 applied
    np.testing.assert_array_equal(data.clock_offsets, [[6.1, -0.1], [7.1, -0.1]])
    assert "<desc" in data.xml and "<uid>xdfwriter_11_int</uid>" in data.xml
    markers = recording.stream("SendDataString")
    assert markers.values.dtype == object and markers.values.shape == (9, 1)
    assert list(markers.values[1:5, 0]) == ["Hello", "World", "from", "LSL"]
    assert recording.metadata["version"] == "1.0"


def test_clock_resets_are_aligned_onto_one_clock(xdf_dir: Path) -> None:
    streams = {s.info.name: s for s in load_xdf(xdf_dir / "clock_resets.xdf")}
    eeg, markers = streams["BioSemi"], streams["MyMarkerStream"]
    assert len(eeg) == 27815 and len(markers) == 175
    raw_jumps = np.diff(eeg.raw_timestamps)
    assert raw_jumps.min() < -1000  # the sender's clock did reset ...
    assert np.all(np.diff(eeg.timestamps) > 0)  # ... yet the common clock runs on
    assert np.all(np.diff(markers.timestamps) > 0)
    # both streams span the same stretch of the common clock
    assert abs(eeg.timestamps[0] - markers.timestamps[0]) < 5
    assert abs(eeg.timestamps[-1] - markers.timestamps[-1]) < 5
    assert eeg.values.shape == (27815, 8) and eeg.values.dtype == np.float32


def test_empty_streams_load_empty(xdf_dir: Path) -> None:
    streams = {s.info.name: s for s in load_xdf(xdf_dir / "empty_streams.xdf")}
    assert len(streams) == 4
    empty_data = streams["Empty data stream: test stream 0 counter"]
    assert empty_data.values.shape == (0, 1) and empty_data.timestamps.shape == (0,)
    assert empty_data.info.channel_labels == ("ch:00",)
    empty_markers = streams["Empty marker stream: test stream 0 counter"]
    assert empty_markers.values.shape == (0, 1)
    counter = streams["Data stream: test stream 0 counter"]
    np.testing.assert_array_equal(counter.values[:, 0], np.arange(10))
    assert streams["ctrl"].values[0, 0] == '{"state": 2}'


def test_roles_from_our_recordings_and_from_overrides(tmp_path: Path) -> None:
    path = tmp_path / "r.xdf"
    eda = StreamInfo(name="Shimmer A", modality="EDA", channel_count=1, nominal_rate=32.0, role="therapist")
    with Recorder(path, {"subject": "P07"}) as rec:
        rec.write(Chunk(eda, np.arange(64) / 32.0, np.ones((64, 1), np.float32)))
        rec.write_events([Event("s", 1, 0.5, 0.0, "scr", "therapist", {"amplitude": 0.2})])
    recording = load_recording(path)
    by_name = {s.info.name: s for s in recording.streams}
    assert by_name["Shimmer A"].info.role == "therapist"
    assert by_name["Shimmer A"].info.modality == "EDA"
    assert by_name["DyadScope scr therapist"].dyadscope["kind"] == "scr"
    assert recording.metadata["subject"] == "P07"
    overridden = load_xdf(path, overrides=[parse_override("Shimmer A=patient")])
    assert {s.info.name: s.info.role for s in overridden}["Shimmer A"] == "patient"


def test_merged_chunks_come_in_time_order_and_cover_everything(xdf_dir: Path) -> None:
    streams = load_xdf(xdf_dir / "clock_resets.xdf")
    chunks = list(merged_chunks(streams, step=1.0))
    starts = [c.timestamps[0] for c in chunks]
    assert starts == sorted(starts)
    assert all(c.timestamps[-1] - c.timestamps[0] < 1.0 for c in chunks)
    assert sum(len(c) for c in chunks) == sum(len(s) for s in streams)
    with pytest.raises(ValueError):
        next(merged_chunks(streams, step=0))
