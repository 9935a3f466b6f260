"""The rig's live view of each raw stream: a decimated trace and the stream's counters.

:class:`StreamPreview` follows one stream's chunks (in the ingest's thread)
and, every ``every_s`` seconds of data time, gives a ``stream_preview``
event's data: the signal of channel 0 as the lowest and highest value per
``1 / points_per_s`` bin (an envelope that keeps R-peaks visible at 20 bins
a second), the samples received so far, the effective rate over the last
``rate_window_s`` seconds of timestamps against the nominal rate, and the
dropouts (samples missing from gaps in the timestamps).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from dyadscope.stream.types import Chunk, StreamInfo

#: A gap in timestamps longer than this many sample periods counts as dropped samples.
GAP_PERIODS = 1.5


class StreamPreview:
    """Decimates one stream for the rig page and counts what arrived; see the module."""

    def __init__(self, info: StreamInfo, *, every_s: float = 0.5, points_per_s: float = 20.0, rate_window_s=10.0):
        self.info = info
        self.every_s = every_s
        self.bin_s = 1.0 / points_per_s
        self.rate_window_s = rate_window_s
        self.samples = 0
        self.dropouts = 0
        self._last_t: float | None = None
        self._ends: deque[tuple[float, int]] = deque()  # (last timestamp, samples so far) per chunk
        self._t: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._since: float | None = None

    def add(self, chunk: Chunk) -> dict[str, Any] | None:
        """Take a chunk; the preview's data when ``every_s`` of data time has gathered, else None."""
        n = len(chunk)
        if n == 0 or chunk.values.dtype.kind not in "fiu":
            return None
        stamps = np.asarray(chunk.timestamps, dtype=np.float64)
        self._count(stamps)
        self._t.append(stamps)
        self._v.append(np.asarray(chunk.values[:, 0], dtype=np.float64))
        if self._since is None:
            self._since = float(stamps[0])
        if float(stamps[-1]) - self._since < self.every_s:
            return None
        return self._flush()

    def _count(self, stamps: np.ndarray) -> None:
        rate = self.info.nominal_rate
        if rate > 0:
            edges = np.diff(stamps if self._last_t is None else np.concatenate(([self._last_t], stamps)))
            gaps = edges[edges > GAP_PERIODS / rate]
            self.dropouts += int(np.round(gaps * rate).sum() - len(gaps))
        self._last_t = float(stamps[-1])
        self.samples += len(stamps)
        self._ends.append((self._last_t, self.samples))
        while len(self._ends) > 2 and self._last_t - self._ends[1][0] >= self.rate_window_s:
            self._ends.popleft()

    def effective_rate(self) -> float | None:
        """Samples per second over the last ``rate_window_s`` of timestamps (None before two chunks)."""
        (t0, n0), (t1, n1) = self._ends[0], self._ends[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else None

    def _flush(self) -> dict[str, Any]:
        t, v = np.concatenate(self._t), np.concatenate(self._v)
        self._t, self._v, self._since = [], [], None
        t0 = math.floor(t[0] / self.bin_s) * self.bin_s
        bins = ((t - t0) / self.bin_s).astype(np.int64)
        count = int(bins[-1]) + 1
        lo, hi = np.full(count, np.inf), np.full(count, -np.inf)
        finite = np.isfinite(v)
        np.minimum.at(lo, bins[finite], v[finite])
        np.maximum.at(hi, bins[finite], v[finite])
        empty = ~np.isfinite(lo)
        rate = self.effective_rate()
        return {
            "t0": float(t0),
            "dt": self.bin_s,
            "lo": [None if e else round(float(x), 6) for x, e in zip(lo, empty)],
            "hi": [None if e else round(float(x), 6) for x, e in zip(hi, empty)],
            "samples": self.samples,
            "effective_rate": None if rate is None else round(rate, 3),
            "nominal_rate": self.info.nominal_rate,
            "dropouts": self.dropouts,
        }
