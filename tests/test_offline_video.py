"""`dyadscope analyze VIDEO`: a recorded video through the live face, voice and movement path, offline.

The media are real: the astronaut's face by ffmpeg, speech by espeak-ng
(muxed by ffmpeg). The live reference is the whole WebRTC path (an aiortc
peer sending the same file to the service's route, :mod:`_webrtc_support`).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _models_support import default_models, espeak, face_video, speech_track, write_wav
from _physio_support import RATE, recording
from _webrtc_support import send_over_webrtc
from test_offline_analyze import assert_every_table_has_its_dictionary

from dyadscope.offline.analysis import AnalysisError
from dyadscope.offline.video import analyze_video, video_tracks
from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf.recorder import Recorder

#: Utterances of the talk: five units, so the arousal baseline (three units) is ready for the last two.
UTTERANCES = [
    ("I have been feeling anxious all week.", 50, 100),
    ("Tell me more.", 50, 100),
    ("It started on Monday morning.", 45, 90),
    ("I could not sleep at all!", 80, 180),
    ("That sounds really hard.", 30, 70),
]
#: Live vs offline: the live path re-encodes (VP8, Opus) and analyses the newest frame when free.
FACE_TOLERANCE = {"valence": 0.02, "arousal": 0.02, "confidence": 0.05, "yaw": 3.0, "pitch": 3.0, "roll": 3.0}
#: Unit edges: three 32 ms VAD windows (measured: at most two, 0.064 s; Opus and the 48 kHz path shift them).
UNIT_TOLERANCE_S = 0.1
#: Acoustic arousal of the units once its baseline is ready (measured: at most 0.028 apart).
AROUSAL_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return default_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """The astronaut's face talking: five espeak-ng utterances, muxed into an mp4; the spoken spans (s)."""
    tmp = tmp_path_factory.mktemp("talk")
    signal, spans = speech_track([espeak(t, pitch=p, amplitude=a) for t, p, a in UTTERANCES], [0.6] * 5)
    video = face_video(tmp / "talk.mp4", signal.size / 16000, audio=write_wav(tmp / "talk.wav", signal))
    return video, spans


def _events(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def _of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["kind"] == kind]


def _median(events: list[dict], field: str) -> float:
    return float(np.median([e["data"][field] for e in events]))


def test_offline_video_gives_the_live_webrtc_values(talk, model_dir, tmp_path):
    video, spans = talk
    live, reply, _ = send_over_webrtc(model_dir, video, spans[-1][1] + 2.5, {"role": "patient"})
    assert reply.status_code == 200, reply.text
    live = [{"kind": f.kind, "role": f.role, "t": f.t, "data": f.data} for f in live]
    result = analyze_video(video_tracks(video), tmp_path / "out", model_dir=model_dir)
    offline = _events(tmp_path / "out")

    live_faces, faces = _of(live, "face_affect"), _of(offline, "face_affect")
    assert {e["role"] for e in faces} == {"patient"} and len(live_faces) >= 10
    # offline analyses faces every face_interval_s (0.125 s) of data time: every other 15 fps frame
    assert len(faces) == pytest.approx(7.5 * spans[-1][1], abs=8)
    for field, tolerance in FACE_TOLERANCE.items():
        assert _median(faces, field) == pytest.approx(_median(live_faces, field), abs=tolerance), field
    assert [e["data"]["state"] for e in _of(offline, "face_tracked")] == ["found"]

    live_units, units = _of(live, "voice_segment"), _of(offline, "voice_segment")
    assert len(units) == len(live_units) == len(spans)
    starts = np.array([u["data"]["start"] for u in units])
    np.testing.assert_allclose(starts, [s for s, _ in spans], atol=UNIT_TOLERANCE_S)  # on the file's own timeline
    live_starts = np.array([u["data"]["start"] for u in live_units])  # the session clock: compare offsets
    np.testing.assert_allclose(starts - starts[0], live_starts - live_starts[0], atol=UNIT_TOLERANCE_S)
    for unit, live_unit in zip(units, live_units, strict=True):
        assert unit["role"] == live_unit["role"] == "patient"
        assert unit["data"]["duration_s"] == pytest.approx(live_unit["data"]["duration_s"], abs=UNIT_TOLERANCE_S)
        assert unit["data"]["arousal"] == pytest.approx(live_unit["data"]["arousal"], abs=AROUSAL_TOLERANCE)
    assert any(abs(u["data"]["arousal"]) > 0.2 for u in units[3:]), "the baseline never became ready"

    assert len(_of(offline, "movement")) == pytest.approx(len(_of(live, "movement")), abs=5)
    assert result.events["dissonance"] == len(units)  # every patient unit is checked against the face
    assert {"face_affect.csv", "face_tracked.csv", "movement.csv", "voice_segment.csv"} <= set(result.tables)
    assert_every_table_has_its_dictionary(tmp_path / "out")


