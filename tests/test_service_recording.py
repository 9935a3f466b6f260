"""Recording a live session through the API: real LSL outlets, a real service, the file read back with pyxdf."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pylsl
import pytest
import pyxdf
from _lsl_support import wait_for
from _physio_support import RATE, recording
from _recording_support import mount_tmpfs, unmount

from dyadscope.sensors.lsl_outlets import lsl_stream_info
from dyadscope.service.recording import SessionRecording
from dyadscope.stream.events import events_topic
from dyadscope.stream.types import Event, StreamInfo
from dyadscope.xdf.repair import is_unfinished

#: The command line in its own process (not ``-m``, which would load the cli module twice).
DYADSCOPE = [sys.executable, "-c", "import sys; from dyadscope.service.cli import main; sys.exit(main())"]
CHUNK = 20  # samples per push, as an amplifier sends them
WAIT = 30.0  # s, at most, for the service (a shared machine may be slow)


def _logged(service, session_id: str) -> list[dict]:
    """Every event the session has logged so far."""

    async def read() -> list[dict]:
        events, after = [], 0
        while batch := await service.service.manager.bus.read(events_topic(session_id), after, limit=1000):
            events += [event for _, event in batch]
            after = batch[-1][0]
        return events

    return service.call(read())


def _streams(path: Path) -> dict[str, dict]:
    """The file's streams by name, timestamps as stored (the sender's clock)."""
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def _samples_in(path: Path, name: str) -> int:
    """How many samples of stream ``name`` the file holds (0 if none yet)."""
    return len(_streams(path).get(name, {}).get("time_stamps", ()))


def _events_in(streams: dict[str, dict]) -> list[dict]:
    log = streams.get("DyadScope events")
    return [] if log is None else [json.loads(row[0]) for row in log["time_series"]]


def _push(outlet: pylsl.StreamOutlet, values: np.ndarray, stamps: np.ndarray) -> None:
    for start in range(0, len(values), CHUNK):
        outlet.push_chunk(values[start : start + CHUNK, None], stamps[start : start + CHUNK].tolist())


def _open_outlet(tag: str, modality: str = "ECG") -> tuple[StreamInfo, pylsl.StreamOutlet]:
    info = StreamInfo(f"patient {modality} {tag}", modality, 1, RATE, "float32", source_id=f"rec-{tag}", role="patient")
    return info, pylsl.StreamOutlet(lsl_stream_info(info))


def test_a_live_session_records_its_raw_samples_events_and_markers(shared_data, tmp_path, make_service):
    ecg = recording(shared_data / "physio" / "bio_resting_5min_100hz.csv")["ECG"].to_numpy(np.float32)[: int(20 * RATE)]
    service = make_service(data_dir=tmp_path)
    tag = uuid.uuid4().hex[:8]
    info, outlet = _open_outlet(tag)
    manager = service.service.manager
    session = service.call(manager.create("rec", select=lambda i: i.source_id == info.source_id))
    wait_for(lambda: session.streams, WAIT, "the session did not find the outlet")
    api, headers = f"{service.base}/api/sessions/rec/recording", service.headers

    bad = httpx.post(api, json={"subject": "Jane Doe", "session": "1"}, headers=headers)
    assert bad.status_code == 422 and "letters and digits" in bad.text
    started = httpx.post(api, json={"subject": "P07", "session": "2"}, headers=headers)
    assert started.status_code == 201, started.text
    relative = "sub-P07/ses-2/sub-P07_ses-2_task-therapy_run-01_physio.xdf"
    assert started.json()["recording"] and started.json()["path"] == relative
    again = httpx.post(api, json={"subject": "P07", "session": "2"}, headers=headers)
    assert again.status_code == 409 and relative in again.text
    path = tmp_path / "recordings" / relative

    stamps = pylsl.local_clock() + np.arange(len(ecg)) / RATE
    assert outlet.wait_for_consumers(10.0)
    _push(outlet, ecg, stamps)
    marker = httpx.post(f"{service.base}/api/sessions/rec/markers", json={"text": "patient laughs"}, headers=headers)
    assert marker.status_code == 202

    def recorded() -> bool:  # the file (flushed every second) holds every sample, the heart rate and the marker
        kinds = {e["kind"] for e in _events_in(_streams(path))}
        return _samples_in(path, info.name) == len(ecg) and {"heart_rate", "marker"} <= kinds

    wait_for(recorded, WAIT, "the recording did not receive the samples, heart rate and marker")
    state = httpx.get(f"{service.base}/api/sessions/rec", headers=headers).json()["recording"]
    assert state["recording"] and state["path"] == relative and state["error"] is None and state["started"] > 0
    assert state["behind"] is False and state["pending_bytes"] >= 0  # the disk keeps up
    stopped = httpx.delete(api, headers=headers)
    assert stopped.status_code == 200 and not stopped.json()["recording"] and stopped.json()["error"] is None
    assert not is_unfinished(path)

    _assert_file_holds(_streams(path), info.name, ecg, stamps, relative, marker.json()["t"])

    logged = [(e["kind"], e["data"].get("path")) for e in _logged(service, "rec") if e["kind"].startswith("recording_")]
    assert logged == [("recording_started", relative), ("recording_stopped", relative)]

    # a second recording is a new run; stopping the session closes it
    second = httpx.post(api, json={"subject": "P07", "session": "2"}, headers=headers).json()
    assert second["path"].endswith("run-02_physio.xdf")
    assert httpx.delete(f"{service.base}/api/sessions/rec", headers=headers).status_code == 204
    assert not is_unfinished(tmp_path / "recordings" / second["path"])


def _assert_file_holds(streams: dict, name: str, ecg, stamps, relative: str, marker_t: float) -> None:
    """The closed file holds every raw sample with its header, the session's events and the marker."""
    raw = streams[name]
    np.testing.assert_array_equal(raw["time_series"], ecg[:, None])
    np.testing.assert_allclose(raw["time_stamps"], stamps, rtol=0, atol=1e-6)
    assert raw["footer"]["info"]["sample_count"] == [str(len(ecg))]
    assert len(raw["clock_times"]) >= 1
    assert raw["info"]["desc"][0]["acquisition"][0]["manufacturer"] == ["DyadScope"]  # the sender's own header
    assert raw["info"]["desc"][0]["dyadscope"][0]["role"] == ["patient"]
    events = _events_in(streams)
    assert {e["session"] for e in events} == {"rec"}
    assert [e["data"]["path"] for e in events if e["kind"] == "recording_started"] == [relative]
    beats = [e for e in events if e["kind"] == "heart_rate"]
    assert beats and all(40 < e["data"]["bpm"] < 150 for e in beats)
    assert [e["data"]["text"] for e in events if e["kind"] == "marker"] == ["patient laughs"]
    assert "DyadScope heart_rate patient" in streams
    markers = streams["DyadScope markers"]
    assert markers["time_series"] == [["patient laughs"]]
    assert markers["time_stamps"][0] == pytest.approx(marker_t, abs=1e-6)


