"""Reading XDF recordings (ours or any other tool's) into streams on one clock.

pyxdf does the decoding and the clock work: clock offsets are applied with
its robust fit, clock resets split into segments, and empty streams come back
empty. On top of that each stream gets a :class:`StreamInfo` whose role and
modality come from :mod:`dyadscope.stream.assign` (or from the
``<desc><dyadscope>`` element our recorder writes, :mod:`.schema`), its timestamps as
recorded (the sender's clock) beside the corrected ones, and its header as
written, so replay can republish it with its full description.

Offline analysis reads a file with :func:`load_xdf` and feeds
:func:`merged_chunks` to the same pipeline the live session uses.
"""

from __future__ import annotations

import heapq
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyxdf

import dyadscope.xdf.writer as xw
from dyadscope.stream.assign import Override, assign, describe
from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf import schema
from dyadscope.xdf.repair import scan_chunks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedStream:
    """One stream of a recording.

    ``timestamps`` are on the recording's common clock (clock offsets and
    resets handled); ``raw_timestamps`` are as the sender stamped them.
    ``values`` is ``(n, channels)``, of ``object`` dtype (``str``) for string
    streams. ``header`` is pyxdf's dict of the stream header (``desc``
    included); ``xml`` is the header as written in the file.
    """

    stream_id: int
    info: StreamInfo
    timestamps: np.ndarray
    values: np.ndarray
    raw_timestamps: np.ndarray
    header: dict[str, Any]
    xml: str
    footer: dict[str, Any] | None = None
    clock_offsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def dyadscope(self) -> dict[str, str]:
        """The ``<desc><dyadscope>`` fields our recorder wrote (role, modality, kind, session ...)."""
        return schema.parse_desc(self.header)

    def chunk(self, start: int = 0, stop: int | None = None) -> Chunk:
        """Samples ``start:stop`` as a :class:`Chunk` on the common clock."""
        return Chunk(self.info, self.timestamps[start:stop], self.values[start:stop])


@dataclass(frozen=True)
class Recording:
    """A loaded XDF file: its streams, its file-header fields, and what a reader must be told about it.

    ``notes`` are one line each (e.g. streams on clocks that disagree, from
    :func:`dyadscope.xdf.clocks.on_one_clock`); empty for a file with nothing to say.
    """

    path: Path
    streams: list[RecordedStream]
    metadata: dict[str, str]
    notes: tuple[str, ...] = ()

    def stream(self, name: str) -> RecordedStream:
        """The stream called ``name``."""
        for stream in self.streams:
            if stream.info.name == name:
                return stream
        raise KeyError(f"no stream named {name!r} in {self.path}; streams: {[s.info.name for s in self.streams]}")


def _header_xml(path: Path) -> dict[int, str]:
    skip = frozenset({xw.Tag.SAMPLES, xw.Tag.CLOCK_OFFSET, xw.Tag.BOUNDARY, xw.Tag.STREAM_FOOTER})
    with open(path, "rb") as f:
        return {
            c.stream_id: c.content.decode("utf-8", "replace")
            for c in scan_chunks(f, skip_tags=skip)
            if c.tag == xw.Tag.STREAM_HEADER
        }


def read_file_metadata(path: Path | str) -> dict[str, str]:
    """The file header's fields of an XDF file (any writer's), without reading its samples; empty if it has none."""
    with open(path, "rb") as f:
        for chunk in scan_chunks(f, skip_tags=frozenset({xw.Tag.SAMPLES})):
            if chunk.tag == xw.Tag.FILE_HEADER:
                root = ET.fromstring(chunk.content.decode("utf-8", "replace"))
                return {child.tag: (child.text or "").strip() for child in root}
            break
    return {}


def stream_info(header: Mapping[str, Any], overrides: Iterable[Override] = ()) -> StreamInfo:
    """Who and what a recorded stream measures, from its pyxdf header dict.

    Our own recordings say so in ``<desc><dyadscope>``; other files go
    through :func:`dyadscope.stream.assign.assign` (``<desc><role>`` or the
    stream name); the role stays None where neither decides.
    """
    overrides = tuple(overrides)
    info = assign(header, overrides) or describe(header)
    role = schema.desc_role(schema.parse_desc(header))
    if role is not None:  # our file: labels as the sensor gave them (see schema.role_label)
        info = replace(info, channel_labels=schema.without_role(role, info.channel_labels))
    if role is not None and not any(o.matches(info) for o in overrides):
        info = replace(info, role=role)
    return info


def _values(series: Any, channels: int) -> np.ndarray:
    if isinstance(series, np.ndarray):
        return series.reshape(-1, channels) if series.size == 0 else series
    array = np.empty((len(series), channels), dtype=object)
    for i, row in enumerate(series):
        array[i, :] = row
    return array


def load_recording(path: Path | str, *, overrides: Iterable[Override] = (), dejitter: bool = False) -> Recording:
    """Load an XDF file: streams on the common clock plus the file header.

    ``dejitter`` smooths regular streams' timestamps (pyxdf's jitter removal);
    off by default so timestamps stay as recorded, offsets applied.
    """
    path = Path(path)
    raw: dict[int, list[np.ndarray]] = {}

    def keep_raw(values, stamps, header, stream_id):
        raw.setdefault(stream_id, []).append(np.array(stamps, dtype=np.float64))
        return values, stamps, header

    loaded, file_header = pyxdf.load_xdf(str(path), on_chunk=keep_raw, dejitter_timestamps=dejitter)
    xml = _header_xml(path)
    overrides = tuple(overrides)
    streams = []
    for s in loaded:
        header = s["info"]
        stream_id = int(header["stream_id"])
        info = stream_info(header, overrides)
        stamps = np.asarray(s["time_stamps"], dtype=np.float64)
        streams.append(
            RecordedStream(
                stream_id=stream_id,
                info=info,
                timestamps=stamps,
                values=_values(s["time_series"], info.channel_count),
                raw_timestamps=np.concatenate(raw[stream_id]) if stream_id in raw else np.zeros(0),
                header=header,
                xml=xml.get(stream_id, ""),
                footer=(s.get("footer") or {}).get("info"),
                clock_offsets=np.column_stack([s["clock_times"], s["clock_values"]]).reshape(-1, 2),
            )
        )
    return Recording(path, streams, schema.parse_file_header(file_header))


def load_xdf(path: Path | str, *, overrides: Iterable[Override] = (), dejitter: bool = False) -> list[RecordedStream]:
    """The streams of an XDF file, on one clock (see :func:`load_recording`)."""
    return load_recording(path, overrides=overrides, dejitter=dejitter).streams


def merged_chunks(streams: Iterable[RecordedStream], step: float = 0.5) -> Iterator[Chunk]:
    """Every stream's samples as chunks of at most ``step`` seconds, in time order across streams.

    What offline analysis feeds the pipeline (and what replay publishes):
    chunks come out ordered by their first timestamp, as they would arrive live.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    heap: list[tuple[float, int, int]] = []
    streams = [s for s in streams if len(s)]
    for index, stream in enumerate(streams):
        heap.append((float(stream.timestamps[0]), index, 0))
    heapq.heapify(heap)
    while heap:
        t0, index, start = heapq.heappop(heap)
        stream = streams[index]
        stop = start + max(1, int(np.searchsorted(stream.timestamps[start:], t0 + step, side="left")))
        yield stream.chunk(start, stop)
        if stop < len(stream):
            heapq.heappush(heap, (float(stream.timestamps[stop]), index, stop))
