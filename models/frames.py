"""A video frame on the session clock, as the camera analysis consumes it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One BGR frame (H, W, 3 uint8) stamped at session time ``t`` (seconds)."""

    t: float
    image: np.ndarray

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