def test_a_full_disk_stops_the_recording_and_the_session_goes_on(tmp_path, make_service):
    recordings = tmp_path / "recordings"
    if not mount_tmpfs(recordings, "size=64k"):
        pytest.skip(
            "cannot mount a small tmpfs here (needs root); tests/test_record_cli.py covers full disks by RLIMIT_FSIZE"
        )
    try:
        service = make_service(data_dir=tmp_path)
        tag = uuid.uuid4().hex[:8]
        info, outlet = _open_outlet(tag, "EDA")
        session = service.call(service.service.manager.create("full", select=lambda i: i.source_id == info.source_id))
        wait_for(lambda: session.streams, WAIT, "the session did not find the outlet")
        api, headers = f"{service.base}/api/sessions/full", service.headers
        assert (
            httpx.post(f"{api}/recording", json={"subject": "F1", "session": "1"}, headers=headers).status_code == 201
        )
        n = 20_000  # 13 bytes a sample on disk: several times the 64 kB disk
        values = (5.0 + np.sin(np.arange(n) / 300.0)).astype(np.float32)
        stamps = pylsl.local_clock() + np.arange(n) / RATE
        assert outlet.wait_for_consumers(10.0)

        def stop_event() -> dict | None:
            return next((e for e in _logged(service, "full") if e["kind"] == "recording_stopped"), None)

        for block in np.array_split(np.arange(n), 20):  # about 13 kB every 0.3 s: some flushes fit, then one does not
            _push(outlet, values[block], stamps[block])
            time.sleep(0.3)
            if stop_event():
                break
        stopped = wait_for(stop_event, WAIT, "no recording_stopped event after the disk filled")
        assert "disk full" in stopped["data"]["error"] and not stopped["data"]["recording"]
        state = httpx.get(api, headers=headers).json()["recording"]
        assert not state["recording"] and "disk full" in state["error"]

        # the live session goes on without its recording
        assert httpx.post(f"{api}/markers", json={"text": "after the disk filled"}, headers=headers).status_code == 202
        wait_for(
            lambda: any(e["data"].get("text") == "after the disk filled" for e in _logged(service, "full")),
            WAIT,
            "the session stopped delivering events",
        )
        (path,) = recordings.rglob("*.xdf")
        raw = _streams(path)[info.name]
        assert 0 < len(raw["time_stamps"]) < n
        np.testing.assert_array_equal(raw["time_series"][:, 0], values[: len(raw["time_stamps"])])
        assert httpx.delete(f"{api}/recording", headers=headers).json()["error"] == state["error"]
    finally:
        unmount(recordings)


