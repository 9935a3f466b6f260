"""Reading audio and video tracks (aiortc / PyAV) into stamped frames and chunks.

WebRTC peers and media files both hand us aiortc ``MediaStreamTrack``s; this
module is the one place that reads them, so both sources behave the same.
It only decodes and stamps: each track's items go to a
:class:`~dyadscope.stream.frames.TrackSink`, which does the analysis (or
whatever its owner wants) and decides what to skip when it falls behind.

* **Video**: every frame is converted (to gray, the luma plane, unless the
  sink needs colour) in a worker thread and stamped on the session clock at
  arrival. Each camera keeps one single-threaded converter (libswscale
  context), so a frame costs one conversion, not a new context and its
  slice threads.
* **Audio** is never dropped: every frame is resampled to 16 kHz mono
  float32 and stamped (the first sample at arrival, then by sample count so
  the timeline has no jitter). Audio that went missing (lost packets: a jump
  in the frames' own presentation timestamps) moves the timeline forward by
  the missing time. Audio that merely arrives late, because this machine is
  busy, keeps its sample-count stamps, so speech keeps its duration.
"""

from __future__ import annotations

import asyncio
import logging

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.reformatter import VideoReformatter

from dyadscope.stream.frames import AUDIO_RATE_HZ, Clock, MediaSink, TrackSink, VideoFrame, VideoSink
from dyadscope.stream.types import Chunk, Role, StreamInfo

log = logging.getLogger(__name__)

#: A jump this large in the frames' presentation timestamps is missing audio.
_AUDIO_PTS_GAP_S = 0.01
#: Audio whose frames carry no presentation timestamp and arrive this much
#: later than their sample count says is taken as lost and moves the
#: timeline forward; it is never moved back, so timestamps always increase.
_AUDIO_MAX_LAG_S = 0.5
#: With presentation timestamps, losses show in them; arrival this much later
#: than the sample count (a sender's clock running slow, a long stall) still
#: moves the timeline forward so that audio stays near the other streams.
_AUDIO_MAX_DRIFT_S = 2.0


class TrackReader:
    """Base for the readers: reads its track into its sink, counts what came, stops cleanly."""

    def __init__(self, track: MediaStreamTrack, sink: TrackSink, clock: Clock, name: str):
        self.track = track
        self.sink = sink
        self.clock = clock
        self.name = name
        self.frames_received = 0
        self._task: asyncio.Task | None = None
        #: Set once the track has ended and its sink has consumed everything.
        self.ended = asyncio.Event()

    def start(self) -> None:
        """Start reading the track."""
        self._task = asyncio.ensure_future(self._read())
        self._task.set_name(f"{self.name}-read")

    async def _read(self) -> None:
        """Read until the track ends (or fails: what came so far is still consumed)."""
        try:
            while True:
                frame = await self.track.recv()
                self.frames_received += 1
                item = await self._stamp(frame, self.clock())
                if item is not None:
                    await self.sink.put(item)
        except MediaStreamError:
            log.info("%s: track ended after %d frames", self.name, self.frames_received)
        except Exception:
            log.exception("%s: reading failed after %d frames", self.name, self.frames_received)
        await self.sink.end()
        self.ended.set()

    async def _stamp(self, frame: av.Frame, arrival: float) -> VideoFrame | Chunk | None:
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop reading and stop the sink."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.sink.stop()
        self.ended.set()


class VideoReader(TrackReader):
    """One camera: every frame converted and stamped at arrival."""

    sink: VideoSink

    def __init__(self, track: MediaStreamTrack, sink: VideoSink, clock: Clock, name: str = "camera"):
        super().__init__(track, sink, clock, name)
        self._format = "bgr24" if sink.colour else "gray"
        # ``frame.to_ndarray(format=...)`` builds a converter per frame, and
        # with it libswscale's slice threads; this one is kept (it adapts to a
        # change of frame size) and runs on the worker thread alone.
        self._converter = VideoReformatter()

    async def _stamp(self, frame: av.VideoFrame, arrival: float) -> VideoFrame:
        return VideoFrame(arrival, await asyncio.to_thread(self._convert, frame))

    def _convert(self, frame: av.VideoFrame) -> np.ndarray:
        """The frame as BGR (H×W×3) or gray (H×W) uint8, as the sink asked."""
        return self._converter.reformat(frame, format=self._format, threads=1).to_ndarray()


