"""Media files as sources: a recording per camera or person, played in real time.

A file (or a pair of files per person: one video, one audio) is opened with
aiortc's ``MediaPlayer``, which decodes with PyAV and paces frames in real
time, and its tracks go through the same readers as WebRTC tracks
(:mod:`.av_tracks`) into a :class:`~dyadscope.stream.frames.MediaSink`.
Used for the demo, rehearsal and tests.

From the command line each person's media is one option value,
``ROLE=FILE`` (the file's video shows ROLE, its audio is ROLE's voice) or
``ROLE=VIDEO,AUDIO`` (a camera file and a microphone file)::

    sources = [s for text in ("patient=talk.mp4", "therapist=cam.mp4,mic.wav")
               for s in parse_media_option(text)]
    files = MediaFiles(sources, media_sink, local_clock)
    await files.start()
    ...
    await files.stop()

(``dyadscope.service.media.attach_media`` does this for a session, with the
face and voice analysis as the sink.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc.contrib.media import MediaPlayer

from dyadscope.sensors.av_tracks import MediaIngest
from dyadscope.stream.frames import Clock, MediaSink
from dyadscope.stream.types import ROLES, Role

MEDIA_OPTION_SYNTAX = "ROLE=FILE or ROLE=VIDEO,AUDIO"
#: The ``ROLE`` of a file that shows and hears both people (one room camera, one microphone).
SHARED = "shared"


class MediaOptionError(ValueError):
    """A media option that cannot be used; the message says why."""


@dataclass(frozen=True)
class MediaSource:
    """A media file and who is in it.

    ``camera_roles``: the people its video shows, left to right (empty:
    ignore the video). ``microphone_role``: whose voice its audio is (None:
    ignore the audio, unless ``microphone_shared``: the audio holds both
    people's voices, told apart by who is speaking).
    """

    path: Path
    camera_roles: tuple[Role, ...] = ()
    microphone_role: Role | None = None
    microphone_shared: bool = False


def _stream_kinds(path: Path) -> set[str]:
    """Which of "video" and "audio" the file holds, read from its header."""
    if not path.is_file():
        raise MediaOptionError(f"no media file at {path}")
    try:
        with av.open(str(path)) as container:
            return {s.type for s in container.streams} & {"video", "audio"}
    except av.error.FFmpegError as exc:
        raise MediaOptionError(f"{path} is not a media file FFmpeg can read ({exc})") from None


def parse_media_option(text: str) -> list[MediaSource]:
    """The sources of one ``ROLE=FILE`` or ``ROLE=VIDEO,AUDIO`` option value.

    ``ROLE=FILE`` uses whichever of video and audio the file has;
    ``ROLE=VIDEO,AUDIO`` takes the camera from the first file and the voice
    from the second. Files are checked now (present, readable, holding the
    streams asked of them) so a typo fails at start, not mid-session.
    ``shared=FILE`` is one room camera (patient left, therapist right) and
    one microphone for both. Raises :class:`MediaOptionError` with the reason.
    """
    role, sep, files = text.partition("=")
    role, names = role.strip(), [name.strip() for name in files.split(",")]
    if not sep or not all(names) or len(names) > 2:
        raise MediaOptionError(f"expected {MEDIA_OPTION_SYNTAX}, got {text!r}")
    paths = [Path(name).expanduser() for name in names]
    if role == SHARED and len(paths) == 1:
        kinds = _stream_kinds(paths[0])
        return [MediaSource(paths[0], ROLES if "video" in kinds else (), None, "audio" in kinds)]
    if role not in ROLES:
        raise MediaOptionError(f"the role must be one of {', '.join(ROLES)}, got {role!r} in {text!r}")
    if len(paths) == 1:
        kinds = _stream_kinds(paths[0])
        if not kinds:
            raise MediaOptionError(f"{paths[0]} has neither video nor audio")
        return [MediaSource(paths[0], (role,) if "video" in kinds else (), role if "audio" in kinds else None)]
    video, audio = paths
    for path, kind in ((video, "video"), (audio, "audio")):
        if kind not in _stream_kinds(path):
            raise MediaOptionError(
                f"{path} has no {kind} (in {text!r}, the first file is the video, the second the audio)"
            )
    return [MediaSource(video, camera_roles=(role,)), MediaSource(audio, microphone_role=role)]


def check_media_sources(sources: Sequence[MediaSource]) -> None:
    """Refuse two cameras or two microphones for one person (their features would interleave)."""
    cameras = Counter(role for s in sources for role in s.camera_roles)
    microphones = Counter(s.microphone_role for s in sources if s.microphone_role)
    for what, counts in (("video", cameras), ("audio", microphones)):
        twice = sorted(role for role, n in counts.items() if n > 1)
        if twice:
            raise MediaOptionError(f"{' and '.join(twice)} would have more than one {what} file")


class MediaFiles:
    """Plays media files into a media sink, each track through the shared readers.

    ``loop``: start each file again when it ends (a demo that runs for as long
    as the service does); otherwise its tracks end with the file.
    """

    def __init__(self, sources: list[MediaSource], sink: MediaSink, clock: Clock, loop: bool = False):
        self.sources = sources
        self.loop = loop
        self.ingest = MediaIngest(sink, clock)
        self._players: list[MediaPlayer] = []

    async def start(self) -> None:
        """Open every file (in a worker thread: it reads headers) and start reading its tracks."""
        for source in self.sources:
            if not Path(source.path).is_file():
                raise FileNotFoundError(f"no media file at {source.path}")
        for source in self.sources:
            player = await asyncio.to_thread(MediaPlayer, str(source.path), loop=self.loop)
            self._players.append(player)
            stem = Path(source.path).stem
            if source.camera_roles and player.video is not None:
                self.ingest.add_video(player.video, tuple(source.camera_roles), f"{stem}-video")
            if (source.microphone_role or source.microphone_shared) and player.audio is not None:
                self.ingest.add_audio(player.audio, source.microphone_role, f"{stem}-audio")

    async def wait(self, timeout: float | None = None) -> None:
        """Until every file has played and its sink consumed it (never, when looping)."""
        await self.ingest.wait(timeout)

    async def stop(self) -> None:
        """Stop playing and stop the sinks."""
        for player in self._players:
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
        await self.ingest.stop()
