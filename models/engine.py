"""The shared model engine: one session and one micro-batcher per model, for all streams.

Every camera and microphone of every session sends its model work here, so
requests that arrive together run as one batch. Face crops and VAD windows
are scored from the worker threads that run each camera's and microphone's
analysis (each stream's state is sequential, but the work of different
streams batches together). The analyzers themselves are built above the
models, in :mod:`dyadscope.perception.live`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dyadscope.models.batcher import BatcherMetrics, MicroBatcher
from dyadscope.models.face_affect import FaceAffectModel
from dyadscope.models.library import DEFAULT_FACE_MODEL, DEFAULT_VAD_MODEL, ModelLibrary
from dyadscope.models.vad import VadItem, VadResult, run_vad_batch
from dyadscope.models.voice_affect import SpeechAffectModel


@dataclass(frozen=True)
class EngineSettings:
    """Which models to use and how to batch them."""

    face_model: str = DEFAULT_FACE_MODEL
    vad_model: str = DEFAULT_VAD_MODEL
    #: A model following the audeering contract, or None for the acoustic index.
    voice_model: str | None = None
    max_batch: int = 16
    max_wait_ms: float = 2.0


class ModelEngine:
    """Loaded models and their batchers, shared by every session of the process.

    Building one loads every model: that takes a while, so services build it
    once, in a worker thread.
    """

    def __init__(self, library: ModelLibrary | None = None, settings: EngineSettings = EngineSettings()):
        self.library = library or ModelLibrary()
        self.settings = settings
        self.face_model: FaceAffectModel = self.library.face_model(settings.face_model)
        vad_session, _ = self.library.session(settings.vad_model)
        self.voice_model = (
            SpeechAffectModel(*self.library.session(settings.voice_model)) if settings.voice_model else None
        )
        self.face_batcher: MicroBatcher[np.ndarray, tuple[float, float]] = MicroBatcher(
            self.face_model.run_batch,
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            name=self.face_model.name,
        )
        self.vad_batcher: MicroBatcher[VadItem, VadResult] = MicroBatcher(
            lambda items: run_vad_batch(vad_session, items),
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            name=settings.vad_model,
        )

    @classmethod
    def from_dir(cls, model_dir: Path | None = None, settings: EngineSettings = EngineSettings()) -> ModelEngine:
        """An engine over the models of ``model_dir`` (default: the model directory)."""
        return cls(ModelLibrary(model_dir), settings)

    def score_faces(self, crops: Sequence[np.ndarray]) -> list[tuple[float, float]]:
        """(valence, arousal) per crop, through the face batcher; blocks, so never call it on the event loop."""
        futures = [self.face_batcher.submit_threadsafe(crop) for crop in crops]
        return [future.result() for future in futures]

    def score_vad(self, item: VadItem) -> VadResult:
        """One VAD window, through the VAD batcher; blocks, so never call it on the event loop."""
        return self.vad_batcher.submit_threadsafe(item).result()

    def metrics(self) -> list[dict]:
        """Queue depth, batch sizes and inference times per model."""
        snapshots: list[BatcherMetrics] = [self.face_batcher.metrics, self.vad_batcher.metrics]
        return [asdict(m) for m in snapshots]

    def close(self) -> None:
        """Stop the batchers (queued work finishes first)."""
        self.face_batcher.close()
        self.vad_batcher.close()
