"""``dyadscope record`` on real LSL outlets.

Exact values and timestamps, required and late streams, the replay round trip,
and a file closed cleanly on SIGINT and SIGTERM, also from a background job.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import pyxdf

import dyadscope.xdf.writer as xw
from dyadscope.sensors.lsl_config import configure_lsl
from dyadscope.sensors.replay import Replay
from dyadscope.sensors.simulated_recording import record_simulated_session
from dyadscope.service.cli import main
from dyadscope.xdf.reader import load_xdf
from dyadscope.xdf.recorder import Recorder
from dyadscope.xdf.repair import XdfFormatError, is_unfinished, scan_chunks

configure_lsl()
import pylsl  # noqa: E402

NUMERIC = ("float32", "double64", "int8", "int16", "int32", "int64")
#: The command line in its own process.
DYADSCOPE = [sys.executable, "-m", "dyadscope.service.cli"]


def wait_recording(out: Path, streams: int, timeout: float = 20.0) -> None:
    """Until the file below ``out`` holds ``streams`` stream headers (recording has started for them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(out.rglob("*.xdf"))
        if files:
            with open(files[0], "rb") as f:
                try:
                    headers = sum(c.tag == xw.Tag.STREAM_HEADER for c in scan_chunks(f))
                except XdfFormatError:  # created an instant ago: the magic bytes are not flushed yet
                    headers = 0
            if headers >= streams:
                return
        time.sleep(0.1)
    raise AssertionError(f"recording did not start for {streams} streams")


class RecordRun:
    """``dyadscope record`` in a thread; its exit code once it ends."""

    def __init__(self, out: Path, *args: str):
        self.out = out
        self.code: int | None = None
        argv = ["record", "--out", str(out), "--subject", "T1", *args]
        self.thread = threading.Thread(target=lambda: setattr(self, "code", main(argv)), daemon=True)
        self.thread.start()

    def file(self) -> Path:
        (path,) = self.out.rglob("*.xdf")
        return path

    def wait_recording(self, streams: int) -> None:
        wait_recording(self.out, streams)

    def join(self, timeout: float = 60.0) -> int:
        self.thread.join(timeout)
        assert self.code is not None, "record did not finish"
        return self.code


def _outlet(name: str, fmt: str, channels: int = 2, rate: float = 100.0, kind: str = "ECG") -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, kind, channels, rate, fmt, f"{name}-{uuid.uuid4().hex[:6]}")
    return pylsl.StreamOutlet(info)


def _known(fmt: str, n: int) -> np.ndarray:
    if fmt in ("float32", "double64"):
        return (np.random.default_rng(5).standard_normal((n, 2)) * 100).astype(xw.NUMERIC_DTYPES[fmt])
    info = np.iinfo(xw.NUMERIC_DTYPES[fmt])
    low, high = max(info.min, -(2**31)), min(info.max, 2**31)
    values = np.random.default_rng(5).integers(low, high, (n, 2), dtype=np.int64)
    values[0] = (low, high)
    if fmt == "int64":  # beyond float64's 2**53: only a recording that keeps the dtype gets these right
        values[1] = (2**62 + 1, -(2**62) - 3)
    return values.astype(xw.NUMERIC_DTYPES[fmt])


#: String samples (two channels): non-ASCII, empty, long and XML-looking text must all come back.
TEXTS = [["start", "é ✓ ü"], ["", "a" * 300], ["<not-xml & 'quoted'>", "line\nbreak"], ["end", "0"]]


def _header_of(path: Path, name: str) -> ET.Element:
    """The recorded stream header of stream ``name``, as stored in the file."""
    with open(path, "rb") as f:
        for chunk in scan_chunks(f):
            if chunk.tag == xw.Tag.STREAM_HEADER:
                root = ET.fromstring(chunk.content)
                if root.findtext("name") == name:
                    return root
    raise AssertionError(f"no header for {name}")


def _canonical(root: ET.Element) -> str:
    return ET.canonicalize(ET.tostring(root, encoding="unicode"), strip_text=True)


