"""One reader of a bus topic, shared by all the clients of a process.

A :class:`Fanout` follows a topic and keeps its retained messages encoded
(each encoded once, however many clients take it). A client holds only a
cursor and takes the encoded text after it in bounded batches, so neither a
client that falls behind nor one that resumes from the start costs the
others more than its own sends.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_right
from collections.abc import Callable

from dyadscope.stream.bus import Bus, Message

log = logging.getLogger(__name__)

#: Messages read from the bus per step, and the wait for new ones (seconds).
READ_BATCH = 256
POLL_S = 15.0


class Fanout:
    """A topic's newest ``maxlen`` messages as text, followed from the bus.

    ``encode`` turns a message into its text, or None to leave it out (a
    message not for this audience; cursors still move past it).
    """

    def __init__(self, bus: Bus, topic: str, encode: Callable[[Message], str | None], maxlen: int):
        self._bus, self.topic, self._encode, self._maxlen = bus, topic, encode, maxlen
        self._ids: list[int] = []
        self._texts: list[str | None] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Why the fan-out stopped following its topic (None while it follows).
        self.ended: str | None = None

    @property
    def last_id(self) -> int:
        """The newest id taken from the bus so far (0 before the first)."""
        return self._ids[-1] if self._ids else 0

    def start(self) -> None:
        """Follow the topic from its oldest retained message (call on the event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name=f"fanout {self.topic}")

    def end(self, reason: str) -> None:
        """Stop following (the topic was deleted, or the bus failed); waiting clients wake."""
        if self.ended is None:
            self.ended = reason
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._wake()

    async def _follow(self) -> None:
        try:
            first, _ = await self._bus.bounds(self.topic)
            cursor = max(first - 1, 0)
            while self.ended is None:
                batch = await self._bus.read(self.topic, cursor, limit=READ_BATCH, timeout=POLL_S)
                if batch:
                    cursor = batch[-1][0]
                    self._append(batch)
                    await asyncio.sleep(0)  # a full log is taken in steps, between other work
        except Exception as exc:  # the bus failed: clients are told to come back later
            log.warning("event fan-out stopped: the bus failed (%s)", type(exc).__name__)
            self.end("the event log is unavailable")

    def _append(self, batch: list[tuple[int, Message]]) -> None:
        for msg_id, message in batch:
            self._ids.append(msg_id)
            self._texts.append(self._encode(message))
        excess = len(self._ids) - self._maxlen
        if excess > self._maxlen // 8:  # trim in steps, not per message
            del self._ids[:excess], self._texts[:excess]
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def after(self, cursor: int, limit: int, max_chars: int) -> tuple[list[str], int]:
        """The texts after ``cursor``, oldest first, and the cursor past them.

        At most ``limit`` messages and, beyond the first, ``max_chars``
        characters. A cursor older than the retained messages starts at the
        oldest (the client sees a jump in ids).
        """
        start = bisect_right(self._ids, cursor)
        end = min(start + limit, len(self._ids))
        texts: list[str] = []
        chars = 0
        for i in range(start, end):
            text = self._texts[i]
            if text is not None:
                if texts and chars + len(text) > max_chars:
                    end = i
                    break
                texts.append(text)
                chars += len(text)
        return texts, (self._ids[end - 1] if end > start else cursor)

    async def wait(self, cursor: int) -> None:
        """Return once a message after ``cursor`` is held, or the fan-out has ended."""
        while self.last_id <= cursor and self.ended is None:
            await self._changed.wait()
