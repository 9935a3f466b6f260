"""One table vocabulary for `analyze` and `export`, session summaries, and foreign files' marker streams and clocks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _physio_support import RATE, recording

from dyadscope.service.cli import main
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.xdf.clocks import on_one_clock
from dyadscope.xdf.reader import load_recording
from dyadscope.xdf.recorder import Recorder

START = 800.0  # where the physiology starts on the session clock (s)
FIVE_DAYS = 5 * 86400.0


def _physio(recorder: Recorder, data: pd.DataFrame) -> None:
    """A patient's ECG, RSP and EDA from a real recording, in 0.25 s chunks from START."""
    t = START + np.arange(len(data)) / RATE
    for modality in ("ECG", "RSP", "EDA"):
        info = StreamInfo(
            f"Patient {modality}", modality, 1, RATE, "float32", source_id=f"p-{modality}", role="patient"
        )
        for i in range(0, len(data), 25):
            recorder.write(Chunk(info, t[i : i + 25], data[modality].to_numpy()[i : i + 25, None]))


@pytest.fixture(scope="module")
def physio(shared_data) -> pd.DataFrame:
    return recording(shared_data / "physio" / "bio_eventrelated_100hz.csv")


@pytest.fixture(scope="module")
def with_baseline(physio, tmp_path_factory) -> Path:
    """150 s of real physiology with a 60 s resting baseline the assistant started 10 s in."""
    path = tmp_path_factory.mktemp("rec") / "baseline.xdf"
    with Recorder(path, {"session": "b01"}) as recorder:
        _physio(recorder, physio)
        recorder.write_events([Event("b01", 1, START + 10, 0.0, "baseline_start", None, {"duration_s": 60.0})])
    return path


