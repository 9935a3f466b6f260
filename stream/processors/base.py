"""The two kinds of processor, as plain protocols.

A processor is a plain object: it keeps its own state, does no I/O, reads no
clock and touches no globals. Live ingest, offline analysis and the tests all
drive the same processors, so offline gives the same numbers as live.

* A :class:`ChunkProcessor` belongs to one stream and turns its chunks into
  features (heart rate from ECG, breaths from respiration ...).
* A :class:`FeatureProcessor` consumes features that other processors emitted
  (synchrony from both people's heart rate, dissonance from face and voice
  affect ...), and may emit features of its own.

Work per call must be proportional to the new data, never to the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from dyadscope.stream.types import Chunk, Feature, StreamInfo


class ChunkProcessor(Protocol):
    """Turns one stream's chunks into features."""

    def process(self, chunk: Chunk) -> list[Feature]:
        """Consume the next chunk (timestamps increasing); return new features."""
        ...


class FeatureProcessor(Protocol):
    """Turns features into more features."""

    #: The feature kinds this processor wants to see.
    consumes: frozenset[str]

    def consume(self, feature: Feature) -> list[Feature]:
        """Consume one feature (in time order per role); return new features."""
        ...


#: Builds the chunk processors for a newly seen stream (empty if none apply).
ChunkProcessorFactory = Callable[[StreamInfo], Sequence[ChunkProcessor]]
