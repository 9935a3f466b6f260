"""The per-session event log: features become numbered events on the bus.

Every feature or status change gets the session's next sequence number and the
wall-clock time it left the processor, then goes to the session's events topic.
The topic is bounded, so the log is too; a monitor that reconnects reads
everything after the last ``seq`` it saw.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from dyadscope.stream.bus import Bus
from dyadscope.stream.types import Event, Feature, Role

log = logging.getLogger(__name__)


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
    """Numbers a session's features and publishes them as events, in order.

    Features come from several places at once (the pipeline's worker, sensor
    threads, the API). :meth:`stamp` numbers them at once (no await, so no
    two callers can interleave) and queues them for the bus; :meth:`flush`
    publishes the queue under one lock, so events reach the bus in the order
    of their numbers. While the bus is down the queue keeps up to ``backlog``
    events (the oldest beyond that never reach the bus, counted in
    :attr:`lost`) and the next flush after it returns sends them.
    """

    def __init__(self, session_id: str, bus: Bus, clock: Callable[[], float] = time.time, *, backlog: int = 20_000):
        self.session_id = session_id
        self.topic = events_topic(session_id)
        self._bus = bus
        self._stamper = EventStamper(session_id, clock)
        self._lock = asyncio.Lock()
        self._unsent: deque[Event] = deque()
        self._backlog = backlog
        #: Events that never reached the bus (the backlog overflowed).
        self.lost = 0

    @property
    def last_seq(self) -> int:
        return self._stamper.last_seq

    @property
    def unsent(self) -> int:
        """Events numbered but not yet on the bus."""
        return len(self._unsent)

    async def resume(self) -> None:
        """Number on from what the bus already holds (a service restarted on Redis)."""
        self._stamper.last_seq = (await self._bus.bounds(self.topic))[1]

    def stamp(self, features: list[Feature]) -> list[Event]:
        """Number ``features`` and queue them for the bus; the events they became."""
        events = [self._stamper.stamp(feature) for feature in features]
        self._unsent.extend(events)
        overflow = len(self._unsent) - self._backlog
        if overflow > 0:
            if not self.lost:
                log.warning(
                    "session %s: the bus has been away too long; the oldest events reach only the recording",
                    self.session_id,
                )
            for _ in range(overflow):
                self._unsent.popleft()
            self.lost += overflow
        return events

    async def flush(self) -> None:
        """Publish the queued events, oldest first; :class:`BusUnavailable` (keeping the rest) if the bus is down."""
        async with self._lock:
            while self._unsent:
                event = self._unsent[0]
                try:
                    await self._bus.publish(self.topic, event.to_dict(), id=event.seq)
                except ValueError:
                    pass  # the bus holds this number already: its reply was lost as Redis went away
                self._unsent.popleft()

    async def emit(self, feature: Feature) -> Event:
        """Log one feature and publish it (with any backlog); returns the event it became."""
        [event] = self.stamp([feature])
        await self.flush()
        return event

    async def status(self, kind: str, t: float, role: Role | None = None, **data) -> Event:
        """Log a status change (stream lost, bad rate ...)."""
        return await self.emit(Feature(kind=kind, role=role, t=t, data=data))
