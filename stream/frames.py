"""Stamped media and where it goes: the one contract between media sensors and their consumers.

Sensors (WebRTC tracks, media files) decode frames and audio and stamp them
on the session clock, nothing more; they hand each track's items to a
:class:`TrackSink` opened from a :class:`MediaSink`. What consumes them (the
face and voice analysis of :mod:`dyadscope.perception`, a test's list) lives
above this contract, so sensors depend on the stream core only.

* Video: :class:`VideoFrame`, BGR, or grayscale when every model that sees it
  is (the default fer model is): a gray frame is the decoder's luma plane,
  with no colour conversion at all.
* Audio: a :class:`~.types.Chunk` of mono float32 samples at
  :data:`AUDIO_RATE_HZ`, one timestamp per sample.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Protocol, TypeVar

import cv2
import numpy as np

from dyadscope.stream.types import Chunk, Feature, Role, StreamInfo

#: The rate every microphone is resampled to (what the voice models read), in Hz.
AUDIO_RATE_HZ = 16000

#: Where features go: the session's log (and its feature processors), e.g. ``Session.publish``.
FeatureSink = Callable[[list[Feature]], Awaitable[None]]
#: The session clock, in seconds.
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One frame (BGR H×W×3, or gray H×W, uint8) stamped at session time ``t`` (seconds)."""

    t: float
    image: np.ndarray

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.image.shape[1])

    @property
    def gray(self) -> np.ndarray:
        """The frame in grayscale (the frame itself if it is gray)."""
        return self.image if self.image.ndim == 2 else cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)


#: What a track carries, stamped on the session clock: video frames or audio chunks.
Item = TypeVar("Item", bound=VideoFrame | Chunk, contravariant=True)


class TrackSink(Protocol[Item]):
    """Takes one track's stamped items, in time order, from the event loop."""

    async def put(self, item: Item) -> None:
        """One stamped item; returns as soon as it is taken (its analysis may come later)."""
        ...

    async def end(self) -> None:
        """The track has ended: returns once everything put has been consumed."""
        ...

    async def stop(self) -> None:
        """Stop now; what is still waiting is dropped."""
        ...


class VideoSink(TrackSink[VideoFrame], Protocol):
    """A camera's sink, which says how frames must be decoded and what it sees."""

    #: Whether frames must be BGR; gray (the luma plane) otherwise.
    colour: bool

    @property
    def visible(self) -> Collection[Role]:
        """The people the consumer sees now (for the capture device's status)."""
        ...


class MediaSink(Protocol):
    """Opens a sink per track of a media source (a peer connection, a set of files)."""

    def video(self, name: str, roles: tuple[Role, ...]) -> VideoSink:
        """The sink of a camera that sees ``roles``, left to right."""
        ...

    def audio(self, info: StreamInfo) -> TrackSink[Chunk]:
        """The sink of a microphone, described by ``info`` (its role: whose voice it is)."""
        ...
