"""Publishing chunks as LSL outlets in real time: the simulated dyad, or any chunk source.

A :class:`ChunkSource` says which streams it has and hands out the samples up
to a time; :class:`LslPublisher` opens one outlet per stream and, from a
background thread, pushes what the source has up to "now" every few tens of
milliseconds, with explicit per-sample timestamps on ``pylsl.local_clock()``.
The role travels in the stream's ``<desc>`` (see :func:`lsl_stream_info`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from dyadscope.sensors.lsl_config import configure_lsl
from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf import schema

configure_lsl()
import pylsl  # noqa: E402  (liblsl must see LSLAPICFG first)

log = logging.getLogger(__name__)


class ChunkSource(Protocol):
    """Something that produces chunks on demand, on its own time base."""

    #: The source time that corresponds to the moment publishing starts.
    start_time: float

    def stream_infos(self) -> list[StreamInfo]:
        """The streams it produces."""
        ...

    def read_until(self, until: float) -> Sequence[Chunk]:
        """Every sample with timestamp < ``until`` not handed out before."""
        ...


def lsl_stream_info(
    info: StreamInfo, *, manufacturer: str = "DyadScope", model: str = "simulated dyad"
) -> pylsl.StreamInfo:
    """The LSL header of a stream: ``type`` = modality, the role and channels in ``desc``.

    ``<desc><role>patient</role><channels><channel><label/><unit/><type/></channel>...``
    ``</channels><acquisition><manufacturer/><model/></acquisition></desc>``.
    """
    lsl_info = pylsl.StreamInfo(
        info.name,
        info.modality,
        info.channel_count,
        info.nominal_rate,
        info.channel_format,
        info.source_id,
    )
    desc = lsl_info.desc()
    if info.role is not None:
        desc.append_child_value(schema.ROLE, info.role)
    channels = desc.append_child("channels")
    for fields in schema.channel_fields(info):
        channel = channels.append_child("channel")
        for name, value in fields.items():
            if value is not None:  # a channel without a unit says none
                channel.append_child_value(name, value)
    acquisition = desc.append_child("acquisition")
    acquisition.append_child_value("manufacturer", manufacturer)
    acquisition.append_child_value("model", model)
    return lsl_info


class LslPublisher:
    """Pushes a :class:`ChunkSource` to LSL outlets in real time, from a background thread.

    Outlets open in :meth:`start` (so the streams are discoverable when it
    returns) and close in :meth:`stop`. Source time ``start_time`` maps to the
    ``local_clock()`` reading at :meth:`start`; build the source with
    ``start_time=pylsl.local_clock()`` to publish its timestamps unchanged.
    With ``duration`` the thread stops pushing after that many seconds.
    """

    def __init__(self, source: ChunkSource, *, interval: float = 0.02, duration: float | None = None):
        self._source = source
        self._interval = interval
        self._duration = duration
        self._outlets: dict[str, pylsl.StreamOutlet] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._offset = 0.0

    @property
    def offset(self) -> float:
        """Seconds added to the source's timestamps to put them on ``local_clock`` (set by :meth:`start`)."""
        return self._offset

    @property
    def streams(self) -> list[StreamInfo]:
        """The streams published."""
        return self._source.stream_infos()

    def start(self) -> None:
        """Open the outlets and start pushing."""
        if self._thread is not None:
            raise RuntimeError("publisher already started")
        for info in self._source.stream_infos():
            self._outlets[info.key] = pylsl.StreamOutlet(lsl_stream_info(info))
        self._offset = pylsl.local_clock() - self._source.start_time
        self._thread = threading.Thread(target=self._run, name="lsl-publisher", daemon=True)
        self._thread.start()

    def consumers(self) -> dict[str, bool]:
        """Per stream key, whether an inlet is connected to its outlet now."""
        return {key: outlet.have_consumers() for key, outlet in self._outlets.items()}

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the pushing to end (duration reached or stopped); True if it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop pushing and close the outlets (their inlets see the streams go)."""
        self._stop.set()
        self.wait()
        self._outlets.clear()

    def __enter__(self) -> LslPublisher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        began = pylsl.local_clock()
        while not self._stop.wait(self._interval):
            now = pylsl.local_clock()
            if self._duration is not None and now - began >= self._duration:
                now = began + self._duration
                self._stop.set()
            for chunk in self._source.read_until(now - self._offset):
                if len(chunk):
                    stamps = (chunk.timestamps + self._offset).tolist()
                    self._outlets[chunk.info.key].push_chunk(chunk.values, stamps)
        log.debug("publisher stopped after %.1f s", pylsl.local_clock() - began)