def test_every_channel_format_and_irregular_streams_come_back_exactly(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    names = [f"patient ECG {fmt} {tag}" for fmt in NUMERIC]
    outlets = {fmt: _outlet(name, fmt) for fmt, name in zip(NUMERIC, names)}
    # LabRecorder records these too: text markers and an irregular numeric stream, neither with a role
    text_name, irregular_name = f"notes {tag}", f"irregular {tag}"
    text_info = pylsl.StreamInfo(text_name, "Markers", 2, 0.0, "string", f"notes-{tag}")
    text_info.desc().append_child("acquisition").append_child_value("manufacturer", "Acme Ω")
    text_outlet = pylsl.StreamOutlet(text_info)
    irregular_outlet = pylsl.StreamOutlet(pylsl.StreamInfo(irregular_name, "", 1, 0.0, "double64", f"irr-{tag}"))
    every = [*names, text_name, irregular_name]
    run = RecordRun(tmp_path, "--duration", "4", *[a for n in every for a in ("--name", n, "--require", n)])
    run.wait_recording(len(every))
    base = pylsl.local_clock() - 10.0
    stamps = base + np.arange(120) / 100.0 + np.random.default_rng(1).uniform(0, 1e-4, 120)
    for fmt, outlet in outlets.items():
        assert outlet.wait_for_consumers(10.0)
        values = _known(fmt, 120)
        for part in np.array_split(np.arange(120), 4):
            outlet.push_chunk(values[part], stamps[part].tolist())
    text_stamps = base + np.array([0.5, 0.5000004, 2.25, 7.125])
    irregular_stamps = base + np.sort(np.random.default_rng(2).uniform(0, 5, 30))
    irregular_values = np.random.default_rng(3).standard_normal((30, 1)) * 1e6
    for outlet in (text_outlet, irregular_outlet):
        assert outlet.wait_for_consumers(10.0)
    text_outlet.push_chunk(TEXTS, text_stamps.tolist())
    irregular_outlet.push_chunk(irregular_values, irregular_stamps.tolist())
    assert run.join() == 0

    raw, header = pyxdf.load_xdf(str(run.file()), synchronize_clocks=False, dejitter_timestamps=False)
    synced, _ = pyxdf.load_xdf(str(run.file()), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in raw}
    synced_by_name = {s["info"]["name"][0]: s for s in synced}
    assert header["info"]["subject"] == ["T1"]
    for fmt, name in zip(NUMERIC, names):
        stream = by_name[name]
        assert stream["info"]["channel_format"] == [fmt]
        np.testing.assert_array_equal(stream["time_series"], _known(fmt, 120))
        np.testing.assert_allclose(stream["time_stamps"], stamps, rtol=0, atol=1e-6)
        assert stream["info"]["desc"][0]["dyadscope"][0]["role"] == ["patient"]
        assert len(stream["clock_times"]) >= 1
        # with the recorded offsets applied: the sender's stamps moved onto the recorder's clock
        offset = stream["clock_values"][0]
        np.testing.assert_allclose(synced_by_name[name]["time_stamps"], stamps + offset, rtol=0, atol=1e-4)

    text = by_name[text_name]
    assert text["info"]["channel_format"] == ["string"] and text["info"]["nominal_srate"] == ["0.000000000000000"]
    assert text["time_series"] == TEXTS
    np.testing.assert_allclose(text["time_stamps"], text_stamps, rtol=0, atol=1e-6)
    irregular = by_name[irregular_name]
    np.testing.assert_array_equal(irregular["time_series"], irregular_values)
    np.testing.assert_allclose(irregular["time_stamps"], irregular_stamps, rtol=0, atol=1e-6)

    _assert_sender_header_kept(run.file(), text_name)


def _assert_sender_header_kept(path: Path, text_name: str) -> None:
    """The sender's whole header, as its own inlets see it, is in the file; ours is one element added to desc."""
    (sender,) = [i for i in pylsl.resolve_byprop("name", text_name, timeout=5.0)]
    sent = ET.fromstring(pylsl.StreamInlet(sender).info(timeout=5.0).as_xml())
    recorded = _header_of(path, text_name)
    desc = recorded.find("desc")
    desc.remove(desc.find("dyadscope"))
    assert recorded.findtext("desc/acquisition/manufacturer") == "Acme Ω"
    assert _canonical(recorded) == _canonical(sent)


def test_missing_required_stream_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code = main(
        ["record", "--out", str(tmp_path), "--subject", "T1", "--require", "no such stream", "--require-timeout", "1"]
    )
    assert code == 2
    assert "required streams not found within 1 s: no such stream" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.xdf"))


def test_record_shows_its_progress_unless_quiet(tmp_path: Path, capfd) -> None:
    tag = uuid.uuid4().hex[:6]
    outlet = _outlet(f"patient EDA {tag}", "float32", 1, 32.0, "EDA")
    run = RecordRun(tmp_path / "loud", "--duration", "12", "--name", f"patient EDA {tag}")
    run.wait_recording(1)
    assert outlet.wait_for_consumers(10.0)
    outlet.push_chunk(np.ones((64, 1), np.float32))
    assert run.join() == 0
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("recording ")]
    assert lines, "no progress line in 12 s"
    assert re.fullmatch(r"recording 0:00:\d\d · 1 streams · [\d,]+ samples · \d+\.\d MB", lines[-1])
    quiet = RecordRun(tmp_path / "quiet", "--duration", "7", "--name", f"patient EDA {tag}", "-q")
    assert quiet.join() == 0
    assert not [line for line in capfd.readouterr().err.splitlines() if line.startswith("recording ")]


