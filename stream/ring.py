"""Fixed-capacity ring buffers: the only way a processor keeps history.

A session's memory must not grow with its length, so every window is one of
these: appending is O(new samples), reading the newest ``n`` is one copy.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """The newest ``capacity`` rows of a stream of samples.

    Rows are scalars (``channels=None``) or vectors of ``channels`` values.
    ``total`` counts every row ever appended, so callers can address samples
    by absolute index: row ``i`` is still held while ``total - len(self) <= i``.
    """

    def __init__(self, capacity: int, channels: int | None = None, dtype: np.dtype | type = np.float64):
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        shape = (capacity,) if channels is None else (capacity, channels)
        self._data = np.zeros(shape, dtype=dtype)
        self._capacity = capacity
        self._head = 0  # next write position
        self._size = 0
        self.total = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return self._size

    def extend(self, rows: np.ndarray) -> None:
        """Append rows (oldest first); only the newest ``capacity`` are kept."""
        rows = np.asarray(rows, dtype=self._data.dtype)
        if rows.shape[1:] != self._data.shape[1:]:
            raise ValueError(f"row shape {rows.shape[1:]} does not match buffer {self._data.shape[1:]}")
        n = rows.shape[0]
        self.total += n
        if n >= self._capacity:
            self._data[...] = rows[-self._capacity :]
            self._head = 0
            self._size = self._capacity
            return
        end = self._head + n
        if end <= self._capacity:
            self._data[self._head : end] = rows
        else:
            split = self._capacity - self._head
            self._data[self._head :] = rows[:split]
            self._data[: n - split] = rows[split:]
        self._head = end % self._capacity
        self._size = min(self._size + n, self._capacity)

    def append(self, row: np.ndarray | float) -> None:
        """Append one row."""
        self.extend(np.asarray(row, dtype=self._data.dtype)[None, ...])

    def latest(self, n: int | None = None) -> np.ndarray:
        """A copy of the newest ``n`` rows (all held rows if ``n`` is None), oldest first."""
        n = self._size if n is None else min(n, self._size)
        start = (self._head - n) % self._capacity
        if start + n <= self._capacity:
            return self._data[start : start + n].copy()
        return np.concatenate((self._data[start:], self._data[: (start + n) % self._capacity]))

    def since(self, index: int) -> np.ndarray:
        """Rows with absolute index ``>= index`` that are still held, oldest first."""
        return self.latest(max(0, self.total - max(index, self.total - self._size)))

    def clear(self) -> None:
        """Forget every row (``total`` keeps counting)."""
        self._head = 0
        self._size = 0
