"""``WS /ws/sessions/{id}?after=SEQ``: a session's events as JSON, resumable.

The socket gets every event with ``seq > after`` (default 0: all that the log
still holds), then live ones. A monitor that reconnects passes the last
``seq`` it saw and gets exactly what it missed, nothing twice. Each message
is one event, or with ``batch=1`` a JSON array of events (oldest first, at
most :data:`~dyadscope.service.event_feed.FRAME_EVENTS`). The handshake
is checked by :mod:`dyadscope.service.auth` (token by header or first
message) after :mod:`dyadscope.service.request_guard` (host and origin);
refusals close with the codes below. While the event bus (Redis) is
unavailable, sockets close with 1013 ("try again later") and resume when the
client reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from dyadscope.service.access import Principal, allowed
from dyadscope.service.auth import audit, websocket_principal
from dyadscope.service.event_feed import EventFeeds
from dyadscope.service.sessions import SessionManager
from dyadscope.stream.bus import BusUnavailable
from dyadscope.stream.events import events_topic

#: Websocket close codes (4000-4999 are for applications).
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNKNOWN_SESSION = 4404
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_FORBIDDEN = 4403
#: "Try Again Later": the event bus (Redis) is unavailable. Not 1012
#: ("Service Restart"): this service keeps running, only its bus is away, and
#: a client that reconnects with ``after=<last seq>`` misses nothing.
CLOSE_TRY_AGAIN = 1013

_SEQ = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also takes '²'

router = APIRouter()


@router.websocket("/ws/sessions/{session_id}")
async def session_events(websocket: WebSocket, session_id: str) -> None:
    """Check the handshake, then stream the session's events (see the module docstring)."""
    manager = websocket.app.state.manager
    await websocket.accept()
    after_raw = websocket.query_params.get("after", "0")
    try:
        principal = await websocket_principal(websocket)
        session = manager.get(session_id)
        if principal is None:
            await websocket.close(CLOSE_UNAUTHORIZED, "log in, or give a valid access token")
        elif session is None:
            await websocket.close(CLOSE_UNKNOWN_SESSION, "no such session")
        elif not allowed(principal, "events.read", session.therapists):
            audit(websocket, "events.read", session_id, status="refused")
            await websocket.close(CLOSE_FORBIDDEN, f"a {principal.role} may not read this session's events")
        elif not _SEQ.fullmatch(after_raw):
            await websocket.close(CLOSE_BAD_REQUEST, "after must be a non-negative integer sequence number")
        else:
            audit(websocket, "events.read", session_id, after=int(after_raw))
            after = int(after_raw)
            await _stream_events(websocket, websocket.app.state.feeds, manager, session_id, after, principal)
    except BusUnavailable:  # the bus logged the outage once
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(CLOSE_TRY_AGAIN, "event bus unavailable; reconnect with after=<last seq>")
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client left before its refusal (or mid-stream): nothing to tell it


async def _stream_events(
    websocket: WebSocket, feeds: EventFeeds, manager: SessionManager, session_id: str, after: int, principal: Principal
) -> None:
    """Send every event after ``after``, then live ones, until the client leaves.

    Events come pre-encoded from the session's fan-out (see
    :mod:`~dyadscope.service.event_feed`); ``?batch=1`` asks for messages that
    are JSON arrays of events. A client too slow to read is closed with 1013
    by the server's pings (see :mod:`~dyadscope.service.ws_protocol`).
    """
    topic = events_topic(session_id)
    _, last = await manager.bus.bounds(topic)
    if (session := manager.get(session_id)) is not None:  # its numbering outlives a Redis that restarted empty
        last = max(last, session.log.last_seq)
    if after > last:
        await websocket.close(
            CLOSE_BAD_REQUEST, f"after={after} is beyond the last event ({last}); resume with after=0"
        )
        return
    batched = websocket.query_params.get("batch") == "1"
    fanout = feeds.feed(session_id, principal)
    listener = asyncio.create_task(_watch_client(websocket, manager.config.max_client_message))
    sender = asyncio.create_task(feeds.send(fanout, after, websocket.send_text, batched=batched))
    try:
        await asyncio.wait({listener, sender}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done():
            ended = sender.result()  # a failed send raises here
            if manager.get(session_id) is None:
                await websocket.close(1001, "session ended")
            else:  # the bus failed: come back later
                await websocket.close(CLOSE_TRY_AGAIN, f"{ended}; reconnect with after=<last seq>")
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client left mid-send
    finally:
        listener.cancel()
        sender.cancel()


async def _watch_client(websocket: WebSocket, max_message: int) -> None:
    """Wait for the client to leave; close it if it sends something oversized.

    Clients have nothing to say on this socket; anything they send is read
    and dropped so the connection's buffers stay bounded.
    """
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            payload = message.get("text") or message.get("bytes") or b""
            if len(payload) > max_message:
                await websocket.close(CLOSE_MESSAGE_TOO_BIG, "message too big")
                return
    except (WebSocketDisconnect, RuntimeError):
        return
