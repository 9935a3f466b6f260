"""One camera's face analysis: track faces, assign them to people, score their affect.

The model is reached through ``score`` (crops in, (valence, arousal) per crop
out): the model itself offline, the shared micro-batcher live
(:meth:`dyadscope.models.engine.ModelEngine.score_faces`), so the features
are the same either way.

Detections come from the tracker's own detector every few frames (offline),
or live from a background detector on the newest frame, handed over with
:meth:`FaceAnalyzer.use_detections` (see :mod:`.live`).

Features:

* ``face_tracked`` (role, t, {"state": "found" | "lost", "face_id", "box"}) when
  a person's face appears or disappears;
* ``face_affect`` (role, t, {"valence", "arousal", "face_id", "model",
  "confidence", "calibrated", "yaw", "pitch", "roll", "mouth_open"}) per
  analysed frame and visible person: valence and arousal in [−1, 1],
  smoothed over time per face (:mod:`._affect_filter`, τ = 0.3 s, each frame
  weighted by its confidence); with a mesh model, the head pose (degrees)
  and mouth opening of :mod:`._face_mesh`.

With a mesh model (``mesher``) the affect model sees the mesh's aligned crop
(the face turned level, tight to its landmarks); without one, or when the
mesh finds no face in the box, the square around the tracked box, and the
pose fields are absent.

A frame's ``confidence`` in [0, 1] is ``min(1, side / 64 px) × match × score
× cos(yaw) × cos(pitch)``: a face smaller than the default model's 64×64
input (FER2013 faces are 48×48) holds less detail than the model was trained
on, ``match`` is the tracker's placement quality (1 on a detection, else the
template correlation), ``score`` the detector's score of the face's last
detection, and a face turned away shows less of its expression.
``calibrated`` says whether the model gives absolute valence and arousal:
``hsemotion_va`` and ``emonet`` regress them on human ratings (AffectNet,
Mollahosseini et al. 2017); ``fer_mini_xception`` maps class probabilities to
fixed circumplex points, so any smile reads (0.81, 0.51) whatever its
intensity, and its values are only comparable within one person.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from dyadscope.models.face_affect import FaceAffectModel
from dyadscope.perception._affect_filter import AffectSmoother
from dyadscope.perception._face_mesh import FaceMesh, FaceMesher, aligned_crop, eye_roll
from dyadscope.perception.face_detect import FaceDetection
from dyadscope.perception.face_track import FaceTracker, Track
from dyadscope.perception.people import CameraView
from dyadscope.stream import kinds
from dyadscope.stream.frames import VideoFrame
from dyadscope.stream.types import Feature, Role

#: Scores face crops: (valence, arousal) per crop.
FaceScorer = Callable[[Sequence[np.ndarray]], Sequence[tuple[float, float]]]

#: Face contracts whose valence and arousal are calibrated absolute values.
CALIBRATED_CONTRACTS = frozenset({"hsemotion_va", "emonet"})
#: Face side (px) from which a frame is fully trusted: the default model's input side.
FULL_CONFIDENCE_SIDE_PX = 64.0


def confidence(track: Track, mesh: FaceMesh | None = None) -> float:
    """How far one frame's affect is trusted, in [0, 1]: face size, match, detection score and head pose."""
    side = max(track.box[2], track.box[3])
    trust = min(1.0, side / FULL_CONFIDENCE_SIDE_PX) * min(1.0, track.match) * min(1.0, track.score)
    if mesh is not None:
        trust *= max(0.0, math.cos(math.radians(mesh.yaw))) * max(0.0, math.cos(math.radians(mesh.pitch)))
    return round(trust, 3)


