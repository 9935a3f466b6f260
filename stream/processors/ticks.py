"""Periodic outputs on data time, and gap-free input for recursive filters.

Processors that report "at least once a second" do so on the data's own
clock, never on the wall clock: a :class:`Ticker` marks the samples (or, for
feature processors, the features) at which an output is due, on a grid of
multiples of the period, so patient and therapist outputs line up and the
same ticks fall on the same samples however a stream is chunked. Every
periodic output of the processors goes through it. :class:`ForwardFill` keeps NaNs (dropped samples) out of
stateful filters, which a single NaN would poison for good.
"""

from __future__ import annotations

import math

import numpy as np


class Ticker:
    """When an output is due, every ``period`` seconds of data time, on the grid of multiples of ``period``.

    Chunk processors ask :meth:`due` which samples of a chunk are due: a tick
    falls on the first sample at or after each multiple of ``period`` (never
    on a stream's very first sample). Feature processors, whose inputs are
    single features, ask :meth:`ready` whether a feature's time reached the
    next multiple (the first feature always has, unless :meth:`start` began
    the grid without an output) and call :meth:`advance` once they did
    output. After a gap longer than the period, the missed ticks are skipped
    rather than emitted in a burst.
    """

    def __init__(self, period: float):
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self.period = float(period)
        self._next: float | None = None

    def due(self, timestamps: np.ndarray) -> list[int]:
        """Indices into ``timestamps`` (increasing) at which a tick falls."""
        n = timestamps.shape[0]
        if n == 0:
            return []
        self.start(float(timestamps[0]))
        out: list[int] = []
        i = int(np.searchsorted(timestamps, self._next, side="left"))
        while i < n:
            out.append(i)
            self.advance(float(timestamps[i]))
            i = int(np.searchsorted(timestamps, self._next, side="left"))
        return out

    def start(self, t: float) -> None:
        """Begin the grid at data time ``t`` with no output there (no-op once begun)."""
        if self._next is None:
            self._next = self._after(t)

    def ready(self, t: float) -> bool:
        """Whether data time ``t`` reached the next tick (always, before the first output)."""
        return self._next is None or t >= self._next

    def advance(self, t: float) -> None:
        """An output was made at data time ``t``: the next tick is the first multiple after it."""
        after = self._after(t)
        self._next = after if self._next is None else max(self._next + self.period, after)

    def _after(self, t: float) -> float:
        return (math.floor(t / self.period) + 1) * self.period


class ForwardFill:
    """Replaces NaNs by the last finite value seen (across chunks), as NeuroKit2's cleaning does."""

    def __init__(self) -> None:
        self._last = math.nan

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x`` with every NaN replaced by the finite value before it (the first finite one at the start)."""
        x = np.asarray(x, dtype=np.float64)
        bad = ~np.isfinite(x)
        if not bad.any():
            if x.shape[0]:
                self._last = float(x[-1])
            return x
        good_idx = np.where(~bad, np.arange(x.shape[0]), -1)
        np.maximum.accumulate(good_idx, out=good_idx)
        prefix = np.concatenate(([self._last], x))
        filled = prefix[good_idx + 1]
        if math.isnan(self._last) and (~bad).any():
            filled[good_idx < 0] = x[~bad][0]
        self._last = float(filled[-1]) if x.shape[0] else self._last
        return filled


def contiguous_runs(t: np.ndarray, gap_s: float) -> list[slice]:
    """Slices of the timestamps ``t`` with no step longer than ``gap_s`` inside them."""
    cuts = (np.flatnonzero(np.diff(t) > gap_s) + 1).tolist()
    bounds = [0, *cuts, t.shape[0]]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
