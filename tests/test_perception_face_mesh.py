"""FaceMesh on the astronaut's face: roll follows a turned image, mouth opening a dropped jaw, aligned crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _models_support import astronaut_bgr, default_models, face_scene

from dyadscope.models.library import ModelLibrary
from dyadscope.perception._face_mesh import _out_of_plane, aligned_crop, eye_roll, load_mesher
from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_detect import load_detector
from dyadscope.perception.face_track import FaceTracker
from dyadscope.perception.people import CameraView
from dyadscope.stream.frames import VideoFrame


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return ModelLibrary(default_models(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def mesh_of(library):
    detector, mesher = load_detector(library), load_mesher(library)

    def mesh(image):
        found = detector.detect(image)
        assert len(found) == 1
        return mesher.mesh(image, found[0].box, eye_roll(*found[0].eyes))

    return mesh


def test_roll_follows_the_image_turned_both_ways(mesh_of):
    photo = astronaut_bgr()
    upright = mesh_of(photo)
    assert upright is not None and upright.presence > 0.9 and abs(upright.yaw) < 10
    for turn in (-30, 30):  # getRotationMatrix2D: positive is anticlockwise in the image
        turned = cv2.warpAffine(photo, cv2.getRotationMatrix2D((226, 123), turn, 1.0), (512, 512))
        mesh = mesh_of(turned)
        print(f"image turned {turn}°: roll {mesh.roll} (upright {upright.roll})")
        assert mesh.roll - upright.roll == pytest.approx(-turn, abs=4)
    flipped = mesh_of(np.ascontiguousarray(photo[:, ::-1]))
    assert flipped.roll == pytest.approx(-upright.roll, abs=3) and flipped.pitch == pytest.approx(upright.pitch, abs=4)


def test_yaw_and_pitch_are_the_turn_of_the_face_axes_out_of_the_image():
    """The pose geometry on a known turn: points on a face's axes turned 30° about the vertical and horizontal."""
    t = np.radians(30)
    points = np.zeros((468, 3))
    points[454] = [np.cos(t), 0, np.sin(t)]  # cheek on the image's right, 30° away
    points[152] = [0, np.cos(t), -np.sin(t)]  # chin 30° toward the camera
    assert _out_of_plane(points, 234, 454, axis=0) == pytest.approx(30.0)
    assert _out_of_plane(points, 10, 152, axis=1) == pytest.approx(-30.0)


def test_mouth_opening_grows_when_the_jaw_drops(mesh_of):
    photo = astronaut_bgr()
    closed = mesh_of(photo)
    points = closed.landmarks
    lips = int(round((points[13, 1] + points[14, 1]) / 2))
    left, right = int(points[234, 0]), int(points[454, 0])
    corner_l, corner_r = int(points[61, 0]) + 2, int(points[291, 0]) - 2
    opened = []
    for drop in (8, 16):  # everything below the lips moves down; the gap is a dark mouth
        image = photo.copy()
        image[lips + drop :, left:right] = photo[lips : 512 - drop, left:right]
        image[lips : lips + drop, left:right] = photo[lips : lips + 1, left:right]
        image[lips : lips + drop, corner_l:corner_r] = (25, 15, 15)
        opened.append(mesh_of(image).mouth_open)
    print(f"mouth_open: closed {closed.mouth_open}, jaw dropped 8 / 16 px: {opened}")
    assert all(value > closed.mouth_open + 0.05 for value in opened)


def test_aligned_crop_is_level_and_tight(mesh_of):
    photo = astronaut_bgr()
    turned = cv2.warpAffine(photo, cv2.getRotationMatrix2D((226, 123), -30, 1.0), (512, 512))
    mesh = mesh_of(turned)
    crop, box = aligned_crop(turned, mesh)
    level = mesh_of(cv2.copyMakeBorder(crop, 60, 60, 60, 60, cv2.BORDER_REPLICATE))
    assert abs(level.roll) < 5  # the crop's face is level
    assert box[2] == box[3] and 0.75 < box[2] / max(mesh.box[2:]) < 1.25 and crop.shape[0] < 1.4 * box[2]


def test_face_affect_carries_pose_and_mouth_and_trusts_a_turned_face_less(library):
    tracker = FaceTracker(load_detector(library), detect_every=3)
    analyzer = FaceAnalyzer(CameraView(("patient",)), library.face_model(), tracker, mesher=load_mesher(library))
    scene = face_scene()
    affect = [f.data for i in range(6) for f in analyzer.process(VideoFrame(i / 15, scene)) if f.kind == "face_affect"]
    assert len(affect) == 6
    assert all({"yaw", "pitch", "roll", "mouth_open"} <= set(a) for a in affect)
    assert all(a["valence"] > 0.5 and 0.5 < a["confidence"] <= 1.0 for a in affect)