class FaceAnalyzer:
    """Face tracking, assignment and affect for one camera (an :class:`~.base.Analyzer` of frames).

    ``score`` defaults to the model's own ``run_batch``. The detector (in
    ``tracker``, or live the background one) reads colour, so frames should
    be BGR (:attr:`needs_colour`); gray frames work at lower recall.
    """

    #: The face detector finds faces far better in colour.
    needs_colour = True

    def __init__(
        self,
        view: CameraView,
        model: FaceAffectModel,
        tracker: FaceTracker,
        score: FaceScorer | None = None,
        smoother: AffectSmoother | None = None,
        mesher: FaceMesher | None = None,
    ):
        self.view = view
        self.model = model
        self.tracker = tracker
        self.score = score or model.run_batch
        self.smoother = smoother or AffectSmoother()
        self.mesher = mesher
        self._rolls: dict[int, float] = {}
        self._calibrated = model.manifest.contract in CALIBRATED_CONTRACTS
        self._faces: dict[Role, Track] = {}
        self._detections: list[FaceDetection] | None = None
        #: Whether, on the last frame, every person the camera sees had a face and FaceMesh found it.
        self.all_meshed = False

    def use_detections(self, detections: list[FaceDetection]) -> None:
        """Fresh detections (live: from a background detector), used by the next frame."""
        self._detections = detections

    def process(self, frame: VideoFrame) -> list[Feature]:
        """Track the faces in ``frame``; return who appeared or vanished and each visible person's affect."""
        detections, self._detections = self._detections, None
        update = self.tracker.update(frame.image, detections)
        assigned = self.view.assign(update.tracks, frame.width, self._faces)
        features = self._changes(frame.t, assigned)
        meshes = [self._mesh(frame.image, track) for track in assigned.values()]
        self.all_meshed = (
            self.mesher is not None
            and len(assigned) == len(self.view.roles)
            and all(mesh is not None for mesh in meshes)
        )
        crops = [self._crop(frame.image, track, mesh) for track, mesh in zip(assigned.values(), meshes)]
        affect = self.score(crops) if crops else []
        for (role, track), mesh, raw in zip(assigned.items(), meshes, affect, strict=True):
            trust = confidence(track, mesh)
            valence, arousal = self.smoother.update(role, track.id, frame.t, tuple(raw), trust)
            data = {
                "valence": valence,
                "arousal": arousal,
                "face_id": track.id,
                "model": self.model.name,
                "confidence": trust,
                "calibrated": self._calibrated,
            }
            if mesh is not None:
                data.update(yaw=mesh.yaw, pitch=mesh.pitch, roll=mesh.roll, mouth_open=mesh.mouth_open)
            features.append(Feature(kinds.FACE_AFFECT, role, frame.t, data))
        return features

    def _mesh(self, image: np.ndarray, track: Track) -> FaceMesh | None:
        """The track's mesh, the crop turned by its last mesh's roll (else its detection's eyes)."""
        if self.mesher is None:
            return None
        roll = self._rolls.get(track.id)
        if roll is None:
            roll = eye_roll(*track.keypoints[:2]) if track.keypoints is not None else 0.0
        mesh = self.mesher.mesh(image, track.box, roll)
        if mesh is not None:
            self._rolls[track.id] = mesh.roll
        return mesh

    def _crop(self, image: np.ndarray, track: Track, mesh: FaceMesh | None) -> np.ndarray:
        """The affect model's input: the mesh's aligned crop, else the square around the box."""
        if mesh is None:
            return self.model.prepare(image, track.box)
        return self.model.prepare(*aligned_crop(image, mesh))

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
                features.append(Feature(kinds.FACE_TRACKED, role, t, {"state": "lost", "face_id": before.id}))
            if now is not None and (before is None or now.id != before.id):
                features.append(
                    Feature(
                        kinds.FACE_TRACKED,
                        role,
                        t,
                        {"state": "found", "face_id": now.id, "box": [int(v) for v in now.box]},
                    )
                )
        self._faces = dict(assigned)
        live = {track.id for track in self.tracker.tracks}
        self._rolls = {face_id: roll for face_id, roll in self._rolls.items() if face_id in live}
        return features
