"""One camera's face analysis, split around the model call.

``prepare`` tracks faces, assigns them to people and cuts the model inputs;
``complete`` turns the model's answers into features. The model call sits in
between, so live ingest can send the crops through the shared micro-batcher
while offline runs call the model directly — the same features either way.

Features:

* ``face_tracked`` (role, t, {"state": "found" | "lost", "face_id", "box"}) when
  a person's face appears or disappears;
* ``face_affect`` (role, t, {"valence", "arousal", "face_id", "model"}) per
  analysed frame and visible person, valence and arousal in [−1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dyadscope.stream.types import Feature, Role

from dyadscope.models.face_affect import Box, FaceAffectModel
from dyadscope.perception.face_track import FaceTracker, Track
from dyadscope.stream.frames import VideoFrame
from dyadscope.perception.people import CameraView


@dataclass(frozen=True)
class FacePlan:
    """What one frame needs from the model: a crop per visible person."""

    t: float
    roles: list[Role]
    face_ids: list[int]
    crops: list[np.ndarray]
    status: list[Feature]


class FaceAnalyzer:
    """Face tracking, assignment and affect for one camera."""

    def __init__(self, view: CameraView, model: FaceAffectModel, tracker: FaceTracker | None = None):
        self.view = view
        self.model = model
        self.tracker = tracker or FaceTracker()
        self._faces: dict[Role, Track] = {}

    def prepare(self, frame: VideoFrame, detections: list[Box] | None = None) -> FacePlan:
        """Track faces in ``frame`` (with fresh ``detections``, if any) and cut each visible person's crop."""
        update = self.tracker.update(frame.gray, detections)
        assigned = self.view.assign(update.tracks, frame.width, self._faces)
        status = self._changes(frame.t, assigned)
        roles = list(assigned)
        return FacePlan(
            t=frame.t,
            roles=roles,
            face_ids=[assigned[r].id for r in roles],
            crops=[self.model.prepare(frame.image, assigned[r].box) for r in roles],
            status=status,
        )

    @property
    def faces(self) -> dict[Role, int]:
        """The face id each visible person has now."""
        return {role: track.id for role, track in self._faces.items()}

    def _changes(self, t: float, assigned: dict[Role, Track]) -> list[Feature]:
        """``face_tracked`` features for people whose face appeared, changed or vanished."""
        features = []
        for role in self.view.roles:
            before, now = self._faces.get(role), assigned.get(role)
            if before is not None and (now is None or now.id != before.id):
                features.append(Feature("face_tracked", role, t, {"state": "lost", "face_id": before.id}))
            if now is not None and (before is None or now.id != before.id):
                features.append(Feature("face_tracked", role, t, {
                    "state": "found", "face_id": now.id, "box": [int(v) for v in now.box]}))
        self._faces = dict(assigned)
        return features

    def complete(self, plan: FacePlan, affect: Sequence[tuple[float, float]]) -> list[Feature]:
        """The frame's features, given the model's (valence, arousal) per crop."""
        features = list(plan.status)
        for role, face_id, (valence, arousal) in zip(plan.roles, plan.face_ids, affect, strict=True):
            features.append(Feature("face_affect", role, plan.t, {
                "valence": valence, "arousal": arousal, "face_id": face_id, "model": self.model.name}))
        return features

    def process(self, frame: VideoFrame) -> list[Feature]:
        """The offline path: prepare, run the model directly, complete."""
        plan = self.prepare(frame)
        return self.complete(plan, self.model.run_batch(plan.crops) if plan.crops else [])


