"""The session recorder: contents, naming, crash safety, repair, full disks and unwritable folders."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from _recording_support import mount_tmpfs, unmount

import dyadscope.xdf.repair as xdf_repair
import dyadscope.xdf.writer as xw
from dyadscope.service.cli import main
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.xdf.recorder import (
    DiskFullError,
    Recorder,
    RecordingError,
    UnwritableError,
)

ECG = StreamInfo(
    name="ECG patient", modality="ECG", channel_count=2, nominal_rate=500.0, source_id="ecg-p", role="patient",
    channel_labels=("I", "II"), units=("mV", "mV"),
)  # fmt: skip


def _by_name(streams: list[dict]) -> dict[str, dict]:
    return {s["info"]["name"][0]: s for s in streams}


def _ecg_chunk(start: int, n: int) -> tuple[Chunk, np.ndarray]:
    index = np.arange(start, start + n)
    raw = 100.0 + index / 500.0
    values = np.column_stack([np.sin(index / 50.0), np.cos(index / 50.0)]).astype(np.float32)
    return Chunk(ECG, raw + 0.25, values), raw  # chunk on the session clock, raw on the sender's


def test_records_streams_offsets_events_and_markers(tmp_path: Path) -> None:
    path = tmp_path / "rec.xdf"
    with Recorder(path, {"participant": "P01"}) as rec:
        rec.add_stream(ECG)
        for k in range(10):
            chunk, raw = _ecg_chunk(k * 50, 50)
            rec.clock_offset(ECG.key, raw[0], 0.25)
            rec.write(chunk, raw_timestamps=raw)
        events = [
            Event("s", 1, 100.2, 0.0, "heart_rate", "patient", {"bpm": 71.5, "quality": "good"}),
            Event("s", 2, 100.4, 0.0, "heart_rate", "patient", {"bpm": 72.0}),
            Event("s", 3, 100.5, 0.0, "synchrony", None, {"r": 0.4, "lag": -1.5}),
        ]
        rec.write_events(events)
        rec.marker(100.3, "patient laughs")

    streams, header = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by_name = _by_name(streams)
    assert header["info"]["participant"] == ["P01"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", header["info"]["datetime"][0])  # LabRecorder's
    ecg = by_name["ECG patient"]
    np.testing.assert_array_equal(ecg["time_series"], np.vstack([_ecg_chunk(k * 50, 50)[0].values for k in range(10)]))
    np.testing.assert_allclose(ecg["time_stamps"], 100.25 + np.arange(500) / 500.0, atol=1e-6)
    assert ecg["footer"]["info"]["sample_count"] == ["500"]
    assert ecg["info"]["desc"][0]["dyadscope"][0]["role"] == ["patient"]

    logged = [json.loads(row[0]) for row in by_name["DyadScope events"]["time_series"]]
    assert [e["seq"] for e in logged] == [1, 2, 3]
    assert logged[0]["data"] == {"bpm": 71.5, "quality": "good"}
    hr = by_name["DyadScope heart_rate patient"]
    np.testing.assert_array_equal(hr["time_series"][:, 0], [71.5, 72.0])
    assert hr["info"]["desc"][0]["dyadscope"][0]["kind"] == ["heart_rate"]
    sync = by_name["DyadScope synchrony dyad"]
    assert [c["label"][0] for c in sync["info"]["desc"][0]["channels"][0]["channel"]] == ["lag", "r"]
    np.testing.assert_array_equal(sync["time_series"], [[-1.5, 0.4]])
    assert by_name["DyadScope markers"]["time_series"] == [["patient laughs"]]
    assert not xdf_repair.is_unfinished(path)


def test_a_stalled_disk_makes_the_recorder_say_it_is_behind_and_drop_nothing(tmp_path: Path, caplog) -> None:
    rec = Recorder(tmp_path / "slow.xdf", max_pending_bytes=64 << 10)
    with caplog.at_level("INFO", logger="dyadscope.xdf.recorder"):
        with rec._io_lock:  # the flusher cannot write, as when the disk hangs
            for k in range(40):  # about 170 kB of ECG
                rec.write(_ecg_chunk(k * 250, 250)[0])
            assert rec.behind and rec.pending_bytes > 64 << 10
        warnings = [r for r in caplog.records if r.levelname == "WARNING" and "is behind" in r.getMessage()]
        assert len(warnings) == 1 and "slow.xdf" in warnings[0].getMessage()  # loud, but once, not per chunk
        rec.flush()  # the disk is back
        assert not rec.behind and rec.pending_bytes == 0
        assert any("caught up" in r.getMessage() for r in caplog.records)
    rec.close()
    (stream,), _ = pyxdf.load_xdf(str(rec.path), dejitter_timestamps=False)
    np.testing.assert_allclose(stream["time_stamps"], 100.25 + np.arange(40 * 250) / 500.0, atol=1e-6)  # none dropped


def test_session_naming_is_bids_style_and_never_overwrites(tmp_path: Path) -> None:
    first = Recorder.for_session(tmp_path, subject="P01", session="3", task="therapy")
    second = Recorder.for_session(tmp_path, subject="P01", session="3", task="therapy")
    first.close()
    second.close()
    assert first.path == tmp_path / "sub-P01/ses-3/sub-P01_ses-3_task-therapy_run-01_physio.xdf"
    assert second.path.name == "sub-P01_ses-3_task-therapy_run-02_physio.xdf"
    with pytest.raises(FileExistsError):
        Recorder(first.path)
    for bad in ("John Doe", "../x", "", "p-1"):
        with pytest.raises(ValueError, match="letters and digits"):
            Recorder.for_session(tmp_path, subject=bad, session="1")


def test_boundary_and_clock_offset_chunks_are_written_periodically(tmp_path: Path) -> None:
    ticks = iter(np.arange(0.0, 1000.0, 4.0))
    with Recorder(tmp_path / "b.xdf", clock=lambda: next(ticks), boundary_interval=10.0) as rec:
        for k in range(6):
            rec.write(_ecg_chunk(k * 10, 10)[0])
            rec.flush()
    with open(tmp_path / "b.xdf", "rb") as f:
        tags = [c.tag for c in xdf_repair.scan_chunks(f)]
    assert tags.count(5) >= 2
    assert tags.count(4) >= 3  # the first with the first samples, then one about every 5 s
    (stream,), _ = pyxdf.load_xdf(str(tmp_path / "b.xdf"), dejitter_timestamps=False)
    assert stream["clock_values"] == [0.0] * len(stream["clock_values"])
    assert stream["clock_times"] == sorted(stream["clock_times"])


_CRASHING_RECORDER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from dyadscope.xdf.recorder import Recorder
    from dyadscope.stream.types import Chunk, StreamInfo
    info = StreamInfo(name="EDA", modality="EDA", channel_count=1, nominal_rate=32.0)
    rec = Recorder(sys.argv[1])
    rec.add_stream(info)
    rec.clock_offset(info.key, 0.0, 0.0)
    start = time.monotonic()
    while True:
        t = time.monotonic() - start
        rec.write(Chunk(info, np.array([t]), np.array([[t]])))
        print(t, flush=True)
        time.sleep(0.02)
    """
)


