"""Face detection with MediaPipe's BlazeFace (ONNX, built by ``dyadscope models build``).

The whole frame is letterboxed (scaled to fit, padded black) into the model's
square input: 192×192 for the full range model (room cameras, faces down to
~20 px in a 640×480 frame), 128×128 for the short range one (the face fills
much of the frame). Decoding is :mod:`._blazeface_anchors`; boxes and
keypoints come back in the frame's own pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from dyadscope.models.face_affect import Box
from dyadscope.models.library import DEFAULT_FACE_DETECTOR, ModelLibrary
from dyadscope.models.manifest import Manifest
from dyadscope.models.runtime import ModelSession
from dyadscope.perception._blazeface_anchors import ANCHOR_LAYOUTS, decode, ssd_anchors, weighted_nms

#: Detections below this score are dropped (MediaPipe's face detection default).
MIN_SCORE = 0.5


@dataclass(frozen=True)
class FaceDetection:
    """One face: its box (x, y, w, h, px), the detector's score in [0, 1] and its six keypoints (px).

    Keypoints, as MediaPipe orders them: the eye on the image's left, the eye
    on its right, nose tip, mouth centre, and the two ear tragions.
    """

    box: Box
    score: float
    keypoints: np.ndarray = field(repr=False, compare=False)

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """The two eye keypoints (px): image left, image right."""
        return self.keypoints[0], self.keypoints[1]


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The frame as a ``side``×``side`` RGB image: scaled to fit, padded black; returns it, the scale, (left, top)."""
    height, width = image.shape[:2]
    scale = side / max(width, height)
    w, h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    small = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB if small.ndim == 2 else cv2.COLOR_BGR2RGB)
    left, top = (side - w) // 2, (side - h) // 2
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[top : top + h, left : left + w] = small
    return canvas, scale, (left, top)


class FaceDetector:
    """Faces in a BGR or gray frame, largest first.

    One detector is loaded once and shared by every camera; ``detect`` may be
    called from any thread (the ONNX session is thread-safe and the detector
    keeps no per-call state).
    """

    def __init__(self, session: ModelSession, manifest: Manifest, min_score: float = MIN_SCORE):
        if manifest.contract not in ANCHOR_LAYOUTS:
            raise ValueError(f"{manifest.name}: contract {manifest.contract!r} is not a BlazeFace detector")
        self.session = session
        self.manifest = manifest
        self.name = manifest.name
        self.min_score = min_score
        self.side, strides, two = ANCHOR_LAYOUTS[manifest.contract]
        self._anchors = ssd_anchors(self.side, strides, two)

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """Faces in ``image`` (BGR or gray), boxes clipped to the frame, largest first."""
        canvas, scale, (left, top) = letterbox(image, self.side)
        tensor = (canvas.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        out = self.session.run({self.manifest.input_name: np.ascontiguousarray(tensor)})
        boxes, keypoints, scores = decode(out["boxes"], out["scores"], self._anchors, self.side)
        height, width = image.shape[:2]
        offset = np.array([left, top], np.float32)
        found = []
        for box, points, score in weighted_nms(boxes, keypoints, scores, self.min_score):
            x0, y0 = np.clip((box[:2] * self.side - offset) / scale, 0, (width, height))
            x1, y1 = np.clip((box[2:] * self.side - offset) / scale, 0, (width, height))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            pixels = (points * self.side - offset) / scale
            rect = (int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
            found.append(FaceDetection(rect, round(score, 4), pixels.astype(np.float32)))
        return sorted(found, key=lambda d: d.box[2] * d.box[3], reverse=True)


def load_detector(library: ModelLibrary, name: str = DEFAULT_FACE_DETECTOR) -> FaceDetector:
    """The BlazeFace detector ``name`` of a model library (default: full range, for cameras across a room)."""
    return FaceDetector(*library.session(name))
