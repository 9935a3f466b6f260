"""Augmented real-face frames for the face detection tests, made from scikit-image's images.

The face is the astronaut's (``skimage.data.astronaut()``, Eileen Collins,
public domain), hand-labelled at :data:`ASTRONAUT_FACE`. Each frame is
640×480 BGR: the whole photograph scaled so the face is ``width`` px wide,
rolled by ``roll`` degrees about the face centre and placed at a seeded
position (the photograph's edge pixels repeated beyond it, so no mirrored
copy of the face appears), then lit, occluded
and blurred:

* lighting: ``normal``; ``dim`` (×0.45 gain, gamma 1.4: an unlit room);
  ``side`` (a left-to-right gain ramp 0.25 → 1.3: a window on one side);
* occlusion: a mid-gray bar over the lower 40 % of the face (a hand or a mug
  before the mouth);
* blur: Gaussian, σ = 1 + width / 60 px (defocus or motion at 15 fps).

5 widths × 7 rolls × 3 lightings × (clean, occluded, blurred, both) = 420 frames.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import product

import cv2
import numpy as np
import skimage.data

#: The astronaut's face in the 512×512 photograph: x, y, w, h (px), brow to chin, ear to ear.
ASTRONAUT_FACE = (172, 62, 108, 122)
WIDTHS = (40, 85, 130, 175, 220)
ROLLS = (-45, -30, -15, 0, 15, 30, 45)
LIGHTINGS = ("normal", "dim", "side")
FRAME_SIZE = (640, 480)

#: scikit-image images with no human face (``camera`` shows a photographer and is left out;
#: ``chelsea`` is a cat: a face, not a human one).
FACE_FREE = (
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "page",
    "text",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "brick",
    "grass",
    "gravel",
    "clock",
    "colorwheel",
    "cell",
    "shepp_logan_phantom",
    "checkerboard",
)


@dataclass(frozen=True)
class FaceFrame:
    """One augmented frame, its true face box (x, y, w, h px, unrolled) and how it was made."""

    image: np.ndarray
    face: tuple[float, float, float, float]
    width: int
    roll: int
    lighting: str
    occluded: bool
    blurred: bool


@functools.cache
def _astronaut() -> np.ndarray:
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def _light(image: np.ndarray, lighting: str) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    if lighting == "dim":
        x = 0.45 * x**1.4
    elif lighting == "side":
        x = x * np.linspace(0.25, 1.3, x.shape[1], dtype=np.float32)[None, :, None]
    return (np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def face_frame(width: int, roll: int, lighting: str, occluded: bool, blurred: bool, seed: int) -> FaceFrame:
    """One frame of the astronaut's face ``width`` px wide, rolled ``roll`` degrees."""
    photo = _astronaut()
    fx, fy, fw, fh = ASTRONAUT_FACE
    scale = width / fw
    rng = np.random.default_rng(seed)
    half = 0.8 * width
    cx = rng.uniform(half, FRAME_SIZE[0] - half)
    cy = rng.uniform(min(half, FRAME_SIZE[1] / 2), max(FRAME_SIZE[1] - half, FRAME_SIZE[1] / 2))
    matrix = cv2.getRotationMatrix2D((fx + fw / 2, fy + fh / 2), roll, scale)
    matrix[:, 2] += (cx - (fx + fw / 2), cy - (fy + fh / 2))
    image = cv2.warpAffine(photo, matrix, FRAME_SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    image = _light(image, lighting)
    w, h = fw * scale, fh * scale
    if occluded:
        corners = np.array([[-w / 2, h * 0.1], [w / 2, h * 0.1], [w / 2, h / 2], [-w / 2, h / 2]])
        angle = np.deg2rad(-roll)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        polygon = (corners @ rot.T + (cx, cy)).astype(np.int32)
        cv2.fillConvexPoly(image, polygon, (128, 128, 128))
    if blurred:
        image = cv2.GaussianBlur(image, (0, 0), 1.0 + width / 60.0)
    return FaceFrame(image, (cx - w / 2, cy - h / 2, w, h), width, roll, lighting, occluded, blurred)


def face_frames() -> list[FaceFrame]:
    """The 420 augmented frames, in a fixed order with fixed positions."""
    combos = product(WIDTHS, ROLLS, LIGHTINGS, (False, True), (False, True))
    return [face_frame(w, r, light, occ, blur, seed) for seed, (w, r, light, occ, blur) in enumerate(combos)]


def face_free_images() -> dict[str, np.ndarray]:
    """The face-free scikit-image pictures as BGR frames, by name."""
    out = {}
    for name in FACE_FREE:
        image = getattr(skimage.data, name)()
        if image.dtype != np.uint8:
            image = (255 * (image.astype(np.float32) / max(1.0, float(image.max())))).astype(np.uint8)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        out[name] = cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)
    return out


def overlaps(box: tuple[float, ...], face: tuple[float, ...], min_iou: float = 0.3) -> bool:
    """Whether a detected ``box`` finds the true ``face``: IoU ≥ ``min_iou`` or the face centre inside it."""
    bx, by, bw, bh = box
    fx, fy, fw, fh = face
    cx, cy = fx + fw / 2, fy + fh / 2
    if bx <= cx <= bx + bw and by <= cy <= by + bh:
        return True
    ix = max(0.0, min(bx + bw, fx + fw) - max(bx, fx))
    iy = max(0.0, min(by + bh, fy + fh) - max(by, fy))
    inter = ix * iy
    return inter / (bw * bh + fw * fh - inter) >= min_iou
