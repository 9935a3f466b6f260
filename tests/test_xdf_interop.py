"""A live session's recording opened the way researchers open XDF: mnelab's reader, and pyxdf into MNE."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import mne
import numpy as np
import pyxdf
from _lsl_support import wait_for
from mnelab.io.xdf import read_raw_xdf

from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf.recorder import Recorder

WAIT = 40.0  # s, at most, for the simulated dyad's samples to reach the file (a shared machine may be slow)


def _record(simulated_session, tmp_path: Path) -> Path:
    """Record a simulated dyad through the API until both people's ECG hold 10 s of samples; the file."""
    service, session = simulated_session("interop", seed=11, data_dir=tmp_path)
    api = f"{service.base}/api/sessions/{session}"
    wait_for(lambda: len(httpx.get(api, headers=service.headers).json()["streams"]) == 6, WAIT, "six streams")
    started = httpx.post(f"{api}/recording", json={"subject": "P01", "session": "1"}, headers=service.headers)
    path = tmp_path / "recordings" / started.json()["path"]
    httpx.post(f"{api}/markers", json={"text": "task start"}, headers=service.headers)

    def enough() -> bool:
        streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False)
        ecg = [s for s in streams if s["info"]["type"][0] == "ECG"]
        return len(ecg) == 2 and all(len(s["time_stamps"]) >= 10 * 250 for s in ecg)

    wait_for(enough, WAIT, "10 s of both people's ECG in the file")
    httpx.delete(f"{api}/recording", headers=service.headers)
    return path


def test_mnelab_and_mne_read_both_peoples_signals_by_role(simulated_session, tmp_path, caplog):
    path = _record(simulated_session, tmp_path)
    with caplog.at_level(logging.WARNING, logger="pyxdf"):
        streams, header = pyxdf.load_xdf(str(path))
    assert [r.getMessage() for r in caplog.records] == []  # no "clock offsets cannot be used"
    assert header["info"]["datetime"][0].endswith("+0000")  # LabRecorder's form, which mnelab parses
    by_type = {}
    for s in streams:
        by_type.setdefault(s["info"]["type"][0], []).append(s)
    ecg_ids = [int(s["info"]["stream_id"]) for s in by_type["ECG"]]
    markers = [int(s["info"]["stream_id"]) for s in by_type["Markers"]]
    raw = read_raw_xdf(str(path), stream_ids=ecg_ids, marker_ids=markers, fs_new=250.0)
    assert sorted(raw.ch_names) == ["patient ECG", "therapist ECG"]  # not ECG-0 / ECG-1
    assert set(raw.get_channel_types()) == {"ecg"}
    assert list(raw.annotations.description) == ["task start"]  # with the markers stream picked (see README)
    for s in by_type["RSP"] + by_type["EDA"]:  # each sensor channel: the person, a unit and a type MNE knows
        (channel,) = s["info"]["desc"][0]["channels"][0]["channel"]
        role = s["info"]["desc"][0]["dyadscope"][0]["role"][0]
        assert channel["label"][0] == f"{role} {s['info']['type'][0]}"
        assert channel["type"][0] in {"RESP", "GSR"} and channel["unit"][0]
    eda = by_type["EDA"][0]
    (channel,) = eda["info"]["desc"][0]["channels"][0]["channel"]
    info = mne.create_info([channel["label"][0]], float(eda["info"]["nominal_srate"][0]), channel["type"][0].lower())
    array = mne.io.RawArray(np.asarray(eda["time_series"]).T, info, verbose=False)
    assert array.ch_names == [f"{eda['info']['desc'][0]['dyadscope'][0]['role'][0]} EDA"]
    assert array.get_channel_types() == ["gsr"] and array.n_times == len(eda["time_stamps"])


def test_a_stream_that_goes_quiet_gets_no_repeated_offsets_pyxdf_cannot_fit(tmp_path: Path, caplog) -> None:
    ticks = iter(np.arange(0.0, 1000.0, 6.0))  # the recorder's clock: a flush every 6 s of data time
    ecg = StreamInfo(name="ECG patient", modality="ECG", channel_count=1, nominal_rate=100.0, role="patient")
    quiet = StreamInfo(name="once", modality="Markers", channel_count=1, nominal_rate=0.0, channel_format="string")
    with Recorder(tmp_path / "q.xdf", clock=lambda: next(ticks)) as rec:
        rec.add_stream(quiet)
        rec.write(Chunk(quiet, np.array([0.5]), np.array([["started"]], dtype=object)))
        for k in range(6):
            stamps = k * 10.0 + np.arange(1000) / 100.0
            rec.write(Chunk(ecg, stamps, np.sin(stamps)[:, None]))
            rec.flush()
    with caplog.at_level(logging.WARNING, logger="pyxdf"):
        streams, _ = pyxdf.load_xdf(str(tmp_path / "q.xdf"), dejitter_timestamps=False)
    assert [r.getMessage() for r in caplog.records] == []
    by_name = {s["info"]["name"][0]: s for s in streams}
    assert len(by_name["once"]["clock_times"]) == 1 and len(by_name["ECG patient"]["clock_times"]) >= 3
    assert by_name["once"]["time_stamps"].tolist() == [0.5]
