"""`dyadscope analyze` end to end: a real recording as XDF, through the live pipeline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _physio_support import RATE, neurokit, recording

from dyadscope.service.cli import main
from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf.recorder import Recorder


@pytest.fixture(scope="module")
def eventrelated(shared_data):
    return shared_data / "physio" / "bio_eventrelated_100hz.csv"


@pytest.fixture(scope="module")
def physio_xdf(eventrelated, tmp_path_factory):
    """The ECG, RSP and EDA of the recording as a patient's LSL streams, in an XDF file."""
    data = recording(eventrelated)
    path = tmp_path_factory.mktemp("xdf") / "session.xdf"
    recorder = Recorder(path, {"session": "s01"})
    t = 500.0 + np.arange(len(data)) / RATE
    for modality in ("ECG", "RSP", "EDA"):
        info = StreamInfo(
            f"Patient {modality}", modality, 1, RATE, "float32", source_id=f"pat-{modality}", role="patient"
        )
        recorder.add_stream(info)
        for start in range(0, len(data), 25):  # 0.25 s chunks, as an amplifier sends them
            values = data[modality].to_numpy()[start : start + 25, None]
            recorder.write(Chunk(info, t[start : start + 25], values))
    recorder.close()
    return path


def assert_every_table_has_its_dictionary(out):
    """Each table analyze wrote has ``<table>.json`` beside it, describing every column from the codebook."""
    tables = json.loads((out / "summary.json").read_text())["tables"]
    assert tables and sorted(tables) == sorted(p.name for p in out.glob("*.csv"))
    for name in tables:
        columns = list(pd.read_csv(out / name, nrows=0).columns)
        sidecar = json.loads((out / name).with_suffix(".json").read_text(encoding="utf-8"))
        assert list(sidecar) == columns, name
        for column, entry in sidecar.items():
            assert entry["LongName"] == column
            assert "not described" not in entry["Description"], (name, column)


def test_analyze_writes_events_and_tables_that_agree_with_neurokit2(physio_xdf, eventrelated, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(physio_xdf), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "used" in printed and "Patient ECG" in printed

    reference = neurokit(eventrelated)
    rpeaks = pd.read_csv(out / "rpeak.csv")
    assert list(rpeaks.columns[:5]) == ["t", "t_from_start", "wall_time", "seq", "role"]
    assert set(rpeaks["role"]) == {"patient"}
    assert abs(len(rpeaks) - len(reference["rpeaks"])) <= 0.01 * len(reference["rpeaks"])
    scr = pd.read_csv(out / "scr.csv")
    assert abs(len(scr) - len(reference["scr_peaks"])) <= 1
    rsa = pd.read_csv(out / "rsa.csv").dropna(subset=["p2t_ms"]).drop_duplicates("p2t_breath_t")
    assert rsa["p2t_ms"].mean() == pytest.approx(reference["rsa"]["RSA_P2T_Mean"], rel=0.05)

    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["session"] for e in events} == {"s01"}
    assert sum(e["kind"] == "rpeak" for e in events) == len(rpeaks)
    summary = json.loads((out / "summary.json").read_text())
    assert all(s["used"] for s in summary["streams"]) and summary["events"]["rpeak"] == len(rpeaks)
    assert_every_table_has_its_dictionary(out)
    assert json.loads((out / "rpeak.json").read_text(encoding="utf-8"))["ibi_ms"]["Units"] == "ms"


def test_analyze_replays_the_baseline_the_assistant_started(physio_xdf, tmp_path):
    """A baseline_start in the recording's event log starts the baseline offline too."""
    from dyadscope.offline.analysis import analyze
    from dyadscope.stream.types import Event
    from dyadscope.xdf.reader import load_recording

    copy = tmp_path / "with-baseline.xdf"
    recorder = Recorder(copy, {"session": "s02"})
    for stream in load_recording(physio_xdf).streams:
        recorder.add_stream(stream.info, stream.xml)
        recorder.write(stream.chunk())
    recorder.write_events([Event("s02", 1, 510.0, 0.0, "baseline_start", None, {"duration_s": 60.0})])
    recorder.close()
    result = analyze(load_recording(copy), tmp_path / "out")
    baseline = pd.read_csv(tmp_path / "out" / "baseline.csv")
    assert result.events["baseline"] == 1 and baseline["start_t"].tolist() == [510.0]
    assert baseline["end_t"].tolist() == [570.0] and 50 < baseline["heart_rate_bpm"][0] < 120


