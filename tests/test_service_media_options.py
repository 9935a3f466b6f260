"""Media files from the command line: ``--media`` values parsed and checked, then played into a real session.

The files are real: the astronaut's face by ffmpeg, speech by espeak-ng.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
import pytest
from _models_support import MonitorFeed, default_models, espeak, face_video, speech_track, write_wav

from dyadscope.sensors.media import (
    MediaOptionError,
    MediaSource,
    check_media_sources,
    parse_media_option,
)
from dyadscope.service.media import attach_media


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A patient's video with voice; a therapist's camera file and microphone file; a file that is no media."""
    tmp = tmp_path_factory.mktemp("media")
    patient, patient_spans = speech_track([espeak("I have been feeling anxious all week.")], [0.5])
    therapist, therapist_spans = speech_track([espeak("Tell me more about that.", pitch=30)], [0.5], lead_s=0.8)
    talk = face_video(tmp / "talk.mp4", patient.size / 16000, audio=write_wav(tmp / "patient.wav", patient))
    notes = tmp / "notes.csv"
    notes.write_text("t,text\n1.0,door opened\n")
    return SimpleNamespace(talk=talk, cam=face_video(tmp / "cam.mp4", therapist.size / 16000),
                           mic=write_wav(tmp / "mic.wav", therapist), notes=notes, missing=tmp / "absent.mp4",
                           spans={"patient": patient_spans, "therapist": therapist_spans})


def test_one_file_per_person_gives_the_video_and_audio_it_has(media):
    assert parse_media_option(f"patient={media.talk}") == [MediaSource(media.talk, ("patient",), "patient")]
    assert parse_media_option(f"therapist={media.cam}") == [MediaSource(media.cam, ("therapist",), None)]
    assert parse_media_option(f" therapist = {media.mic} ") == [MediaSource(media.mic, (), "therapist")]


def test_a_camera_file_and_a_microphone_file_per_person(media):
    assert parse_media_option(f"therapist={media.cam},{media.mic}") == [
        MediaSource(media.cam, camera_roles=("therapist",)), MediaSource(media.mic, microphone_role="therapist")]


@pytest.mark.parametrize("text, reason", [
    ("patient", "expected ROLE=FILE or ROLE=VIDEO,AUDIO, got 'patient'"),
    ("patient=", "expected ROLE=FILE or ROLE=VIDEO,AUDIO"),
    ("patient={cam},", "expected ROLE=FILE or ROLE=VIDEO,AUDIO"),
    ("patient={cam},{mic},{mic}", "expected ROLE=FILE or ROLE=VIDEO,AUDIO"),
    ("doctor={cam}", "the role must be one of patient, therapist, got 'doctor'"),
    ("patient={missing}", "no media file at {missing}"),
    ("patient={notes}", "{notes} is not a media file FFmpeg can read"),
    ("patient={mic},{mic}", "{mic} has no video"),
    ("patient={cam},{cam}", "{cam} has no audio"),
])
def test_bad_options_say_why(media, text, reason):
    paths = vars(media)
    with pytest.raises(MediaOptionError) as refused:
        parse_media_option(text.format(**paths))
    assert reason.format(**paths) in str(refused.value)


def test_one_person_with_two_microphones_or_cameras_is_refused_before_anything_starts(media):
    two_voices = parse_media_option(f"patient={media.talk}") + parse_media_option(f"patient={media.mic}")
    with pytest.raises(MediaOptionError, match="patient would have more than one audio file"):
        check_media_sources(two_voices)
    two_cameras = parse_media_option(f"therapist={media.cam}") * 2

    async def engine_not_needed():
        raise AssertionError("the engine was asked for although the sources were refused")

    with pytest.raises(MediaOptionError, match="therapist would have more than one video file"):
        asyncio.run(attach_media(None, two_cameras, engine_not_needed, time.monotonic))
    check_media_sources(parse_media_option(f"patient={media.talk}") +
                        parse_media_option(f"therapist={media.cam},{media.mic}"))


def test_attached_media_reach_the_session_monitor(media, tmp_path_factory, make_service):
    """What ``dyadscope demo --media ...`` does: files through the hub's engine into a session, seen live."""
    service = make_service(model_dir=default_models(tmp_path_factory.mktemp("models")))
    created = httpx.post(f"{service.base}/api/sessions", json={"id": "rehearsal", "lsl": False},
                         headers=service.headers)
    assert created.status_code == 201, created.text
    monitor = MonitorFeed(service.ws_url("rehearsal"), service.headers)
    session = service.service.manager.get("rehearsal")
    hub = service.service.app.state.webrtc
    sources = parse_media_option(f"patient={media.talk}") + parse_media_option(f"therapist={media.cam},{media.mic}")
    try:
        files = service.call(attach_media(session.publish, sources, hub.engine, hub.clock))
        service.call(files.wait(timeout=30), timeout=40)
        service.call(files.stop())
        deadline = time.monotonic() + 10  # the last features still travel through the session to the monitor
        while time.monotonic() < deadline and len(monitor.of_kind("voice_segment")) < 2:
            time.sleep(0.2)
    finally:
        monitor.close()

    for role in ("patient", "therapist"):
        affect = [e for e in monitor.of_kind("face_affect") if e["role"] == role]
        assert len(affect) >= 10 and sum(e["data"]["valence"] > 0.5 for e in affect) > 0.8 * len(affect)
        assert any(e["role"] == role for e in monitor.of_kind("movement"))
        units = [e for e in monitor.of_kind("voice_segment") if e["role"] == role]
        assert len(units) == 1, units
        (start, end), = media.spans[role]
        assert units[0]["data"]["duration_s"] == pytest.approx(end - start, abs=0.3)


def test_serve_plays_media_files_into_its_session(media, tmp_path_factory):
    """`dyadscope serve --session S --media patient=talk.mp4` as a user runs it."""
    import json
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    from websockets.sync.client import connect

    env = {**os.environ, "DYADSCOPE_MODEL_DIR": str(default_models(tmp_path_factory.mktemp("models")))}
    dyadscope = Path(sys.executable).with_name("dyadscope")
    out = tmp_path_factory.mktemp("serve") / "out.txt"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [str(dyadscope), "serve", "--port", "0", "--duration", "30", "--session", "m1", "--media", f"patient={media.talk}"],
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"http://127\.0\.0\.1:(\d+)/\?session=m1#token=(\S+)", out.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        port, token = found.groups()
        kinds = set()
        with connect(f"ws://127.0.0.1:{port}/ws/sessions/m1", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            while not {"face_affect", "voice_segment"} <= kinds:
                kinds.add(json.loads(ws.recv(timeout=20))["kind"])
    finally:
        proc.terminate()
        proc.wait(30)
    assert "Traceback" not in out.read_text()