@pytest.fixture(scope="module")
def analysed(with_baseline, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analysed")
    assert main(["analyze", str(with_baseline), "--out", str(out), "--no-progress"]) == 0
    return out


def _wall(path: Path, t_from_start: pd.Series) -> pd.Series:
    """The header's datetime plus ``t_from_start``, as ISO 8601 UTC to the millisecond."""
    header = pd.Timestamp(load_recording(path).metadata["datetime"]).tz_convert("UTC").tz_localize(None)
    stamps = header + pd.to_timedelta(t_from_start, unit="s")
    return pd.Series(np.datetime_as_string(stamps.to_numpy().astype("datetime64[ms]"), unit="ms") + "Z")


def test_analyze_and_export_write_the_same_tables_from_one_log(with_baseline, analysed, tmp_path):
    """analyze's events, recorded as a session's log, export to the very tables analyze wrote."""
    logged = [json.loads(line) for line in (analysed / "events.jsonl").read_text().splitlines()]
    session = tmp_path / "session.xdf"
    with Recorder(session, {"session": "b01"}) as recorder:
        for stream in load_recording(with_baseline).streams:
            if stream.info.role is not None:
                recorder.write(stream.chunk())
        keys = ("session", "seq", "t", "t_emit", "kind", "role", "data")
        recorder.write_events(Event(*(e[k] for k in keys)) for e in logged)
    exported = tmp_path / "export"
    assert main(["export", str(session), "--to", "csv", "--out", str(exported), "--no-progress"]) == 0
    analyze_tables = sorted(p.name for p in analysed.glob("*.csv"))
    assert analyze_tables == sorted(p.name for p in exported.glob("*.csv") if not p.name.startswith("stream-"))
    for name in ("heart_rate.csv", "rsa.csv", "rpeak.csv", "baseline.csv", "scr.csv"):
        mine, theirs = pd.read_csv(analysed / name), pd.read_csv(exported / name)
        assert list(mine.columns) == list(theirs.columns), name
        pd.testing.assert_frame_equal(mine.drop(columns="wall_time"), theirs.drop(columns="wall_time"))
        sidecar = json.loads((exported / name).with_suffix(".json").read_text(encoding="utf-8"))
        assert sidecar == json.loads((analysed / name).with_suffix(".json").read_text(encoding="utf-8"))
    for out, path in ((analysed, with_baseline), (exported, session)):  # each against its own file's header
        hr = pd.read_csv(out / "heart_rate.csv")
        np.testing.assert_allclose(hr["t_from_start"], hr["t"] - START, atol=1e-9)
        assert list(hr["wall_time"]) == list(_wall(path, hr["t_from_start"]))
    mine, theirs = (json.loads((out / "summary.json").read_text()) for out in (analysed, exported))
    assert mine["people"] == theirs["people"] and mine["dyad"] == theirs["dyad"]


def test_summary_gives_each_person_baseline_session_means_and_reactivity(analysed):
    summary = json.loads((analysed / "summary.json").read_text())
    patient = summary["people"]["patient"]
    baseline = pd.read_csv(analysed / "baseline.csv").iloc[0]
    assert patient["resting"]["heart_rate_bpm"] == pytest.approx(baseline["heart_rate_bpm"])
    assert patient["resting"]["rsa_p2t_ms"] == pytest.approx(baseline["rsa_p2t_ms"])
    hr = pd.read_csv(analysed / "heart_rate.csv")
    after = hr[(hr["quality"] == "good") & (hr["t"] >= baseline["end_t"])]
    assert len(after) > 30 and patient["session"]["heart_rate_bpm"] == pytest.approx(after["bpm"].mean())
    reactivity = patient["session"]["heart_rate_bpm"] - patient["resting"]["heart_rate_bpm"]
    assert patient["reactivity"]["heart_rate_bpm"] == pytest.approx(reactivity)
    eda = pd.read_csv(analysed / "eda.csv")
    eda = eda[(eda["quality"] == "good") & (eda["t"] >= baseline["end_t"])]
    assert patient["session"]["eda_tonic_us"] == pytest.approx(eda["tonic_us"].mean())
    assert summary["units"]["heart_rate_bpm"] == "bpm" and summary["units"]["eda_tonic_us"] == "µS"
    assert "therapist" not in summary["people"] and patient["flags"] == {"dissonance": 0}
    assert summary["notes"] == [] and summary["events"]["heart_rate"] == len(hr)


def test_summary_gives_the_dyads_synchrony_per_modality(tmp_path):
    from dyadscope.sensors.simulate import SimulatedDyad

    path = tmp_path / "dyad.xdf"
    dyad = SimulatedDyad(3)
    with Recorder(path, {"session": "d01"}) as recorder:
        for step in range(1, 241):  # the index needs a few minutes of surrogates
            for chunk in dyad.read_until(float(step)):
                recorder.write(chunk)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--no-progress"]) == 0
    dyadic = json.loads((out / "summary.json").read_text())["dyad"]
    sync, index = pd.read_csv(out / "sync.csv"), pd.read_csv(out / "sync_index.csv")
    assert set(dyadic["synchrony"]) == set(sync["modality"]) >= {"eda", "heart_rate"}
    for modality, rows in sync.groupby("modality"):
        assert dyadic["synchrony"][modality]["mean_abs_r"] == pytest.approx(rows["abs_r"].mean())
    assert set(index["modality"]) >= {"eda", "heart_rate"}
    for modality, rows in index.groupby("modality"):  # the session's latest index, per modality
        assert dyadic["synchrony"][modality]["windows"] == rows["windows"].iloc[-1]
        latest = rows["index_z"].iloc[-1]
        assert dyadic["synchrony"][modality]["index_z"] == (None if pd.isna(latest) else pytest.approx(latest))
    assert max(entry.get("windows") or 0 for entry in dyadic["synchrony"].values()) > 0
    flags = out / "desync_flag.csv"
    assert dyadic["flags"]["desync"] == (len(pd.read_csv(flags)) if flags.exists() else 0)
    assert dyadic["eda_concordance_ci"] == pytest.approx(pd.read_csv(out / "concordance.csv")["ci_session"].iloc[-1])
    assert set(json.loads((out / "summary.json").read_text())["people"]) == {"patient", "therapist"}


@pytest.fixture(scope="module")
def labrecorder_markers(shared_data):
    """A real LabRecorder marker stream: its raw timestamps (another machine's clock), texts and clock offsets."""
    stream = load_recording(shared_data / "xdf" / "clock_resets.xdf").stream("MyMarkerStream")
    return stream.raw_timestamps, stream.values, stream.clock_offsets


def _with_markers(path, physio, stamps, values, offsets=()) -> Path:
    """Real physiology plus a LabRecorder-style marker stream (no role) on its own clock, with ``offsets``."""
    markers = StreamInfo("MyMarkerStream", "Markers", 1, 0.0, "string", source_id="lr-markers")
    with Recorder(path, {"session": "m01"}, offset_interval=1e9) as recorder:
        _physio(recorder, physio)
        recorder.add_stream(markers)
        for collected, offset in offsets:
            recorder.clock_offset(markers.key, collected, offset)
        recorder.write(Chunk(markers, stamps, values), raw_timestamps=stamps)
    return path


def test_a_real_marker_stream_on_another_clock_is_left_out_and_said_once(physio, labrecorder_markers, tmp_path, capsys):
    """The real file's markers (up to its clock reset) without their clock offsets lie ~7.5 days from the signals."""
    stamps, values, _ = labrecorder_markers
    before_reset = np.argmax(np.diff(stamps) < 0) + 1
    stamps, values = stamps[:before_reset], values[:before_reset]
    path = _with_markers(tmp_path / "off.xdf", physio, stamps, values)
    assert load_recording(path).stream("MyMarkerStream").timestamps[0] - START > 6 * 86400  # what pyxdf gives
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert err.count("clocks disagree") == 1 and "'MyMarkerStream' lies 7.5 days after" in err and "left out" in err
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["notes"]) == 1 and "left out" in summary["notes"][0]
    (use,) = [s for s in summary["streams"] if s["name"] == "MyMarkerStream"]
    assert not use["used"] and "clock that disagrees" in use["reason"]
    assert not (out / "marker.csv").exists()
    hr = pd.read_csv(out / "heart_rate.csv")
    assert hr["t_from_start"].max() < len(physio) / RATE  # no days-long axis
    assert main(["export", str(path), "--to", "csv", "--out", str(tmp_path / "csv"), "--no-progress"]) == 0
    assert capsys.readouterr().err.count("clocks disagree") == 1
    assert not list((tmp_path / "csv").glob("stream-MyMarkerStream*"))
    from dyadscope.offline.batch import FileOptions, analyze_one

    row = analyze_one(path, tmp_path / "row", FileOptions())  # a folder's row says it too
    assert row.status.startswith("ok; clocks disagree") and "left out" in row.status


