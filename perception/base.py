"""The one shape of a perception analyzer: a stamped media item in, features out.

An :class:`Analyzer` belongs to one camera or microphone and keeps its own
state (tracked faces, VAD state, the speaker's baseline). It is synchronous,
like the stream processors (:mod:`dyadscope.stream.processors.base`), and for
the same reasons:

* the work is CPU-bound and sequential per stream, so an event loop gains
  nothing by hosting it;
* one object serves offline runs and tests (models called directly) and live
  ingest (called in a worker thread, models through the shared
  micro-batchers, which block that thread only), with the same features
  either way.

Live, :mod:`.live` runs analyzers off the event loop and hands their features
to the session's feature sink, the same path every other feature takes.
"""

from __future__ import annotations

from typing import Protocol

from dyadscope.stream.frames import Item
from dyadscope.stream.types import Feature


class Analyzer(Protocol[Item]):
    """Turns one camera's frames or one microphone's chunks into features."""

    def process(self, item: Item) -> list[Feature]:
        """Consume the next item (times increasing); return the features it completed.

        May block on a model; never call it on the event loop.
        """
        ...
