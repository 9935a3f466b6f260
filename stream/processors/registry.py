"""Which processors a session runs: the default pipeline.

The one place that maps a stream's modality to its processors, so that the
live service and offline analysis build the very same pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..pipeline import Pipeline
from ..types import StreamInfo
from .base import ChunkProcessor
from .ecg import HeartRateProcessor


def chunk_processors(info: StreamInfo) -> Sequence[ChunkProcessor]:
    """The processors for one assigned stream (none for unassigned ones)."""
    if info.role is None:
        return ()
    if info.modality == "ECG":
        return (HeartRateProcessor(info),)
    return ()


def default_pipeline() -> Pipeline:
    """A fresh pipeline with every default processor, for one session."""
    return Pipeline([chunk_processors])
