"""Recording LSL streams and a live session's events into one XDF file.

Two pieces, shared by ``dyadscope record`` and the live service:

:class:`LslRecording`
    the glue between :class:`~dyadscope.sensors.lsl.LslIngest`'s callbacks
    and a :class:`~dyadscope.xdf.recorder.Recorder`. It follows the
    ingest's streams and clock offsets from the start, so a recorder attached
    later (:meth:`LslRecording.start`) begins complete. Chunks are recorded as
    the sender stamped them (the ingest's session-clock timestamps minus the
    offset it added), and each clock offset is written before the chunks it
    applies to (the ingest reports it first), so pyxdf returns the sender's
    timestamps exactly and aligns streams with ``synchronize_clocks=True``.
    The stream header is the sender's full XML when the ingest's
    ``stream_found`` carries it (``data["xml"]``).

:class:`SessionRecording`
    a live session's recording: started and stopped at will (one at a time),
    it takes the session's LSL chunks through its :class:`LslRecording` and
    the session's events (every feature, status event and marker) through
    :meth:`SessionRecording.write_events`; markers also go on the markers
    stream. When the disk fills or the folder cannot be written, the
    recorder keeps the file readable up to its last whole chunk and this
    recording stops by itself and says why (``on_stopped``); the session
    goes on.

Nothing here touches asyncio: the recorder's calls are made from the threads
that already exist (the ingest's, a worker thread), and the file I/O happens
in the recorder's own flush thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from dyadscope.service._stop_signals import WAKE_S
from dyadscope.stream import kinds
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.xdf.recorder import DEFAULT_TEMPLATE, Recorder, RecordingError

log = logging.getLogger(__name__)


class LslRecording:
    """Hands an ingest's chunks and clock offsets to a recorder, which may start later than the ingest.

    Until :meth:`start`, chunks are not kept but streams, their headers and
    clock offsets are remembered, so the file starts complete. A recording
    error stops it and is kept in :attr:`error`; :attr:`stopped` is set.
    Thread-safe: the ingest calls it from its threads, the owner from another.
    """

    def __init__(self) -> None:
        #: The streams being delivered, by key (a stream whose outlet closed is dropped).
        self.found: dict[str, StreamInfo] = {}
        self.error: RecordingError | None = None
        self.stopped = threading.Event()
        self.changed = threading.Condition()
        self._offsets: dict[str, tuple[float, float]] = {}  # key -> (measured_at, offset)
        self._xml: dict[str, str] = {}  # key -> the sender's full header, when the ingest gives it
        self._recorder: Recorder | None = None

    def start(self, recorder: Recorder) -> None:
        """Record from now on into ``recorder``, beginning with every stream found so far."""
        with self.changed:
            self._recorder = recorder
            self.error = None
            self.stopped.clear()
            try:
                for info in self.found.values():
                    self._declare(info)
            except RecordingError as exc:
                self._fail(exc)

    def stop(self) -> None:
        """Stop handing data to the recorder (its owner closes it); streams and offsets are still followed."""
        with self.changed:
            self._recorder = None

    def _declare(self, info: StreamInfo) -> None:
        self._recorder.add_stream(info, self._xml.get(info.key))
        if info.key in self._offsets:
            measured_at, offset = self._offsets[info.key]
            self._recorder.clock_offset(info.key, measured_at - offset, offset)

    def on_status(self, kind: str, info: StreamInfo, data: Mapping[str, Any]) -> None:
        """The ingest's status callback: new streams join, clock offsets are recorded."""
        with self.changed:
            try:
                if kind in (kinds.STREAM_FOUND, kinds.STREAM_RETURNED):
                    self.found[info.key] = info
                    if data.get("xml"):  # absent when data merely flows again
                        self._xml[info.key] = data["xml"]
                    if self._recorder is not None:
                        self._recorder.add_stream(info, self._xml.get(info.key))
                elif kind == kinds.STREAM_LOST and data.get("reason") == "closed":
                    self.found.pop(info.key, None)
                elif kind == kinds.CLOCK_OFFSET:
                    self._offsets[info.key] = (data["measured_at"], data["offset"])
                    if self._recorder is not None and info.key in self.found:
                        # on the sender's clock, as XDF wants: when the offset held there
                        self._recorder.clock_offset(info.key, data["measured_at"] - data["offset"], data["offset"])
            except RecordingError as exc:
                self._fail(exc)
            self.changed.notify_all()

    def on_chunk(self, chunk: Chunk) -> None:
        """The ingest's chunk callback: record with the sender's own timestamps."""
        with self.changed:
            if self._recorder is None or self.error is not None:
                return
            offset = self._offsets.get(chunk.info.key, (0.0, 0.0))[1]
            try:
                self._recorder.write(chunk, raw_timestamps=chunk.timestamps - offset)
            except RecordingError as exc:
                self._fail(exc)

    def _fail(self, error: RecordingError) -> None:
        if self.error is None:
            self.error = error
        self.stopped.set()

    def wait_for(self, required: list[str], timeout: float) -> list[str]:
        """Wait until a stream named (or with source_id) each of ``required`` is found; the missing ones."""
        deadline = time.monotonic() + timeout

        def missing() -> list[str]:
            present = {name for info in self.found.values() for name in (info.name, info.source_id)}
            return [r for r in required if r not in present]

        with self.changed:
            while missing() and not self.stopped.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(min(left, WAKE_S))  # short, so signal handlers run (see WAKE_S)
            return missing()