def test_a_stream_that_appears_later_joins_the_file(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    first = _outlet(f"patient EDA {tag}", "float32", 1, 32.0, "EDA")
    run = RecordRun(tmp_path, "--duration", "5", "--name", f"therapist EDA {tag}", "--require", f"patient EDA {tag}")
    run.wait_recording(1)
    late = _outlet(f"therapist EDA {tag}", "float32", 1, 32.0, "EDA")
    run.wait_recording(2)
    for outlet in (first, late):
        assert outlet.wait_for_consumers(10.0)
        outlet.push_chunk(np.ones((32, 1), np.float32))
    assert run.join() == 0
    streams = {s.info.name: s for s in load_xdf(run.file())}
    assert streams[f"therapist EDA {tag}"].info.role == "therapist"
    assert len(streams[f"therapist EDA {tag}"]) == 32 and len(streams[f"patient EDA {tag}"]) == 32


def test_replayed_recording_records_back_the_same(tmp_path: Path) -> None:
    with Recorder(tmp_path / "original.xdf") as rec:
        record_simulated_session(rec, 3.0, seed=int(uuid.uuid4().int % 1000))
    original = [s for s in load_xdf(rec.path) if s.info.modality in ("ECG", "RSP", "EDA")]
    tag = uuid.uuid4().hex[:6]
    # unique names, so streams of other tests running beside this one cannot be mistaken for these
    renamed = [
        replace(s, info=replace(s.info, name=f"{s.info.name} {tag}", source_id=f"{s.info.source_id}-{tag}"))
        for s in original
    ]
    out = tmp_path / "rerecorded"
    with Replay(renamed, speed=1.0) as replay:
        run = RecordRun(
            out, "--duration", "6", *[a for s in renamed for a in ("--name", s.info.name, "--require", s.info.name)]
        )
        run.wait_recording(len(renamed))
        assert replay.wait_for_consumers(10.0)
        replay.run()
        assert run.join() == 0
    again = {s.info.name: s for s in load_xdf(run.file())}
    shift = None
    for stream in renamed:
        copy = again[stream.info.name]
        assert copy.info.role == stream.info.role and copy.info.modality == stream.info.modality
        np.testing.assert_array_equal(copy.values, stream.values)
        shift = copy.timestamps[0] - stream.timestamps[0] if shift is None else shift
        np.testing.assert_allclose(copy.timestamps - stream.timestamps, shift, atol=1e-4)


def _samples_in(path: Path) -> int:
    """How many samples the whole chunks of an XDF file (finished or not) hold."""
    with open(path, "rb") as f:
        try:
            chunks = [c.content for c in scan_chunks(f) if c.tag == xw.Tag.SAMPLES]
        except XdfFormatError:  # created an instant ago: the magic bytes are not flushed yet
            return 0
    return sum(int.from_bytes(content[1 : 1 + content[0]], "little") for content in chunks)


def wait_samples(out: Path, samples: int, timeout: float = 20.0) -> None:
    """Until the file below ``out`` holds ``samples`` samples on disk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(_samples_in(path) >= samples for path in out.rglob("*.xdf")):
            return
        time.sleep(0.1)
    raise AssertionError(f"the recording did not reach {samples} samples")


def _as_background_job() -> None:
    """Start the child as ``bash -c 'cmd &'`` does: with SIGINT ignored, which exec keeps."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


STOP_SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.mark.parametrize("signum", STOP_SIGNALS)
def test_a_stop_signal_closes_the_file_also_from_a_background_job(tmp_path: Path, signum: int) -> None:
    name = f"patient RSP {uuid.uuid4().hex[:6]}"
    outlet = _outlet(name, "float32", 1, 50.0, "RSP")
    argv = ["record", "--out", str(tmp_path), "--subject", "T2", "--name", name, "--require", name]
    proc = subprocess.Popen([*DYADSCOPE, *argv], stdout=subprocess.PIPE, text=True, preexec_fn=_as_background_job)
    try:
        wait_recording(tmp_path, 1)
        assert outlet.wait_for_consumers(10.0)
        outlet.push_chunk(np.arange(50, dtype=np.float32)[:, None])
        wait_samples(tmp_path, 50)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "recorded 1 streams" in out
    (path,) = tmp_path.rglob("*.xdf")
    assert not is_unfinished(path)
    (stream,) = load_xdf(path)
    np.testing.assert_array_equal(stream.values[:, 0], np.arange(50))


@pytest.mark.parametrize("signum", STOP_SIGNALS)
def test_a_stop_signal_while_waiting_for_required_streams_stops_without_a_traceback(
    tmp_path: Path, signum: int
) -> None:
    argv = ["record", "--out", str(tmp_path), "--subject", "T2", "--require", f"absent {uuid.uuid4().hex[:6]}"]
    proc = subprocess.Popen(
        [*DYADSCOPE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_as_background_job
    )
    try:
        for line in proc.stderr:  # the log says when it waits
            if "waiting up to 30 s for absent" in line:
                break
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them
    assert "Traceback" not in err and "stopped before recording started" in out
    assert not list(tmp_path.rglob("*.xdf"))


def _limit_file_size() -> None:
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))


def test_full_disk_stops_recording_with_a_clear_error_and_a_readable_file(tmp_path: Path) -> None:
    name = f"patient ECG {uuid.uuid4().hex[:6]}"
    outlet = _outlet(name, "double64", 2, 500.0, "ECG")
    argv = ["record", "--out", str(tmp_path), "--subject", "T3", "--name", name, "--require", name, "--duration", "60"]
    proc = subprocess.Popen([*DYADSCOPE, *argv], stderr=subprocess.PIPE,
                            text=True, preexec_fn=_limit_file_size)  # fmt: skip
    try:
        wait_recording(tmp_path, 1)
        assert outlet.wait_for_consumers(10.0)
        for _ in range(100):  # 2 x 8 bytes x 500 Hz: the 30 kB limit is reached within a few seconds
            outlet.push_chunk(np.ones((50, 2)))
            time.sleep(0.05)
            if proc.poll() is not None:
                break
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 2, err
    assert "disk full" in err and "recording stopped" in err
    (path,) = tmp_path.rglob("*.xdf")
    (stream,) = load_xdf(path)
    assert 0 < len(stream) and path.stat().st_size <= 30_000
    np.testing.assert_array_equal(stream.values, np.ones((len(stream), 2)))
