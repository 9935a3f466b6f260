"""Republish a recording's streams as LSL outlets, with their metadata and timing.

Each stream of the file gets an outlet with its original header (name, type,
channel count and format, rate, source_id and the whole ``<desc>``), so the
service, the demo and a research assistant see the same streams as in the
session. Samples go out in time order across streams, each stamped with its
recorded time (common clock) moved to now: ``start + (t - t0) / speed``. With
``loop`` the recording starts again after its end, timestamps carrying on.
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

import numpy as np

from dyadscope.sensors.lsl_config import configure_lsl
from dyadscope.xdf.reader import RecordedStream, merged_chunks

configure_lsl()
import pylsl  # noqa: E402  (after LSLAPICFG is set)

logger = logging.getLogger(__name__)


def _copy_desc(source: ET.Element, target: pylsl.XMLElement) -> None:
    for child in source:
        if len(child):
            _copy_desc(child, target.append_child(child.tag))
        else:
            target.append_child_value(child.tag, child.text or "")


def outlet_info(stream: RecordedStream) -> pylsl.StreamInfo:
    """An LSL stream description equal to the recorded header (``desc`` included)."""
    info = stream.info
    lsl = pylsl.StreamInfo(
        info.name,
        str(stream.header.get("type", [info.modality])[0] or ""),
        info.channel_count,
        info.nominal_rate,
        info.channel_format,
        info.source_id,
    )
    if stream.xml:
        desc = ET.fromstring(stream.xml.encode("utf-8")).find("desc")
        if desc is not None:
            _copy_desc(desc, lsl.desc())
    return lsl


class Replay:
    """Publishes ``streams`` on LSL at ``speed`` times real time, once or in a loop.

    Create it (outlets appear at once), then call :meth:`run`, which returns
    when the recording has played (or :meth:`stop` is called).
    """

    def __init__(
        self, streams: Sequence[RecordedStream], *, speed: float = 1.0, loop: bool = False, step: float = 0.02
    ):
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.streams = list(streams)
        self.speed = speed
        self.loop = loop
        self.step = step
        self.outlets = [pylsl.StreamOutlet(outlet_info(s)) for s in self.streams]
        # chunks carry their stream's own StreamInfo object, so its identity finds the outlet
        self._outlet_of = {id(s.info): o for s, o in zip(self.streams, self.outlets)}
        self._stop = threading.Event()
        playing = [s for s in self.streams if len(s)]
        self.t0 = min((float(s.timestamps[0]) for s in playing), default=0.0)
        t_end = max((float(s.timestamps[-1]) for s in playing), default=0.0)
        periods = [1.0 / s.info.nominal_rate for s in playing if s.info.nominal_rate > 0]
        self.span = t_end - self.t0 + min(periods, default=0.0)  # one pass, end to next start
        self.samples_sent = 0

    def wait_for_consumers(self, timeout: float) -> bool:
        """Wait until every outlet has a consumer (e.g. a recorder); True if they all do."""
        return all(outlet.wait_for_consumers(timeout) for outlet in self.outlets)

    def stop(self) -> None:
        """Make :meth:`run` return soon."""
        self._stop.set()

    def run(self, clock: Callable[[], float] = pylsl.local_clock) -> int:
        """Play the recording (repeatedly with ``loop``); returns the number of samples sent."""
        start = clock()
        passes = 0
        while not self._stop.is_set():
            shift = start + passes * self.span / self.speed
            for chunk in merged_chunks(self.streams, self.step):
                stamps = shift + (chunk.timestamps - self.t0) / self.speed
                delay = stamps[0] - clock()
                if delay > 0 and self._stop.wait(delay):
                    return self.samples_sent
                self._push(chunk.info, stamps, chunk.values)
            passes += 1
            if not self.loop or self.span <= 0:
                break
        return self.samples_sent

    def _push(self, info, stamps: np.ndarray, values: np.ndarray) -> None:
        outlet = self._outlet_of[id(info)]
        if info.channel_format == "string":
            outlet.push_chunk([[str(v) for v in row] for row in values], stamps.tolist())
        else:
            outlet.push_chunk(values, stamps.tolist())
        self.samples_sent += len(stamps)

    def close(self) -> None:
        """Withdraw the outlets."""
        self.stop()
        self.outlets.clear()

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def replay_streams(
    streams: Sequence[RecordedStream], *, speed: float = 1.0, loop: bool = False, wait_for: float = 0.0
) -> int:
    """Replay a loaded recording's streams (:func:`~dyadscope.xdf.reader.load_xdf`).

    Waits up to ``wait_for`` seconds for consumers first; returns the number of samples sent.
    """
    with Replay(streams, speed=speed, loop=loop) as replay:
        logger.info("replaying %d streams at %gx%s", len(streams), speed, " in a loop" if loop else "")
        if wait_for > 0:
            replay.wait_for_consumers(wait_for)
        return replay.run()
