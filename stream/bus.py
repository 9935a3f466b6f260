"""The message bus: bounded, append-only topics read with a cursor.

The interface follows Redis Streams so that a Redis implementation can satisfy
it unchanged: ``publish`` appends a message and returns its integer id (ids
increase by one per topic unless the caller supplies its own, increasing ids);
``read`` returns the messages after a cursor, waiting up to ``timeout`` for new
ones. Each topic keeps only its newest ``maxlen`` messages, so a reader that
falls too far behind sees a jump in ids rather than holding memory hostage.

Readers never block writers or each other: a slow websocket client simply
reads from further back in the topic.

A bus that cannot be reached (Redis down) raises :class:`BusUnavailable` from
every call, fast, until it is back; callers answer "try again" (HTTP 503,
websocket close 1013) instead of failing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Protocol

Message = dict[str, Any]


class BusUnavailable(ConnectionError):
    """The bus cannot be reached right now; the same call may work later.

    Its message says why in words safe for logs and clients (never a password).
    """


class Bus(Protocol):
    """What every bus implementation offers."""

    async def publish(self, topic: str, message: Message, *, id: int | None = None) -> int:
        """Append ``message`` to ``topic``; return its id."""
        ...

    async def read(
        self, topic: str, after: int, *, limit: int = 256, timeout: float | None = None
    ) -> list[tuple[int, Message]]:
        """Messages with id > ``after``, oldest first, at most ``limit``.

        If there are none, wait up to ``timeout`` seconds (``None``: do not
        wait) for the next one.
        """
        ...

    async def bounds(self, topic: str) -> tuple[int, int]:
        """(first retained id, last id); (0, 0) for an empty topic."""
        ...

    async def delete(self, topic: str) -> None:
        """Drop a topic and its ids (a stopped session's log); waiting readers wake."""
        ...

    async def check(self) -> None:
        """Return if the bus answers now; :class:`BusUnavailable` (with the reason) if not."""
        ...

    async def close(self) -> None:
        """Release connections and wake every waiting reader."""
        ...


async def subscribe(
    bus: Bus, topic: str, after: int = 0, *, limit: int = 256, poll: float = 15.0
) -> AsyncIterator[tuple[int, Message]]:
    """Yield every message after ``after`` as it arrives, forever.

    Works on any :class:`Bus`; each subscriber holds only its cursor.
    """
    cursor = after
    while True:
        batch = await bus.read(topic, cursor, limit=limit, timeout=poll)
        for msg_id, message in batch:
            cursor = msg_id
            yield msg_id, message


class _Topic:
    __slots__ = ("messages", "last_id", "changed")

    def __init__(self, maxlen: int):
        self.messages: deque[tuple[int, Message]] = deque(maxlen=maxlen)
        self.last_id = 0
        self.changed = asyncio.Event()


class MemoryBus:
    """The embedded, single-process bus (the default)."""

    def __init__(self, maxlen: int = 10_000):
        if maxlen <= 0:
            raise ValueError(f"maxlen must be positive, got {maxlen}")
        self._maxlen = maxlen
        self._topics: dict[str, _Topic] = {}
        self._closed = False

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(self._maxlen)
        return topic

    async def publish(self, topic: str, message: Message, *, id: int | None = None) -> int:
        t = self._topic(topic)
        msg_id = t.last_id + 1 if id is None else id
        if msg_id <= t.last_id:
            raise ValueError(f"id {msg_id} is not after the last id {t.last_id} of {topic!r}")
        t.messages.append((msg_id, message))
        t.last_id = msg_id
        t.changed.set()
        t.changed = asyncio.Event()
        return msg_id

    async def read(
        self, topic: str, after: int, *, limit: int = 256, timeout: float | None = None
    ) -> list[tuple[int, Message]]:
        t = self._topic(topic)
        if t.last_id <= after and timeout and not self._closed:
            try:
                await asyncio.wait_for(t.changed.wait(), timeout)
            except TimeoutError:
                return []
        return self._after(t, after, limit)

    @staticmethod
    def _after(t: _Topic, after: int, limit: int) -> list[tuple[int, Message]]:
        if not t.messages or t.last_id <= after:
            return []
        first_id = t.messages[0][0]
        # Ids are dense unless callers supplied their own, so index arithmetic
        # usually finds the start; a scan covers the sparse case.
        start = max(0, after - first_id + 1)
        if (
            start >= len(t.messages)
            or t.messages[start][0] <= after
            or (start > 0 and t.messages[start - 1][0] > after)
        ):
            start = next(i for i, (mid, _) in enumerate(t.messages) if mid > after)
        end = min(start + limit, len(t.messages))
        return [t.messages[i] for i in range(start, end)]

    async def bounds(self, topic: str) -> tuple[int, int]:
        t = self._topic(topic)
        if not t.messages:
            return (0, t.last_id)
        return (t.messages[0][0], t.last_id)

    async def delete(self, topic: str) -> None:
        t = self._topics.pop(topic, None)
        if t is not None:
            t.changed.set()

    async def check(self) -> None:
        return  # in this process: always there

    async def close(self) -> None:
        self._closed = True
        for t in self._topics.values():
            t.changed.set()


def open_bus(url: str = "memory", maxlen: int = 10_000, *, key: bytes | None = None, ca_file: str | None = None) -> Bus:
    """The bus a configuration names: ``"memory"`` or a ``redis://`` / ``rediss://`` URL.

    A Redis bus signs every message with ``key`` and drops what it cannot
    verify (see :mod:`dyadscope.stream.redis_bus`); ``ca_file`` is the CA
    (PEM) that a ``rediss://`` server's certificate must chain to.
    """
    if url == "memory":
        return MemoryBus(maxlen)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dyadscope.stream.redis_bus import RedisBus

        if not key:
            raise ValueError("a Redis bus needs a signing key")
        return RedisBus(url, maxlen, key=key, ca_file=ca_file)
    raise ValueError(f"unknown bus {url!r}: use 'memory' or a redis:// URL")
