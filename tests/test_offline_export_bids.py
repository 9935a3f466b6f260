"""BIDS for a dyad: one subject per person, events without the feature log, derivatives, EEG, LabRecorder names."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from dyadscope.offline.export.bids import export_bids
from dyadscope.offline.export.bids_dataset import DEFAULT_AUTHORS
from dyadscope.offline.export.common import labels, name_entities
from dyadscope.sensors.simulated_recording import record_simulated_session
from dyadscope.service.cli import main
from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf.reader import Recording, load_recording
from dyadscope.xdf.recorder import Recorder

DURATION = 190.0  # past the simulated 180 s resting baseline
LABRECORDER_NAME = "sub-P001_ses-S001_task-Default_run-001_eeg.xdf"


def _read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False)


@pytest.fixture(scope="module")
def named(tmp_path_factory) -> Recording:
    """A simulated session whose header names both people (as a live session with participants writes it)."""
    root = tmp_path_factory.mktemp("rec")
    who = {"participant_patient": "A7", "participant_therapist": "T3"}
    with Recorder.for_session(root, subject="D5", session="1", task="therapy", metadata=who) as rec:
        record_simulated_session(rec, DURATION)
        rec.marker(30.0, "patient cries")
    return load_recording(rec.path)


def test_each_person_is_a_subject_and_participants_say_dyad_and_role(named: Recording, tmp_path: Path) -> None:
    export_bids(named, tmp_path)
    participants = _read_tsv(tmp_path / "participants.tsv")
    assert participants.to_dict("records") == [
        {"participant_id": "sub-A7", "dyad": "D5", "role": "patient"},
        {"participant_id": "sub-T3", "dyad": "D5", "role": "therapist"},
    ]
    sidecar = json.loads((tmp_path / "participants.json").read_text())
    assert {"dyad", "role"} <= set(sidecar) and set(sidecar["role"]["Levels"]) >= {"patient", "therapist"}
    for person, role in (("A7", "patient"), ("T3", "therapist")):
        physio = sorted((tmp_path / f"sub-{person}" / "ses-1" / "beh").glob("*_physio.json"))
        rates = [p.name.split("_recording-")[1] for p in physio]
        assert rates == ["32Hz_physio.json", "500Hz_physio.json", "50Hz_physio.json"]
        for path in physio:
            meta = json.loads(path.read_text())
            assert all(role in meta[c]["Description"] for c in meta["Columns"]), path.name
    again = Path(str(named.path).replace("ses-1", "ses-2"))  # a second session of the same dyad, into the same dataset
    again.parent.mkdir(parents=True)
    shutil.copy(named.path, again)
    recording = Recording(again, named.streams, {**named.metadata, "session": "2"})
    export_bids(recording, tmp_path)
    assert len(_read_tsv(tmp_path / "participants.tsv")) == 2
    assert (tmp_path / "sub-A7" / "ses-2" / "beh").is_dir() and (tmp_path / "sub-T3" / "ses-1" / "beh").is_dir()


def test_events_hold_markers_baseline_and_flags_and_the_log_goes_to_derivatives(
    named: Recording, tmp_path: Path
) -> None:
    export_bids(named, tmp_path)
    log = [json.loads(row) for s in named.streams if s.info.name == "DyadScope events" for row in s.values[:, 0]]
    markers = next(s for s in named.streams if s.info.name == "DyadScope markers")
    for person, role in (("A7", "patient"), ("T3", "therapist")):
        events = _read_tsv(tmp_path / f"sub-{person}/ses-1/beh/sub-{person}_ses-1_task-therapy_run-1_events.tsv")
        dissonant = [e for e in log if e["kind"] == "dissonance" and e["role"] == role and e["data"]["dissonant"]]
        expected = ["baseline"] + ["dissonance"] * len(dissonant) + ["marker"] * len(markers)
        assert sorted(events["trial_type"]) == sorted(expected)
        baseline = events[events["trial_type"] == "baseline"].iloc[0]
        assert (
            baseline["role"] == role
            and baseline["onset"] == pytest.approx(0.0)
            and float(baseline["duration"]) == 180.0
        )
        assert "patient cries" in set(events["value"])
    assert len(log) > 15 * DURATION  # the feature log: ~20 events a second, none of it above
    derived = tmp_path / "derivatives" / "dyadscope"
    description = json.loads((derived / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["GeneratedBy"][0]["Name"] == "DyadScope"
    for person, role in (("A7", "patient"), ("T3", "therapist")):
        stem = derived / f"sub-{person}" / "ses-1" / "beh" / f"sub-{person}_ses-1_task-therapy_run-1"
        hr = _read_tsv(Path(f"{stem}_desc-heartrate_beh.tsv"))
        assert len(hr) == sum(e["kind"] == "heart_rate" and e["role"] == role for e in log) and set(hr["role"]) == {
            role
        }
        np.testing.assert_allclose(hr["onset"], hr["t"], atol=1e-6)  # the simulated session starts at 0
        dictionary = json.loads(Path(f"{stem}_desc-heartrate_beh.json").read_text())
        assert set(dictionary) == set(hr.columns)
        assert dictionary["bpm"]["Units"] == "bpm" and dictionary["onset"]["Units"] == "s"
        sync = _read_tsv(Path(f"{stem}_desc-sync_beh.tsv"))  # the dyad's: in both people's folders
        assert len(sync) == sum(e["kind"] == "sync" for e in log) and set(sync["role"]) == {"n/a"}
        tables = {p.name.split("desc-")[1].removesuffix("_beh.tsv") for p in stem.parent.glob("*_beh.tsv")}
        mine = {"dissonance"} if role == "patient" else set()  # the patient's voice against their face
        assert tables == {"eda", "heartrate", "rsa", "faceaffect", "sync", "voicesegment", "baseline"} | mine


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("sub-P001_ses-S001_task-Default_run-001_eeg", dict(subject="P001", session="S001", task="Default", run="001")),
        ("sub-07_task-rest_physio", {"subject": "07", "task": "rest"}),
        ("recording_2024", {}),
        ("mysub-X_task-", {}),  # not entities: no separator before, no label after
    ],
)  # fmt: skip
def test_file_names_give_their_bids_entities(stem: str, expected: dict) -> None:
    assert name_entities(stem) == expected


def test_a_labrecorder_file_keeps_its_entities_and_its_eeg_goes_to_eeg(shared_data: Path, tmp_path: Path) -> None:
    source = tmp_path / LABRECORDER_NAME  # LabRecorder's own example file, under the name its BIDS option gives
    shutil.copy(shared_data / "xdf" / "minimal.xdf", source)
    recording = load_recording(source)
    assert labels(recording) == {"subject": "P001", "session": "S001", "task": "Default", "run": "001"}
    out = tmp_path / "bids"
    assert main(["export", str(source), "--to", "bids", "--out", str(out), "--no-progress"]) == 0
    folder = out / "sub-P001" / "ses-S001" / "eeg"
    stem = "sub-P001_ses-S001_task-Default_run-001"
    sidecar = json.loads((folder / f"{stem}_eeg.json").read_text())
    assert sidecar["TaskName"] == "Default" and sidecar["SamplingFrequency"] == 10.0
    assert {"EEGReference", "PowerLineFrequency", "SoftwareFilters"} <= set(sidecar)
    raw = mne.io.read_raw_brainvision(folder / f"{stem}_eeg.vhdr", preload=True, verbose="error")
    eeg = next(s for s in recording.streams if s.info.modality == "EEG")
    np.testing.assert_allclose(raw.get_data().T, eeg.values * 1e-6, rtol=1e-6)  # no unit in the header: µV
    assert list(_read_tsv(folder / f"{stem}_channels.tsv")["name"]) == raw.ch_names
    events = _read_tsv(folder / f"{stem}_events.tsv")
    assert len(events) == 9 and set(events["source"]) == {"SendDataString"}
    assert not list(out.rglob("beh")) and not (out / "derivatives").exists()  # no physio, no event log


def _eeg_and_ecg(path: Path) -> Recording:
    """A Muse-like EEG headband and an ECG strap on the patient."""
    muse = StreamInfo("Muse", "EEG", 4, 256.0, role="patient", channel_labels=("TP9", "AF7", "AF8", "TP10"),
                      units=("microvolts",) * 4)  # fmt: skip
    ecg = StreamInfo("Polar", "ECG", 1, 130.0, role="patient", units=("mV",))
    with Recorder(path, {"subject": "P3", "session": "1", "task": "therapy"}) as rec:
        rec.write(
            Chunk(muse, 5.0 + np.arange(512) / 256.0, np.sin(np.arange(2048.0)).reshape(512, 4).astype(np.float32))
        )
        rec.write(Chunk(ecg, 5.0 + np.arange(260) / 130.0, np.cos(np.arange(260.0)).reshape(260, 1).astype(np.float32)))
    return load_recording(path)


def test_a_persons_eeg_goes_to_eeg_beside_their_physio(tmp_path: Path) -> None:
    recording = _eeg_and_ecg(tmp_path / "muse.xdf")
    export_bids(recording, tmp_path / "bids")
    person = tmp_path / "bids" / "sub-P3patient" / "ses-1"
    assert sorted(p.name for p in (person / "beh").iterdir()) == [
        "sub-P3patient_ses-1_task-therapy_recording-130Hz_physio.json",
        "sub-P3patient_ses-1_task-therapy_recording-130Hz_physio.tsv.gz",
    ]
    raw = mne.io.read_raw_brainvision(person / "eeg" / "sub-P3patient_ses-1_task-therapy_eeg.vhdr", verbose="error")
    assert raw.ch_names == ["EEG_TP9", "EEG_AF7", "EEG_AF8", "EEG_TP10"] and raw.info["sfreq"] == 256.0
    muse = recording.stream("Muse")
    np.testing.assert_allclose(raw.get_data().T, muse.values * 1e-6, rtol=1e-6, atol=1e-13)


def test_a_second_eeg_stream_of_one_person_gets_an_acquisition_label(tmp_path: Path) -> None:
    cap = StreamInfo("Cap", "EEG", 2, 100.0, role="therapist", units=("µV", "µV"))
    band = StreamInfo("Band", "EEG", 2, 100.0, role="therapist", units=("µV", "µV"))
    with Recorder(tmp_path / "two.xdf", {"subject": "P4", "session": "1", "task": "therapy", "run": "2"}) as rec:
        for info in (cap, band):
            rec.write(Chunk(info, np.arange(100) / 100.0, np.ones((100, 2), dtype=np.float32)))
    recording = load_recording(rec.path)
    export_bids(recording, tmp_path / "bids")
    second = recording.stream("Band").stream_id
    headers = sorted(p.name for p in (tmp_path / "bids").rglob("*_eeg.vhdr"))
    stem = "sub-P4therapist_ses-1_task-therapy"
    assert headers == sorted([f"{stem}_run-2_eeg.vhdr", f"{stem}_acq-stream{second}_run-2_eeg.vhdr"])


def test_without_a_brainvision_writer_eeg_is_left_out_with_one_line(tmp_path: Path, monkeypatch, caplog) -> None:
    recording = _eeg_and_ecg(tmp_path / "muse.xdf")
    monkeypatch.setitem(__import__("sys").modules, "pybv", None)  # as if the export extra lacked pybv
    with caplog.at_level(logging.WARNING):
        export_bids(recording, tmp_path / "bids")
    lines = [r.getMessage() for r in caplog.records if "EEG" in r.getMessage()]
    assert lines == ["left out 1 EEG stream(s): BrainVision needs pybv (pip install 'dyadscope[export]')"]
    assert not list((tmp_path / "bids").rglob("eeg")) and list((tmp_path / "bids").rglob("*_physio.tsv.gz"))


def test_authors_from_the_option_the_config_or_the_default(named: Recording, tmp_path: Path, monkeypatch) -> None:
    def authors(out: Path) -> tuple[list[str], list[str]]:
        raw = json.loads((out / "dataset_description.json").read_text())["Authors"]
        return raw, json.loads((out / "derivatives" / "dyadscope" / "dataset_description.json").read_text())["Authors"]

    monkeypatch.delenv("DYADSCOPE_BIDS_AUTHORS", raising=False)
    export = ["export", str(named.path), "--to", "bids", "--no-progress", "--out"]
    assert main([*export, str(tmp_path / "a"), "--author", "Ada Lovelace", "--author", "Alan Turing"]) == 0
    assert authors(tmp_path / "a") == (["Ada Lovelace", "Alan Turing"],) * 2
    monkeypatch.setenv("DYADSCOPE_BIDS_AUTHORS", "Grace Hopper; Edsger W. Dijkstra")
    assert main([*export, str(tmp_path / "b")]) == 0
    assert authors(tmp_path / "b") == (["Grace Hopper", "Edsger W. Dijkstra"],) * 2
    monkeypatch.delenv("DYADSCOPE_BIDS_AUTHORS")
    assert main([*export, str(tmp_path / "c")]) == 0
    assert authors(tmp_path / "c") == (list(DEFAULT_AUTHORS),) * 2
    assert main([*export, str(tmp_path / "a")]) == 0  # a later export without authors keeps the dataset's
    assert authors(tmp_path / "a")[0] == ["Ada Lovelace", "Alan Turing"]
    assert "sub-" in (tmp_path / "c" / "README.md").read_text()


def test_a_person_with_only_measures_is_no_raw_subject(tmp_path: Path) -> None:
    """The therapist's heart rate came from elsewhere (no stream of theirs, no flag, no marker): derivatives only."""
    from dyadscope.stream.types import Event

    ecg = StreamInfo("Polar", "ECG", 1, 130.0, role="patient", units=("mV",))
    with Recorder(tmp_path / "one.xdf", {"subject": "P6", "task": "therapy"}) as rec:
        rec.write(Chunk(ecg, np.arange(130) / 130.0, np.zeros((130, 1), dtype=np.float32)))
        rec.write_events([Event("s", 1, 0.5, 0.5, "heart_rate", "therapist", {"bpm": 71.0, "quality": "good"})])
    export_bids(load_recording(rec.path), tmp_path / "bids")
    assert list(_read_tsv(tmp_path / "bids" / "participants.tsv")["participant_id"]) == ["sub-P6patient"]
    assert not (tmp_path / "bids" / "sub-P6therapist").exists()
    derived = tmp_path / "bids" / "derivatives" / "dyadscope" / "sub-P6therapist" / "beh"
    assert _read_tsv(derived / "sub-P6therapist_task-therapy_desc-heartrate_beh.tsv")["bpm"].tolist() == [71.0]
