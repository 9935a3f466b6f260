"""A session's events to many websockets: encoded once, sent in bounded batches.

Each session has one :class:`~dyadscope.stream.fanout.Fanout` per role (the
role decides what a client may see) in this process, created by the first
websocket that needs it and ended with the session. A connection's sender
takes the pre-encoded events after its cursor, at most ``FRAME_EVENTS`` (and
about ``FRAME_CHARS``) at a time. A sender with more waiting after its batch
is catching up (resuming from far back): it yields after each batch, so
however many monitors resume at once, a live one's next event waits behind
at most one batch of each, and a resuming one only takes the service's time
when its client has read what it was sent (the send buffers are small, see
:mod:`~dyadscope.service.ws_protocol`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dyadscope.service.access import Principal, visible_to
from dyadscope.stream.bus import Bus, Message
from dyadscope.stream.events import events_topic
from dyadscope.stream.fanout import Fanout
from dyadscope.stream.wire import to_json

#: Events per websocket message (batched clients), and about how many characters.
FRAME_EVENTS = 256
FRAME_CHARS = 65_536

#: Sends one message: a JSON array of events, or one event.
Send = Callable[[str], Awaitable[None]]


class EventFeeds:
    """The fan-outs of this process's sessions, by session and role."""

    def __init__(self, bus: Bus, maxlen: int):
        self._bus, self._maxlen = bus, maxlen
        self._feeds: dict[tuple[str, str], Fanout] = {}

    def feed(self, session_id: str, principal: Principal) -> Fanout:
        """The session's events as ``principal``'s role sees them (started on first use)."""
        key = (session_id, principal.role)
        fanout = self._feeds.get(key)
        if fanout is None or fanout.ended is not None:  # first use, or the bus failed: follow it afresh
            fanout = self._feeds[key] = Fanout(self._bus, events_topic(session_id), _encoder(principal), self._maxlen)
            fanout.start()
        return fanout

    async def end(self, session_id: str) -> None:
        """Forget a stopped session's fan-outs; their clients are told it ended (a session stop hook)."""
        for key in [k for k in self._feeds if k[0] == session_id]:
            self._feeds.pop(key).end("session ended")

    async def send(self, fanout: Fanout, after: int, send: Send, *, batched: bool) -> str:
        """Send every event after ``after``, then live ones, until the fan-out ends; returns why it ended.

        ``batched``: each message is a JSON array of events, oldest first;
        otherwise each message is one event.
        """
        cursor = after
        while True:
            texts, next_cursor = fanout.after(cursor, FRAME_EVENTS, FRAME_CHARS)
            if next_cursor == cursor:
                if fanout.ended is not None:
                    return fanout.ended
                await fanout.wait(cursor)
                continue
            await _send_texts(send, texts, batched)
            cursor = next_cursor
            if fanout.last_id > cursor:  # catching up: the others' turn before the next batch
                await asyncio.sleep(0)


async def _send_texts(send: Send, texts: list[str], batched: bool) -> None:
    if not texts:
        return
    if batched:
        await send(f"[{','.join(texts)}]")
    else:
        for text in texts:
            await send(text)


def _encoder(principal: Principal) -> Callable[[Message], str | None]:
    def encode(event: Message) -> str | None:
        shown = visible_to(principal, event)
        return None if shown is None else to_json(shown)

    return encode