def test_kill_minus_nine_leaves_a_loadable_file_that_repair_closes(tmp_path: Path) -> None:
    path = tmp_path / "crash.xdf"
    proc = subprocess.Popen([sys.executable, "-c", _CRASHING_RECORDER, str(path)], stdout=subprocess.PIPE, text=True)
    last = 0.0
    try:
        for line in proc.stdout:
            last = float(line)
            if last > 4.0:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    (stream,), _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    stamps = stream["time_stamps"]
    assert stamps[-1] >= last - 2.0  # written at most ~1 s (the flush interval) before the kill
    np.testing.assert_array_equal(stream["time_series"][:, 0].astype(np.float64), stamps.astype(np.float32))
    assert xdf_repair.is_unfinished(path)
    assert xdf_repair.find_unfinished(tmp_path) == [path]

    report = xdf_repair.repair(path)
    assert report.footers_added == (1,)
    assert not xdf_repair.is_unfinished(path)
    (closed,), _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    assert closed["footer"]["info"]["sample_count"] == [str(len(stamps))]
    assert float(closed["footer"]["info"]["last_timestamp"][0]) == stamps[-1]
    assert xdf_repair.find_unfinished(tmp_path) == []


def test_repair_drops_a_torn_last_chunk(tmp_path: Path) -> None:
    path = tmp_path / "torn.xdf"
    with Recorder(path) as rec:
        rec.write(_ecg_chunk(0, 100)[0])
    whole = path.read_bytes()
    chunk_bytes = len(whole)
    path.write_bytes(whole + whole[-40:-10])  # half of a chunk after the footer
    assert xdf_repair.is_unfinished(path)
    report = xdf_repair.repair(path)
    assert report.bytes_dropped == 30 and report.footers_added == ()
    assert path.stat().st_size == chunk_bytes


