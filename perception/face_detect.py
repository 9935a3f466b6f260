"""Face detection with OpenCV's Haar cascade (shipped by opencv-python 4.x).

Detection runs on a downscaled grayscale frame: a 640×480 frame is searched
at 400×300, which keeps the cascade to a few milliseconds, and boxes are
scaled back to full-frame pixels.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from dyadscope.models.face_affect import Box

CASCADE = "haarcascade_frontalface_default.xml"


def cascade_path() -> Path:
    """The frontal face cascade that ships inside opencv-python."""
    path = Path(cv2.data.haarcascades) / CASCADE
    if not path.is_file():
        raise FileNotFoundError(f"{CASCADE} not found in OpenCV's data (OpenCV 5 no longer ships it)")
    return path


class HaarFaceDetector:
    """Frontal faces in a grayscale frame, largest first.

    Parsing the cascade costs milliseconds, so one detector is meant to be
    loaded once (off the event loop) and shared by every camera: ``detect``
    may be called from any thread, one call at a time (OpenCV's classifier
    keeps per-image state, so concurrent calls would corrupt each other).

    ``detect_width`` is the width the frame is scaled to before searching;
    ``min_face`` is the smallest face, as a fraction of the frame width;
    ``scale_step`` is the cascade's step between scales (larger: faster, coarser).
    """

    def __init__(self, detect_width: int = 400, min_face: float = 0.08, neighbours: int = 5, scale_step: float = 1.15):
        self._cascade = cv2.CascadeClassifier(str(cascade_path()))
        self._lock = threading.Lock()
        self.detect_width = detect_width
        self.min_face = min_face
        self.neighbours = neighbours
        self.scale_step = scale_step

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Face boxes (x, y, w, h) in the frame's own pixels, largest first."""
        height, width = gray.shape[:2]
        scale = min(1.0, self.detect_width / width)
        small = (
            cv2.resize(gray, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
            if scale < 1.0
            else gray
        )
        min_side = max(20, int(self.min_face * small.shape[1]))
        equalized = cv2.equalizeHist(small)
        with self._lock:
            found = self._cascade.detectMultiScale(
                equalized, scaleFactor=self.scale_step, minNeighbors=self.neighbours, minSize=(min_side, min_side)
            )
        boxes = [tuple(int(round(v / scale)) for v in box) for box in found]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)
