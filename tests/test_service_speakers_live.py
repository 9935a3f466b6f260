"""Who is speaking, live, through a real service, enrolled by the rig's route: one shared microphone, and lapels.

The microphone is a real file played in real time into a real session (the
path ``serve --media shared=FILE`` takes): each person first reads a text
alone, then they take turns. The test enrols each person over their reading
through ``POST /api/sessions/{id}/speakers/enrol``, and reads the speech
units from the session's websocket. The voices are espeak-ng's reshaped by
sox (tests/_speaker_support.py). With a microphone each, each carries the
other voice 12 dB down, and the copies must be dropped.

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


class HeldMicrophones:
    """A media sink passing every microphone on; it keeps each sample's stamp and holds samples from ``hold_at`` on.

    Per microphone (by its role, None for a shared one): ``stamps[role]``
    (the session time of each of its samples, in order) and ``reached[role]``,
    set once its first sample at or after ``hold_at`` came; nothing from there
    on goes on until ``release`` is set.
    """

    def __init__(self, inner: MediaSink, hold_at: int):
        self.inner, self.hold_at = inner, hold_at
        self.stamps: dict[Role | None, list[np.ndarray]] = {}
        self.reached: dict[Role | None, asyncio.Event] = {}
        self.release = asyncio.Event()

    def video(self, name: str, roles: tuple[Role, ...]) -> VideoSink:
        return self.inner.video(name, roles)

    def audio(self, info: StreamInfo) -> TrackSink[Chunk]:
        self.reached[info.role] = asyncio.Event()
        return _Held(self, info.role, self.inner.audio(info))

    def times(self, role: Role | None) -> np.ndarray:
        """The session time of each sample the microphone has passed on."""
        return np.concatenate(self.stamps[role])


class _Held:
    def __init__(self, owner: HeldMicrophones, role: Role | None, inner: TrackSink[Chunk]):
        self.owner, self.inner = owner, inner
        self.reached, self.stamps = owner.reached[role], owner.stamps.setdefault(role, [])

    async def put(self, item: Chunk) -> None:
        if sum(s.size for s in self.stamps) + item.timestamps.size > self.owner.hold_at:
            self.reached.set()
            await self.owner.release.wait()
        self.stamps.append(item.timestamps)
        await self.inner.put(item)

    async def end(self) -> None:
        await self.inner.end()

    async def stop(self) -> None:
        await self.inner.stop()


def _recording():
    """Each person's own track: the patient reads, the therapist reads, then ten turns; spans in file seconds."""
    silence = np.zeros(int(GAP_S * RATE), np.float32)
    parts, readings, t = {"patient": [silence], "therapist": [silence]}, {}, GAP_S
    for role, text in ENROLMENT.items():
        speech = say(role, text)
        readings[role] = (t, t + speech.size / RATE)
        for other in parts:
            parts[other] += [speech if other == role else np.zeros_like(speech), silence]
        t += speech.size / RATE + GAP_S
    tracks, turns = turn_tracks([(role, say(role, text)) for role, text in TURNS])
    turns = [(role, t + start, t + end) for role, start, end in turns]
    own = {role: np.concatenate((*parts[role], tracks[role])) for role in parts}
    return own, readings, turns, int(t * RATE)


def _play(service, session_id: str, microphones: list[MediaSource], hold_at: int):
    """Start the files into the session through the hub's analysis, as ``serve --media`` does, held at ``hold_at``."""
    hub = service.service.app.state.webrtc
    session = service.service.manager.get(session_id)

    async def start() -> tuple[HeldMicrophones, MediaFiles]:
        sink = HeldMicrophones(await hub.analysis(session_id, session.publish), hold_at)
        files = MediaFiles(microphones, sink, hub.clock)
        await files.start()
        return sink, files

    return service.call(start(), timeout=120)


def _enrol_and_play_on(service, session_id, sink, files, readings, owner_of) -> None:
    """Wait for every microphone to reach the turns, enrol each person over their reading, let the turns play."""
    for reached in sink.reached.values():
        service.call(asyncio.wait_for(reached.wait(), 120), timeout=130)  # a bound for a stalled player
    for role, (start, end) in readings.items():
        stamps = sink.times(owner_of(role))
        window = {"role": role, "start": _session_time(stamps, start - 0.5), "end": _session_time(stamps, end)}
        url = f"{service.base}/api/sessions/{session_id}/speakers/enrol"
        enrolled = httpx.post(url, json=window, headers=service.headers, timeout=60)
        assert enrolled.status_code == 200, enrolled.text
    service.loop.call_soon_threadsafe(sink.release.set)
    service.call(files.wait(timeout=120), timeout=130)


def _wait_for_unit_ending(monitor: MonitorFeed, t: float) -> None:
    deadline = time.monotonic() + 60  # the last units still travel through the session to the monitor
    while time.monotonic() < deadline and not any(e["data"]["end"] >= t for e in monitor.of_kind("voice_segment")):
        time.sleep(0.2)


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
    own, readings, turns, conversation_at = _recording()
    wav = write_wav(tmp_path / "room.wav", own["patient"] + own["therapist"])
    both_at_once = {"role": "patient", "last_s": 10, "duration_s": 10}
    assert httpx.post(f"{base}/room/speakers/enrol", json=both_at_once, headers=headers).status_code == 422
    sink, files = _play(service, "room", [MediaSource(wav, microphone_shared=True)], conversation_at)
    try:
        _enrol_and_play_on(service, "room", sink, files, readings, lambda role: None)
        stamps = sink.times(None)
        _wait_for_unit_ending(monitor, _session_time(stamps, turns[-1][2]) - 0.5)
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


def test_a_microphone_each_drops_the_other_voice_heard_12_db_lower(make_service, tmp_path_factory, tmp_path):
    """Lapel microphones in one room: each carries the other voice 12 dB down; its copies are dropped live."""
    service = make_service(model_dir=default_models(tmp_path_factory.mktemp("models")))
    created = httpx.post(f"{service.base}/api/sessions", json={"id": "lapels", "lsl": False}, headers=service.headers)
    assert created.status_code == 201, created.text
    monitor = MonitorFeed(service.ws_url("lapels"), service.headers)
    own, readings, turns, conversation_at = _recording()
    bleed = 10 ** (-12 / 20)
    mics = [
        MediaSource(write_wav(tmp_path / f"{role}.wav", own[role] + bleed * own[other]), microphone_role=role)
        for role, other in (("patient", "therapist"), ("therapist", "patient"))
    ]
    sink, files = _play(service, "lapels", mics, conversation_at)
    try:
        _enrol_and_play_on(service, "lapels", sink, files, readings, lambda role: role)
        for role in ("patient", "therapist"):
            _wait_for_unit_ending(monitor, _session_time(sink.times(role), turns[-1][2]) - 0.5)
    finally:
        service.call(files.stop())
        monitor.close()

    right = heard = 0
    for role in ("patient", "therapist"):
        stamps = sink.times(role)
        start = _session_time(stamps, conversation_at / RATE)
        spans = [(who, _session_time(stamps, s), _session_time(stamps, e)) for who, s, e in turns]
        # a unit is on this microphone when it lies on its timeline: its speaker's own microphone
        units = [u for u in monitor.of_kind("voice_segment") if u["role"] == role and u["data"]["start"] >= start]
        for unit in units:
            truth = next((who for who, s, e in spans if s < unit["data"]["end"] and unit["data"]["start"] < e), None)
            right += truth == role
        heard += len(units)
    print(f"live crosstalk: {right} of {heard} units to the person who spoke")
    assert heard >= len(TURNS) and right / heard >= 0.95
