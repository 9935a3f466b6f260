"""Shared helpers of the tests on real LSL streams: tagged streams, what the ingest says, waiting for threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from dyadscope.sensors.lsl import LslIngest, local_clock
from dyadscope.stream.types import Chunk, StreamInfo


def wait_for(condition: Callable[[], Any], timeout: float = 8.0, what: str = "condition not met") -> Any:
    """Poll until ``condition()`` is truthy and return it; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"{what} (within {timeout} s)")


class Collector:
    """Gathers what the ingest calls back with, from its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.chunks: dict[str, list[Chunk]] = {}
        self.statuses: list[tuple[str, StreamInfo, dict[str, Any]]] = []

    def on_chunk(self, chunk: Chunk) -> None:
        with self._lock:
            self.chunks.setdefault(chunk.info.source_id, []).append(chunk)

    def on_status(self, kind: str, info: StreamInfo, data: dict[str, Any]) -> None:
        with self._lock:
            self.statuses.append((kind, info, data))

    def samples(self, source_id: str) -> int:
        with self._lock:
            return sum(len(c) for c in self.chunks.get(source_id, []))

    def status(self, kind: str, source_id: str) -> dict[str, Any] | None:
        """The data of the latest status ``kind`` about the stream, or None."""
        with self._lock:
            found = [d for k, info, d in self.statuses if k == kind and info.source_id == source_id]
        return found[-1] if found else None


def ingest_of(
    tag: str, collector: Collector, on_chunk: Callable[[Chunk], None] | None = None, **options: Any
) -> LslIngest:
    """An ingest of the streams tagged ``tag`` only, reporting to ``collector``."""
    options.setdefault("resolve_interval", 0.3)
    return LslIngest(
        on_chunk or collector.on_chunk, collector.on_status, select=lambda info: tag in info.source_id, **options
    )


class SignalSource:
    """One stream whose samples come at ``actual_rate`` (whatever it declares), values from ``fn``."""

    def __init__(self, info: StreamInfo, actual_rate: float, fn: Callable[[np.ndarray], np.ndarray]):
        self.info = info
        self.start_time = local_clock()
        self.paused = False
        self._rate = actual_rate
        self._fn = fn
        self._sent = 0

    def stream_infos(self) -> list[StreamInfo]:
        return [self.info]

    def read_until(self, until: float) -> Sequence[Chunk]:
        end = int((until - self.start_time) * self._rate)
        if self.paused:
            self._sent = max(self._sent, end)
            return []
        n = np.arange(self._sent, max(self._sent, end))
        self._sent = max(self._sent, end)
        values = np.broadcast_to(self._fn(n)[:, None], (len(n), self.info.channel_count)).copy()
        return [Chunk(self.info, self.start_time + n / self._rate, values)]


def stream_info(tag: str, name: str, modality: str, role: str | None = "patient", **fields: Any) -> StreamInfo:
    """A stream tagged ``tag`` (in name and source_id), 100 Hz and one channel unless told."""
    fields.setdefault("nominal_rate", 100.0)
    fields.setdefault("channel_count", 1)
    return StreamInfo(name=f"{name} {tag}", modality=modality, role=role, source_id=f"{name}-{tag}", **fields)
