"""Body movement as motion energy: the share of pixels that changed.

As in motion energy analysis (MEA; Ramseyer & Tschacher 2011), each person's
region of the image is compared with the previous frame and the fraction of
pixels whose grey level changed by more than a threshold is the movement at
that instant. Frames are reduced to a small grayscale image first, which
removes sensor noise and keeps the cost per frame tiny, so every frame the
camera delivers (not only the ones the face model sees) is measured.
"""

from __future__ import annotations

import cv2
import numpy as np

from dyadscope.perception.people import CameraView
from dyadscope.stream import kinds
from dyadscope.stream.frames import VideoFrame
from dyadscope.stream.types import Feature

#: Width of the image motion is measured on.
ANALYSIS_WIDTH = 160
#: Grey-level change (0..255) that counts a pixel as moved.
THRESHOLD = 12


class MotionEnergy:
    """Motion energy per person of one camera, one value per frame."""

    def __init__(self, view: CameraView, threshold: int = THRESHOLD, width: int = ANALYSIS_WIDTH):
        self.view = view
        self.threshold = threshold
        self.width = width
        self._previous: np.ndarray | None = None

    def process(self, frame: VideoFrame) -> list[Feature]:
        """Movement of each person between the previous frame and this one."""
        image = frame.gray
        scale = self.width / image.shape[1]
        small = cv2.resize(
            image, (self.width, max(1, int(round(image.shape[0] * scale)))), interpolation=cv2.INTER_AREA
        )
        gray = cv2.GaussianBlur(small, (3, 3), 0)
        previous, self._previous = self._previous, gray
        if previous is None or previous.shape != gray.shape:
            return []
        moved = cv2.absdiff(gray, previous) > self.threshold
        features = []
        for role, (start, stop) in self.view.regions(self.width).items():
            region = moved[:, start:stop]
            features.append(Feature(kinds.MOVEMENT, role, frame.t, {"energy": float(region.mean())}))
        return features
