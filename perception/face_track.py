"""Face tracking: detections now and then, faces followed by template in between.

Each track keeps an id, its box, the score and keypoints of its last
detection and a small grayscale template. When
detections come, they are matched to tracks by overlap (IoU); unmatched
detections start tracks, and a track unseen for ``max_missed`` detections is
lost. Between detections each box follows the best template match in a
search window around it, which costs far less than running the detector.

Detections come either from the tracker's own detector every
``detect_every`` frames (offline), or from outside (live: a background task
runs the detector on the newest frame, so a slow detection never delays a
frame's affect).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from dyadscope.models.face_affect import Box
from dyadscope.perception.face_detect import FaceDetection, FaceDetector

#: Below this normalised correlation the template match is ignored.
_MIN_MATCH = 0.5
#: Templates are matched at this size (pixels of the face's longer side).
_TEMPLATE_SIDE = 32


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One followed face; ``match`` is how well its box was placed in the last frame.

    ``match`` is 1 on a frame with a detection, else the normalised
    correlation of the template at the box's new place (below ``_MIN_MATCH``
    the box stayed where it was). ``score`` is the detector's score of the
    last detection, ``keypoints`` its six keypoints (px), moved with the box.
    """

    id: int
    box: Box
    template: np.ndarray = field(repr=False)
    score: float = 1.0
    keypoints: np.ndarray | None = field(default=None, repr=False)
    missed: int = 0
    match: float = 1.0


@dataclass(frozen=True)
class TrackUpdate:
    """What one frame changed: the live tracks and which appeared or vanished."""

    tracks: list[Track]
    found: list[Track]
    lost: list[Track]


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _template(gray: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    return gray[y : y + h, x : x + w].copy()


class FaceTracker:
    """Tracks faces across the frames of one camera; ``detector`` is needed when ``detect_every`` > 0."""

    def __init__(
        self, detector: FaceDetector | None = None, detect_every: int = 5, max_missed: int = 2, min_iou: float = 0.3
    ):
        if detector is None and detect_every > 0:
            raise ValueError("a tracker that detects by itself (detect_every > 0) needs a detector")
        self.detector = detector
        self.detect_every = max(0, detect_every)
        self.max_missed = max_missed
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self._frame = 0
        self._next_id = 1

    def update(self, image: np.ndarray, detections: list[FaceDetection] | None = None) -> TrackUpdate:
        """Advance by one frame (BGR or gray), with fresh ``detections`` if there are any.

        With ``detect_every`` 0 the tracker never detects by itself.
        """
        if (
            detections is None
            and self.detector is not None
            and self.detect_every
            and self._frame % self.detect_every == 0
        ):
            detections = self.detector.detect(image)
        self._frame += 1
        gray = _gray(image)
        if detections is not None:
            return self._merge(gray, detections)
        for track in self.tracks:
            self._follow(gray, track)
        return TrackUpdate(list(self.tracks), [], [])

    def _merge(self, gray: np.ndarray, detections: list[FaceDetection]) -> TrackUpdate:
        found: list[Track] = []
        unmatched = list(self.tracks)
        for detection in detections:
            box = detection.box
            best = max(unmatched, key=lambda t: iou(t.box, box), default=None)
            if best is not None and iou(best.box, box) >= self.min_iou:
                unmatched.remove(best)
                best.box, best.template, best.missed, best.match = box, _template(gray, box), 0, 1.0
                best.score, best.keypoints = detection.score, detection.keypoints
            else:
                track = Track(self._next_id, box, _template(gray, box), detection.score, detection.keypoints)
                self._next_id += 1
                self.tracks.append(track)
                found.append(track)
        lost = []
        for track in unmatched:
            track.missed += 1
            if track.missed > self.max_missed:
                lost.append(track)
        self.tracks = [t for t in self.tracks if t not in lost]
        return TrackUpdate(list(self.tracks), found, lost)

    def _follow(self, gray: np.ndarray, track: Track) -> None:
        """Move the box to the best template match within half a face of where it was."""
        x, y, w, h = track.box
        scale = _TEMPLATE_SIDE / max(w, h)
        rx, ry = w // 2, h // 2
        x0, y0 = max(0, x - rx), max(0, y - ry)
        x1, y1 = min(gray.shape[1], x + w + rx), min(gray.shape[0], y + h + ry)
        if x1 - x0 <= w or y1 - y0 <= h:
            return
        region = cv2.resize(gray[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        template = cv2.resize(track.template, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if template.shape[0] > region.shape[0] or template.shape[1] > region.shape[1] or template.size == 0:
            return
        scores = cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        track.match = max(0.0, float(best))
        if best >= _MIN_MATCH:
            moved = (x0 + int(round(bx / scale)), y0 + int(round(by / scale)), w, h)
            if track.keypoints is not None:
                track.keypoints = track.keypoints + np.float32((moved[0] - x, moved[1] - y))
            track.box = moved
