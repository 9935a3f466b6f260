"""Replay publishes a file's streams on real LSL outlets with their metadata and timing."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import dyadscope.xdf.writer as xw
from dyadscope.sensors.lsl_config import configure_lsl
from dyadscope.sensors.replay import Replay, outlet_info
from dyadscope.service.cli import main
from dyadscope.xdf.reader import load_xdf

configure_lsl()
import pylsl  # noqa: E402  (after configure_lsl, as the service does)


def _inlet(name: str) -> pylsl.StreamInlet:
    (info,) = pylsl.resolve_byprop("name", name, timeout=10.0)
    inlet = pylsl.StreamInlet(info, max_buflen=60)
    inlet.open_stream(timeout=10.0)
    return inlet


def _pull_all(inlet: pylsl.StreamInlet, expected: int) -> tuple[list, list]:
    values, stamps = [], []
    for _ in range(200):
        chunk, ts = inlet.pull_chunk(timeout=0.1)
        values += chunk
        stamps += ts
        if len(stamps) >= expected:
            break
    return values, stamps


def test_replay_of_minimal_file_keeps_values_metadata_and_spacing(shared_data: Path) -> None:
    streams = load_xdf(shared_data / "xdf" / "minimal.xdf")
    with Replay(streams, speed=4.0) as replay:
        ints, strings = _inlet("SendDataC"), _inlet("SendDataString")
        assert replay.wait_for_consumers(10.0)
        header = ints.info(timeout=5.0)
        assert (header.type(), header.channel_count(), header.channel_format()) == ("EEG", 3, pylsl.cf_int16)
        runner = threading.Thread(target=replay.run)
        runner.start()
        int_values, int_stamps = _pull_all(ints, 9)
        string_values, string_stamps = _pull_all(strings, 9)
        runner.join(10)
    by_name = {s.info.name: s for s in streams}
    np.testing.assert_array_equal(int_values, by_name["SendDataC"].values)
    assert [v[0] for v in string_values] == list(by_name["SendDataString"].values[:, 0])
    # timing: the recorded spacing, 4 times faster, and the two streams keep their relative offset
    np.testing.assert_allclose(np.diff(int_stamps), np.diff(by_name["SendDataC"].timestamps) / 4, atol=1e-6)
    lead = by_name["SendDataString"].timestamps[0] - by_name["SendDataC"].timestamps[0]
    assert string_stamps[0] - int_stamps[0] == pytest.approx(lead / 4, abs=1e-6)
    assert replay.samples_sent == 18


def test_outlet_keeps_the_whole_description(shared_data: Path) -> None:
    streams = {s.info.name: s for s in load_xdf(shared_data / "xdf" / "empty_streams.xdf")}
    info = outlet_info(streams["Empty data stream: test stream 0 counter"])
    assert info.desc().child_value("manufacturer") == "pylsltools"
    channel = info.desc().child("channels").child("channel")
    assert channel.child_value("label") == "ch:00"
    assert info.source_id() == "test_stream.py:191790:0"


def test_loop_carries_timestamps_on(shared_data: Path) -> None:
    streams = [s for s in load_xdf(shared_data / "xdf" / "minimal.xdf") if s.info.name == "SendDataC"]
    with Replay(streams, speed=20.0, loop=True) as replay:
        inlet = _inlet("SendDataC")
        assert replay.wait_for_consumers(10.0)
        runner = threading.Thread(target=replay.run)
        runner.start()
        values, stamps = _pull_all(inlet, 27)
        replay.stop()
        runner.join(10)
    assert len(stamps) >= 27
    np.testing.assert_array_equal(values[9:18], streams[0].values)  # second pass, same values
    np.testing.assert_allclose(np.diff(stamps[:27]), 0.1 / 20, atol=1e-6)  # and no gap between passes


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Replay([], speed=0)


@pytest.mark.parametrize("name, speed", [("clock_resets.xdf", 5000.0), ("empty_streams.xdf", 200.0)])
def test_other_tools_files_replay_completely(shared_data: Path, name: str, speed: float) -> None:
    streams = load_xdf(shared_data / "xdf" / name)
    with Replay(streams, speed=speed) as replay:
        assert len(replay.outlets) == len(streams)  # empty streams get an outlet too
        assert replay.run() == sum(len(s) for s in streams)


def test_replay_verb(shared_data: Path, capsys) -> None:
    assert main(["replay", str(shared_data / "xdf" / "minimal.xdf"), "--speed", "50"]) == 0
    assert "replayed 18 samples" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # argparse refuses it, one line
        main(["replay", str(shared_data / "xdf" / "minimal.xdf"), "--speed", "0"])
    assert refused.value.code == 2 and "--speed: 0 must be a number above 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"not an XDF file at all\n", "OSError"),
        (  # a stream header that is not XML: pyxdf raises a ParseError (a SyntaxError, not OSError/ValueError)
            xw.MAGIC + xw.file_header_chunk() + xw.stream_header_chunk(1, "<info><name>cut off</nam"),
            "ParseError",
        ),
    ],
)
def test_replay_of_a_file_that_is_not_xdf_is_a_one_line_error(
    tmp_path: Path, content: bytes, error: str, capsys
) -> None:
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(content)
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"dyadscope replay: error: {bad}: cannot read it as XDF ({error}: " in err and "Traceback" not in err
