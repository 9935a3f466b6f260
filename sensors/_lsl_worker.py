"""One ingested LSL stream: its inlet pulled in its own thread, with clock offsets and quality checks.

:class:`StreamWorker` is :class:`~dyadscope.sensors.lsl.LslIngest`'s helper:
it reads the ingest's settings and hands chunks and status reports back to
it (see that module's docstring for the callbacks it serves).
:class:`RateMonitor` measures the effective sample rate, :class:`Flag`
reports a problem once when it starts and once when it clears.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from dyadscope.sensors.lsl_config import configure_lsl
from dyadscope.stream import kinds
from dyadscope.stream.types import Chunk, StreamInfo

configure_lsl()
import pylsl  # noqa: E402  (liblsl must see LSLAPICFG first)
from pylsl import local_clock  # noqa: E402

if TYPE_CHECKING:
    from dyadscope.sensors.lsl import LslIngest

log = logging.getLogger("dyadscope.sensors.lsl")  # what it says is the ingest's news

_OFFSET_STEP = 5e-4  # s; a re-measured clock offset closer than this to the one in use is kept
_PULL_TIMEOUT = 0.2  # s; how long a pull waits, which bounds how long stop() waits
# Most samples one pull takes: a pull buffer is at most this many rows, whatever
# rate a header declares (raw mode checks no rate); at one pull per 0.1 s that
# still keeps up with 650 kHz.
_MAX_PULL_SAMPLES = 1 << 16


class RateMonitor:
    """Measures a stream's effective sample rate over windows of its timestamps."""

    def __init__(self, window: float = 10.0):
        self.window = window
        self._first: float | None = None
        self._count = 0

    def update(self, timestamps: np.ndarray) -> float | None:
        """Add a chunk's timestamps; the effective rate (Hz) when a window completes, else None."""
        if len(timestamps) == 0:
            return None
        if self._first is None:
            self._first = float(timestamps[0])
        self._count += len(timestamps)
        span = float(timestamps[-1]) - self._first
        if span < self.window:
            return None
        rate = (self._count - 1) / span
        self._first, self._count = float(timestamps[-1]), 1
        return rate


def full_header(lsl_info: pylsl.StreamInfo, timeout: float) -> tuple[pylsl.StreamInlet, str]:
    """An inlet on the stream and its full header (``<info>`` XML with desc), as the sender declared it."""
    inlet = pylsl.StreamInlet(lsl_info, max_buflen=360, recover=False)
    try:
        xml = inlet.info(timeout=timeout).as_xml()
    except BaseException:
        inlet.close_stream()
        raise
    return inlet, xml


class Flag:
    """A problem that is reported when it starts and when it has been clear for ``hold`` seconds."""

    def __init__(self, hold: float):
        self.hold = hold
        self.raised = False
        self._last_bad = -math.inf

    def observe(self, bad: bool, now: float) -> bool:
        """Record one observation; True when the state changes (and should be reported)."""
        if bad:
            self._last_bad = now
            if not self.raised:
                self.raised = True
                return True
        elif self.raised and now - self._last_bad >= self.hold:
            self.raised = False
            return True
        return False


