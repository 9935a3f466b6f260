"""A live session: chunks in, processed off the event loop, events out.

Sensors call :meth:`Session.submit` from their own threads; media pipelines,
which run on the event loop, hand over their features with
:meth:`Session.publish`. Both wait in one bounded, thread-safe queue, so the
pipeline sees everything in one order; when it is full the sender waits
(back-pressure: LSL buffers upstream, so physiology is never dropped). One
worker thread per session takes items in batches and runs the pipeline; the
event loop is woken once per batch, only to number and publish its events.
While the session records (:attr:`Session.recording`), the events go into the
recording too, from a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dyadscope.service.recording import SessionRecording
from dyadscope.stream import kinds
from dyadscope.stream.bus import Bus, BusUnavailable
from dyadscope.stream.events import EventLog
from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.types import Chunk, Event, Feature, Role, StreamInfo

log = logging.getLogger(__name__)

#: How long a sensor thread waits on a full queue before saying so.
_BACKLOG_WARNING_S = 1.0
#: Items processed per batch at most.
_BATCH = 64
#: Tells the worker thread that nothing more will come.
_END = None


class SessionClosed(RuntimeError):
    """Raised to a sensor thread that submits to a stopped session."""


class Session:
    """One monitoring session: its pipeline, its ingest queue, its event log and its recording.

    ``recording`` receives every event the session logs while it records;
    its owner starts and stops it (see :class:`~.sessions.SessionManager`).
    """

    def __init__(
        self,
        session_id: str,
        bus: Bus,
        pipeline: Pipeline,
        *,
        recording: SessionRecording,
        queue_length: int = 256,
        backlog: int = 20_000,
        participants: dict[Role, str] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.id = session_id
        #: Pseudonymous participant id per role (may be empty).
        self.participants: dict[Role, str] = dict(participants or {})
        #: User names of the therapists this session is assigned to (see dyadscope.service.access).
        self.therapists: tuple[str, ...] = ()
        self.created = clock()
        #: This session's key in the within-person history: the id alone
        #: would let a reused id overwrite an earlier session's summary.
        self.history_key = f"{session_id[:47]}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(self.created))}"
        self.log = EventLog(session_id, bus, clock, backlog=backlog)
        self._recording_order = asyncio.Lock()
        self._first_seq = 0  # where this process's numbering began (a log resumed from Redis goes on from there)
        self.recording = recording
        self._pipeline = pipeline
        self._inbox: queue.Queue[Chunk | list[Feature] | None] = queue.Queue(maxsize=queue_length)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: threading.Thread | None = None
        self._closed = False
        self.streams: dict[str, StreamInfo] = {}
        #: Sensors to stop before the session (LSL ingest, WebRTC peers).
        self._stoppers: list[Callable[[], Awaitable[Any]]] = []

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Begin processing; must be called from the event loop."""
        self._loop = asyncio.get_running_loop()
        await self.log.resume()
        self._first_seq = self.log.last_seq
        self._worker = threading.Thread(target=self._work, name=f"session-{self.id}", daemon=True)
        self._worker.start()

    def on_stop(self, stopper: Callable[[], Awaitable[Any]]) -> None:
        """Await ``stopper()`` when the session stops, before its queue is drained."""
        self._stoppers.append(stopper)

    async def stop(self) -> None:
        """Stop sensors first, then process what they delivered, then finish."""
        if self._closed:
            return
        for stopper in reversed(self._stoppers):
            await stopper()
        self._closed = True
        if self._worker is not None:
            await asyncio.to_thread(self._inbox.put, _END)
            await asyncio.to_thread(self._worker.join)

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._closed

    @property
    def events_logged(self) -> int:
        """Events this session logged in this process (for ``/metrics``)."""
        return self.log.last_seq - self._first_seq

    @property
    def queue_depth(self) -> int:
        """Chunks and feature batches waiting for the pipeline (at most ``queue_length``)."""
        return self._inbox.qsize()

    # -- entry points for sensor threads -----------------------------------

    def submit(self, chunk: Chunk) -> None:
        """Queue a chunk for processing; blocks the caller while the queue is full.

        Safe to call from any thread but the event loop's own.
        """
        warned = False
        while True:
            if self._closed or self._loop is None:
                raise SessionClosed(f"session {self.id!r} is not running")
            try:
                self._inbox.put(chunk, timeout=_BACKLOG_WARNING_S)
                return
            except queue.Full:
                if not warned:
                    log.warning("session %s: processing is behind; sensor %s waits", self.id, chunk.info.name)
                    warned = True

    async def publish(self, features: list[Feature]) -> None:
        """Queue features computed outside the pipeline (face, voice) for its feature processors."""
        if self._closed or self._loop is None:
            raise SessionClosed(f"session {self.id!r} is not running")
        try:
            self._inbox.put_nowait(features)
        except queue.Full:  # wait without blocking the event loop
            await asyncio.to_thread(self._inbox.put, features)

    def report(self, kind: str, info: StreamInfo | None, t: float, **data: Any) -> None:
        """Log a status event from a sensor thread (stream lost, bad rate ...)."""
        if self._closed or self._loop is None:
            return
        if info is not None:
            data = {"stream": info.name, "modality": info.modality, **data}
        feature = Feature(kind=kind, role=info.role if info else None, t=t, data=data)
        future = asyncio.run_coroutine_threadsafe(self._emit([feature]), self._loop)
        future.add_done_callback(self._log_failure)

    async def status(self, kind: str, t: float, **data: Any) -> None:
        """Log a session-wide status event from the event loop (recording started ...)."""
        await self._emit([Feature(kind=kind, role=None, t=t, data=data)])

    def stream_seen(self, info: StreamInfo) -> None:
        """Remember a stream the session uses (for listings); safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.streams.__setitem__, info.key, info)

    # -- processing --------------------------------------------------------

    def _work(self) -> None:
        """The worker thread: process batches, hand their features to the loop, in order."""
        assert self._loop is not None
        ended = False
        while not ended:
            batch: list[Chunk | list[Feature]] = []
            item = self._inbox.get()
            while True:
                if item is _END:
                    ended = True
                    break
                batch.append(item)
                if len(batch) == _BATCH:
                    break
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
            features = self._process(batch)
            if features:
                # Waiting here keeps batches in order and passes back-pressure
                # from a slow bus (Redis) on to the sensors. A bus that is down
                # does not fail this (see _emit); anything else loses this
                # batch's events, not the session.
                future = asyncio.run_coroutine_threadsafe(self._emit(features), self._loop)
                try:
                    future.result()
                except Exception:
                    self._log_failure(future)

    def _log_failure(self, future) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("session %s: events could not be logged", self.id, exc_info=future.exception())

    async def _emit(self, features: list[Feature]) -> None:
        """Number features as events, record them (file I/O: in a worker thread), then publish them.

        The recording comes first and does not depend on the bus: while the
        bus is down (said once, by the bus) events are recorded and wait in
        the log's backlog, which the next batch after it returns sends.
        """
        async with self._recording_order:  # the recording gets events in the order of their numbers
            events: list[Event] = self.log.stamp(features)
            if events and self.recording.active:
                await asyncio.to_thread(self.recording.write_events, events)
        try:
            await self.log.flush()
        except BusUnavailable:
            pass

    def _process(self, batch: list[Chunk | list[Feature]]) -> list[Feature]:
        features: list[Feature] = []
        for item in batch:
            try:
                if isinstance(item, Chunk):
                    features.extend(self._pipeline.process(item))
                else:
                    features.extend(self._pipeline.feed(item))
            except Exception as exc:
                # A processor bug must not end the session or touch other
                # streams. The traceback goes to the service log (code paths,
                # never sample values); the monitor gets an event.
                features.append(self._failure(item, exc))
        return features

    def _failure(self, item: Chunk | list[Feature], exc: Exception) -> Feature:
        if isinstance(item, Chunk):
            source, role = item.info.name, item.info.role
            t = float(item.timestamps[-1]) if len(item) else 0.0
        else:
            source, role, t = item[0].kind if item else "features", None, item[-1].t if item else 0.0
        log.exception("session %s: processing failed on %s", self.id, source)
        return Feature(
            kind=kinds.PROCESSING_ERROR, role=role, t=t, data={"stream": source, "error": type(exc).__name__}
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for the API."""
        return {
            "id": self.id,
            "created": self.created,
            "running": self.running,
            "last_seq": self.log.last_seq,
            "participants": self.participants,
            "therapists": list(self.therapists),
            "streams": [info.to_dict() for info in self.streams.values()],
            "recording": self.recording.describe(),
        }