def audio_stream_info(name: str, role: Role | None) -> StreamInfo:
    """The description of a microphone after resampling."""
    return StreamInfo(
        name=name,
        modality="Audio",
        channel_count=1,
        nominal_rate=AUDIO_RATE_HZ,
        role=role,
        channel_labels=("mono",),
        units=("full scale",),
    )


def mono_samples(resampler: av.AudioResampler, frame: av.AudioFrame | None) -> np.ndarray:
    """``frame`` through ``resampler`` (float, planar), channels averaged; ``None`` flushes it.

    Channels are averaged here: the resampler's own downmix adds them at
    -3 dB each, which lifts the usual L = R WebRTC audio by 3 dB.
    """
    parts = [f.to_ndarray().mean(axis=0) for f in resampler.resample(frame)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


class AudioReader(TrackReader):
    """One microphone: every sample, resampled to 16 kHz mono and stamped by sample count."""

    def __init__(self, track: MediaStreamTrack, info: StreamInfo, sink: TrackSink[Chunk], clock: Clock):
        super().__init__(track, sink, clock, info.name)
        self.info = info
        self.samples_received = 0
        self._resampler = av.AudioResampler(format="fltp", rate=AUDIO_RATE_HZ)
        self._t0: float | None = None
        self._next_pts_s: float | None = None

    async def _stamp(self, frame: av.AudioFrame, arrival: float) -> Chunk | None:
        return self._to_chunk(frame, arrival)

    def _to_chunk(self, frame: av.AudioFrame, arrival: float) -> Chunk | None:
        samples = mono_samples(self._resampler, frame)
        missing_s = self._missing_s(frame)
        if samples.size == 0:
            return None
        if self._t0 is not None and missing_s > 0:
            log.warning("%s: %.2f s of audio missing (lost packets); timeline moved forward", self.name, missing_s)
            self._t0 += missing_s
        expected_end = None if self._t0 is None else self._t0 + (self.samples_received + samples.size) / AUDIO_RATE_HZ
        max_lag_s = _AUDIO_MAX_LAG_S if self._next_pts_s is None else _AUDIO_MAX_DRIFT_S
        if expected_end is None or arrival - expected_end > max_lag_s:
            if expected_end is not None:
                log.warning(
                    "%s: audio %.2f s behind the clock; timeline re-anchored", self.name, arrival - expected_end
                )
            self._t0 = arrival - (self.samples_received + samples.size) / AUDIO_RATE_HZ
        times = self._t0 + (self.samples_received + np.arange(samples.size)) / AUDIO_RATE_HZ
        self.samples_received += samples.size
        return Chunk(self.info, times, samples.astype(np.float32)[:, None])

    def _missing_s(self, frame: av.AudioFrame) -> float:
        """Seconds of audio between the previous frame's end and ``frame`` (0 without timestamps)."""
        if frame.pts is None or frame.time_base is None or not frame.sample_rate:
            self._next_pts_s = None
            return 0.0
        start_s = float(frame.pts * frame.time_base)
        gap_s = 0.0 if self._next_pts_s is None else start_s - self._next_pts_s
        self._next_pts_s = start_s + frame.samples / frame.sample_rate
        return gap_s if gap_s > _AUDIO_PTS_GAP_S else 0.0


class MediaIngest:
    """The track readers of one source (a peer connection, a set of files), all into one media sink."""

    def __init__(self, sink: MediaSink, clock: Clock):
        self.sink = sink
        self.clock = clock
        self.readers: list[TrackReader] = []

    def add_video(self, track: MediaStreamTrack, roles: tuple[Role, ...], name: str) -> VideoReader:
        """Read a camera that sees ``roles``, left to right."""
        return self._add(VideoReader(track, self.sink.video(name, roles), self.clock, name))

    def add_audio(self, track: MediaStreamTrack, role: Role | None, name: str) -> AudioReader:
        """Read the microphone of ``role``."""
        info = audio_stream_info(name, role)
        return self._add(AudioReader(track, info, self.sink.audio(info), self.clock))

    def _add(self, reader):
        reader.start()
        self.readers.append(reader)
        return reader

    async def wait(self, timeout: float | None = None) -> None:
        """Until every track has ended and its sink has consumed it."""
        await asyncio.wait_for(asyncio.gather(*(r.ended.wait() for r in self.readers)), timeout)

    async def stop(self) -> None:
        """Stop every reader."""
        await asyncio.gather(*(r.stop() for r in self.readers))
