"""A live session: chunks in, processed off the event loop, events out.

Sensors call :meth:`Session.submit` from their own threads; media pipelines,
which run on the event loop, hand over their features with
:meth:`Session.publish`. Both wait in one bounded queue, so the pipeline sees
everything in one order; when it is full the sender waits (back-pressure: LSL
buffers upstream, so physiology is never dropped). One task per session takes
items in batches and runs the pipeline in a worker thread, so the event loop
only moves data. Every feature becomes a numbered event in the session's log,
and, while the session records (:attr:`Session.recording`), goes into the
recording too, from a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from dyadscope.stream.bus import Bus
from dyadscope.stream.events import EventLog
from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.types import Chunk, Event, Feature, Role, StreamInfo

from .recording import SessionRecording

log = logging.getLogger(__name__)

#: How long a sensor thread waits on a full queue before saying so.
_BACKLOG_WARNING_S = 1.0
#: Chunks processed per worker-thread call at most.
_BATCH = 64


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
        participants: dict[Role, str] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.id = session_id
        #: Pseudonymous participant id per role (may be empty).
        self.participants: dict[Role, str] = dict(participants or {})
        self.created = clock()
        self.log = EventLog(session_id, bus, clock)
        self.recording = recording
        self._pipeline = pipeline
        self._queue: asyncio.Queue[Chunk | list[Feature]] = asyncio.Queue(maxsize=queue_length)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.streams: dict[str, StreamInfo] = {}
        #: Sensors to stop before the session (LSL ingest, WebRTC peers).
        self._stoppers: list[Callable[[], Awaitable[Any]]] = []

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Begin processing; must be called from the event loop."""
        self._loop = asyncio.get_running_loop()
        await self.log.resume()
        self._task = asyncio.create_task(self._run(), name=f"session-{self.id}")

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
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    @property
    def running(self) -> bool:
        return self._task is not None and not self._closed

    # -- entry points for sensor threads -----------------------------------

    def submit(self, chunk: Chunk) -> None:
        """Queue a chunk for processing; blocks the caller while the queue is full.

        Safe to call from any thread but the event loop's own.
        """
        if self._closed or self._loop is None:
            raise SessionClosed(f"session {self.id!r} is not running")
        future = asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop)
        try:
            future.result(timeout=_BACKLOG_WARNING_S)
        except FutureTimeout:
            log.warning("session %s: processing is behind; sensor %s waits", self.id, chunk.info.name)
            future.result()

    async def publish(self, features: list[Feature]) -> None:
        """Queue features computed outside the pipeline (face, voice) for its feature processors."""
        if self._closed or self._loop is None:
            raise SessionClosed(f"session {self.id!r} is not running")
        await self._queue.put(features)

    def report(self, kind: str, info: StreamInfo | None, t: float, **data: Any) -> None:
        """Log a status event from a sensor thread (stream lost, bad rate ...)."""
        if self._closed or self._loop is None:
            return
        if info is not None:
            data = {"stream": info.name, "modality": info.modality, **data}
        feature = Feature(kind=kind, role=info.role if info else None, t=t, data=data)
        asyncio.run_coroutine_threadsafe(self._emit([feature]), self._loop)

    async def status(self, kind: str, t: float, **data: Any) -> None:
        """Log a session-wide status event from the event loop (recording started ...)."""
        await self._emit([Feature(kind=kind, role=None, t=t, data=data)])

    def stream_seen(self, info: StreamInfo) -> None:
        """Remember a stream the session uses (for listings)."""
        self.streams[info.key] = info

    # -- processing --------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch: list[Chunk | list[Feature]] = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                features = await asyncio.to_thread(self._process, batch)
                await self._emit(features)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _emit(self, features: list[Feature]) -> None:
        """Log features as events, then hand them to the recording (file I/O: in a worker thread)."""
        events: list[Event] = [await self.log.emit(feature) for feature in features]
        if events and self.recording.active:
            await asyncio.to_thread(self.recording.write_events, events)

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
        return Feature(kind="processing_error", role=role, t=t, data={"stream": source, "error": type(exc).__name__})

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for the API."""
        return {
            "id": self.id,
            "created": self.created,
            "running": self.running,
            "last_seq": self.log.last_seq,
            "participants": self.participants,
            "streams": [info.to_dict() for info in self.streams.values()],
            "recording": self.recording.describe(),
        }
