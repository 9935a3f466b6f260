"""Media files from the command line: ``--media`` values parsed and checked, then played into a real session.

The files are real: the astronaut's face by ffmpeg, speech by espeak-ng.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from _models_support import MonitorFeed, default_models, espeak, face_video, speech_track, write_wav

from dyadscope.perception.live import LivePerception
from dyadscope.sensors.media import (
    MediaFiles,
    MediaOptionError,
    MediaSource,
    check_media_sources,
    parse_media_option,
)
from dyadscope.service.media import attach_media
from dyadscope.stream.frames import AUDIO_RATE_HZ, MediaSink, TrackSink, VideoSink
from dyadscope.stream.types import Chunk, Role, StreamInfo


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A patient's video with voice; a therapist's camera file and microphone file; a file that is no media."""
    tmp = tmp_path_factory.mktemp("media")
    patient, patient_spans = speech_track([espeak("I have been feeling anxious all week.")], [0.5])
    therapist, therapist_spans = speech_track([espeak("Tell me more about that.", pitch=30)], [0.5], lead_s=0.8)
    talk = face_video(tmp / "talk.mp4", patient.size / 16000, audio=write_wav(tmp / "patient.wav", patient))
    notes = tmp / "notes.csv"
    notes.write_text("t,text\n1.0,door opened\n")
    return SimpleNamespace(
        talk=talk,
        cam=face_video(tmp / "cam.mp4", therapist.size / 16000),
        mic=write_wav(tmp / "mic.wav", therapist),
        notes=notes,
        missing=tmp / "absent.mp4",
        spans={"patient": patient_spans, "therapist": therapist_spans},
    )


def test_one_file_per_person_gives_the_video_and_audio_it_has(media):
    assert parse_media_option(f"patient={media.talk}") == [MediaSource(media.talk, ("patient",), "patient")]
    assert parse_media_option(f"therapist={media.cam}") == [MediaSource(media.cam, ("therapist",), None)]
    assert parse_media_option(f" therapist = {media.mic} ") == [MediaSource(media.mic, (), "therapist")]


def test_a_shared_file_is_one_room_camera_and_one_microphone_for_both(media):
    from dyadscope.sensors.webrtc import Offer, OfferError

    assert parse_media_option(f"shared={media.talk}") == [
        MediaSource(media.talk, ("patient", "therapist"), None, microphone_shared=True)
    ]
    assert parse_media_option(f"shared={media.mic}") == [MediaSource(media.mic, (), None, microphone_shared=True)]
    offer = Offer.from_json({"sdp": "v=0", "type": "offer", "role": "patient", "microphone_role": "shared"})
    assert (offer.microphone_role, offer.microphone_shared) == (None, True)
    with pytest.raises(OfferError, match="'shared' or null"):
        Offer.from_json({"sdp": "v=0", "type": "offer", "role": "patient", "microphone_role": "both"})


def test_a_camera_file_and_a_microphone_file_per_person(media):
    assert parse_media_option(f"therapist={media.cam},{media.mic}") == [
        MediaSource(media.cam, camera_roles=("therapist",)),
        MediaSource(media.mic, microphone_role="therapist"),
    ]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("patient", "expected ROLE=FILE or ROLE=VIDEO,AUDIO, got 'patient'"),
        ("patient=", "expected ROLE=FILE or ROLE=VIDEO,AUDIO"),
        ("patient={cam},", "expected ROLE=FILE or ROLE=VIDEO,AUDIO"),
        ("patient={cam},{mic},{mic}", "expected ROLE=FILE or ROLE=VIDEO,AUDIO"),
        ("doctor={cam}", "the role must be one of patient, therapist, got 'doctor'"),
        ("patient={missing}", "no media file at {missing}"),
        ("patient={notes}", "{notes} is not a media file FFmpeg can read"),
        ("patient={mic},{mic}", "{mic} has no video"),
        ("patient={cam},{cam}", "{cam} has no audio"),
    ],
)
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
        asyncio.run(attach_media(engine_not_needed, two_cameras, time.monotonic))
    check_media_sources(
        parse_media_option(f"patient={media.talk}") + parse_media_option(f"therapist={media.cam},{media.mic}")
    )


