"""Export to BIDS, CSV, Parquet and the report figure, from our recordings and from other tools' files.

The report figure itself is looked at in ``test_offline_report.py``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dyadscope.offline.export.bids import export_bids, on_grid
from dyadscope.offline.export.tables import export_tables
from dyadscope.sensors.simulated_recording import record_simulated_session
from dyadscope.service.cli import main
from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf.reader import Recording, load_recording
from dyadscope.xdf.recorder import Recorder

DURATION = 50.0


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Recording:
    root = tmp_path_factory.mktemp("rec")
    with Recorder.for_session(root, subject="P01", session="2", task="therapy") as rec:
        record_simulated_session(rec, DURATION)
        rec.marker(12.5, "patient cries")
    return load_recording(rec.path)


def test_bids_physio_per_person_and_rate_group_with_sidecars(session: Recording, tmp_path: Path) -> None:
    written = export_bids(session, tmp_path)
    for role in ("patient", "therapist"):
        folder = tmp_path / f"sub-P01{role}" / "ses-2" / "beh"
        stem = f"sub-P01{role}_ses-2_task-therapy_run-1"
        assert {p.name for p in written} >= {f"{stem}_recording-500Hz_physio.tsv.gz", f"{stem}_events.tsv"}
        for rate, modality, unit in ((500, "ECG", "mV"), (50, "RSP", "a.u."), (32, "EDA", "µS")):
            meta = json.loads((folder / f"{stem}_recording-{rate}Hz_physio.json").read_text())
            assert meta["SamplingFrequency"] == rate
            assert meta["Columns"] == [modality]  # this person's only: the other's is in their own folder
            assert meta[modality]["Units"] == unit and role in meta[modality]["Description"]
            assert meta["PhysioType"] == "generic" and meta["TaskName"] == "therapy"
            assert meta["StartTime"] == pytest.approx(0.0, abs=1e-9)
            with gzip.open(folder / f"{stem}_recording-{rate}Hz_physio.tsv.gz", "rt") as f:
                first = f.readline()
            assert not first[0].isalpha()  # no header row
            table = pd.read_csv(folder / f"{stem}_recording-{rate}Hz_physio.tsv.gz", sep="\t", header=None)
            assert table.shape == (int(DURATION * rate), 1)
            recorded = next(s for s in session.streams if s.info.modality == modality and s.info.role == role)
            np.testing.assert_allclose(table[0], recorded.values[:, 0], rtol=1e-7, atol=1e-7)
        events = pd.read_csv(folder / f"{stem}_events.tsv", sep="\t", keep_default_na=False)
        assert list(events.columns) == ["onset", "duration", "trial_type", "role", "value", "source"]
        assert events["onset"].is_monotonic_increasing
        marker = events[events["value"] == "patient cries"].iloc[0]  # markers are the session's: in both files
        assert marker["trial_type"] == "marker" and marker["onset"] == pytest.approx(12.5)
        assert set(events["role"]) <= {role, "n/a"}
    events = pd.read_csv(
        tmp_path / "sub-P01patient/ses-2/beh/sub-P01patient_ses-2_task-therapy_run-1_events.tsv", sep="\t"
    )
    dissonant = events[events["trial_type"] == "dissonance"].iloc[0]
    assert float(dissonant["duration"]) == pytest.approx(2.0) and json.loads(dissonant["value"])["dissonant"] is True
    assert (tmp_path / "dataset_description.json").exists()


def test_bids_keeps_every_stream_of_one_role_and_modality(tmp_path: Path) -> None:
    def ecg(name: str, role: str, labels: tuple[str, ...]) -> StreamInfo:
        return StreamInfo(name, "ECG", len(labels), 250.0, source_id=name, role=role, channel_labels=labels)

    streams = [  # a chest strap and its backup on the patient; a therapist lead whose two channels share a label
        ecg("strap", "patient", ("ECG",)), ecg("backup", "patient", ("ECG",)), ecg("lead", "therapist", ("ECG", "ECG"))
    ]  # fmt: skip
    t = 10.0 + np.arange(500) / 250.0
    with Recorder(tmp_path / "two.xdf", {"subject": "P02", "task": "therapy"}) as rec:
        for k, info in enumerate(streams):
            values = (np.arange(500 * info.channel_count).reshape(500, -1) + 1000 * k).astype(np.float32)
            rec.write(Chunk(info, t, values))
    recording = load_recording(rec.path)
    export_bids(recording, tmp_path / "bids")
    ids = {s.info.name: s.stream_id for s in recording.streams}
    by_name = {s.info.name: s for s in recording.streams}
    for role, columns, names in (
        ("patient", [f"ECG_stream{ids['strap']}", f"ECG_stream{ids['backup']}"], ["strap", "backup"]),
        ("therapist", ["ECG_0", "ECG_1"], ["lead"]),
    ):
        stem = tmp_path / "bids" / f"sub-P02{role}" / "beh" / f"sub-P02{role}_task-therapy_recording-250Hz_physio"
        meta = json.loads(stem.with_suffix(".json").read_text())
        assert meta["Columns"] == columns
        table = pd.read_csv(f"{stem}.tsv.gz", sep="\t", header=None)
        np.testing.assert_array_equal(table.to_numpy(), np.column_stack([by_name[n].values for n in names]))
    assert "'backup'" in meta_of(tmp_path / "bids", "P02patient")[f"ECG_stream{ids['backup']}"]["Description"]


def meta_of(root: Path, person: str) -> dict:
    """The 250 Hz physio sidecar of ``person`` in the two-stream test's export."""
    return json.loads(
        (root / f"sub-{person}" / "beh" / f"sub-{person}_task-therapy_recording-250Hz_physio.json").read_text()
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_per_stream_and_per_measure(session: Recording, tmp_path: Path, fmt: str) -> None:
    paths = {p.name: p for p in export_tables(session, tmp_path, fmt)}
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    ecg = read(paths[f"stream-DyadScopepatientECG.{fmt}"])
    recorded = next(s for s in session.streams if s.info.name == "DyadScope patient ECG")
    assert list(ecg.columns) == ["t", "t_from_start", "wall_time", "t_raw", "patient_ECG"]
    np.testing.assert_array_equal(ecg["t"], recorded.timestamps)
    np.testing.assert_allclose(ecg["patient_ECG"], recorded.values[:, 0].astype(np.float64))
    hr = read(paths[f"heart_rate.{fmt}"])  # the codebook's kind, as analyze names it
    assert list(hr.columns[:5]) == ["t", "t_from_start", "wall_time", "seq", "role"]
    assert {"bpm", "quality"} <= set(hr.columns) and set(hr["role"]) == {"patient", "therapist"}
    dissonance = read(paths[f"dissonance.{fmt}"])
    assert dissonance["dissonant"].all()
    markers = read(paths[f"stream-DyadScopemarkers.{fmt}"])
    assert list(markers["text"]) == ["patient cries"]
    marker = read(paths[f"marker.{fmt}"])  # the marker stream's markers as marker events too
    assert list(marker["text"]) == ["patient cries"] and list(marker["t"]) == [12.5]
    assert not any("DyadScopeheartrate" in name for name in paths)  # derived streams: the measure tables hold them


@pytest.mark.parametrize("name", ["minimal.xdf", "clock_resets.xdf", "empty_streams.xdf"])
def test_example_files_export_to_every_format(shared_data: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    code = main(["export", str(shared_data / "xdf" / name), "--to", "bids", "--to", "csv", "--to", "parquet",
                 "--to", "report", "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    assert list(out.rglob("*_physio.tsv.gz")) + list(out.rglob("*_eeg.vhdr")) and list(out.rglob("*_report.pdf"))
    assert len(list(out.glob("*.csv"))) == len(list(out.glob("*.parquet"))) >= 2


def test_export_of_a_missing_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path / "nope.xdf"), "--to", "csv", "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_grid_keeps_samples_on_it_and_leaves_gaps_empty(session: Recording) -> None:
    from dataclasses import replace

    eda = next(s for s in session.streams if s.info.modality == "EDA")
    grid = eda.timestamps[0] + np.arange(len(eda)) / 32.0
    np.testing.assert_array_equal(on_grid(eda, grid, 32.0)[:, 0], eda.values[:, 0])
    keep = np.r_[0:100, 200 : len(eda)]  # a gap of 100 samples
    jittered = replace(eda, timestamps=eda.timestamps[keep] + 0.004, values=eda.values[keep])
    out = on_grid(jittered, grid, 32.0)[:, 0]
    assert np.isnan(out[101:200]).all()
    assert not np.isnan(out[1:100]).any() and not np.isnan(out[201:-1]).any()
    expected = np.interp(grid[150 + 60], jittered.timestamps, jittered.values[:, 0].astype(float))
    assert out[210] == pytest.approx(expected)


def _assert_dictionary_covers(dictionary: dict, columns: list[str], where: str) -> None:
    for column in columns:
        entry = dictionary.get(column)
        assert entry and entry["Description"] and entry["LongName"], (where, column)
        assert "not described" not in entry["Description"], (where, column)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_table_has_a_data_dictionary_from_the_codebook(session: Recording, tmp_path: Path, fmt: str) -> None:
    written = export_tables(session, tmp_path, fmt)
    tables = [p for p in written if p.suffix == f".{fmt}"]
    sidecars = sorted(p for p in written if p.suffix == ".json" and p.name != "summary.json")
    assert sorted(p.with_suffix(".json") for p in tables) == sidecars
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    for path in tables:
        dictionary = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        columns = list(read(path).columns)
        assert set(dictionary) == set(columns), path.name
        _assert_dictionary_covers(dictionary, columns, path.name)
    hr = json.loads((tmp_path / "heart_rate.json").read_text(encoding="utf-8"))
    assert hr["bpm"]["Units"] == "bpm" and hr["t"]["Units"] == "s" and "Units" not in hr["quality"]
    assert hr["t_from_start"]["Units"] == "s" and "ISO 8601" in hr["wall_time"]["Description"]
    eda = json.loads((tmp_path / "eda.json").read_text(encoding="utf-8"))
    assert eda["tonic_us"]["Units"] == "µS" and "tonic" in eda["tonic_us"]["Description"]
    ecg = json.loads((tmp_path / "stream-DyadScopepatientECG.json").read_text(encoding="utf-8"))
    assert ecg["patient_ECG"]["Units"] == "mV" and ecg["t_raw"]["Units"] == "s"


def test_bids_sidecars_cover_every_column(session: Recording, tmp_path: Path) -> None:
    export_bids(session, tmp_path)
    folders = [tmp_path / f"sub-P01{role}" / "ses-2" / "beh" for role in ("patient", "therapist")]
    for physio in (p for folder in folders for p in folder.glob("*_physio.json")):
        meta = json.loads(physio.read_text())
        _assert_dictionary_covers(meta, meta["Columns"], physio.name)
        assert all(meta[c]["Units"] for c in meta["Columns"])
    for events_tsv in (next(folder.glob("*_events.tsv")) for folder in folders):
        events = pd.read_csv(events_tsv, sep="\t")
        sidecar = json.loads(events_tsv.with_suffix(".json").read_text(encoding="utf-8"))
        _assert_dictionary_covers(sidecar, list(events.columns), events_tsv.name)
        levels = sidecar["trial_type"]["Levels"]
        assert set(events["trial_type"]) <= set(levels)
        assert "not described" not in " ".join(levels.values())


def test_nested_and_unknown_measure_columns_are_described() -> None:
    from dyadscope.offline.export.dictionary import measure_dictionary

    described = measure_dictionary("dissonance", ["t", "voice.valence", "dissonant", "later_field"])
    assert described["voice.valence"]["Units"] == "1" and described["voice.valence"]["Description"].startswith(
        "valence of voice"
    )
    assert "Units" not in described["dissonant"]
    assert "not described" in described["later_field"]["Description"]  # a newer recording's field: still listed
    assert set(measure_dictionary("a_future_kind", ["t", "x"])) == {"t", "x"}


def test_report_flags_lost_streams_and_stream_quality_problems(tmp_path: Path) -> None:
    """``stream_lost`` and ``stream_quality`` carry no status: each is drawn as a quality flag, the all-clears not."""
    from dyadscope.offline.export.common import events
    from dyadscope.offline.export.report import flag_events
    from dyadscope.stream import kinds
    from dyadscope.stream.types import Event

    ecg = StreamInfo("Patient ECG", "ECG", 1, 130.0, "float32", source_id="pat-ecg", role="patient")
    stream = {"stream": ecg.name, "modality": "ECG"}
    logged = [  # (t, kind, data); every event the patient's
        (101.0, kinds.STREAM_FOUND, {**stream, "message": "found"}),
        (102.0, kinds.QUALITY, {**stream, "status": "good", "problems": []}),
        (103.0, kinds.STREAM_QUALITY, {**stream, "message": "3 of 130 samples are NaN", "problem": "nan"}),
        (104.0, kinds.STREAM_QUALITY_OK, {**stream, "message": "no more NaN samples", "problem": "nan"}),
        (105.0, kinds.QUALITY, {**stream, "status": "poor", "problems": ["flat"]}),
        (106.0, kinds.STREAM_LOST, {**stream, "message": "no data for 5.0 s", "reason": "no data"}),
    ]
    path = tmp_path / "lost.xdf"
    with Recorder(path, {"session": "lost"}) as recorder:
        recorder.write(Chunk(ecg, 100.0 + np.arange(130) / 130.0, np.zeros((130, 1), dtype=np.float32)))
        recorder.write_events(
            Event("lost", seq, t, t, kind, "patient", data) for seq, (t, kind, data) in enumerate(logged, 1)
        )
    flags = flag_events(events(load_recording(path)))
    assert flags["quality"] == [(103.0, "patient"), (105.0, "patient"), (106.0, "patient")]
    assert flags["dissonance"] == flags["desync"] == []
