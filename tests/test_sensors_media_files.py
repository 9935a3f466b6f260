"""Media files as sources: a real face and espeak-ng speech through the track readers into the live analysis."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from _models_support import default_models, espeak, face_video, speech_track, write_wav

from dyadscope.models.engine import EngineSettings, ModelEngine
from dyadscope.perception.live import LivePerception
from dyadscope.sensors.media import MediaFiles, MediaSource

SENTENCES = ["I have been feeling anxious all week.", "Tell me more about that."]


@pytest.fixture(scope="module")
def perception(tmp_path_factory):
    engine = ModelEngine.from_dir(
        default_models(tmp_path_factory.mktemp("models")), EngineSettings(max_batch=8, max_wait_ms=2)
    )
    yield LivePerception(engine)
    engine.close()


def _play(sources, perception, seconds):
    features = []

    async def sink(batch):
        features.extend(batch)

    async def main():
        files = MediaFiles(sources, perception.analysis(sink), time.monotonic)
        await files.start()
        try:
            await files.wait(timeout=seconds + 15)
        finally:
            await files.stop()
        return files

    files = asyncio.run(main())
    return features, files


def test_one_file_with_face_and_voice(perception, tmp_path):
    signal, spans = speech_track([espeak(s) for s in SENTENCES], [0.7, 1.0])
    wav = write_wav(tmp_path / "speech.wav", signal)
    seconds = signal.size / 16000
    video = face_video(tmp_path / "patient.mp4", seconds, audio=wav)
    features, files = _play([MediaSource(video, ("patient",), "patient")], perception, seconds)

    by_kind = {}
    for f in features:
        by_kind.setdefault(f.kind, []).append(f)
    assert all(f.role == "patient" for f in features)
    assert by_kind["face_tracked"][0].data["state"] == "found"
    affect = by_kind["face_affect"]
    assert len(affect) > seconds * 5
    assert sum(f.data["valence"] > 0.5 for f in affect) > 0.8 * len(affect)
    movement = by_kind["movement"]
    times = [f.t for f in movement]
    assert len(movement) / (times[-1] - times[0]) >= 10.0
    assert max(f.data["energy"] for f in movement) > 0.0
    units = by_kind["voice_segment"]
    assert len(units) == len(SENTENCES)
    for unit, (start, end) in zip(units, spans, strict=True):
        assert unit.data["duration_s"] == pytest.approx(end - start, abs=0.25)
    gap = units[1].data["start"] - units[0].data["end"]
    assert gap == pytest.approx(spans[1][0] - spans[0][1], abs=0.2)
    video_reader, audio_reader = files.ingest.readers
    assert video_reader.sink.frames_analysed <= video_reader.frames_received
    assert audio_reader.samples_received == pytest.approx(signal.size, rel=0.02)


def test_a_camera_for_both_and_a_microphone_each(perception, tmp_path):
    speech = speech_track([espeak(SENTENCES[0])], [0.5])[0]
    wav_p = write_wav(tmp_path / "patient.wav", speech)
    wav_t = write_wav(tmp_path / "therapist.wav", speech_track([espeak(SENTENCES[1])], [0.5])[0])
    video = face_video(tmp_path / "room.mp4", 2.0)
    sources = [
        MediaSource(video, ("therapist", "patient")),
        MediaSource(wav_p, microphone_role="patient"),
        MediaSource(wav_t, microphone_role="therapist"),
    ]
    features, _ = _play(sources, perception, speech.size / 16000)
    units = {f.role for f in features if f.kind == "voice_segment"}
    assert units == {"patient", "therapist"}
    moved = {f.role for f in features if f.kind == "movement"}
    assert moved == {"patient", "therapist"}


def test_a_looping_file_plays_again_with_its_timeline_going_on(perception, tmp_path):
    signal, spans = speech_track([espeak(SENTENCES[1])], [0.3])
    seconds = signal.size / 16000
    features = []

    async def sink(batch):
        features.extend(batch)

    async def main():
        files = MediaFiles(
            [MediaSource(write_wav(tmp_path / "loop.wav", signal), microphone_role="patient")],
            perception.analysis(sink),
            time.monotonic,
            loop=True,
        )
        await files.start()
        await asyncio.sleep(2.6 * seconds)  # a file that ended would give one unit
        await files.stop()

    asyncio.run(main())
    units = [f.data for f in features if f.kind == "voice_segment"]
    assert len(units) >= 2
    ((start, end),) = spans
    assert all(u["duration_s"] == pytest.approx(end - start, abs=0.25) for u in units)
    assert units[1]["start"] - units[0]["start"] == pytest.approx(seconds, abs=0.1)


def test_missing_file_is_reported(perception, tmp_path):
    files = MediaFiles([MediaSource(tmp_path / "absent.mp4", ("patient",))], perception.analysis(None), time.monotonic)
    with pytest.raises(FileNotFoundError, match="absent.mp4"):
        asyncio.run(files.start())


class _Kept:
    """One track's sink that keeps what it is given."""

    colour = False  # gray frames, as for the default face model
    visible = ()

    def __init__(self):
        self.items = []
        self.ended = False

    async def put(self, item):
        self.items.append(item)

    async def end(self):
        self.ended = True

    async def stop(self):
        pass


class _Keeper:
    """A media sink that keeps every track's items: the sensors need nothing but the stream contract."""

    def __init__(self):
        self.tracks: dict[str, _Kept] = {}

    def video(self, name, roles):
        return self.tracks.setdefault(name, _Kept())

    def audio(self, info):
        return self.tracks.setdefault(info.name, _Kept())


def test_files_reach_any_media_sink_decoded_and_stamped(tmp_path):
    signal = speech_track([espeak(SENTENCES[1])], [0.3])[0]
    video = face_video(tmp_path / "room.mp4", 1.0, audio=write_wav(tmp_path / "voice.wav", signal))
    keeper = _Keeper()

    async def main():
        files = MediaFiles([MediaSource(video, ("patient",), "patient")], keeper, time.monotonic)
        await files.start()
        await files.wait(timeout=15)
        await files.stop()

    asyncio.run(main())
    assert sorted(keeper.tracks) == ["room-audio", "room-video"]
    assert all(track.ended for track in keeper.tracks.values())
    frames, chunks = keeper.tracks["room-video"].items, keeper.tracks["room-audio"].items
    assert len(frames) == 15 and all(f.image.shape == (480, 640) for f in frames)  # gray: the luma plane
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))
    times = np.concatenate([c.timestamps for c in chunks])
    np.testing.assert_allclose(np.diff(times), 1 / 16000, rtol=1e-6)
    assert chunks[0].info.role == "patient" and chunks[0].info.nominal_rate == 16000
    assert times.size == pytest.approx(1.0 * 16000, rel=0.05)
