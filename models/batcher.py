"""Micro-batching: requests from many streams and sessions share one inference.

Callers submit one item and get a future. A worker thread takes the first
waiting item, gathers more until ``max_batch`` items or ``max_wait_ms`` have
passed, runs them as one batch and resolves every future. The event loop only
awaits futures; the model runs in the worker thread (ONNX Runtime releases the
GIL), so the loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Inference times kept for the percentile in :class:`BatcherMetrics`.
_TIMING_WINDOW = 512


@dataclass(frozen=True)
class BatcherMetrics:
    """A snapshot of one batcher's counters."""

    name: str
    queue_depth: int
    batches: int
    items: int
    mean_batch_size: float
    last_batch_size: int
    inference_ms_mean: float
    inference_ms_p95: float
    errors: int


class MicroBatcher(Generic[Item, Result]):
    """Runs ``run_batch(items) -> results`` on batches gathered across callers."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], Sequence[Result]],
        *,
        max_batch: int = 8,
        max_wait_ms: float = 4.0,
        name: str = "model",
    ):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must not be negative, got {max_wait_ms}")
        self.name = name
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self._run_batch = run_batch
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]] | None] = queue.SimpleQueue()
        self._batches = 0
        self._items = 0
        self._errors = 0
        self._last_batch = 0
        self._timings: deque[float] = deque(maxlen=_TIMING_WINDOW)
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def submit_threadsafe(self, item: Item) -> Future[Result]:
        """Queue one item from any thread; the future resolves to its result."""
        if self._closed:
            raise RuntimeError(f"batcher {self.name!r} is closed")
        future: Future[Result] = Future()
        self._queue.put((item, future))
        return future

    async def submit(self, item: Item) -> Result:
        """Queue one item from the event loop and await its result."""
        return await asyncio.wrap_future(self.submit_threadsafe(item))

    def close(self) -> None:
        """Finish the queued items, then stop the worker thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    @property
    def metrics(self) -> BatcherMetrics:
        """Queue depth, batch sizes and inference times so far."""
        timings = np.asarray(self._timings) * 1000.0
        return BatcherMetrics(
            name=self.name,
            queue_depth=self._queue.qsize(),
            batches=self._batches,
            items=self._items,
            mean_batch_size=self._items / self._batches if self._batches else 0.0,
            last_batch_size=self._last_batch,
            inference_ms_mean=float(timings.mean()) if timings.size else 0.0,
            inference_ms_p95=float(np.percentile(timings, 95)) if timings.size else 0.0,
            errors=self._errors,
        )

    def _gather(self, first: tuple[Item, Future[Result]]) -> tuple[list[tuple[Item, Future[Result]]], bool]:
        """The first request plus whatever arrives before the batch is full or the wait ends."""
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                request = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
        return batch, False

    def _work(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch, stop = self._gather(first)
            live = [(item, fut) for item, fut in batch if fut.set_running_or_notify_cancel()]
            if not live:
                continue
            started = time.perf_counter()
            try:
                results = self._run_batch([item for item, _ in live])
            except Exception as exc:  # the callers get the error, the worker goes on
                self._errors += 1
                log.exception("batcher %s: a batch of %d failed", self.name, len(live))
                for _, fut in live:
                    fut.set_exception(exc)
                continue
            self._timings.append(time.perf_counter() - started)
            self._batches += 1
            self._items += len(live)
            self._last_batch = len(live)
            for (_, fut), result in zip(live, results, strict=True):
                fut.set_result(result)