class StreamWorker:
    """Pulls one inlet in its own thread until stopped or the outlet goes away."""

    def __init__(self, ingest: LslIngest, inlet: pylsl.StreamInlet, info: StreamInfo, uid: str):
        self.info = info
        self.uid = uid
        self.lost = False
        self.closed = False
        self._ingest = ingest
        self._inlet = inlet
        self.thread = threading.Thread(target=self._run, name=f"lsl-inlet {info.name}", daemon=True)

    def _status(self, kind: str, message: str, **data: Any) -> None:
        self._ingest._report(kind, self.info, message=message, **data)

    def _run(self) -> None:
        try:
            self._pull()
        except pylsl.util.LostError:
            self.closed = True
            if not self.lost:
                self._status(kinds.STREAM_LOST, f"{self.info.name}: the outlet closed", reason="closed")
        except Exception as exc:  # a worker never takes the process down
            log.exception("ingest of %s failed", self.info.name)
            self._status(kinds.STREAM_LOST, f"{self.info.name}: ingest failed: {exc}", reason="error")
        finally:
            self._inlet.close_stream()
            self._ingest._worker_ended(self)

    def _measure_offset(self, offset: float | None, timeout: float) -> float:
        """The clock offset to use from now on (reported when it changes)."""
        try:
            measured = self._inlet.time_correction(timeout=timeout)
        except pylsl.util.TimeoutError:
            return 0.0 if offset is None else offset
        if offset is not None and abs(measured - offset) < _OFFSET_STEP:
            return offset
        self._status(
            kinds.CLOCK_OFFSET,
            f"{self.info.name}: clock offset {measured * 1e3:.2f} ms",
            offset=measured,
            measured_at=local_clock(),
        )
        return measured

    def _reader(self, capacity: int) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        """A function that pulls the next chunk as (values, sender's timestamps), waiting up to ``_PULL_TIMEOUT``.

        Numeric streams land in one reused buffer (no per-chunk allocation in
        liblsl's wrapper); the values handed out are a float64 copy, or in raw
        mode a copy in the stream's own dtype. String streams come as lists of
        ``str``, made an object array.
        """
        inlet, channels = self._inlet, self.info.channel_count
        if self.info.channel_format == "string":

            def pull_strings() -> tuple[np.ndarray, np.ndarray]:
                values, stamps = inlet.pull_chunk(
                    timeout=_PULL_TIMEOUT, max_samples=capacity, min_samples=1, as_numpy=False
                )
                array = np.empty((len(values), channels), dtype=object)
                for row, sample in enumerate(values):
                    array[row] = sample
                return array, np.asarray(stamps, dtype=np.float64)

            return pull_strings
        buffer = np.empty((capacity, channels), dtype=inlet.np_dtype)
        dtype = buffer.dtype if self._ingest.raw else np.float64

        def pull_numbers() -> tuple[np.ndarray, np.ndarray]:
            values, stamps = inlet.pull_chunk(
                timeout=_PULL_TIMEOUT, max_samples=capacity, dest_obj=buffer, min_samples=1, as_numpy=True
            )
            return values.astype(dtype, copy=True), stamps

        return pull_numbers

    def _pull(self) -> None:
        ingest, info = self._ingest, self.info
        capacity = min(max(64, int(info.nominal_rate)), _MAX_PULL_SAMPLES)
        pull = self._reader(capacity)
        rate = RateMonitor(ingest.rate_window) if info.nominal_rate > 0 else None
        nan_flag, rate_flag = Flag(ingest.lost_after), Flag(0.0)
        offset = self._measure_offset(None, timeout=2.0)
        next_offset = local_clock() + ingest.offset_interval
        last_data = pulled = local_clock()
        while not ingest._stopping.is_set():
            # Fewer, larger chunks: the cost of a chunk is mostly fixed, so
            # pulling at most every pull_interval cuts it several-fold for
            # senders that push small chunks often, for that much latency.
            if ingest._stopping.wait(max(0.0, ingest.pull_interval - (local_clock() - pulled))):
                break
            values, stamps = pull()
            now = pulled = local_clock()
            if now >= next_offset:
                offset = self._measure_offset(offset, timeout=0.5)
                next_offset = now + ingest.offset_interval
            if len(stamps) == 0:
                if not self.lost and now - last_data > ingest.lost_after:
                    self.lost = True
                    self._status(
                        kinds.STREAM_LOST, f"{info.name}: no data for {now - last_data:.1f} s", reason="no data"
                    )
                continue
            last_data = now
            if self.lost:
                self.lost = False
                self._status(kinds.STREAM_RETURNED, f"{info.name}: data flows again")
            chunk = Chunk(info, stamps + offset, values)
            self._check_quality(chunk, now, rate, nan_flag, rate_flag)
            try:
                ingest._on_chunk(chunk)
            except Exception:  # the consumer's problem; keep pulling so nothing piles up in liblsl
                log.exception("on_chunk failed for %s", info.name)

    def _check_quality(
        self, chunk: Chunk, now: float, rate: RateMonitor | None, nan_flag: Flag, rate_flag: Flag
    ) -> None:
        """NaNs in floating-point values; the effective rate of a regular stream (``rate``: None if irregular)."""
        name = self.info.name
        if chunk.values.dtype.kind == "f":
            nans = int(np.isnan(chunk.values).any(axis=1).sum())
            if nan_flag.observe(nans > 0, now):
                if nan_flag.raised:
                    self._status(kinds.STREAM_QUALITY, f"{name}: {nans} of {len(chunk)} samples are NaN", problem="nan")
                else:
                    self._status(kinds.STREAM_QUALITY_OK, f"{name}: no more NaN samples", problem="nan")
        if rate is None:
            return
        effective = rate.update(chunk.timestamps)
        if effective is None:
            return
        off = effective / self.info.nominal_rate - 1.0
        if rate_flag.observe(abs(off) > self._ingest.rate_tolerance, now):
            if rate_flag.raised:
                message = (
                    f"{name}: effective sample rate {effective:.1f} Hz is {abs(off):.0%} "
                    f"{'below' if off < 0 else 'above'} the nominal {self.info.nominal_rate:g} Hz"
                )
                self._status(kinds.STREAM_QUALITY, message, problem="rate", effective_rate=effective)
            else:
                self._status(kinds.STREAM_QUALITY_OK, f"{name}: sample rate back to nominal", problem="rate")
