"""The shared model engine: one session and one micro-batcher per model, for all streams.

Every camera and microphone of every session sends its model work here, so
requests that arrive together run as one batch. Face crops are awaited from
the event loop; VAD windows are scored from the worker thread that runs a
microphone's analysis (each stream's VAD state is sequential, but windows of
different streams batch together).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dyadscope.stream.types import Role

from dyadscope.models.batcher import BatcherMetrics, MicroBatcher
from dyadscope.models.face_affect import FaceAffectModel
from dyadscope.perception.face_detect import HaarFaceDetector
from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_track import FaceTracker
from dyadscope.models.library import DEFAULT_FACE_MODEL, DEFAULT_VAD_MODEL, ModelLibrary
from dyadscope.perception.people import CameraView
from dyadscope.models.vad import VadItem, VadResult, VadStream, run_vad_batch
from dyadscope.models.voice_affect import SpeechAffectModel
from dyadscope.perception.voice import VoiceAnalyzer


@dataclass(frozen=True)
class EngineSettings:
    """Which models to use and how to batch them."""

    face_model: str = DEFAULT_FACE_MODEL
    vad_model: str = DEFAULT_VAD_MODEL
    #: A model following the audeering contract, or None for the acoustic index.
    voice_model: str | None = None
    max_batch: int = 16
    max_wait_ms: float = 2.0
    #: Offline: run the face detector every this many frames, track in between.
    detect_every: int = 5
    #: Live: start a background detection at most this often (seconds).
    detect_interval_s: float = 0.2


class ModelEngine:
    """Loaded models and their batchers, shared by every session of the process.

    Building one loads every model (and the face detector's cascade): that
    takes a while, so services build it once, in a worker thread.
    """

    def __init__(self, library: ModelLibrary | None = None, settings: EngineSettings = EngineSettings()):
        self.library = library or ModelLibrary()
        self.settings = settings
        self.face_model: FaceAffectModel = self.library.face_model(settings.face_model)
        #: One detector for every camera, so a new camera does not parse the cascade again.
        self.face_detector = HaarFaceDetector()
        vad_session, _ = self.library.session(settings.vad_model)
        self.voice_model = SpeechAffectModel(*self.library.session(settings.voice_model)) \
            if settings.voice_model else None
        self.face_batcher: MicroBatcher[np.ndarray, tuple[float, float]] = MicroBatcher(
            self.face_model.run_batch, max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms,
            name=self.face_model.name)
        self.vad_batcher: MicroBatcher[VadItem, VadResult] = MicroBatcher(
            lambda items: run_vad_batch(vad_session, items), max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms, name=settings.vad_model)

    @classmethod
    def from_dir(cls, model_dir: Path | None = None, settings: EngineSettings = EngineSettings()) -> ModelEngine:
        """An engine over the models of ``model_dir`` (default: the model directory)."""
        return cls(ModelLibrary(model_dir), settings)

    def face_analyzer(self, view: CameraView, live: bool = False) -> FaceAnalyzer:
        """A new camera's face analysis; ``live``: detections come from a background task."""
        every = 0 if live else self.settings.detect_every
        return FaceAnalyzer(view, self.face_model, FaceTracker(self.face_detector, detect_every=every))

    def voice_analyzer(self, role: Role | None) -> VoiceAnalyzer:
        """A new microphone's voice analysis; its VAD windows go through the shared batcher."""
        def score(item: VadItem) -> VadResult:
            return self.vad_batcher.submit_threadsafe(item).result()

        return VoiceAnalyzer(role, VadStream(score), affect_model=self.voice_model)

    async def face_affect(self, crops: Sequence[np.ndarray]) -> list[tuple[float, float]]:
        """(valence, arousal) per crop, through the face batcher."""
        return list(await asyncio.gather(*(self.face_batcher.submit(c) for c in crops)))

    def metrics(self) -> list[dict]:
        """Queue depth, batch sizes and inference times per model."""
        snapshots: list[BatcherMetrics] = [self.face_batcher.metrics, self.vad_batcher.metrics]
        return [asdict(m) for m in snapshots]

    def close(self) -> None:
        """Stop the batchers (queued work finishes first)."""
        self.face_batcher.close()
        self.vad_batcher.close()