class KeepAudioStamps:
    """A media sink that hands every track on to ``inner`` and keeps the stamps each microphone's samples got.

    The stamps are what maps a session-clock time back onto a file's own
    timeline (sample index / 16 kHz), however late a busy machine delivered
    the audio.
    """

    def __init__(self, inner: MediaSink):
        self.inner = inner
        self.stamps: dict[str, list[np.ndarray]] = {}

    def video(self, name: str, roles: tuple[Role, ...]) -> VideoSink:
        return self.inner.video(name, roles)

    def audio(self, info: StreamInfo) -> TrackSink[Chunk]:
        return _StampedTrack(self.inner.audio(info), self.stamps.setdefault(info.role, []))


class _StampedTrack:
    """One microphone's sink, passed through; the stamps of what it took are appended to ``stamps``."""

    def __init__(self, inner: TrackSink[Chunk], stamps: list[np.ndarray]):
        self.inner, self.stamps = inner, stamps

    async def put(self, item: Chunk) -> None:
        self.stamps.append(item.timestamps)
        await self.inner.put(item)

    async def end(self) -> None:
        await self.inner.end()

    async def stop(self) -> None:
        await self.inner.stop()


def _in_file_time(t: float, stamps: np.ndarray) -> float:
    """A session-clock time of a microphone's sample, as seconds into its file (sample index / rate)."""
    return int(np.searchsorted(stamps, t)) / AUDIO_RATE_HZ


def test_attached_media_reach_the_session_monitor(media, tmp_path_factory, make_service):
    """What ``dyadscope demo --media ...`` does: files through the hub's engine into a session, seen live.

    Speech units are checked on the files' own timeline: their session-clock
    start and end, mapped back through the stamps the samples got, must fall
    on the spoken spans, so a loaded machine that delivers audio late (and
    moves the session timeline on) cannot fail it.
    """
    service = make_service(model_dir=default_models(tmp_path_factory.mktemp("models")))
    created = httpx.post(
        f"{service.base}/api/sessions", json={"id": "rehearsal", "lsl": False}, headers=service.headers
    )
    assert created.status_code == 201, created.text
    monitor = MonitorFeed(service.ws_url("rehearsal"), service.headers)
    session = service.service.manager.get("rehearsal")
    hub = service.service.app.state.webrtc
    sources = parse_media_option(f"patient={media.talk}") + parse_media_option(f"therapist={media.cam},{media.mic}")

    async def play() -> KeepAudioStamps:  # attach_media's steps, with the stamps kept on the way
        perception = await asyncio.to_thread(LivePerception, await hub.engine())
        sink = KeepAudioStamps(perception.analysis(session.publish))
        files = MediaFiles(sources, sink, hub.clock)
        await files.start()
        try:
            await files.wait(timeout=120)  # a bound for a stalled player, not a timing check
        finally:
            await files.stop()
        return sink

    try:
        played = service.call(play(), timeout=150)
        deadline = time.monotonic() + 30  # the last features still travel through the session to the monitor
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
        ((start, end),) = media.spans[role]
        stamps = np.concatenate(played.stamps[role])
        unit = units[0]["data"]
        file_start, file_end = _in_file_time(unit["start"], stamps), _in_file_time(unit["end"], stamps)
        assert file_end - file_start == pytest.approx(end - start, abs=0.3)
        assert file_start == pytest.approx(start, abs=0.3) and file_end == pytest.approx(end, abs=0.3)


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
            [
                str(dyadscope),
                "serve",
                "--port",
                "0",
                "--duration",
                "30",
                "--session",
                "m1",
                "--media",
                f"patient={media.talk}",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"http://127\.0\.0\.1:(\d+)/\?session=m1#token=(\S+)", out.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        port, token = found.groups()
        kinds = set()
        with connect(
            f"ws://127.0.0.1:{port}/ws/sessions/m1", additional_headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            while not {"face_affect", "voice_segment"} <= kinds:
                kinds.add(json.loads(ws.recv(timeout=20))["kind"])
    finally:
        proc.terminate()
        proc.wait(30)
    assert "Traceback" not in out.read_text()
