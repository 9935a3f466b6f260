"""A live session: chunks in, processed off the event loop, events out.

Sensors call :meth:`Session.submit` from their own threads. Chunks wait in a
bounded queue; when it is full the sensor's thread waits (back-pressure: LSL
buffers upstream, so physiology is never dropped). One task per session takes
chunks in batches and runs the pipeline in a worker thread, so the event loop
only moves data. Every feature becomes a numbered event in the session's log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from dyadscope.stream.bus import Bus
from dyadscope.stream.events import EventLog
from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.types import Chunk, Feature, StreamInfo

log = logging.getLogger(__name__)

#: How long a sensor thread waits on a full queue before saying so.
_BACKLOG_WARNING_S = 1.0
#: Chunks processed per worker-thread call at most.
_BATCH = 64


class SessionClosed(RuntimeError):
    """Raised to a sensor thread that submits to a stopped session."""


class Session:
    """One monitoring session: its pipeline, its ingest queue and its event log."""

    def __init__(
        self,
        session_id: str,
        bus: Bus,
        pipeline: Pipeline,
        *,
        queue_length: int = 256,
        clock: Callable[[], float] = time.time,
    ):
        self.id = session_id
        self.created = clock()
        self.log = EventLog(session_id, bus, clock)
        self._pipeline = pipeline
        self._queue: asyncio.Queue[Chunk] = asyncio.Queue(maxsize=queue_length)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.streams: dict[str, StreamInfo] = {}
        #: Extra things to stop with the session (sensor ingests, publishers).
        self._stoppers: list[Callable[[], Any]] = []

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Begin processing; must be called from the event loop."""
        self._loop = asyncio.get_running_loop()
        await self.log.resume()
        self._task = asyncio.create_task(self._run(), name=f"session-{self.id}")

    def on_stop(self, stopper: Callable[[], Any]) -> None:
        """Call ``stopper`` (in a worker thread) when the session stops."""
        self._stoppers.append(stopper)

    async def stop(self) -> None:
        """Stop sensors first, then process what they delivered, then finish."""
        if self._closed:
            return
        for stopper in reversed(self._stoppers):
            await asyncio.to_thread(stopper)
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

    def report(self, kind: str, info: StreamInfo | None, t: float, **data: Any) -> None:
        """Log a status event from a sensor thread (stream lost, bad rate ...)."""
        if self._closed or self._loop is None:
            return
        if info is not None:
            data = {"stream": info.name, "modality": info.modality, **data}
        feature = Feature(kind=kind, role=info.role if info else None, t=t, data=data)
        asyncio.run_coroutine_threadsafe(self.log.emit(feature), self._loop)

    def stream_seen(self, info: StreamInfo) -> None:
        """Remember a stream the session uses (for listings)."""
        self.streams[info.key] = info

    # -- processing --------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                features = await asyncio.to_thread(self._process, batch)
                await self.log.emit_all(features)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _process(self, batch: list[Chunk]) -> list[Feature]:
        features: list[Feature] = []
        for chunk in batch:
            try:
                features.extend(self._pipeline.process(chunk))
            except Exception as exc:
                # A processor bug must not end the session or touch other
                # streams. The traceback goes to the service log (code paths,
                # never sample values); the monitor gets an event.
                log.exception("session %s: processing failed on stream %s", self.id, chunk.info.name)
                t = float(chunk.timestamps[-1]) if len(chunk) else 0.0
                features.append(
                    Feature(
                        kind="processing_error",
                        role=chunk.info.role,
                        t=t,
                        data={"stream": chunk.info.name, "error": type(exc).__name__},
                    )
                )
        return features

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for the API."""
        return {
            "id": self.id,
            "created": self.created,
            "running": self.running,
            "last_seq": self.log.last_seq,
            "streams": [info.to_dict() for info in self.streams.values()],
        }
