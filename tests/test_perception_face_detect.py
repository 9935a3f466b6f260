"""BlazeFace face detection on augmented real-face frames and on face-free images (see _face_frames)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from _face_frames import face_frames, face_free_images, overlaps
from _models_support import default_models

from dyadscope.models.library import ModelLibrary
from dyadscope.perception._blazeface_anchors import ANCHOR_LAYOUTS, ssd_anchors
from dyadscope.perception.face_detect import load_detector


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return ModelLibrary(default_models(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def frames():
    return face_frames()


def _recall(detector, frames) -> tuple[dict[str, float], int]:
    """Recall (%) overall and per condition, and the number of boxes that miss the true face."""
    hits, totals, misplaced = Counter(), Counter(), 0
    for frame in frames:
        faces = detector.detect(frame.image)
        found = any(overlaps(f.box, frame.face) for f in faces)
        misplaced += sum(not overlaps(f.box, frame.face) for f in faces)
        groups = ("all", f"{frame.width}px", f"roll {frame.roll}", frame.lighting)
        groups += ("occluded",) * frame.occluded + ("blurred",) * frame.blurred
        for group in groups:
            totals[group] += 1
            hits[group] += found
    return {g: round(100.0 * hits[g] / totals[g], 1) for g in totals}, misplaced


def test_full_range_blazeface_finds_most_augmented_faces_and_no_other_box(library, frames):
    """≥ 60 % of 420 frames, every box on the face.

    Haar with the old settings, on these frames: 19.3 %, none from 30° roll
    on, 13 boxes off the face (benchmarks/bench_face.py has its detector).
    """
    recall, misplaced = _recall(load_detector(library, "blazeface_full"), frames)
    print(f"blazeface_full recall {recall}, misplaced boxes {misplaced}")
    assert len(frames) == 420
    assert recall["all"] >= 60.0
    assert misplaced == 0
    assert min(recall[f"roll {r}"] for r in (-45, 45)) >= 50.0  # Haar found none from 30° on
    assert min(recall[f"{w}px"] for w in (130, 175, 220)) >= 90.0


def test_short_range_blazeface_finds_faces_that_fill_the_frame(library, frames):
    near = [f for f in frames if f.width >= 130]
    recall, misplaced = _recall(load_detector(library, "blazeface_short"), near)
    print(f"blazeface_short recall (faces 130-220 px) {recall}, misplaced boxes {misplaced}")
    assert recall["all"] >= 90.0 and misplaced == 0


def test_no_box_on_face_free_images(library):
    detector = load_detector(library, "blazeface_full")
    images = face_free_images()
    boxes = {name: [f.box for f in detector.detect(image)] for name, image in images.items()}
    print(f"face-free images: {len(images)}, with a box: {[n for n, b in boxes.items() if b]}")
    assert len(images) >= 17 and all(b == [] for b in boxes.values())


def test_anchors_are_mediapipes_grids():
    full = ssd_anchors(*ANCHOR_LAYOUTS["blazeface_full"])
    short = ssd_anchors(*ANCHOR_LAYOUTS["blazeface_short"])
    assert full.shape == (2304, 2) and short.shape == (896, 2)
    assert np.allclose(full[[0, 1, 48]], [[0.5 / 48, 0.5 / 48], [1.5 / 48, 0.5 / 48], [0.5 / 48, 1.5 / 48]])
    expected = [
        [1 / 32, 1 / 32],
        [1 / 32, 1 / 32],
        [3 / 32, 1 / 32],
        [1 / 16, 1 / 16],
        [1 / 16, 1 / 16],
        [3 / 16, 1 / 16],
    ]
    assert np.allclose(short[[0, 1, 2, 512, 517, 518]], expected)