def _dyadscope(model_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DYADSCOPE_MODEL_DIR": str(model_dir)}
    cmd = [str(Path(sys.executable).with_name("dyadscope")), "analyze", *args, "--no-progress"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _ecg_xdf(path: Path, shared_data: Path, seconds: float = 60.0) -> Path:
    """A minute of a real ECG as the patient's stream in an XDF file."""
    data = recording(shared_data / "physio" / "bio_eventrelated_100hz.csv").iloc[: int(seconds * RATE)]
    info = StreamInfo("Patient ECG", "ECG", 1, RATE, "float32", source_id="pat-ECG", role="patient")
    recorder = Recorder(path, {"session": "s02"})
    recorder.add_stream(info)
    recorder.write(Chunk(info, 10.0 + np.arange(len(data)) / RATE, data["ECG"].to_numpy()[:, None]))
    recorder.close()
    return path


def test_a_folder_of_a_video_and_a_recording_gives_one_summary_table(talk, model_dir, shared_data, tmp_path):
    folder = tmp_path / "sessions"
    folder.mkdir()
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(talk[0]), "-c", "copy", str(folder / "talk.mkv")], check=True
    )
    _ecg_xdf(folder / "rest.xdf", shared_data)
    (folder / "notes.txt").write_text("not analysed: neither a video nor a recording\n")

    done = _dyadscope(model_dir, str(folder), "--out", str(tmp_path / "out"), "--person", "therapist", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    with (tmp_path / "out" / "summary.csv").open() as f:
        rows = {row["file"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == ["rest.xdf", "talk.mkv"]
    assert {row["status"] for row in rows.values()} == {"ok"}
    assert rows["talk.mkv"]["kind"] == "video" and int(rows["talk.mkv"]["voice_segment"]) == len(UTTERANCES)
    assert int(rows["talk.mkv"]["face_affect"]) > 20 and int(rows["rest.xdf"]["face_affect"]) == 0
    assert rows["rest.xdf"]["kind"] == "xdf" and int(rows["rest.xdf"]["heart_rate"]) >= 50
    units = _of(_events(tmp_path / "out" / "talk"), "voice_segment")
    assert {u["role"] for u in units} == {"therapist"}
    assert (tmp_path / "out" / "rest" / "heart_rate.csv").is_file()
    assert "talk.mkv" in done.stdout and "rest.xdf" in done.stdout


@pytest.mark.parametrize("suffix, codecs", [(".webm", ["-c:v", "libvpx", "-c:a", "libopus"]), (".mov", ["-c", "copy"])])
def test_other_containers_and_a_separate_audio_file(talk, model_dir, tmp_path, suffix, codecs):
    video, spans = talk
    silent = tmp_path / f"silent{suffix}"
    cmd = ["ffmpeg", "-loglevel", "error", "-i", str(video), "-t", "4", "-an", *codecs[:2], str(silent)]
    subprocess.run(cmd, check=True)
    tracks = video_tracks(silent, audio=video.with_suffix(".wav"))
    result = analyze_video(tracks, tmp_path / "out", model_dir=model_dir)
    assert result.events["face_affect"] >= 20
    assert result.events["voice_segment"] == len(spans)  # all of the separate audio file's speech
    with pytest.raises(AnalysisError, match="has no audio"):
        video_tracks(video, audio=silent)


def test_a_bad_file_gives_one_line_and_a_failing_exit(model_dir, tmp_path):
    bad = tmp_path / "session.mp4"
    bad.write_bytes(b"this is not a video\n" * 10)
    done = _dyadscope(model_dir, str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"dyadscope analyze: error: {bad} is not a media file FFmpeg can read (")
    missing = _dyadscope(model_dir, str(tmp_path / "absent.mkv"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"dyadscope analyze: error: {tmp_path / 'absent.mkv'}: no such file"]


def test_a_bad_file_in_a_folder_is_a_row_of_the_table_and_a_failing_exit(model_dir, tmp_path):
    folder = tmp_path / "sessions"
    folder.mkdir()
    (folder / "broken.webm").write_bytes(b"\x1a\x45\xdf\xa3 truncated")
    done = _dyadscope(model_dir, str(folder), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(f"1 of 1 files could not be analysed (their reasons are in {tmp_path / 'out' / 'summary.csv'})")
    )
    with (tmp_path / "out" / "summary.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["file"] == "broken.webm" and "broken.webm" in row["status"] and row["status"] != "ok"


def test_one_camera_on_both_people_splits_faces_and_speech_by_side(talk, model_dir, tmp_path):
    """Two faces side by side (the talk and its mirror image): each side's person, the shared microphone's units."""
    video, spans = talk
    both = tmp_path / "both.mp4"
    cmd = [
        "ffmpeg",
        "-loglevel",
        "error",
        "-i",
        str(video),
        "-filter_complex",
        "[0:v]split[a][b];[b]hflip[m];[a][m]hstack",
    ]
    subprocess.run([*cmd, "-c:v", "mpeg4", "-q:v", "3", "-c:a", "copy", str(both)], check=True)
    tracks = video_tracks(both, sides=("therapist", "patient"))
    assert tracks.camera_roles == ("therapist", "patient") and tracks.microphone_role is None
    result = analyze_video(tracks, tmp_path / "out", model_dir=model_dir)
    events = _events(tmp_path / "out")
    found = {e["role"]: e["data"]["box"] for e in _of(events, "face_tracked") if e["data"]["state"] == "found"}
    assert found["therapist"][0] + found["therapist"][2] <= 640 <= found["patient"][0]  # left, right
    assert {e["role"] for e in _of(events, "movement")} == {"therapist", "patient"}
    faces = _of(events, "face_affect")
    assert {e["role"] for e in faces} == {"therapist", "patient"} and all("mouth_open" in e["data"] for e in faces)
    units = _of(events, "voice_segment")
    assert len(units) == len(spans)  # one microphone: each unit once, to whoever's mouth moved more
    for unit in units:
        assert unit["data"]["speaker"] == unit["role"] in ("therapist", "patient")
        assert unit["data"]["source"] == "face" and 0.5 <= unit["data"]["confidence"] <= 1.0
    assert [u.role for u in result.streams] == ["therapist+patient", "shared"]
    with pytest.raises(AnalysisError, match="roles must differ"):
        video_tracks(both, sides=("patient", "patient"))
    with pytest.raises(AnalysisError, match="the sides are two people, left to right"):
        video_tracks(both, sides=("patient",))
