"""A video frame on the session clock, as the camera analysis consumes it.

Frames are BGR, or grayscale when every model that sees them is (the default
fer model is): a gray frame is the decoder's luma plane, with no colour
conversion at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One frame (BGR H×W×3, or gray H×W, uint8) stamped at session time ``t`` (seconds)."""

    t: float
    image: np.ndarray

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.image.shape[1])

    @property
    def gray(self) -> np.ndarray:
        """The frame in grayscale (the frame itself if it is gray)."""
        return self.image if self.image.ndim == 2 else cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)
