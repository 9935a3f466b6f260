"""The HTTP and websocket API, and the pages.

* ``GET /api/health`` — liveness.
* ``GET /api/sessions``, ``POST /api/sessions``, ``GET /api/sessions/{id}``,
  ``DELETE /api/sessions/{id}`` (stop it).
* ``POST /api/sessions/{id}/baseline`` — start the resting baseline phase.
* ``POST /api/sessions/{id}/markers`` — a research assistant's marker.
* ``POST /api/sessions/{id}/recording`` — start recording the session into
  ``<data_dir>/recordings`` (body: ``subject``, ``session``, optional
  ``task``; 409 if already recording, 422 for a label that is not letters
  and digits, 507 if the file cannot be created); ``DELETE`` stops it. The
  state (``recording``, ``path`` relative to the recordings folder,
  ``started``, ``error``) is in ``GET /api/sessions/{id}`` as ``recording``.
* ``POST /api/sessions/{id}/webrtc/offer`` and ``GET /capture`` — cameras and
  microphones (see :mod:`dyadscope.service.routes_webrtc`).
* ``WS /ws/sessions/{id}?after=SEQ`` — the session's events as JSON, every
  event with ``seq > after`` (default 0: all that the log still holds), then
  live ones. A monitor that reconnects passes the last ``seq`` it saw and gets
  exactly what it missed, nothing twice.
* ``/`` (the therapist's monitor), ``/rig`` (the research assistant's
  controls) and ``/static``.

Every API call needs the service's access token in an ``Authorization:
Bearer`` header, unless auth was disabled on a loopback host; never in a URL,
where proxies and browser history keep it. A websocket takes the header too,
or, from a browser (which cannot set one), a first message ``{"type": "auth",
"token": ...}`` within :data:`AUTH_TIMEOUT_S`. A browser connecting from a
page of another origin is refused (close code 4403), so no web page the
therapist happens to open can read a session.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from dyadscope.models.engine import ModelEngine
from dyadscope.sensors.lsl import local_clock
from dyadscope.stream.events import events_topic
from dyadscope.xdf.recorder import RecordingError
from dyadscope.stream.types import ROLES, Feature, Role
from dyadscope.stream.wire import to_json

from dyadscope.service.config import Config
from dyadscope.service.recording import RecordingBusy
from dyadscope.service.routes_kinds import kinds_router
from dyadscope.service.routes_webrtc import WebRtcHub, create_webrtc_router
from dyadscope.service.sessions import SessionError, SessionManager

log = logging.getLogger(__name__)

#: Websocket close codes (4000-4999 are for applications).
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNKNOWN_SESSION = 4404
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_FORBIDDEN_ORIGIN = 4403
#: How long a websocket client may take to send its auth message.
AUTH_TIMEOUT_S = 5.0
#: A client that has not taken a message for this long is dropped; it will
#: reconnect and resume from its last ``seq``.
SEND_TIMEOUT_S = 10.0
#: Events read from the log per step for one connection.
READ_BATCH = 256

STATIC_DIR = files("dyadscope.client") / "static"


class SessionRequest(BaseModel):
    """Body of ``POST /api/sessions``."""

    id: str = Field(description="1-64 letters, digits, '_' or '-'")
    lsl: bool = Field(default=True, description="ingest the LSL streams that can be assigned")
    participants: dict[Role, str] = Field(
        default_factory=dict,
        description="pseudonymous participant id per role, for within-person history (never names)",
    )


class BaselineRequest(BaseModel):
    """Body of ``POST /api/sessions/{id}/baseline``."""

    duration_s: float | None = Field(default=None, gt=0, le=3600, description="default: the service's baseline_s")
    roles: list[Role] = Field(default_factory=lambda: list(ROLES), min_length=1)


class RecordingRequest(BaseModel):
    """Body of ``POST /api/sessions/{id}/recording``: the BIDS labels of the file."""

    subject: str = Field(description="pseudonymous participant id, letters and digits (never a name)")
    session: str = Field(description="session label, letters and digits (e.g. 3)")
    task: str = Field(default="therapy", description="task label, letters and digits")


class MarkerRequest(BaseModel):
    """Body of ``POST /api/sessions/{id}/markers``."""

    text: str = Field(min_length=1, max_length=200, description="e.g. 'patient cries', 'door opened'")


def _token_ok(config: Config, presented: str | None) -> bool:
    if not config.auth_enabled:
        return True
    return presented is not None and hmac.compare_digest(presented.encode(), config.token.encode())


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def _same_origin(websocket: WebSocket) -> bool:
    """Whether the handshake came from one of our own pages (or from no page at all)."""
    origin = websocket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("host")


async def _auth_message(websocket: WebSocket) -> str | None:
    """The token of a first ``{"type": "auth", "token": ...}`` message, if one comes in time."""
    try:
        message = json.loads(await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S))
    except (TimeoutError, ValueError, KeyError, WebSocketDisconnect, RuntimeError):
        return None
    if isinstance(message, dict) and message.get("type") == "auth" and isinstance(message.get("token"), str):
        return message["token"]
    return None


def create_app(config: Config, manager: SessionManager) -> FastAPI:
    """The service's ASGI app; ``manager`` owns the sessions and their bus."""

    webrtc = WebRtcHub(
        lambda session_id: (s := manager.get(session_id)) and s.publish,
        lambda: ModelEngine.from_dir(config.model_dir),
    )
    manager.stop_hooks.append(webrtc.close_session)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await manager.stop_all()
        await webrtc.close()

    app = FastAPI(title="DyadScope", version="0.1.0", lifespan=lifespan)
    app.state.webrtc = webrtc

    def require_token(request: Request) -> None:
        if not _token_ok(config, _bearer(request.headers.get("authorization"))):
            raise HTTPException(status_code=401, detail="missing or wrong access token")

    def session_or_404(session_id: str):
        session = manager.get(session_id)
        if session is None:
            raise HTTPException(status_code=404, detail=f"no session {session_id!r}")
        return session

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "sessions": len(manager.all())}

    @app.get("/api/sessions", dependencies=[Depends(require_token)])
    async def list_sessions() -> list[dict[str, Any]]:
        return [s.describe() for s in manager.all()]

    @app.post("/api/sessions", status_code=201, dependencies=[Depends(require_token)])
    async def create_session(body: SessionRequest) -> dict[str, Any]:
        try:
            session = await manager.create(body.id, lsl=body.lsl, participants=body.participants)
        except SessionError as exc:
            raise HTTPException(status_code=409 if "exists" in str(exc) else 422, detail=str(exc)) from None
        return session.describe()

    @app.get("/api/sessions/{session_id}", dependencies=[Depends(require_token)])
    async def get_session(session_id: str) -> dict[str, Any]:
        return session_or_404(session_id).describe()

    @app.delete("/api/sessions/{session_id}", status_code=204, dependencies=[Depends(require_token)])
    async def stop_session(session_id: str) -> None:
        session_or_404(session_id)
        await manager.stop(session_id)

    @app.post("/api/sessions/{session_id}/baseline", status_code=202, dependencies=[Depends(require_token)])
    async def start_baseline(session_id: str, body: BaselineRequest) -> dict[str, Any]:
        duration = body.duration_s or config.baseline_s
        data = {"duration_s": duration, "roles": body.roles}
        await session_or_404(session_id).publish([Feature("baseline_start", None, local_clock(), data)])
        return data

    @app.post("/api/sessions/{session_id}/markers", status_code=202, dependencies=[Depends(require_token)])
    async def add_marker(session_id: str, body: MarkerRequest) -> dict[str, Any]:
        t = local_clock()
        await session_or_404(session_id).publish([Feature("marker", None, t, {"text": body.text})])
        return {"t": t, "text": body.text}

    @app.post("/api/sessions/{session_id}/recording", status_code=201, dependencies=[Depends(require_token)])
    async def start_recording(session_id: str, body: RecordingRequest) -> dict[str, Any]:
        session_or_404(session_id)
        try:
            return await manager.start_recording(session_id, subject=body.subject, session=body.session, task=body.task)
        except RecordingBusy as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except RecordingError as exc:
            raise HTTPException(status_code=507, detail=str(exc)) from None

    @app.delete("/api/sessions/{session_id}/recording", dependencies=[Depends(require_token)])
    async def stop_recording(session_id: str) -> dict[str, Any]:
        session_or_404(session_id)
        return await manager.stop_recording(session_id)

    @app.websocket("/ws/sessions/{session_id}")
    async def session_events(websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        if not _same_origin(websocket):
            await websocket.close(CLOSE_FORBIDDEN_ORIGIN, "connections from other sites are refused")
            return
        presented = _bearer(websocket.headers.get("authorization"))
        if presented is None and config.auth_enabled:
            presented = await _auth_message(websocket)
        if not _token_ok(config, presented):
            await websocket.close(CLOSE_UNAUTHORIZED, "missing or wrong access token")
            return
        if manager.get(session_id) is None:
            await websocket.close(CLOSE_UNKNOWN_SESSION, f"no session {session_id!r}")
            return
        after_raw = websocket.query_params.get("after", "0")
        if not after_raw.isdigit() or len(after_raw) > 18:
            await websocket.close(CLOSE_BAD_REQUEST, "after must be a non-negative integer sequence number")
            return
        await _stream_events(websocket, manager, session_id, int(after_raw), config.max_client_message)

    app.include_router(kinds_router)  # the codebook: documentation, no token
    app.include_router(create_webrtc_router(webrtc, dependencies=[Depends(require_token)]))
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/", include_in_schema=False)
    async def monitor_page() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "monitor.html"))

    @app.get("/rig", include_in_schema=False)
    async def rig_page() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "rig.html"))

    return app


async def _stream_events(
    websocket: WebSocket, manager: SessionManager, session_id: str, after: int, max_message: int
) -> None:
    """Send every event after ``after``, then live ones, until the client leaves.

    Each connection only holds a cursor into the session's bounded log, so a
    slow tablet falls behind on its own and never stalls the others; one that
    stops taking messages for ``SEND_TIMEOUT_S`` is closed and resumes later.
    """
    topic = events_topic(session_id)
    _, last = await manager.bus.bounds(topic)
    if after > last:
        await websocket.close(CLOSE_BAD_REQUEST, f"after={after} is beyond the last event ({last}); resume with after=0")
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
                await asyncio.wait_for(websocket.send_text(to_json(event)), SEND_TIMEOUT_S)
                cursor = seq
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
