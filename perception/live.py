"""Live perception: analyzers built over the shared model engine and run on stamped media.

:class:`LivePerception` holds what every camera and microphone of the process
shares (the model engine and one face detector) and builds each track's
analyzers. :meth:`LivePerception.analysis` gives a session's
:class:`~dyadscope.stream.frames.MediaSink`: sensors hand it stamped frames
and audio, and the features go to the session's feature sink
(``Session.publish``), the same path every other feature takes::

    perception = LivePerception(ModelEngine.from_dir())      # in a worker thread: it loads models
    files = MediaFiles(sources, perception.analysis(session.publish, room), clock)

``room`` (:meth:`LivePerception.room`, one per session) is who-is-speaking,
shared by every camera and microphone of the session: cameras feed it each
face's mouth opening, microphones ask it who spoke each unit.
"""

from __future__ import annotations

import logging
import threading

import cv2

from dyadscope.models.engine import ModelEngine
from dyadscope.models.library import DEFAULT_FACE_DETECTOR, ModelMissing
from dyadscope.models.speaker_encoder import SpeakerEncoder
from dyadscope.models.vad import VadStream
from dyadscope.perception._face_mesh import load_mesher
from dyadscope.perception._track_analysis import CameraAnalysis, MicrophoneAnalysis
from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_detect import load_detector
from dyadscope.perception.face_track import FaceTracker
from dyadscope.perception.movement import MotionEnergy
from dyadscope.perception.people import CameraView
from dyadscope.perception.speaker_room import SpeakerRoom
from dyadscope.perception.speakers import Speakers
from dyadscope.perception.voice import VoiceAnalyzer
from dyadscope.stream import kinds
from dyadscope.stream.frames import FeatureSink
from dyadscope.stream.types import Feature, Role, StreamInfo

log = logging.getLogger(__name__)


class LivePerception:
    """The analyzers of every camera and microphone, over one model engine.

    ``detect_interval_s``: live, a
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
        detect_interval_s: float = 0.2,
        detector: str = DEFAULT_FACE_DETECTOR,
        tracked_detect_interval_s: float = 1.0,
        face_interval_s: float = 0.125,
    ):
        cv2.setNumThreads(1)
        self.engine = engine
        self.detect_interval_s = detect_interval_s
        self.tracked_detect_interval_s = tracked_detect_interval_s
        self.face_interval_s = face_interval_s
        #: One detector for every camera, so a new camera does not load the model again.
        self.face_detector = load_detector(engine.library, detector)
        #: FaceMesh, shared like the detector: aligned crops, head pose, mouth opening.
        self.face_mesher = load_mesher(engine.library)
        self._encoder: SpeakerEncoder | None = None
        self._encoder_lock = threading.Lock()

    def room(self) -> SpeakerRoom | None:
        """A new session's speaker room over the shared speaker encoder; None while it is not installed.

        Loads the encoder on first use: call it off the event loop.
        """
        with self._encoder_lock:
            if self._encoder is None:
                try:
                    self._encoder = SpeakerEncoder(*self.engine.library.session("speaker_encoder"))
                except ModelMissing:
                    log.warning("no speaker encoder installed: each speech unit goes to its microphone's owner")
                    return None
        return SpeakerRoom(Speakers(self._encoder))

    def face_analyzer(self, view: CameraView) -> FaceAnalyzer:
        """A new camera's face analysis: detections come from outside (the camera's background detection), crops
        go through the batcher."""
        tracker = FaceTracker(self.face_detector, detect_every=0)
        return FaceAnalyzer(
            view, self.engine.face_model, tracker, score=self.engine.score_faces, mesher=self.face_mesher
        )

    def voice_analyzer(self, role: Role | None, room: SpeakerRoom | None = None) -> VoiceAnalyzer:
        """A new microphone's voice analysis (``role`` None: shared); its VAD windows go through the shared batcher."""
        vad = VadStream(self.engine.score_vad)
        return VoiceAnalyzer(role, vad, affect_model=self.engine.voice_model, speakers=room)

    def analysis(self, publish: FeatureSink, room: SpeakerRoom | None = None) -> MediaAnalysis:
        """A media sink whose tracks are analysed and whose features go to ``publish``; ``room``: the session's."""
        return MediaAnalysis(self, publish, room)


class MediaAnalysis:
    """A :class:`~dyadscope.stream.frames.MediaSink` that analyses every track it opens.

    Opening a track starts its analysis tasks: call it from the event loop.
    """

    def __init__(self, perception: LivePerception, publish: FeatureSink, room: SpeakerRoom | None = None):
        self.perception = perception
        self.publish = publish
        self.room = room
        self.tracks: list[CameraAnalysis | MicrophoneAnalysis] = []

    async def publish_faces(self, features: list[Feature]) -> None:
        """Hand each face's mouth opening to the room, then publish."""
        for f in features:
            if f.kind == kinds.FACE_AFFECT and f.role is not None and f.data.get("mouth_open") is not None:
                self.room.push_mouth(f.role, f.t, f.data["mouth_open"])
        await self.publish(features)

    def video(self, name: str, roles: tuple[Role, ...]) -> CameraAnalysis:
        """Movement and faces of a camera that sees ``roles``, left to right."""
        view = CameraView(roles)
        p = self.perception
        track = CameraAnalysis(
            p.face_analyzer(view),
            MotionEnergy(view),
            p.face_detector,
            p.detect_interval_s,
            self.publish if self.room is None else self.publish_faces,
            name,
            tracked_detect_interval_s=p.tracked_detect_interval_s,
            face_interval_s=p.face_interval_s,
        )
        self.tracks.append(track)
        return track

    def audio(self, info: StreamInfo) -> MicrophoneAnalysis:
        """Speech units, their speaker and their affect from a microphone (16 kHz mono; ``info.role`` None: shared)."""
        voice = self.perception.voice_analyzer(info.role, self.room)
        track = MicrophoneAnalysis(voice, self.publish, info.name)
        self.tracks.append(track)
        return track
