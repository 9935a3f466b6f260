"""MediaPipe FaceMesh on a tracked face: landmarks, an aligned crop, head pose, mouth opening.

The mesh model (``face_mesh``, built by ``dyadscope models build``) takes a
192×192 RGB crop of a face and returns 468 landmarks (x, y in crop pixels,
z depth on the x scale). As MediaPipe does, the crop is the face box grown
1.5× to a square, turned so the eyes are level (the roll from the eye
keypoints, or from the last mesh's eye corners), and the landmarks are
mapped back to frame pixels.

From the landmarks (MediaPipe's canonical indices):

* **roll**: angle of the line from the outer eye corner on the image's left
  (33) to the one on its right (263), degrees, positive clockwise in the image;
* **yaw** and **pitch**: the turn of the face's left-right axis (cheek 234 →
  cheek 454) and up-down axis (forehead 10 → chin 152) out of the image plane,
  from the landmarks' depth, in the level crop, degrees (yaw positive when
  the face's image-right side is farther away, pitch positive when the chin is);
* **mouth_open**: the gap between the inner lips (13, 14) over the mouth
  width (corners 61, 291): 0 closed, ~0.3–0.6 wide open;
* the **aligned crop**: the frame turned by −roll about the mesh centre, a
  square of the landmarks' extent, for the affect model (a level face, tight
  to the face, rather than a loose detector box).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from dyadscope.models.face_affect import CROP_MARGIN, Box
from dyadscope.models.library import DEFAULT_FACE_MESH, ModelLibrary
from dyadscope.models.manifest import Manifest
from dyadscope.models.runtime import ModelSession

#: The mesh crop is the face box grown this much (MediaPipe's face_detection_to_roi scale).
ROI_SCALE = 1.5
#: Below this face-presence probability the mesh found no face in the crop.
MIN_PRESENCE = 0.5
_EYE_CORNERS = (33, 263)
_CHEEKS = (234, 454)
_BROW_CHIN = (10, 152)
_INNER_LIPS = (13, 14)
_MOUTH_CORNERS = (61, 291)


@dataclass(frozen=True)
class FaceMesh:
    """One face's mesh: landmarks (468, 3) in frame pixels, pose (degrees), mouth opening and presence."""

    landmarks: np.ndarray = field(repr=False)
    yaw: float
    pitch: float
    roll: float
    mouth_open: float
    presence: float

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """The outer eye corners (px): image left, image right."""
        return self.landmarks[_EYE_CORNERS[0], :2], self.landmarks[_EYE_CORNERS[1], :2]

    @property
    def box(self) -> Box:
        """The landmarks' upright bounding box (x, y, w, h, px)."""
        x0, y0 = self.landmarks[:, :2].min(axis=0)
        x1, y1 = self.landmarks[:, :2].max(axis=0)
        return int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))


def eye_roll(left: np.ndarray, right: np.ndarray) -> float:
    """The image-plane angle (degrees, clockwise positive) of the line from the left to the right eye."""
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def _out_of_plane(points: np.ndarray, a: int, b: int, axis: int) -> float:
    """Angle (degrees) by which the vector from landmark ``a`` to ``b`` leaves the image plane along ``axis``."""
    v = points[b] - points[a]
    return float(np.degrees(np.arctan2(v[2], v[axis])))


class FaceMesher:
    """Runs FaceMesh on faces given by box and roll; thread-safe like the detector."""

    def __init__(self, session: ModelSession, manifest: Manifest):
        if manifest.contract != "face_mesh":
            raise ValueError(f"{manifest.name}: contract {manifest.contract!r} is not face_mesh")
        self.session = session
        self.manifest = manifest
        self.side = int(manifest.preprocessing.size[0])

    def mesh(self, image: np.ndarray, box: Box, roll_deg: float) -> FaceMesh | None:
        """The mesh of the face in ``box`` of a BGR or gray frame, turned by ``roll_deg``; None if none is there."""
        x, y, w, h = box
        centre = (x + w / 2.0, y + h / 2.0)
        side = max(w, h) * ROI_SCALE
        # Frame -> crop: turn by roll about the face centre, scale the ROI to the input, centre it.
        matrix = cv2.getRotationMatrix2D(centre, roll_deg, self.side / side)
        matrix[:, 2] += (self.side / 2.0 - centre[0], self.side / 2.0 - centre[1])
        crop = cv2.warpAffine(image, matrix, (self.side, self.side), flags=cv2.INTER_LINEAR)
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB if crop.ndim == 2 else cv2.COLOR_BGR2RGB)
        tensor = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        out = self.session.run({self.manifest.input_name: np.ascontiguousarray(tensor)})
        presence = float(1.0 / (1.0 + np.exp(-out["face_flag"].reshape(-1)[-1])))
        if presence < MIN_PRESENCE:
            return None
        level = out["landmarks"].reshape(-1, 3)
        inverse = cv2.invertAffineTransform(matrix)
        frame_points = level.copy()
        frame_points[:, :2] = level[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        frame_points[:, 2] = level[:, 2] * (side / self.side)
        gap = np.linalg.norm(level[_INNER_LIPS[1], :2] - level[_INNER_LIPS[0], :2])
        width = np.linalg.norm(level[_MOUTH_CORNERS[1], :2] - level[_MOUTH_CORNERS[0], :2])
        return FaceMesh(
            landmarks=frame_points,
            yaw=round(_out_of_plane(level, *_CHEEKS, axis=0), 1),
            pitch=round(_out_of_plane(level, *_BROW_CHIN, axis=1), 1),
            roll=round(eye_roll(*(frame_points[i, :2] for i in _EYE_CORNERS)), 1),
            mouth_open=round(float(gap / width) if width > 0 else 0.0, 3),
            presence=round(presence, 3),
        )


def aligned_crop(image: np.ndarray, mesh: FaceMesh) -> tuple[np.ndarray, Box]:
    """The face turned level, tight to the landmarks, and the face's box in it (with the affect margin around it).

    The crop holds the face's square plus :data:`~dyadscope.models.face_affect.CROP_MARGIN`
    on each side, so ``FaceAffectModel.prepare(crop, box)`` takes it as is.
    """
    points = mesh.landmarks[:, :2]
    centre = (points.min(axis=0) + points.max(axis=0)) / 2.0
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), mesh.roll, 1.0)
    level = points @ matrix[:, :2].T + matrix[:, 2]
    face = int(np.ceil((level.max(axis=0) - level.min(axis=0)).max()))
    margin = int(np.ceil(face * CROP_MARGIN)) + 1
    size = face + 2 * margin
    matrix[:, 2] += (size / 2.0 - centre[0], size / 2.0 - centre[1])
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, (margin, margin, face, face)


def load_mesher(library: ModelLibrary, name: str = DEFAULT_FACE_MESH) -> FaceMesher:
    """The FaceMesh model ``name`` of a model library."""
    return FaceMesher(*library.session(name))
