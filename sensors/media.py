"""Media files as sources: a recording per camera or person, played in real time.

A file (or a pair of files per person: one video, one audio) is opened with
aiortc's ``MediaPlayer``, which decodes with PyAV and paces frames in real
time, and its tracks go through the same consumers as WebRTC tracks
(:mod:`.av_tracks`). Used for the demo, rehearsal and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiortc.contrib.media import MediaPlayer

from dyadscope.models.engine import ModelEngine
from dyadscope.models.people import CameraView
from dyadscope.stream.types import Role

from .av_tracks import Clock, FeatureSink, MediaIngest


@dataclass(frozen=True)
class MediaSource:
    """A media file and who is in it.

    ``camera_roles``: the people its video shows, left to right (empty:
    ignore the video). ``microphone_role``: whose voice its audio is (None:
    ignore the audio).
    """

    path: Path
    camera_roles: tuple[Role, ...] = ()
    microphone_role: Role | None = None


class MediaFiles:
    """Plays media files into the analysis, each track through the shared consumers."""

    def __init__(self, sources: list[MediaSource], engine: ModelEngine, sink: FeatureSink, clock: Clock):
        self.sources = sources
        self.ingest = MediaIngest(engine, sink, clock)
        self._players: list[MediaPlayer] = []

    def start(self) -> None:
        """Open every file and start reading its tracks."""
        for source in self.sources:
            if not Path(source.path).is_file():
                raise FileNotFoundError(f"no media file at {source.path}")
            player = MediaPlayer(str(source.path))
            self._players.append(player)
            stem = Path(source.path).stem
            if source.camera_roles and player.video is not None:
                self.ingest.add_video(player.video, CameraView(tuple(source.camera_roles)), f"{stem}-video")
            if source.microphone_role and player.audio is not None:
                self.ingest.add_audio(player.audio, source.microphone_role, f"{stem}-audio")

    async def wait(self, timeout: float | None = None) -> None:
        """Until every file has played and been analysed."""
        await self.ingest.wait(timeout)

    async def stop(self) -> None:
        """Stop playing and analysing."""
        for player in self._players:
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
        await self.ingest.stop()
