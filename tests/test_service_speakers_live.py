"""Who is speaking, live: two voices on one microphone through a real service, enrolled by the rig's route.

The microphone is a real file played in real time into a real session (the
path ``serve --media shared=FILE`` takes): each person first reads a text
alone, then they take turns. The test enrols each person over their reading
through ``POST /api/sessions/{id}/speakers/enrol``, and reads the speech
units from the session's websocket. The voices are espeak-ng's reshaped by
sox (tests/_speaker_support.py).

Times are mapped between the file and the session clock through the stamps
the samples got, so a busy machine that delivers audio late cannot fail it.
The microphone's sink holds the conversation back until the enrolment
request has returned (as if the rig's request came before the turns), so
the result does not depend on how fast the request is.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
from _models_support import MonitorFeed, default_models, write_wav
from _speaker_support import ENROLMENT, RATE, TURNS, say, turn_tracks

from dyadscope.sensors.media import MediaFiles, MediaSource
from dyadscope.stream.frames import MediaSink, TrackSink, VideoSink
from dyadscope.stream.types import Chunk, Role, StreamInfo

GAP_S = 1.5


class HeldMicrophone:
    """A media sink passing the one microphone on; it keeps each sample's stamp and holds samples from ``hold_at`` on.

    ``reached`` is set once the first sample at or after ``hold_at`` came;
    nothing from there on goes on until ``release`` is set.
    """

    def __init__(self, inner: MediaSink, hold_at: int):
        self.inner, self.hold_at = inner, hold_at
        self.stamps: list[np.ndarray] = []
        self.reached, self.release = asyncio.Event(), asyncio.Event()

    def video(self, name: str, roles: tuple[Role, ...]) -> VideoSink:
        return self.inner.video(name, roles)

    def audio(self, info: StreamInfo) -> TrackSink[Chunk]:
        return _Held(self, self.inner.audio(info))

    @property
    def samples(self) -> int:
        return sum(s.size for s in self.stamps)


class _Held:
    def __init__(self, owner: HeldMicrophone, inner: TrackSink[Chunk]):
        self.owner, self.inner = owner, inner

    async def put(self, item: Chunk) -> None:
        if self.owner.samples + item.timestamps.size > self.owner.hold_at:
            self.owner.reached.set()
            await self.owner.release.wait()
        self.owner.stamps.append(item.timestamps)
        await self.inner.put(item)

    async def end(self) -> None:
        await self.inner.end()

    async def stop(self) -> None:
        await self.inner.stop()


def _recording():
    """The shared microphone: the patient reads, the therapist reads, then ten turns; spans in file seconds."""
    silence = np.zeros(int(GAP_S * RATE), np.float32)
    parts, readings, t = [silence], {}, GAP_S
    for role, text in ENROLMENT.items():
        speech = say(role, text)
        readings[role] = (t, t + speech.size / RATE)
        parts += [speech, silence]
        t += speech.size / RATE + GAP_S
    tracks, turns = turn_tracks([(role, say(role, text)) for role, text in TURNS])
    conversation = tracks["patient"] + tracks["therapist"]
    turns = [(role, t + start, t + end) for role, start, end in turns]
    return np.concatenate((*parts, conversation)), readings, turns, int(t * RATE)


def _session_time(stamps: np.ndarray, file_s: float) -> float:
    return float(stamps[min(int(file_s * RATE), stamps.size - 1)])


def _right_seconds(units: list[dict], turns: list[tuple[str, float, float]]) -> tuple[float, float]:
    """Seconds of the turns inside units given to the right person, and the turns' seconds."""
    right = 0.0
    for unit in units:
        for role, start, end in turns:
            overlap = min(unit["data"]["end"], end) - max(unit["data"]["start"], start)
            if overlap > 0 and unit["data"]["speaker"] == role:
                right += overlap
    return right, sum(end - start for _, start, end in turns)


def test_two_voices_on_one_microphone_go_to_who_spoke(make_service, tmp_path_factory, tmp_path):
    service = make_service(model_dir=default_models(tmp_path_factory.mktemp("models")))
    base, headers = f"{service.base}/api/sessions", service.headers
    assert httpx.post(base, json={"id": "room", "lsl": False}, headers=headers).status_code == 201
    monitor = MonitorFeed(service.ws_url("room"), headers)
    session, hub = service.service.manager.get("room"), service.service.app.state.webrtc
    signal, readings, turns, conversation_at = _recording()
    wav = write_wav(tmp_path / "room.wav", signal)
    both_at_once = {"role": "patient", "last_s": 10, "duration_s": 10}
    assert httpx.post(f"{base}/room/speakers/enrol", json=both_at_once, headers=headers).status_code == 422

    async def open_microphone() -> tuple[HeldMicrophone, MediaFiles]:
        sink = HeldMicrophone(await hub.analysis("room", session.publish), conversation_at)
        files = MediaFiles([MediaSource(wav, microphone_shared=True)], sink, hub.clock)
        await files.start()
        return sink, files

    sink, files = service.call(open_microphone(), timeout=120)
    try:
        service.call(asyncio.wait_for(sink.reached.wait(), 120), timeout=130)  # a bound for a stalled player
        stamps = np.concatenate(sink.stamps)
        for role, (start, end) in readings.items():
            window = {"role": role, "start": _session_time(stamps, start - 0.5), "end": _session_time(stamps, end)}
            enrolled = httpx.post(f"{base}/room/speakers/enrol", json=window, headers=headers, timeout=60)
            assert enrolled.status_code == 200, enrolled.text
        service.loop.call_soon_threadsafe(sink.release.set)
        service.call(files.wait(timeout=120), timeout=130)
        stamps = np.concatenate(sink.stamps)
        last_turn_end = _session_time(stamps, turns[-1][2])
        deadline = time.monotonic() + 60  # the last units still travel through the session to the monitor
        while time.monotonic() < deadline and not any(
            e["data"]["end"] >= last_turn_end - 0.5 for e in monitor.of_kind("voice_segment")
        ):
            time.sleep(0.2)
        state = httpx.get(f"{base}/room/speakers", headers=headers).json()
    finally:
        service.call(files.stop())
        monitor.close()

    units = monitor.of_kind("voice_segment")
    conversation_start = _session_time(stamps, conversation_at / RATE)
    enrolment = [u for u in units if u["data"]["end"] < conversation_start]
    talk = [u for u in units if u["data"]["start"] >= conversation_start]
    assert {u["data"]["source"] for u in enrolment} <= {"enrolment"}  # units closed before the request: nobody yet
    for role in ("patient", "therapist"):
        spoken = readings[role][1] - readings[role][0]
        assert 0.6 * spoken < state[role]["speech_s"] <= spoken + 0.5 and state[role]["partials"] >= 5, state
    assert {u["data"]["source"] for u in talk} == {"voice"}
    assert all(u["role"] == u["data"]["speaker"] and 0.5 <= u["data"]["confidence"] <= 1 for u in talk)
    session_turns = [(role, _session_time(stamps, s), _session_time(stamps, e)) for role, s, e in turns]
    right, total = _right_seconds(talk, session_turns)
    print(f"live shared microphone: {right:.2f} of {total:.2f} s of speech to the right person ({right / total:.1%})")
    assert right / total >= 0.90
