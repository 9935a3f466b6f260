"""The per-session event log: features become numbered events on the bus.

Every feature or status change gets the session's next sequence number and the
wall-clock time it left the processor, then goes to the session's events topic.
The topic is bounded, so the log is too; a monitor that reconnects reads
everything after the last ``seq`` it saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from dyadscope.stream.bus import Bus
from dyadscope.stream.types import Event, Feature, Role


def events_topic(session_id: str) -> str:
    """The bus topic that holds a session's events."""
    return f"session:{session_id}:events"


class EventStamper:
    """Gives a session's features their sequence number and emit time."""

    def __init__(self, session_id: str, clock: Callable[[], float] = time.time):
        self.session_id = session_id
        self._clock = clock
        self.last_seq = 0

    def stamp(self, feature: Feature) -> Event:
        """The next event of the session."""
        self.last_seq += 1
        return Event(
            session=self.session_id,
            seq=self.last_seq,
            t=feature.t,
            t_emit=self._clock(),
            kind=feature.kind,
            role=feature.role,
            data=feature.data,
        )


class EventLog:
    """Numbers a session's features and publishes them as events.

    Features come from several places at once (the pipeline's worker, sensor
    threads, the API), so numbering and publishing happen under one lock:
    events reach the bus in the order of their numbers.
    """

    def __init__(self, session_id: str, bus: Bus, clock: Callable[[], float] = time.time):
        self.session_id = session_id
        self.topic = events_topic(session_id)
        self._bus = bus
        self._stamper = EventStamper(session_id, clock)
        self._lock = asyncio.Lock()

    @property
    def last_seq(self) -> int:
        return self._stamper.last_seq

    async def resume(self) -> None:
        """Number on from what the bus already holds (a service restarted on Redis)."""
        self._stamper.last_seq = (await self._bus.bounds(self.topic))[1]

    async def emit(self, feature: Feature) -> Event:
        """Log one feature; returns the event it became."""
        async with self._lock:
            event = self._stamper.stamp(feature)
            await self._bus.publish(self.topic, event.to_dict(), id=event.seq)
        return event

    async def status(self, kind: str, t: float, role: Role | None = None, **data) -> Event:
        """Log a status change (stream lost, bad rate, recording started ...)."""
        return await self.emit(Feature(kind=kind, role=role, t=t, data=data))
