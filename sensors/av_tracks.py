"""Consuming audio and video tracks (aiortc / PyAV) into timestamped frames and chunks.

WebRTC peers and media files both hand us aiortc ``MediaStreamTrack``s; this
module is the one place that reads them, so both sources behave the same.

* **Video** is consumed latest-frame-first: every frame is stamped on the
  session clock at arrival and measured for movement (cheap), and the face
  analysis takes only the newest frame whenever it is free, so a slow model
  skips frames instead of building latency. The face detector runs in its own
  background task on the newest frame; frames in between follow the faces by
  template, so a slow detection never delays a frame's affect. Frames are
  decoded to gray (the luma plane) when the face model does not need colour.
* **Audio** is never dropped: every frame is resampled to 16 kHz mono
  float32, stamped (the first sample at arrival, then by sample count so the
  timeline has no jitter; moved forward if audio goes missing) and queued for
  the voice analysis.

Model and analysis work runs in worker threads or the shared batchers; the
event loop only moves data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from dyadscope.models.engine import ModelEngine
from dyadscope.models.face_affect import Box
from dyadscope.stream.frames import VideoFrame
from dyadscope.perception.movement import MotionEnergy
from dyadscope.perception.people import CameraView
from dyadscope.models.vad import SAMPLE_RATE
from dyadscope.stream.types import Chunk, Feature, Role, StreamInfo

log = logging.getLogger(__name__)

#: Where features go: the session's log (and its feature processors).
FeatureSink = Callable[[list[Feature]], Awaitable[None]]
#: The session clock, in seconds.
Clock = Callable[[], float]

#: Audio that arrives this much later than its sample count says (lost
#: packets) moves the timeline forward; it is never moved back, so
#: timestamps always increase.
_AUDIO_MAX_LAG_S = 0.5
#: Audio chunks waiting for analysis before a warning (they are kept anyway).
_AUDIO_BACKLOG_WARNING = 250


class TrackConsumer:
    """Base for the readers: runs its tasks, reports what it handled, stops cleanly."""

    def __init__(self, track: MediaStreamTrack, sink: FeatureSink, clock: Clock, name: str):
        self.track = track
        self.sink = sink
        self.clock = clock
        self.name = name
        self.frames_received = 0
        self._tasks: list[asyncio.Task] = []
        self.ended = asyncio.Event()

    def start(self) -> None:
        """Start reading the track."""
        raise NotImplementedError

    def _spawn(self, coro: Awaitable[None], label: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}-{label}")
        task.add_done_callback(self._finished)
        self._tasks.append(task)

    def _finished(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: %s failed", self.name, task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        """Stop reading and analysing."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ended.set()


class VideoConsumer(TrackConsumer):
    """One camera: movement on every frame, faces on the newest frame."""

    def __init__(self, track: MediaStreamTrack, view: CameraView, engine: ModelEngine, sink: FeatureSink,
                 clock: Clock, name: str = "camera"):
        super().__init__(track, sink, clock, name)
        self.view = view
        self.engine = engine
        self.analyzer = engine.face_analyzer(view, live=True)
        self.detector = self.analyzer.tracker.detector
        self.motion = MotionEnergy(view)
        self.frames_analysed = 0
        self._format = "bgr24" if engine.face_model.needs_colour else "gray"
        self._track_done = False
        self._waiting: VideoFrame | None = None
        self._newest: VideoFrame | None = None
        self._detections: list[Box] | None = None
        self._fresh = asyncio.Event()

    def start(self) -> None:
        self._spawn(self._read(), "read")
        self._spawn(self._analyse(), "faces")
        self._spawn(self._detect(), "detect")

    def _arrive(self, frame: av.VideoFrame, t: float) -> tuple[VideoFrame, list[Feature]]:
        stamped = VideoFrame(t, frame.to_ndarray(format=self._format))
        return stamped, self.motion.process(stamped)

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                t = self.clock()
                self.frames_received += 1
                stamped, movement = await asyncio.to_thread(self._arrive, frame, t)
                self._waiting = self._newest = stamped  # an older frame still waiting is skipped
                self._fresh.set()
                if movement:
                    await self.sink(movement)
        except MediaStreamError:
            log.info("%s: track ended after %d frames", self.name, self.frames_received)
        finally:
            self._track_done = True
            self._fresh.set()

    async def _analyse(self) -> None:
        while True:
            if self._waiting is None and self._track_done:
                self.ended.set()
                return
            await self._fresh.wait()
            self._fresh.clear()
            frame, self._waiting = self._waiting, None
            if frame is None:
                continue
            detections, self._detections = self._detections, None
            try:
                plan = await asyncio.to_thread(self.analyzer.prepare, frame, detections)
                affect = await self.engine.face_affect(plan.crops) if plan.crops else []
                features = self.analyzer.complete(plan, affect)
            except Exception:  # one bad frame must not end the camera's analysis
                log.exception("%s: face analysis failed for a frame", self.name)
                continue
            self.frames_analysed += 1
            if features:
                await self.sink(features)

    async def _detect(self) -> None:
        """Detect faces on the newest frame, at most every ``detect_interval_s``."""
        interval = self.engine.settings.detect_interval_s
        while not self._track_done:
            frame = self._newest
            if frame is None:
                await asyncio.sleep(0.01)
                continue
            started = asyncio.get_running_loop().time()
            self._detections = await asyncio.to_thread(self.detector.detect, frame.gray)
            await asyncio.sleep(max(0.0, interval - (asyncio.get_running_loop().time() - started)))