def test_files_it_cannot_use_give_a_clear_error(shared_data, tmp_path, capsys):
    minimal = shared_data / "xdf" / "minimal.xdf"  # an EEG-typed stream and string markers, no roles
    assert main(["analyze", str(minimal), "--out", str(tmp_path / "a"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no stream can be analysed" in err and "Traceback" not in err
    not_xdf = tmp_path / "notes.xdf"
    not_xdf.write_text("this is not an XDF file")
    assert main(["analyze", str(not_xdf), "--out", str(tmp_path / "b"), "--no-progress"]) == 2
    assert "cannot read it as XDF" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing.xdf"), "--out", str(tmp_path / "c")]) == 2
    bad_assign = ["analyze", str(minimal), "--out", str(tmp_path / "d"), "--assign", "no equals sign"]
    assert main(bad_assign) == 2


def test_analyze_a_dyad_writes_synchrony_and_dissonance(tmp_path):
    """Both people's physiology plus affect brought in as FaceAffect/VoiceAffect streams."""
    from dyadscope.sensors.simulate import SimulatedDyad

    path = tmp_path / "dyad.xdf"
    recorder = Recorder(path, {"session": "dyad"})
    dyad = SimulatedDyad(2)
    for step in range(1, 241):
        for chunk in dyad.read_until(float(step)):
            recorder.write(chunk)
    face = StreamInfo(
        "Patient FaceAffect",
        "FaceAffect",
        2,
        10.0,
        "float32",
        source_id="face-p",
        role="patient",
        channel_labels=("valence", "arousal"),
    )
    voice = StreamInfo(
        "Patient VoiceAffect",
        "VoiceAffect",
        3,
        0.0,
        "float32",
        source_id="voice-p",
        role="patient",
        channel_labels=("valence", "arousal", "duration_s"),
    )
    frames = np.arange(0.0, 240.0, 0.1)
    recorder.write(Chunk(face, frames, np.tile([0.6, 0.2], (frames.size, 1))))
    ends = np.arange(10.0, 240.0, 10.0)  # a 2 s utterance every 10 s; every other one sounds negative
    valence = np.where(np.arange(ends.size) % 2 == 0, -0.5, 0.5)
    recorder.write(Chunk(voice, ends, np.column_stack([valence, np.full(ends.size, 0.3), np.full(ends.size, 2.0)])))
    recorder.close()

    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--no-progress"]) == 0
    sync = pd.read_csv(out / "sync.csv")
    assert {"eda", "heart_rate"} <= set(sync["modality"])
    assert {"r", "lag_s", "leader"} <= set(sync.columns)
    assert np.all(np.diff(sync[sync["modality"] == "eda"]["t"]) <= 2.0 + 1e-9)  # at least every 2 s
    dissonance = pd.read_csv(out / "dissonance.csv")
    assert len(dissonance) == ends.size
    # |V_voice - V_face| is 1.1 for the negative utterances and 0.1 for the others, T = 0.5
    np.testing.assert_array_equal(dissonance["dissonant"].to_numpy(), valence < 0)
    np.testing.assert_allclose(dissonance["end"], ends, atol=1e-6)
    assert_every_table_has_its_dictionary(out)


def test_a_stream_the_processors_refuse_is_skipped_with_its_reason(physio_xdf, tmp_path):
    from dyadscope.offline.analysis import analyze
    from dyadscope.xdf.reader import load_recording

    path = tmp_path / "with-bad.xdf"
    recorder = Recorder(path, {"session": "s03"})
    for stream in load_recording(physio_xdf).streams:
        recorder.write(stream.chunk())
    slow = StreamInfo("Therapist EDA", "EDA", 1, 0.05, "float32", source_id="th-eda", role="therapist")
    recorder.write(Chunk(slow, 500.0 + np.arange(5) * 20.0, np.full((5, 1), 4.0)))
    recorder.close()
    result = analyze(load_recording(path), tmp_path / "out")
    verdicts = {use.name: use for use in result.streams}
    assert not verdicts["Therapist EDA"].used and "refuse" in verdicts["Therapist EDA"].reason
    assert verdicts["Patient ECG"].used and result.events["rpeak"] > 100


def test_analyze_gives_movement_synchrony_from_recorded_movement_streams(shared_data, tmp_path):
    """rMEA motion energy of a real session as two Movement streams in an XDF file, with the live session's log.

    The movement the live session logged from those streams is recomputed,
    not replayed beside them; the synchrony equals the file's own. An
    accelerometer in a unit ENMO cannot take is skipped with its reason.
    """
    from _movement_support import MEA_RATE_HZ, motion_energy, movement_sync

    from dyadscope.stream.processors.physio.movement import movement_stream_processors
    from dyadscope.stream.types import Event

    energy = dict(zip(("patient", "therapist"), motion_energy(shared_data)))
    n = int(120 * MEA_RATE_HZ)
    t = 300.0 + np.arange(n) / MEA_RATE_HZ
    path = tmp_path / "movement.xdf"
    recorder = Recorder(path, {"session": "mea"})
    logged = []
    for role, values in energy.items():
        info = StreamInfo(
            f"{role.title()} motion energy", "Movement", 1, MEA_RATE_HZ, source_id=f"mea-{role}", role=role
        )
        chunk = Chunk(info, t, values[:n, None])
        recorder.write(chunk)
        logged += movement_stream_processors(info)[0].process(chunk)  # what the live session logged
    recorder.write_events(Event("mea", i + 1, f.t, 0.0, f.kind, f.role, f.data) for i, f in enumerate(logged))
    counts = StreamInfo("Patient wrist", "ACC", 3, 50.0, source_id="wrist", role="patient", units=("counts",) * 3)
    recorder.write(Chunk(counts, 300.0 + np.arange(100) / 50.0, np.ones((100, 3))))  # a unit ENMO cannot take
    recorder.close()

    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {s["name"] for s in summary["streams"] if s["used"]} == {"Patient motion energy", "Therapist motion energy"}
    wrist = next(s for s in summary["streams"] if s["name"] == "Patient wrist")
    assert "refuse" in wrist["reason"] and "g, mg or m/s^2" in wrist["reason"] and "'counts'" in wrist["reason"]
    movement = pd.read_csv(out / "movement.csv")
    assert len(movement) == 2 * n and set(movement["measure"]) == {"motion_energy"}  # each sample once
    sync = pd.read_csv(out / "sync.csv")
    sync = sync[sync["modality"] == "movement"].reset_index(drop=True)
    reference = movement_sync({role: (t, values[:n]) for role, values in energy.items()})
    assert len(sync) == len(reference) >= 35
    np.testing.assert_allclose(sync["t"], [f.t for f in reference], atol=1e-9)
    np.testing.assert_allclose(sync["r"], [f.data["r"] for f in reference], atol=1e-9)
    np.testing.assert_allclose(sync["lag_s"], [f.data["lag_s"] for f in reference], atol=1e-9)
    assert_every_table_has_its_dictionary(out)


def test_an_unfinished_recording_is_analysed_with_a_hint_to_repair_it(physio_xdf, tmp_path, capsys):
    torn = tmp_path / "torn.xdf"
    data = physio_xdf.read_bytes()
    torn.write_bytes(data[: len(data) * 2 // 3])  # a kill mid-session: no footers, a torn last chunk
    assert main(["analyze", str(torn), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "was not closed" in err and f"dyadscope repair {torn}" in err
    assert (tmp_path / "out" / "events.jsonl").stat().st_size > 0  # analysed up to its last whole chunk
    assert main(["repair", str(torn)]) == 0
    assert main(["analyze", str(torn), "--out", str(tmp_path / "again"), "--no-progress"]) == 0
