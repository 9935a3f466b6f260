"""Running analyzers on one track's stamped items, off the event loop: the live track sinks.

* **Camera**: movement on every frame (cheap), faces on the newest frame
  whenever the face analysis is free and at least ``face_interval_s`` of
  data time (frame stamps) after the last analysed frame, so a slow model
  skips frames instead of building latency and a fast camera costs no more
  than the affect rate needs (0.125 s: 7.5 face frames/s from a 15 fps
  camera; affect is smoothed over 0.3 s anyway). The face detector runs in
  its own background task on the newest frame, every ``detect_interval_s``
  while someone the camera sees has no face with a mesh, and every
  ``tracked_detect_interval_s`` while every person's face is tracked and
  found by FaceMesh (the mesh's face-presence score says when a face is
  gone, and detection speeds up again); frames in between follow the faces
  by template, so a slow detection never delays a frame's affect.
* **Microphone**: every chunk is queued, never dropped, and the queue is
  analysed in order.

Analysis runs in worker threads (model work through the shared batchers);
the event loop only moves data. Features go to the session's feature sink.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Collection

from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_detect import FaceDetection, FaceDetector
from dyadscope.perception.movement import MotionEnergy
from dyadscope.perception.voice import VoiceAnalyzer
from dyadscope.stream.frames import FeatureSink, VideoFrame
from dyadscope.stream.types import Chunk, Feature, Role

log = logging.getLogger(__name__)

#: Audio chunks waiting for analysis before a warning (they are kept anyway).
_AUDIO_BACKLOG_WARNING = 250


class _TrackAnalysis:
    """Base for the track sinks: runs its tasks, stops cleanly."""

    def __init__(self, publish: FeatureSink, name: str):
        self.publish = publish
        self.name = name
        self._tasks: list[asyncio.Task] = []
        self._analysed = asyncio.Event()

    def _spawn(self, coro: Awaitable[None], label: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}-{label}")
        task.add_done_callback(self._finished)
        self._tasks.append(task)

    def _finished(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: %s failed", self.name, task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        """Stop analysing; what waits is dropped."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._analysed.set()


class CameraAnalysis(_TrackAnalysis):
    """One camera's sink: movement on every frame, faces on the newest frame."""

    def __init__(
        self,
        faces: FaceAnalyzer,
        motion: MotionEnergy,
        detector: FaceDetector,
        detect_interval_s: float,
        publish: FeatureSink,
        name: str = "camera",
        tracked_detect_interval_s: float | None = None,
        face_interval_s: float = 0.0,
    ):
        super().__init__(publish, name)
        self.faces = faces
        self.motion = motion
        self.detector = detector
        self.detect_interval_s = detect_interval_s
        self.tracked_detect_interval_s = tracked_detect_interval_s or detect_interval_s
        self.face_interval_s = face_interval_s
        self.colour = faces.needs_colour or faces.model.needs_colour
        self.frames_analysed = 0
        self._track_done = False
        self._waiting: VideoFrame | None = None
        self._last_analysed_t: float | None = None
        self._newest: VideoFrame | None = None
        self._detections: list[FaceDetection] | None = None
        self._fresh = asyncio.Event()
        self._spawn(self._analyse(), "faces")
        self._spawn(self._detect(), "detect")

    @property
    def visible(self) -> Collection[Role]:
        """The people whose face is tracked now."""
        return self.faces.faces.keys()

    async def put(self, frame: VideoFrame) -> None:
        """Measure the frame's movement now; leave it for the face analysis (skipping an older one)."""
        movement = await asyncio.to_thread(self.motion.process, frame)
        self._waiting = self._newest = frame
        self._fresh.set()
        if movement:
            await self.publish(movement)

    async def end(self) -> None:
        """Analyse the last waiting frame, then return."""
        self._track_done = True
        self._fresh.set()
        await self._analysed.wait()

    async def _analyse(self) -> None:
        while True:
            if self._waiting is None and self._track_done:
                self._analysed.set()
                return
            await self._fresh.wait()
            self._fresh.clear()
            frame, self._waiting = self._waiting, None
            if frame is None or not self._due(frame):
                continue
            self._last_analysed_t = frame.t
            detections, self._detections = self._detections, None
            if detections is not None:
                self.faces.use_detections(detections)
            try:
                features = await asyncio.to_thread(self.faces.process, frame)
            except Exception:  # one bad frame must not end the camera's analysis
                log.exception("%s: face analysis failed for a frame", self.name)
                continue
            self.frames_analysed += 1
            if features:
                await self.publish(features)

    def _due(self, frame: VideoFrame) -> bool:
        """Whether ``frame`` comes ``face_interval_s`` (data time, with 1 ms slack) after the last analysed one."""
        last = self._last_analysed_t
        return last is None or frame.t - last >= self.face_interval_s - 1e-3

    async def _detect(self) -> None:
        """Detect faces on the newest frame: slower while every face is tracked with a mesh."""
        loop = asyncio.get_running_loop()
        while not self._track_done:
            frame = self._newest
            if frame is None:
                await asyncio.sleep(0.01)
                continue
            started = loop.time()
            self._detections = await asyncio.to_thread(self.detector.detect, frame.image)
            interval = self.tracked_detect_interval_s if self.faces.all_meshed else self.detect_interval_s
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))


class MicrophoneAnalysis(_TrackAnalysis):
    """One microphone's sink: every chunk, in order, through the voice analysis."""

    def __init__(self, voice: VoiceAnalyzer, publish: FeatureSink, name: str = "microphone"):
        super().__init__(publish, name)
        self.voice = voice
        self._queue: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self._spawn(self._analyse(), "voice")

    async def put(self, chunk: Chunk) -> None:
        """Queue the chunk for analysis."""
        self._queue.put_nowait(chunk)
        if self._queue.qsize() == _AUDIO_BACKLOG_WARNING:
            log.warning("%s: voice analysis is %d chunks behind", self.name, _AUDIO_BACKLOG_WARNING)

    async def end(self) -> None:
        """Analyse what is queued, then return."""
        self._queue.put_nowait(None)
        await self._analysed.wait()

    async def _analyse(self) -> None:
        while True:
            chunks = [await self._queue.get()]
            while not self._queue.empty():
                chunks.append(self._queue.get_nowait())
            done = chunks[-1] is None
            chunks = [c for c in chunks if c is not None]
            if chunks:
                try:
                    features = await asyncio.to_thread(self._process, chunks)
                except Exception:  # keep listening; the traceback goes to the service log
                    log.exception("%s: voice analysis failed for %d chunks", self.name, len(chunks))
                    features = []
                if features:
                    await self.publish(features)
            if done:
                self._analysed.set()
                return

    def _process(self, chunks: list[Chunk]) -> list[Feature]:
        return [feature for chunk in chunks for feature in self.voice.process(chunk)]
