"""Live perception: analyzers built over the shared model engine and run on stamped media.

:class:`LivePerception` holds what every camera and microphone of the process
shares (the model engine and one face detector) and builds each track's
analyzers. :meth:`LivePerception.analysis` gives a session's
:class:`~dyadscope.stream.frames.MediaSink`: sensors hand it stamped frames
and audio, and the features go to the session's feature sink
(``Session.publish``), the same path every other feature takes::

    perception = LivePerception(ModelEngine.from_dir())      # in a worker thread: it loads models
    files = MediaFiles(sources, perception.analysis(session.publish), clock)
"""

from __future__ import annotations

import cv2

from dyadscope.models.engine import ModelEngine
from dyadscope.models.library import DEFAULT_FACE_DETECTOR
from dyadscope.models.vad import VadStream
from dyadscope.perception._face_mesh import load_mesher
from dyadscope.perception._track_analysis import CameraAnalysis, MicrophoneAnalysis
from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_detect import load_detector
from dyadscope.perception.face_track import FaceTracker
from dyadscope.perception.movement import MotionEnergy
from dyadscope.perception.people import CameraView
from dyadscope.perception.voice import VoiceAnalyzer
from dyadscope.stream.frames import FeatureSink
from dyadscope.stream.types import Role, StreamInfo


class LivePerception:
    """The analyzers of every camera and microphone, over one model engine.

    ``detect_every``: offline, the face detector runs every this many frames
    and faces are tracked in between; ``detect_interval_s``: live, a
    background detection starts at most this often while someone the camera
    sees has no meshed face, ``tracked_detect_interval_s`` while everyone's
    face is tracked and found by FaceMesh; ``face_interval_s``: live, the
    least data time (s) between two frames whose faces are analysed (0.125:
    7.5 face_affect events/s per face from a 15 fps camera); ``detector``: the
    BlazeFace model (``blazeface_full`` for room cameras, ``blazeface_short``
    where the face fills the frame). Building one loads the face detector:
    do it off the event loop. It also sets OpenCV to one thread for the
    process: per-frame work (a 640×480 conversion, a 192 px crop) is far too
    small for its thread pool, whose wake-ups cost more CPU than they save,
    and cameras already run in parallel on the worker threads.
    """

    def __init__(
        self,
        engine: ModelEngine,
        detect_every: int = 5,
        detect_interval_s: float = 0.2,
        detector: str = DEFAULT_FACE_DETECTOR,
        tracked_detect_interval_s: float = 1.0,
        face_interval_s: float = 0.125,
    ):
        cv2.setNumThreads(1)
        self.engine = engine
        self.detect_every = detect_every
        self.detect_interval_s = detect_interval_s
        self.tracked_detect_interval_s = tracked_detect_interval_s
        self.face_interval_s = face_interval_s
        #: One detector for every camera, so a new camera does not load the model again.
        self.face_detector = load_detector(engine.library, detector)
        #: FaceMesh, shared like the detector: aligned crops, head pose, mouth opening.
        self.face_mesher = load_mesher(engine.library)

    def face_analyzer(self, view: CameraView, live: bool = False) -> FaceAnalyzer:
        """A new camera's face analysis; ``live``: detections come from outside, crops go through the batcher."""
        model = self.engine.face_model
        mesher = self.face_mesher
        if not live:
            tracker = FaceTracker(self.face_detector, detect_every=self.detect_every)
            return FaceAnalyzer(view, model, tracker, mesher=mesher)
        tracker = FaceTracker(self.face_detector, detect_every=0)
        return FaceAnalyzer(view, model, tracker, score=self.engine.score_faces, mesher=mesher)

    def voice_analyzer(self, role: Role | None) -> VoiceAnalyzer:
        """A new microphone's voice analysis; its VAD windows go through the shared batcher."""
        return VoiceAnalyzer(role, VadStream(self.engine.score_vad), affect_model=self.engine.voice_model)

    def analysis(self, publish: FeatureSink) -> MediaAnalysis:
        """A media sink whose tracks are analysed and whose features go to ``publish``."""
        return MediaAnalysis(self, publish)


class MediaAnalysis:
    """A :class:`~dyadscope.stream.frames.MediaSink` that analyses every track it opens.

    Opening a track starts its analysis tasks: call it from the event loop.
    """

    def __init__(self, perception: LivePerception, publish: FeatureSink):
        self.perception = perception
        self.publish = publish
        self.tracks: list[CameraAnalysis | MicrophoneAnalysis] = []

    def video(self, name: str, roles: tuple[Role, ...]) -> CameraAnalysis:
        """Movement and faces of a camera that sees ``roles``, left to right."""
        view = CameraView(roles)
        p = self.perception
        track = CameraAnalysis(
            p.face_analyzer(view, live=True),
            MotionEnergy(view),
            p.face_detector,
            p.detect_interval_s,
            self.publish,
            name,
            tracked_detect_interval_s=p.tracked_detect_interval_s,
            face_interval_s=p.face_interval_s,
        )
        self.tracks.append(track)
        return track

    def audio(self, info: StreamInfo) -> MicrophoneAnalysis:
        """Speech units and their affect from a microphone (16 kHz mono)."""
        track = MicrophoneAnalysis(self.perception.voice_analyzer(info.role), self.publish, info.name)
        self.tracks.append(track)
        return track