def test_find_unfinished_skips_a_file_being_recorded(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "live.xdf")
    rec.write(_ecg_chunk(0, 10)[0])
    rec.flush()
    assert xdf_repair.find_unfinished(tmp_path) == []
    rec.close()


def _unfinished(chunk: Chunk, header_xml: str | None = None) -> bytes:
    """What a recorder that died leaves: a stream header and samples, no footer."""
    return (
        xw.MAGIC + xw.file_header_chunk() + xw.stream_header_chunk(1, header_xml or xw.stream_header_xml(ECG))
        + xw.samples_chunk(1, "float32", chunk.timestamps, chunk.values)
    )  # fmt: skip


def test_one_damaged_file_does_not_stop_the_others_from_being_repaired(tmp_path: Path, caplog) -> None:
    chunk = _ecg_chunk(0, 10)[0]
    good = tmp_path / "good.xdf"
    good.write_bytes(_unfinished(chunk))
    damaged = {
        "cut_header.xdf": _unfinished(chunk, "<info><name>cut off"),  # not XML: ParseError
        "odd_format.xdf": _unfinished(chunk, xw.stream_header_xml(ECG).replace(">float32<", ">float128<")),  # KeyError
        "short_offset.xdf": (  # a clock offset chunk of one number, not two: struct.error
            _unfinished(chunk) + xw.encode_chunk(xw.Tag.CLOCK_OFFSET, (1).to_bytes(4, "little") + bytes(8))
        ),
    }
    for name, content in damaged.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "garbage.xdf").write_bytes(b"not XDF at all")
    with caplog.at_level("WARNING", logger="dyadscope.xdf.repair"):
        reports = xdf_repair.repair_unfinished(tmp_path)  # what the service runs at start-up
    assert [(r.path, r.footers_added) for r in reports] == [(good, (1,))]
    assert not xdf_repair.is_unfinished(good)
    for name, content in damaged.items():
        assert (tmp_path / name).read_bytes() == content  # left as they were
        assert any(name in r.getMessage() and "cannot repair" in r.getMessage() for r in caplog.records)
    assert any("garbage.xdf" in r.getMessage() and "cannot inspect" in r.getMessage() for r in caplog.records)
    _, failures = xdf_repair.repair_each(sorted(tmp_path.glob("*.xdf")))
    assert {f.path.name: f.reason.split(":")[0] for f in failures} == {
        "cut_header.xdf": "ParseError", "odd_format.xdf": "KeyError", "short_offset.xdf": "error",
        "garbage.xdf": "XdfFormatError",
    }  # fmt: skip


def test_repair_refuses_a_file_a_live_recorder_holds(tmp_path: Path, capsys) -> None:
    with Recorder(tmp_path / "live.xdf") as rec:
        rec.write(_ecg_chunk(0, 10)[0])
        rec.flush()
        before = rec.path.read_bytes()
        with pytest.raises(xdf_repair.FileInUseError):
            xdf_repair.repair(rec.path)
        assert main(["repair", str(rec.path)]) == 2
        err = capsys.readouterr().err
        assert f"{rec.path} is being recorded" in err and "Traceback" not in err
        assert rec.path.read_bytes() == before  # no footer added behind the recorder's back
        rec.write(_ecg_chunk(10, 10)[0])
    (stream,), _ = pyxdf.load_xdf(str(rec.path), dejitter_timestamps=False)
    assert len(stream["time_stamps"]) == 20 and not xdf_repair.is_unfinished(rec.path)


def _fill_until_error(rec: Recorder) -> tuple[RecordingError, int]:
    written = 0
    with pytest.raises(RecordingError) as caught:
        for k in range(100_000):
            chunk, _ = _ecg_chunk(k * 250, 250)
            rec.write(chunk)
            written += 250
            rec.flush()
    return caught.value, written


def _assert_prefix_readable(path: Path, at_most: int) -> None:
    (stream,), _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    n = len(stream["time_stamps"])
    assert 0 < n <= at_most
    np.testing.assert_array_equal(stream["time_stamps"], 100.25 + np.arange(n) / 500.0)


