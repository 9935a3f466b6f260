"""Live face analysis rates: faces analysed at most every ``face_interval_s``; detection slowed while meshed."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from _face_frames import face_frame
from _models_support import default_models

from dyadscope.models.engine import EngineSettings, ModelEngine
from dyadscope.perception.live import LivePerception
from dyadscope.stream.frames import VideoFrame

FPS = 15


@pytest.fixture(scope="module")
def perception(tmp_path_factory):
    engine = ModelEngine.from_dir(
        default_models(tmp_path_factory.mktemp("models")), EngineSettings(max_batch=8, max_wait_ms=2)
    )
    yield LivePerception(engine)
    engine.close()


def _feed(perception: LivePerception, images: list[np.ndarray]):
    """Each image stamped at i / 15 s, handed over one at a time once the previous one was taken."""
    features = []

    async def sink(batch):
        features.extend(batch)

    async def main():
        track = perception.analysis(sink).video("camera", ("patient",))
        for i, image in enumerate(images):
            await track.put(VideoFrame(i / FPS, image))
            await asyncio.sleep(0.15)  # pacing only: leaves the face analysis free for the next frame
        await track.end()
        await track.stop()
        return track

    track = asyncio.run(main())
    return features, track


def test_faces_are_analysed_every_face_interval_of_data_time(perception):
    image = face_frame(130, 0, "normal", False, False, 0).image
    features, track = _feed(perception, [image] * 16)
    times = [f.t for f in features if f.kind == "face_affect"]
    assert perception.face_interval_s == 0.125
    # 16 frames at 15 fps: every other one is due (0, 2/15, ..., 14/15); frame 0 comes before
    # the first background detection, so at most it goes without affect.
    due = [i / FPS for i in range(0, 16, 2)]
    assert len(times) >= len(due) - 1
    assert times == pytest.approx(due[len(due) - len(times) :])
    assert len([f for f in features if f.kind == "movement"]) == 15
    assert track.faces.all_meshed
    affect = [f for f in features if f.kind == "face_affect"][-1].data
    assert {"yaw", "pitch", "roll", "mouth_open", "confidence"} <= affect.keys()


def test_a_face_gone_from_its_box_is_no_longer_meshed(perception):
    face = face_frame(130, 0, "normal", False, False, 0).image
    blank = np.full_like(face, 90)
    _, track = _feed(perception, [face, face, face, blank, blank, blank])
    assert not track.faces.all_meshed
