"""The crash-safe session recorder: one XDF file per session, on disk within a second.

A :class:`Recorder` is a plain, thread-safe object (no asyncio): the session
calls it from a worker thread with every raw chunk, clock offset, event and
marker. Chunks are encoded whole (:mod:`.writer`) into a memory buffer;
a small background thread writes the buffer with one ``os.write`` and
``os.fsync`` every ``flush_interval`` (1 s), so after ``kill -9`` the file
holds whole chunks up to about a second before, and pyxdf loads it. Footers
are added by :meth:`Recorder.close`, or afterwards by :mod:`.repair`. What
makes the file ours (stream names, ``<desc><dyadscope>`` fields, the derived
streams) is :mod:`.schema`'s.

Timestamps follow the XDF convention: a stream's samples keep the sender's
clock and its clock offsets are stored beside them (pyxdf adds them on load
with ``synchronize_clocks=True``). Pass the raw timestamps to :meth:`write`
and each new offset to :meth:`clock_offset` for streams from another clock;
streams already on the session clock (events, markers, derived measures)
need neither. The offset in force (0 until one is given) is written with a
stream's first samples and again every ``offset_interval`` (5 s), as
LabRecorder does, so every stream has clock offsets over the whole file.

Nothing bound for the file is ever dropped. When the disk is slower than the
data (a stalled or saturated disk), what waits for it grows past
``max_pending_bytes``: the recorder is then :attr:`~Recorder.behind`, says so
in a warning (at most every 10 s) and keeps everything in memory until the
disk catches up; :attr:`~Recorder.pending_bytes` says how much waits.

When the disk fills or the directory cannot be written, the file is cut back
to its last whole chunk (so it stays readable), the recorder stops, calls
``on_error`` once and raises a :class:`RecordingError` subclass from then on;
the live session is free to go on without it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import dyadscope.xdf.writer as xw
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.stream.wire import to_json
from dyadscope.xdf import schema
from dyadscope.xdf._file_sink import DiskFullError, FileSink, RecordingError, UnwritableError, classify
from dyadscope.xdf.schema import EVENTS_STREAM, MARKERS_STREAM

__all__ = [
    "DEFAULT_TEMPLATE",
    "DiskFullError",
    "Recorder",
    "RecordingError",
    "UnwritableError",
    "check_label",
]

logger = logging.getLogger(__name__)

#: Where a session's file goes below the recordings root (BIDS-style entities).
DEFAULT_TEMPLATE = "sub-{subject}/ses-{session}/sub-{subject}_ses-{session}_task-{task}_run-{run:02d}_physio.xdf"

_LABEL = re.compile(r"[A-Za-z0-9]{1,64}")
_MAX_PENDING_BYTES = 8 << 20  # more waiting for the disk than this: flush now, and the recorder is behind


def check_label(entity: str, value: str) -> str:
    """A BIDS label: 1-64 letters and digits (pseudonymous ids, no names, no paths)."""
    if not _LABEL.fullmatch(value):
        raise ValueError(f"{entity} label {value!r} must be 1-64 letters and digits (a pseudonymous id)")
    return value


@dataclass
class _Stream:
    id: int
    info: StreamInfo
    fields: tuple[str, ...] = ()  # derived streams: the data keys, one per channel
    tally: xw.FooterTally = field(default_factory=xw.FooterTally)
    offset: float = 0.0  # the clock offset in force (0: already on the session clock)


def _channel_value(name: str, value: object) -> float:
    """A derived channel's sample: the field's number (:func:`~dyadscope.xdf.schema.derived_value`), NaN if none."""
    number = schema.derived_value(name, value)
    return math.nan if number is None else number


class Recorder:
    """Records streams, clock offsets, events and markers into one XDF file.

    ``metadata`` (participant, session, task ... as strings) goes into the
    file header and every stream header. Use :meth:`for_session` to pick the
    file name from the BIDS-style template without ever overwriting. Past
    ``max_pending_bytes`` waiting for the disk, the recorder is
    :attr:`behind` (see the module docstring).
    """

    def __init__(
        self,
        path: Path | str,
        metadata: Mapping[str, str] | None = None,
        *,
        flush_interval: float = 1.0,
        boundary_interval: float = 10.0,
        offset_interval: float = 5.0,
        derived_streams: bool = True,
        max_pending_bytes: int = _MAX_PENDING_BYTES,
        on_error: Callable[[RecordingError], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        self.error: RecordingError | None = None
        self._derived = derived_streams
        self._on_error = on_error
        self._clock = clock
        self._boundary_interval = boundary_interval
        self._offset_interval = offset_interval
        self._lock = threading.Lock()  # guards streams and the sink's pending buffer
        self._io_lock = threading.Lock()  # one flush at a time, in order
        self._streams: dict[str, _Stream] = {}
        self._closed = False
        self._wake = threading.Event()
        self._last_boundary = self._last_offsets = clock()
        self._sink = FileSink(self.path, max_pending_bytes, clock)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S%z")  # LabRecorder's form (+0000), as mnelab reads it
        self._append(xw.MAGIC + xw.file_header_chunk(schema.file_header_fields(created, self.metadata)))
        try:
            self.flush()
        except RecordingError:
            self._sink.close()
            raise
        self._flusher = threading.Thread(
            target=self._flush_periodically, args=(flush_interval,), name=f"recorder:{self.path.name}", daemon=True
        )
        self._flusher.start()

    @classmethod
    def for_session(
        cls,
        root: Path | str,
        *,
        subject: str,
        session: str,
        task: str = "therapy",
        template: str = DEFAULT_TEMPLATE,
        metadata: Mapping[str, str] | None = None,
        **options,
    ) -> Recorder:
        """A recorder at the first free run number of ``template`` below ``root``.

        Labels must be pseudonymous ids (letters and digits). An existing file
        is never replaced: the run number goes up until a new file can be
        created (atomically, so two recorders cannot pick the same one).
        """
        labels = {"subject": check_label("subject", subject), "session": check_label("session", session)}
        labels["task"] = check_label("task", task)
        for run in range(1, 1000):
            path = Path(root) / template.format(run=run, **labels)
            if path.exists():
                continue
            try:
                return cls(path, {**labels, "run": str(run), **(metadata or {})}, **options)
            except FileExistsError:
                continue
        raise RecordingError(f"no free run number for {template} below {root}")

    # -- streams ---------------------------------------------------------------

    def add_stream(self, info: StreamInfo, lsl_xml: str | None = None) -> int:
        """Declare a stream (its header goes into the file); returns its XDF stream id.

        ``lsl_xml`` is the sender's full description (pylsl ``info.as_xml()``),
        kept verbatim. Declaring a known stream again returns its id.
        """
        with self._lock:
            return self._add_stream_locked(info, lsl_xml).id

    def _add_stream_locked(
        self, info: StreamInfo, lsl_xml: str | None = None, fields: tuple[str, ...] = (), kind: str | None = None
    ) -> _Stream:
        known = self._streams.get(info.key)
        if known is not None:
            return known
        stream = self._streams[info.key] = _Stream(id=len(self._streams) + 1, info=info, fields=fields)
        metadata = {**self.metadata, schema.KIND: kind} if kind else self.metadata
        self._append(xw.stream_header_chunk(stream.id, xw.stream_header_xml(info, lsl_xml, metadata)))
        return stream

    def write(self, chunk: Chunk, raw_timestamps: np.ndarray | None = None) -> None:
        """Record a chunk; ``raw_timestamps`` (sender's clock) replace the chunk's own if given."""
        stamps = chunk.timestamps if raw_timestamps is None else np.asarray(raw_timestamps, dtype=np.float64)
        if stamps.shape != chunk.timestamps.shape:
            raise ValueError(f"raw_timestamps shape {stamps.shape} != chunk timestamps {chunk.timestamps.shape}")
        with self._lock:
            self._check()
            stream = self._add_stream_locked(chunk.info)
            self._write_samples(stream, stamps, chunk.values)

    def _write_samples(self, stream: _Stream, stamps: np.ndarray, values) -> None:
        if len(stamps) == 0:
            return
        if not stream.tally.offsets:  # every stream gets at least one offset, from its first sample on
            self._record_offset(stream, float(stamps[0]))
        stream.tally.add_samples(stamps)
        self._append(xw.samples_chunk(stream.id, stream.info.channel_format, stamps, values))

    def clock_offset(self, stream_key: str, collection_time: float, offset: float) -> None:
        """Record a clock offset of a declared stream (``collection_time`` on the sender's clock).

        Give a stream's first offset before its first chunk: a stream that
        has samples but no offset yet is taken to be on the session clock.
        """
        with self._lock:
            self._check()
            stream = self._streams.get(stream_key)
            if stream is None:
                raise KeyError(f"clock offset for undeclared stream {stream_key!r}; call add_stream first")
            stream.offset = float(offset)
            self._record_offset(stream, float(collection_time))

    def _record_offset(self, stream: _Stream, collection_time: float) -> None:
        stream.tally.offsets.append((collection_time, stream.offset))
        self._append(xw.clock_offset_chunk(stream.id, collection_time, stream.offset))

    def write_events(self, events: Iterable[Event]) -> None:
        """Record events: each as JSON on the events stream, numeric fields also per kind and role.

        The JSON is the wire's (:func:`~.wire.to_json`), as the websocket and
        ``analyze`` write it: strict (non-finite numbers become ``null``),
        numpy numbers as plain ones.
        """
        events = list(events)
        if not events:
            return
        with self._lock:
            self._check()
            log = self._add_stream_locked(EVENTS_STREAM)
            stamps = np.array([e.t for e in events], dtype=np.float64)
            self._write_samples(log, stamps, [[to_json(e.to_dict())] for e in events])
            if self._derived:
                self._write_derived(events)

    def _write_derived(self, events: list[Event]) -> None:
        """Numeric data fields, one chunk per kind, role and (for synchrony and the like) modality."""
        rows: dict[str, tuple[_Stream, list[float], list[list[float]]]] = {}
        for event in events:
            of = event.data.get("modality") if isinstance(event.data.get("modality"), str) else None
            key = schema.derived_source_id(event.kind, event.role, of)
            stream = self._streams.get(key)
            if stream is None:
                fields = schema.derived_fields(event.kind, event.data)
                if not fields:
                    continue
                info = schema.derived_stream_info(event.kind, event.role, fields, of)
                stream = self._add_stream_locked(info, fields=fields, kind=event.kind)
            _, stamps, values = rows.setdefault(key, (stream, [], []))
            stamps.append(event.t)
            values.append([_channel_value(name, event.data.get(name)) for name in stream.fields])
        for stream, stamps, values in rows.values():
            self._write_samples(stream, np.array(stamps), np.array(values))

    def marker(self, t: float, text: str) -> None:
        """Record a research assistant's marker at session time ``t``."""
        with self._lock:
            self._check()
            stream = self._add_stream_locked(MARKERS_STREAM)
            self._write_samples(stream, np.array([t], dtype=np.float64), [[text]])

    # -- disk --------------------------------------------------------------------

    def _append(self, data: bytes) -> None:
        """Queue whole chunks for the disk; hold the lock."""
        if self._sink.append(data):
            self._wake.set()  # the flusher writes now rather than at the next tick

    @property
    def pending_bytes(self) -> int:
        """Bytes recorded but not yet on disk (waiting, or being written)."""
        with self._lock:
            return self._sink.waiting_bytes

    @property
    def behind(self) -> bool:
        """Whether more than ``max_pending_bytes`` wait for the disk: the disk is slower than the data."""
        return self.pending_bytes > self._sink.max_pending_bytes

    def _check(self) -> None:
        if self.error is not None:
            raise self.error
        if self._closed:
            raise RecordingError(f"recording {self.path} is closed")

    def flush(self) -> None:
        """Write everything recorded so far and ``fsync`` it (also done every second on its own)."""
        with self._io_lock:
            with self._lock:
                if self.error is not None:
                    raise self.error
                now = self._clock()
                if now - self._last_offsets >= self._offset_interval:
                    self._last_offsets = now
                    for stream in self._streams.values():
                        # at the sender's latest time, for streams with samples since the last offset: a
                        # quiet stream's repeated (time, offset) pairs would make pyxdf's fit singular
                        if stream.tally.count and stream.tally.last > stream.tally.offsets[-1][0]:
                            self._record_offset(stream, stream.tally.last)
                if self._streams and now - self._last_boundary >= self._boundary_interval:
                    self._last_boundary = now
                    self._sink.append(xw.boundary_chunk())
                data = self._sink.take()
            if data:
                try:
                    self._write_through(data)
                finally:
                    self._written()

    def _written(self) -> None:
        with self._lock:
            self._sink.written()

    def _write_through(self, data: bytes) -> None:
        try:
            self._sink.write_through(data)
        except OSError as exc:
            self._fail(classify(exc, self.path, "writing"))
            raise self.error from exc

    def _fail(self, error: RecordingError) -> None:
        """Cut the file back to its last whole chunk and stop recording."""
        with self._lock:
            if self.error is not None:
                return
            self.error = error
            self._sink.drop_pending()
        self._sink.cut_back()
        logger.error("%s", error)
        if self._on_error is not None:
            self._on_error(error)

    def _flush_periodically(self, interval: float) -> None:
        while self.error is None and not self._closed:
            self._wake.wait(interval)
            self._wake.clear()
            try:
                self.flush()
            except RecordingError:
                return  # reported through on_error, raised on the next call

    def close(self) -> None:
        """Add the stream footers, write everything and close the file (idempotent).

        Raises :class:`RecordingError` only if this last write fails; an
        earlier failure was already reported.
        """
        if self._closed:
            return
        with self._lock:
            self._closed = True
            failed_before = self.error is not None
            for stream in self._streams.values():
                self._sink.append(stream.tally.footer_chunk(stream.id))
        self._wake.set()
        if threading.current_thread() is not self._flusher:  # on_error may close from the flusher
            self._flusher.join()
        try:
            if not failed_before:
                self.flush()
        finally:
            self._sink.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def progress(self) -> tuple[int, int, int]:
        """Streams declared, samples recorded and bytes written to the file so far (for a progress line)."""
        with self._lock:
            streams, samples = len(self._streams), sum(s.tally.count for s in self._streams.values())
        return streams, samples, self._sink.written_bytes

    @property
    def stream_ids(self) -> dict[str, int]:
        """XDF stream id per stream key, in the order the streams were declared."""
        with self._lock:
            return {key: s.id for key, s in self._streams.items()}