@pytest.fixture
def small_disk(tmp_path: Path):
    where = tmp_path / "small"
    if not mount_tmpfs(where, "size=128k"):
        pytest.skip("cannot mount a small tmpfs here (needs root); the RLIMIT_FSIZE test covers full disks")
    yield where
    unmount(where)


def test_disk_full_stops_cleanly_and_keeps_the_file_readable(small_disk: Path) -> None:
    errors = []
    rec = Recorder(small_disk / "full.xdf", on_error=errors.append)
    error, written = _fill_until_error(rec)
    assert isinstance(error, DiskFullError)
    assert "disk full" in str(error) and "full.xdf" in str(error)
    assert errors == [error]
    with pytest.raises(DiskFullError):
        rec.marker(1.0, "after the disk filled")
    rec.close()
    _assert_prefix_readable(small_disk / "full.xdf", written)


_SIZE_LIMITED = textwrap.dedent(
    """
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    import numpy as np
    from dyadscope.xdf.recorder import DiskFullError, Recorder
    from dyadscope.stream.types import Chunk, StreamInfo
    info = StreamInfo(name="ECG", modality="ECG", channel_count=2, nominal_rate=500.0, channel_format="float32")
    rec = Recorder(sys.argv[1])
    written = 0
    try:
        for k in range(10_000):
            idx = np.arange(k * 250, (k + 1) * 250)
            rec.write(Chunk(info, 100.25 + idx / 500.0, np.zeros((250, 2), np.float32)))
            written += 250
            rec.flush()
    except DiskFullError as exc:
        print(written, exc)
    rec.close()
    """
)


def test_file_size_limit_is_a_full_disk_too(tmp_path: Path) -> None:
    path = tmp_path / "limited.xdf"
    out = subprocess.run([sys.executable, "-c", _SIZE_LIMITED, str(path)], capture_output=True, text=True, check=True)
    written, message = out.stdout.split(" ", 1)
    assert "disk full" in message
    assert path.stat().st_size <= 100_000
    _assert_prefix_readable(path, int(written))


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UnwritableError, match="cannot write"):
        Recorder(tmp_path / "afile" / "rec.xdf")
    readonly = tmp_path / "ro"
    if mount_tmpfs(readonly, "ro,size=64k"):
        try:
            with pytest.raises(UnwritableError, match="Read-only file system"):
                Recorder(readonly / "rec.xdf")
        finally:
            unmount(readonly)


def test_closed_recorder_refuses_writes(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "c.xdf")
    rec.close()
    rec.close()
    with pytest.raises(RecordingError, match="closed"):
        rec.write(_ecg_chunk(0, 1)[0])
    with pytest.raises(KeyError):
        Recorder(tmp_path / "d.xdf").clock_offset("nope", 0.0, 0.0)


def test_periodic_flush_reaches_disk_without_further_calls(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "p.xdf", flush_interval=0.1)
    rec.marker(5.0, "hello")
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        streams, _ = pyxdf.load_xdf(str(tmp_path / "p.xdf"))
        if streams and streams[0]["time_series"]:
            break
        time.sleep(0.05)
    assert streams[0]["time_series"] == [["hello"]]
    rec.close()


def test_repair_verb_closes_unfinished_files_in_a_folder(tmp_path: Path, capsys) -> None:
    chunk = _ecg_chunk(0, 10)[0]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.xdf").write_bytes(_unfinished(chunk))
    assert main(["repair", str(tmp_path)]) == 0
    assert "a.xdf: closed 1 streams" in capsys.readouterr().out
    assert not xdf_repair.is_unfinished(tmp_path / "sub" / "a.xdf")
    assert main(["repair", str(tmp_path / "sub" / "a.xdf")]) == 0
    assert "already complete" in capsys.readouterr().out
    assert main(["repair", str(tmp_path / "missing.xdf")]) == 2
    (tmp_path / "sub" / "b.xdf").write_bytes(_unfinished(chunk, "<info><name>cut off"))
    (tmp_path / "sub" / "c.xdf").write_bytes(_unfinished(chunk))
    assert main(["repair", str(tmp_path)]) == 2  # the damaged one is reported, the other still repaired
    out, err = capsys.readouterr()
    assert "c.xdf: closed 1 streams" in out and "cannot repair 1 file(s)" in err and "b.xdf (ParseError" in err
