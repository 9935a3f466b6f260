"""Offline video: a recorded video through the live face, voice, movement and dissonance path.

A video file (mp4, mkv, webm, mov) with its own audio track, or with a
separate audio file, is decoded at full speed (:mod:`dyadscope.sensors.media_decode`),
its frames and audio go through the live analyzers (built with the live
settings, scheduled on data time: :mod:`.video_tracks`), and their features
through the same pipeline as an XDF recording's (dissonance, movement
synchrony, face and vocal measures), with the same outputs
(:func:`~.analysis.run_and_write`): ``events.jsonl``, a table per kind —
among them ``face_affect.csv``, ``face_tracked.csv``, ``movement.csv`` and
``voice_segment.csv`` — each with its data dictionary, and ``summary.json``.
Times are seconds on the video's own timeline.

Who is in it (:func:`video_tracks`): the video shows one person
(``person``: its faces and movement are theirs, its audio is their voice),
or one camera sees both (``sides``: roles left to right). A camera on both
has one microphone for both: each speech unit goes to the person whose
mouth (FaceMesh's opening) moved more during it
(:class:`~dyadscope.perception.speakers.Speakers`' face cue); a unit during
which the camera did not see both faces has no speaker (``role`` empty)::

    tracks = video_tracks(Path("session.mp4"), sides=("therapist", "patient"))
    result = analyze_video(tracks, Path("out"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dyadscope.models.engine import EngineSettings, ModelEngine
from dyadscope.models.speaker_encoder import SpeakerEncoder
from dyadscope.offline.analysis import AnalysisError, AnalysisResult, StreamUse, run_and_write
from dyadscope.offline.video_tracks import OfflineCamera, OfflineMicrophone, mouth_cues
from dyadscope.perception.live import LivePerception
from dyadscope.perception.people import CameraView
from dyadscope.perception.speaker_room import SpeakerRoom
from dyadscope.perception.speakers import Speakers
from dyadscope.sensors.av_tracks import audio_stream_info
from dyadscope.sensors.media_decode import MediaFileError, audio_chunks, in_time_order, probe, video_frames
from dyadscope.stream.frames import AUDIO_RATE_HZ, VideoFrame
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Feature, Role

#: The speaker encoder model (its voiceprints are not used offline yet; the mouth cue is).
SPEAKER_ENCODER = "speaker_encoder"


@dataclass(frozen=True)
class VideoTracks:
    """What to analyse: a video seen by ``camera_roles`` (left to right) and the audio of ``audio``.

    ``audio``: the file whose audio is the microphone (the video itself, a
    separate file) or None; ``microphone_role``: whose voice it is, None for
    the shared microphone of a camera on both people.
    """

    video: Path
    camera_roles: tuple[Role, ...]
    audio: Path | None
    microphone_role: Role | None

    @property
    def files(self) -> tuple[Path, ...]:
        """The files read."""
        return (self.video,) if self.audio in (None, self.video) else (self.video, self.audio)


def video_tracks(
    video: Path,
    audio: Path | None = None,
    person: Role | None = None,
    sides: tuple[Role, ...] | None = None,
) -> VideoTracks:
    """Who the video shows and whose voice its audio (or ``audio``) is, checked against the files.

    ``person`` (default "patient"): the one person the video shows; ``sides``:
    two roles, left to right, for one camera on both (its audio is their
    shared microphone). Raises :class:`~.analysis.AnalysisError` with the reason.
    """
    if person is not None and sides is not None:
        raise AnalysisError("say either which person the video shows or which side is whom, not both")
    if sides is not None and len(sides) != 2:
        raise AnalysisError(f"the sides are two people, left to right (e.g. patient,therapist), got {','.join(sides)}")
    try:
        roles = CameraView(tuple(sides) if sides else (person or "patient",)).roles
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
    try:
        found = probe(video)
        voice = probe(audio) if audio is not None else found
    except MediaFileError as exc:
        raise AnalysisError(str(exc)) from None
    if not found.has_video:
        raise AnalysisError(f"{video} has no video")
    if audio is not None and not voice.has_audio:
        raise AnalysisError(f"{audio} has no audio")
    heard = voice.path if voice.has_audio else None
    return VideoTracks(video, roles, heard, roles[0] if len(roles) == 1 else None)


def media_duration_s(tracks: VideoTracks) -> float:
    """The longest file's duration (s), for a progress bar."""
    return max(probe(path).duration_s for path in tracks.files)


def analyze_video(
    tracks: VideoTracks,
    out: Path,
    *,
    model_dir: Path | None = None,
    session_id: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> AnalysisResult:
    """Analyse ``tracks`` (from :func:`video_tracks`) into ``out``; ``progress`` gets the video time reached (s).

    Raises :class:`~.analysis.AnalysisError` for a file that cannot be decoded.
    """
    engine = ModelEngine.from_dir(model_dir, EngineSettings())
    try:
        perception = LivePerception(engine)
        shared = tracks.audio is not None and tracks.microphone_role is None
        speakers = SpeakerRoom(Speakers(SpeakerEncoder(*engine.library.session(SPEAKER_ENCODER)))) if shared else None
        result = AnalysisResult(out, [])
        items = _features(perception, tracks, speakers, result, progress)
        try:
            return run_and_write(items, default_pipeline(), result, session_id or tracks.video.stem)
        except MediaFileError as exc:
            raise AnalysisError(str(exc)) from None
    finally:
        engine.close()


def _features(
    perception: LivePerception,
    tracks: VideoTracks,
    speakers: SpeakerRoom | None,
    result: AnalysisResult,
    progress: Callable[[float], None] | None,
) -> Iterator[list[Feature]]:
    """Every track's features, its items analysed in time order across tracks.

    Once the files are read, what each track held is added to ``result.streams``.
    """
    camera = OfflineCamera(perception, tracks.camera_roles)
    readers: list[Iterator] = [video_frames(tracks.video)]
    analyzers: list[OfflineCamera | OfflineMicrophone] = [camera]
    uses = [(f"{tracks.video.stem}-video", "Video", "+".join(tracks.camera_roles), camera)]
    if tracks.audio is not None:
        info = audio_stream_info(f"{tracks.audio.stem}-audio", tracks.microphone_role)
        readers.append(audio_chunks(tracks.audio, info))
        analyzers.append(OfflineMicrophone(perception, tracks.microphone_role, speakers))
        uses.append((info.name, "Audio", tracks.microphone_role or "shared", analyzers[-1]))
    for i, item in in_time_order(readers):
        features = analyzers[i].process(item)
        if speakers is not None:
            mouth_cues(speakers, features)
        if progress is not None:
            progress(item.t if isinstance(item, VideoFrame) else float(item.timestamps[-1]))
        if features:
            yield features
    result.streams.extend(_use(*use) for use in uses)


def _use(name: str, modality: str, role: str, track: OfflineCamera | OfflineMicrophone) -> StreamUse:
    """What the analysis did with one track, for ``summary.json``."""
    if isinstance(track, OfflineCamera):
        samples, reason = track.frames, f"movement of every frame, faces of {track.face_frames}"
    else:
        samples, reason = track.samples, f"{track.samples / AUDIO_RATE_HZ:.1f} s of audio into speech units"
    return StreamUse(name, modality, role, samples, bool(samples), reason)
