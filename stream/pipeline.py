"""The pipeline: routes chunks to their stream's processors and features onward.

One pipeline object serves the live session and offline analysis alike. It is
synchronous and pure: give it a chunk, get back every feature that chunk
caused, including those of feature processors further down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dyadscope.stream.processors.base import ChunkProcessor, ChunkProcessorFactory, FeatureProcessor
from dyadscope.stream.types import Chunk, Feature, StreamInfo


class Pipeline:
    """Chunk processors per stream, built on first sight, plus feature processors.

    ``factories`` build the chunk processors for each new stream (e.g. heart
    rate for ECG); ``feature_processors`` see every feature whose kind they
    consume, including features other feature processors emit.
    """

    def __init__(
        self,
        factories: Sequence[ChunkProcessorFactory],
        feature_processors: Iterable[FeatureProcessor] = (),
    ):
        self._factories = tuple(factories)
        self._feature_processors = tuple(feature_processors)
        self._streams: dict[str, tuple[StreamInfo, tuple[ChunkProcessor, ...]]] = {}

    def processors_for(self, info: StreamInfo) -> tuple[ChunkProcessor, ...]:
        """The chunk processors of a stream, rebuilt if its description changed.

        If a factory raises, the error propagates this once and the stream
        keeps no processors until its description changes: a stream the
        processors refuse (e.g. a rate their filters cannot take) fails on
        its first chunk, not again on every chunk after it.
        """
        known = self._streams.get(info.key)
        if known is None or known[0] != info:
            self._streams[info.key] = (info, ())  # what stays if a factory raises
            built = tuple(p for factory in self._factories for p in factory(info))
            known = self._streams[info.key] = (info, built)
        return known[1]

    def process(self, chunk: Chunk) -> list[Feature]:
        """Every feature this chunk causes, in the order they arose."""
        features: list[Feature] = []
        for processor in self.processors_for(chunk.info):
            features.extend(processor.process(chunk))
        return self.feed(features)

    def feed(self, features: Iterable[Feature]) -> list[Feature]:
        """Pass features through the feature processors; return them and all they cause."""
        out: list[Feature] = []
        pending = list(features)
        i = 0
        while i < len(pending):
            feature = pending[i]
            i += 1
            out.append(feature)
            for processor in self._feature_processors:
                if feature.kind in processor.consumes:
                    pending.extend(processor.consume(feature))
        return out