def audio_stream_info(name: str, role: Role | None) -> StreamInfo:
    """The description of a microphone after resampling."""
    return StreamInfo(name=name, modality="Audio", channel_count=1, nominal_rate=SAMPLE_RATE,
                      role=role, channel_labels=("mono",), units=("full scale",))


class AudioConsumer(TrackConsumer):
    """One microphone: every sample, resampled to 16 kHz mono, through the voice analysis."""

    def __init__(self, track: MediaStreamTrack, role: Role | None, engine: ModelEngine, sink: FeatureSink,
                 clock: Clock, name: str = "microphone"):
        super().__init__(track, sink, clock, name)
        self.info = audio_stream_info(name, role)
        self.analyzer = engine.voice_analyzer(role)
        self.samples_received = 0
        self._resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
        self._queue: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self._t0: float | None = None

    def start(self) -> None:
        self._spawn(self._read(), "read")
        self._spawn(self._analyse(), "voice")

    def _to_chunk(self, frame: av.AudioFrame, arrival: float) -> Chunk | None:
        # Channels are averaged here: the resampler's own downmix adds them at
        # -3 dB each, which lifts the usual L = R WebRTC audio by 3 dB.
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in self._resampler.resample(frame)] or
                                 [np.zeros(0, np.float32)])
        if samples.size == 0:
            return None
        expected_end = None if self._t0 is None else \
            self._t0 + (self.samples_received + samples.size) / SAMPLE_RATE
        if expected_end is None or arrival - expected_end > _AUDIO_MAX_LAG_S:
            if expected_end is not None:
                log.warning("%s: audio %.2f s behind the clock (lost packets?); timeline re-anchored",
                            self.name, arrival - expected_end)
            self._t0 = arrival - (self.samples_received + samples.size) / SAMPLE_RATE
        times = self._t0 + (self.samples_received + np.arange(samples.size)) / SAMPLE_RATE
        self.samples_received += samples.size
        return Chunk(self.info, times, samples.astype(np.float32)[:, None])

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.frames_received += 1
                chunk = self._to_chunk(frame, self.clock())
                if chunk is not None:
                    self._queue.put_nowait(chunk)
                    if self._queue.qsize() == _AUDIO_BACKLOG_WARNING:
                        log.warning("%s: voice analysis is %d chunks behind", self.name, _AUDIO_BACKLOG_WARNING)
        except MediaStreamError:
            log.info("%s: track ended after %d samples", self.name, self.samples_received)
        finally:
            self._queue.put_nowait(None)

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
                    await self.sink(features)
            if done:
                self.ended.set()
                return

    def _process(self, chunks: list[Chunk]) -> list[Feature]:
        features: list[Feature] = []
        for chunk in chunks:
            features.extend(self.analyzer.process(chunk))
        return features


class MediaIngest:
    """The track consumers of one source (a peer connection, a set of files)."""

    def __init__(self, engine: ModelEngine, sink: FeatureSink, clock: Clock):
        self.engine = engine
        self.sink = sink
        self.clock = clock
        self.consumers: list[TrackConsumer] = []

    def add_video(self, track: MediaStreamTrack, view: CameraView, name: str) -> VideoConsumer:
        """Analyse a camera that sees the people of ``view``."""
        consumer = VideoConsumer(track, view, self.engine, self.sink, self.clock, name)
        return self._add(consumer)

    def add_audio(self, track: MediaStreamTrack, role: Role | None, name: str) -> AudioConsumer:
        """Analyse the microphone of ``role``."""
        consumer = AudioConsumer(track, role, self.engine, self.sink, self.clock, name)
        return self._add(consumer)

    def _add(self, consumer):
        consumer.start()
        self.consumers.append(consumer)
        return consumer

    async def wait(self, timeout: float | None = None) -> None:
        """Until every track has ended and its analysis is done."""
        await asyncio.wait_for(asyncio.gather(*(c.ended.wait() for c in self.consumers)), timeout)

    async def stop(self) -> None:
        """Stop every consumer."""
        await asyncio.gather(*(c.stop() for c in self.consumers))
