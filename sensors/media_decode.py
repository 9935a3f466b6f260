"""Media files decoded at full speed: frames and audio stamped on the file's own timeline.

Offline analysis (``dyadscope analyze VIDEO``) reads a file as fast as PyAV
decodes it, where :mod:`.media` plays it in real time through aiortc's
player. The items are the same as live (:mod:`.av_tracks`): BGR (or gray)
:class:`~dyadscope.stream.frames.VideoFrame`\\ s and 16 kHz mono float32
audio chunks, channels averaged by the same helper. Their times are seconds
on the file's timeline: a frame's presentation time; audio by sample count
from its first frame's presentation time (as live, where the first sample
is stamped at arrival)::

    found = probe(Path("talk.mp4"))
    frames = video_frames(found.path)
    chunks = audio_chunks(found.path, audio_stream_info("talk-audio", "patient"))
    for item in in_time_order([frames, chunks]):
        ...

Decoding runs on one thread, so a process pool over files uses one core per file.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from dyadscope.sensors.av_tracks import mono_samples
from dyadscope.stream.frames import AUDIO_RATE_HZ, VideoFrame
from dyadscope.stream.types import Chunk, StreamInfo

#: Video container suffixes ``dyadscope analyze`` takes.
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov")


class MediaFileError(ValueError):
    """A media file that cannot be decoded; the message says why."""


@dataclass(frozen=True)
class MediaProbe:
    """What a media file holds: video, audio, and its duration (s; 0 when unknown)."""

    path: Path
    has_video: bool
    has_audio: bool
    duration_s: float


def probe(path: Path) -> MediaProbe:
    """Read ``path``'s header; raises :class:`MediaFileError` if it is missing or not media."""
    if not path.is_file():
        raise MediaFileError(f"no media file at {path}")
    try:
        with av.open(str(path)) as container:
            kinds = {s.type for s in container.streams}
            duration = container.duration / av.time_base if container.duration else 0.0
    except av.error.FFmpegError as exc:
        raise MediaFileError(f"{path} is not a media file FFmpeg can read ({exc})") from None
    return MediaProbe(path, "video" in kinds, "audio" in kinds, float(duration))


def _decoded(path: Path, kind: str) -> Iterator[av.Frame]:
    """Every frame of the first ``kind`` stream of ``path``, decoded on one thread."""
    try:
        with av.open(str(path)) as container:
            stream = getattr(container.streams, kind)[0]
            stream.thread_count = 1
            yield from container.decode(stream)
    except av.error.FFmpegError as exc:
        raise MediaFileError(f"{path}: decoding its {kind} failed ({exc})") from None


def video_frames(path: Path, colour: bool = True) -> Iterator[VideoFrame]:
    """Every video frame of ``path`` (BGR, or gray: the luma plane), stamped with its presentation time (s)."""
    fmt = "bgr24" if colour else "gray"
    convert = VideoReformatter()  # one conversion context for the file, not one per frame
    for frame in _decoded(path, "video"):
        if frame.time is not None:
            yield VideoFrame(float(frame.time), convert.reformat(frame, format=fmt).to_ndarray())


def audio_chunks(path: Path, info: StreamInfo) -> Iterator[Chunk]:
    """All audio of ``path`` as 16 kHz mono chunks described by ``info``, stamped by sample count."""
    resampler = av.AudioResampler(format="fltp", rate=AUDIO_RATE_HZ)
    t0, done = None, 0
    for frame in itertools.chain(_decoded(path, "audio"), [None]):  # None: flush the resampler
        if t0 is None and frame is not None:
            t0 = float(frame.time or 0.0)
        samples = mono_samples(resampler, frame)
        if samples.size:
            times = t0 + (done + np.arange(samples.size, dtype=np.float64)) / AUDIO_RATE_HZ
            done += samples.size
            yield Chunk(info, times, samples[:, None])


def in_time_order(tracks: list[Iterator[VideoFrame | Chunk]]) -> Iterator[tuple[int, VideoFrame | Chunk]]:
    """The items of several tracks merged by time, each with its track's index."""
    tagged = [_tagged(i, track) for i, track in enumerate(tracks)]
    for _, i, item in heapq.merge(*tagged, key=lambda entry: entry[0]):
        yield i, item


def _tagged(i: int, track: Iterator[VideoFrame | Chunk]) -> Iterator[tuple[tuple[float, int], int, VideoFrame | Chunk]]:
    """Track ``i``'s items with their sort key: (start time, track index), so ties keep track order."""
    for item in track:
        start = item.t if isinstance(item, VideoFrame) else float(item.timestamps[0])
        yield (start, i), i, item
