"""One camera's and one microphone's analysis offline: the live analyzers, scheduled on data time.

Live (:mod:`dyadscope.perception._track_analysis`) a camera's movement is
measured on every frame, faces on the newest frame at most every
``face_interval_s``, and a background detector runs every
``detect_interval_s`` (``tracked_detect_interval_s`` while every face is
tracked with a mesh), on wall-clock time. Offline the same analyzers, built
with the live settings of :class:`~dyadscope.perception.live.LivePerception`,
run on every frame in order and the same intervals are counted on the
frames' own times, so a run gives the same features whatever the machine's
load, and the detection a frame uses is its own (live, one from a frame or
two before). The models are called directly, not through the batchers.
"""

from __future__ import annotations

from dyadscope.models.vad import VadStream, direct_scorer
from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_track import FaceTracker
from dyadscope.perception.live import LivePerception
from dyadscope.perception.movement import MotionEnergy
from dyadscope.perception.people import CameraView
from dyadscope.perception.speaker_room import SpeakerRoom
from dyadscope.perception.voice import VoiceAnalyzer
from dyadscope.stream import kinds
from dyadscope.stream.frames import VideoFrame
from dyadscope.stream.types import Chunk, Feature, Role

#: Slack (s) on the data-time intervals, as live: frame stamps are not exact multiples.
_SLACK_S = 1e-3


class OfflineCamera:
    """Movement on every frame, faces every ``face_interval_s`` of data time, detection on its schedule."""

    def __init__(self, perception: LivePerception, roles: tuple[Role, ...]):
        view = CameraView(roles)
        self.perception = perception
        tracker = FaceTracker(perception.face_detector, detect_every=0)
        self.faces = FaceAnalyzer(view, perception.engine.face_model, tracker, mesher=perception.face_mesher)
        self.motion = MotionEnergy(view)
        self.frames = 0
        self.face_frames = 0
        self._next_face_t: float | None = None
        self._next_detect_t: float | None = None

    def process(self, frame: VideoFrame) -> list[Feature]:
        """The frame's movement, and its faces when they are due."""
        self.frames += 1
        features = self.motion.process(frame)
        if self._next_face_t is not None and frame.t < self._next_face_t - _SLACK_S:
            return features
        p = self.perception
        self._next_face_t = frame.t + p.face_interval_s
        if self._next_detect_t is None or frame.t >= self._next_detect_t - _SLACK_S:
            self.faces.use_detections(p.face_detector.detect(frame.image))
            detected = True
        else:
            detected = False
        features += self.faces.process(frame)
        if detected:  # the interval follows what this frame found, as live
            interval = p.tracked_detect_interval_s if self.faces.all_meshed else p.detect_interval_s
            self._next_detect_t = frame.t + interval
        self.face_frames += 1
        return features


class OfflineMicrophone:
    """Speech units of one microphone, VAD scored directly; ``speakers``: attribution on a shared microphone."""

    def __init__(self, perception: LivePerception, role: Role | None, speakers: SpeakerRoom | None = None):
        engine = perception.engine
        vad = VadStream(direct_scorer(engine.library.session(engine.settings.vad_model)[0]))
        self.voice = VoiceAnalyzer(role, vad, affect_model=engine.voice_model, speakers=speakers)
        self.samples = 0

    def process(self, chunk: Chunk) -> list[Feature]:
        """The speech units the chunk closed."""
        self.samples += len(chunk)
        return self.voice.process(chunk)


def mouth_cues(room: SpeakerRoom, features: list[Feature]) -> None:
    """Each face's mouth opening (FaceMesh) into the shared microphone's speaker cue."""
    for f in features:
        if f.kind == kinds.FACE_AFFECT and f.role is not None and f.data.get("mouth_open") is not None:
            room.push_mouth(f.role, f.t, f.data["mouth_open"])
