"""``WS /ws/sessions/{id}?after=SEQ``: a session's events as JSON, resumable.

The socket gets every event with ``seq > after`` (default 0: all that the log
still holds), then live ones. A monitor that reconnects passes the last
``seq`` it saw and gets exactly what it missed, nothing twice. The handshake
is checked by :mod:`dyadscope.service.auth` (token by header or first
message) after :mod:`dyadscope.service.request_guard` (host and origin);
refusals close with the codes below. While the event bus (Redis) is
unavailable, sockets close with 1013 ("try again later") and resume when the
client reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from dyadscope.service.access import Principal, allowed, visible_to
from dyadscope.service.auth import audit, websocket_principal
from dyadscope.service.sessions import SessionManager
from dyadscope.stream.bus import BusUnavailable
from dyadscope.stream.events import events_topic
from dyadscope.stream.wire import to_json

log = logging.getLogger(__name__)

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
#: A client that has not taken a message for this long is dropped; it will
#: reconnect and resume from its last ``seq``.
SEND_TIMEOUT_S = 10.0
#: Events read from the log per step for one connection.
READ_BATCH = 256

_SEQ = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also takes '²'

router = APIRouter()


@router.websocket("/ws/sessions/{session_id}")
async def session_events(websocket: WebSocket, session_id: str) -> None:
    """Check the handshake, then stream the session's events (see the module docstring)."""
    config, manager = websocket.app.state.config, websocket.app.state.manager
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
            await _stream_events(websocket, manager, session_id, after, config.max_client_message, principal)
    except BusUnavailable:  # the bus logged the outage once
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(CLOSE_TRY_AGAIN, "event bus unavailable; reconnect with after=<last seq>")
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client left before its refusal (or mid-stream): nothing to tell it


async def _stream_events(
    websocket: WebSocket, manager: SessionManager, session_id: str, after: int, max_message: int, principal: Principal
) -> None:
    """Send every event after ``after``, then live ones, until the client leaves.

    Each connection only holds a cursor into the session's bounded log, so a
    slow tablet falls behind on its own and never stalls the others; one that
    stops taking messages for ``SEND_TIMEOUT_S`` is closed and resumes later.
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
    listener = asyncio.create_task(_watch_client(websocket, max_message))
    cursor = after
    try:
        while not listener.done():
            reader = asyncio.create_task(manager.bus.read(topic, cursor, limit=READ_BATCH, timeout=15.0))
            await asyncio.wait({reader, listener}, return_when=asyncio.FIRST_COMPLETED)
            if not reader.done():
                reader.cancel()
                break
            for seq, event in reader.result():
                cursor = seq
                if (shown := visible_to(principal, event)) is not None:
                    await asyncio.wait_for(websocket.send_text(to_json(shown)), SEND_TIMEOUT_S)
            if manager.get(session_id) is None:
                await websocket.close(1001, "session ended")
                break
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client left mid-send
    except TimeoutError:
        log.info("websocket for session %s too slow; closing so it can resume", session_id)
        await websocket.close(1013, "client too slow; reconnect with after=<last seq>")
    finally:
        listener.cancel()


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