def test_a_service_killed_while_recording_leaves_a_file_the_next_start_repairs(tmp_path, make_service):
    tag = uuid.uuid4().hex[:8]
    info, outlet = _open_outlet(tag)
    token = uuid.uuid4().hex
    env = {**os.environ, "DYADSCOPE_DATA_DIR": str(tmp_path), "DYADSCOPE_TOKEN": token}
    proc = subprocess.Popen(
        [*DYADSCOPE, "serve", "--port", "0", "--session", "k"], stdout=subprocess.PIPE, text=True, env=env
    )
    values = np.arange(500, dtype=np.float32)
    try:
        base = "http://127.0.0.1:" + proc.stdout.readline().strip().rsplit(":", 1)[1]
        headers = {"Authorization": f"Bearer {token}"}

        def found() -> bool:
            r = httpx.get(f"{base}/api/sessions/k", headers=headers)
            return r.status_code == 200 and info.name in [s["name"] for s in r.json()["streams"]]

        wait_for(found, WAIT, "the served session did not find the outlet")
        started = httpx.post(
            f"{base}/api/sessions/k/recording", json={"subject": "K1", "session": "1"}, headers=headers
        )
        assert started.status_code == 201, started.text
        path = tmp_path / "recordings" / started.json()["path"]
        assert outlet.wait_for_consumers(10.0)
        _push(outlet, values, pylsl.local_clock() + np.arange(len(values)) / RATE)
        wait_for(lambda: _samples_in(path, info.name) == len(values), WAIT, "the samples did not reach the disk")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
        proc.wait()

    raw = _streams(path)[info.name]  # pyxdf loads the file the killed service left
    np.testing.assert_array_equal(raw["time_series"][:, 0], values)
    assert is_unfinished(path)

    make_service(data_dir=tmp_path)  # the next start closes it
    assert not is_unfinished(path)
    closed = _streams(path)
    assert closed[info.name]["footer"]["info"]["sample_count"] == [str(len(values))]
    assert closed["DyadScope events"]["footer"]["info"]["sample_count"][0] != "0"


def test_an_unwritable_recordings_folder_is_a_clear_error_and_the_session_goes_on(tmp_path, make_service):
    (tmp_path / "recordings").write_text("a file where the folder should be")
    service = make_service(data_dir=tmp_path)
    api, headers = f"{service.base}/api/sessions", service.headers
    assert httpx.post(api, json={"id": "u", "lsl": False}, headers=headers).status_code == 201
    refused = httpx.post(f"{api}/u/recording", json={"subject": "U1", "session": "1"}, headers=headers)
    assert refused.status_code == 507 and "cannot write" in refused.json()["detail"]
    state = httpx.get(f"{api}/u", headers=headers).json()["recording"]
    assert not state["recording"] and state["path"] is None and "cannot write" in state["error"]
    (event,) = [e for e in _logged(service, "u") if e["kind"] == "recording_stopped"]
    assert event["data"]["error"] == state["error"]
    assert httpx.post(f"{api}/u/markers", json={"text": "still here"}, headers=headers).status_code == 202
    wait_for(lambda: any(e["kind"] == "marker" for e in _logged(service, "u")), WAIT, "the session stopped")


def test_a_recording_that_falls_behind_the_disk_says_so_in_its_state(tmp_path):
    recording = SessionRecording(tmp_path, max_pending_bytes=16 << 10)
    recording.start(subject="P1", session="1")
    events = [Event("s", k, float(k), 0.0, "heart_rate", "patient", {"bpm": 60.0 + k % 7}) for k in range(500)]
    with recording._recorder._io_lock:  # the flusher cannot write, as when the disk hangs
        recording.write_events(events)
        state = recording.describe()
        assert state["recording"] and state["behind"] and state["pending_bytes"] > 16 << 10
    stopped = recording.stop()  # writes it all
    assert not stopped["behind"] and stopped["pending_bytes"] == 0
    logged = _events_in(_streams(tmp_path / stopped["path"]))
    assert [e["seq"] for e in logged] == list(range(500))  # nothing dropped


def test_a_session_with_participants_names_them_in_its_recording(tmp_path, make_service):
    """Who is who goes into the file header, so a BIDS export puts each person under their own id."""
    from dyadscope.xdf.reader import read_file_metadata

    service = make_service(data_dir=tmp_path)
    who = {"patient": "A7", "therapist": "T3"}
    service.call(service.service.manager.create("who", lsl=False, participants=who))
    api, headers = f"{service.base}/api/sessions/who/recording", service.headers
    started = httpx.post(api, json={"subject": "D5", "session": "1"}, headers=headers)
    assert started.status_code == 201, started.text
    assert httpx.delete(api, headers=headers).status_code == 200
    header = read_file_metadata(tmp_path / "recordings" / started.json()["path"])
    assert header["participant_patient"] == "A7" and header["participant_therapist"] == "T3"
    assert header["subject"] == "D5" and header["dyadscope_session"] == "who"