def test_a_real_marker_stream_with_its_clock_offsets_is_kept_as_marker_events(physio, labrecorder_markers, tmp_path):
    """With the file's own 115 clock offsets (across its clock reset) pyxdf puts the markers on the signals' clock."""
    stamps, values, offsets = labrecorder_markers
    path = _with_markers(tmp_path / "on.xdf", physio, stamps, values, offsets.tolist())
    expected = load_recording(path).stream("MyMarkerStream").timestamps
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    use = next(s for s in summary["streams"] if s["name"] == "MyMarkerStream")
    assert use["used"] and use["role"] is None and "marker" in use["reason"] and summary["notes"] == []
    marker = pd.read_csv(out / "marker.csv")
    assert list(marker["text"]) == list(values[:, 0]) and set(marker["stream"]) == {"MyMarkerStream"}
    np.testing.assert_allclose(marker["t"], expected, atol=1e-9)
    assert summary["events"]["marker"] == len(values)


def test_offsets_pyxdf_cannot_fit_still_align_the_stream(physio, tmp_path):
    """Two offsets at one collection time make pyxdf's fit singular: the stream stays 5 days off, then is aligned."""
    stamps = START + np.array([20.0, 40.0])
    offsets = [(FIVE_DAYS + 100.0, -FIVE_DAYS)] * 2
    path = _with_markers(tmp_path / "singular.xdf", physio, stamps + FIVE_DAYS, np.array([["a"], ["b"]]), offsets)
    loaded = load_recording(path)
    assert loaded.stream("MyMarkerStream").timestamps[0] == pytest.approx(stamps[0] + FIVE_DAYS)
    aligned = on_one_clock(loaded)
    np.testing.assert_allclose(aligned.stream("MyMarkerStream").timestamps, stamps, atol=1e-6)
    assert len(aligned.notes) == 1 and "5.0 days after" in aligned.notes[0] and "aligned" in aligned.notes[0]
    assert on_one_clock(aligned) == aligned  # nothing more to say


@pytest.mark.parametrize("name", ["minimal.xdf", "clock_resets.xdf", "empty_streams.xdf"])
def test_real_files_on_one_clock_come_back_as_they_are(shared_data, name):
    loaded = load_recording(shared_data / "xdf" / name)
    assert on_one_clock(loaded) is loaded and loaded.notes == ()


def test_the_rigs_signal_previews_are_no_measure_table():
    from dyadscope.offline.export.tables import measure_tables

    logged = [
        {"seq": 1, "t": 1.0, "kind": "heart_rate", "role": "patient", "data": {"bpm": 60.0}},
        {"seq": 2, "t": 1.1, "kind": "stream_preview", "role": "patient", "data": {"stream": "ECG"}},
    ]
    assert list(measure_tables(logged)) == ["heart_rate"]  # the raw stream itself is in the recording