class RecordingBusy(RuntimeError):
    """A recording was asked to start while one is running."""


class SessionRecording:
    """A live session's recording into ``root`` (one file per start, BIDS-style names, never overwriting).

    ``lsl`` follows the session's ingest (hand it the ingest's callbacks).
    ``on_stopped(state)`` is called, from whichever thread noticed, when the
    recording stops by itself on a disk or write error; ``state`` is
    :meth:`describe`'s dict, its ``error`` saying why. :meth:`start` and
    :meth:`stop` create and close the file: call them off the event loop.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        metadata: Mapping[str, str] | None = None,
        template: str = DEFAULT_TEMPLATE,
        on_stopped: Callable[[dict[str, Any]], None] | None = None,
        **recorder_options: Any,
    ):
        self.root = Path(root)
        self.lsl = LslRecording()
        self._metadata = dict(metadata or {})
        self._template = template
        self._on_stopped = on_stopped
        self._options = recorder_options
        self._lock = threading.RLock()  # re-entered when a new recorder fails in its constructor
        self._recorder: Recorder | None = None
        self._path: Path | None = None
        self._started: float | None = None
        self._error: str | None = None

    @property
    def active(self) -> bool:
        """Whether a recording is running."""
        return self._recorder is not None

    def start(self, *, subject: str, session: str, task: str = "therapy") -> dict[str, Any]:
        """Start recording into a new file; returns :meth:`describe`'s dict.

        Raises :class:`RecordingBusy` if one is running, ``ValueError`` for a
        label that is not letters and digits, :class:`RecordingError` if the
        file cannot be created (disk full, unwritable folder; kept as the
        state's ``error``).
        """
        with self._lock:
            if self._recorder is not None:
                raise RecordingBusy(f"already recording into {self._relative(self._path)}")
            try:
                recorder = Recorder.for_session(
                    self.root, subject=subject, session=session, task=task, template=self._template,
                    metadata=self._metadata, on_error=self._failed, **self._options,
                )  # fmt: skip
            except RecordingError as exc:
                self._path, self._started, self._error = None, None, str(exc)
                raise
            self._recorder, self._path, self._started, self._error = recorder, recorder.path, time.time(), None
            self.lsl.start(recorder)
            # not the path: it holds the subject id
            log.info("session %s: recording started", self._metadata.get("dyadscope_session", "-"))
            return self.describe()

    def write_events(self, events: Iterable[Event]) -> None:
        """Record the session's events (and markers also on the markers stream); a no-op when not recording."""
        recorder = self._recorder
        if recorder is None:
            return
        events = list(events)
        try:
            recorder.write_events(events)
            for event in events:
                if event.kind == kinds.MARKER:
                    recorder.marker(event.t, str(event.data.get("text", "")))
        except RecordingError:
            pass  # a write error was reported through on_error; or a stop closed the file meanwhile

    def stop(self) -> dict[str, Any]:
        """Stop recording and close the file (footers added); returns :meth:`describe`'s dict.

        Stopping when not recording changes nothing.
        """
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is None:
            return self.describe()
        self.lsl.stop()
        try:
            recorder.close()
        except RecordingError as exc:
            self._error = str(exc)
        log.info("session %s: recording stopped", self._metadata.get("dyadscope_session", "-"))
        return self.describe()

    def _failed(self, error: RecordingError) -> None:
        """The recorder's ``on_error``: stop recording, keep why, tell the owner."""
        with self._lock:
            recorder = self._recorder
            if recorder is None or recorder.error is not error:
                return  # a recorder failing in its constructor, or one already stopped
            self._recorder, self._error = None, str(error)
        self.lsl.stop()
        recorder.close()  # writes nothing more: the file stays as the recorder cut it
        if self._on_stopped is not None:
            self._on_stopped(self.describe())

    def describe(self) -> dict[str, Any]:
        """The state for the API: ``recording``, ``path`` (relative to :attr:`root`), ``started`` (Unix s), ``error``.

        Also ``behind``: the disk is slower than the data, and ``pending_bytes``
        wait for it (nothing is dropped; see :attr:`Recorder.behind`); False and
        0 when not recording.
        """
        recorder = self._recorder
        return {
            "recording": recorder is not None,
            "path": self._relative(self._path),
            "started": self._started,
            "error": self._error,
            "behind": recorder is not None and recorder.behind,
            "pending_bytes": 0 if recorder is None else recorder.pending_bytes,
        }

    def _relative(self, path: Path | None) -> str | None:
        return None if path is None else path.relative_to(self.root).as_posix()
