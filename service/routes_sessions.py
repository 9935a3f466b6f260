"""``/api/sessions``: open, list, inspect and stop sessions; baseline, markers, recording.

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

Every route needs a login or token (:func:`~dyadscope.service.auth.authenticated`)
and the permission for its action (:mod:`dyadscope.service.access`; 403
otherwise), and is audited; the sessions are the app's ``app.state.manager``.

While the event bus (Redis) is down, creating a session and the commands
(baseline, marker) answer 503 with the reason and do nothing, so a client
retries instead of believing a command that no monitor would see; a command
answered 202 is recorded and reaches the bus, if need be once it is back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from dyadscope.sensors.lsl import local_clock
from dyadscope.service.access import Principal, allowed
from dyadscope.service.auth import audit, authenticated
from dyadscope.service.config import Config
from dyadscope.service.recording import RecordingBusy
from dyadscope.service.session import Session
from dyadscope.service.sessions import SessionError, SessionExists, SessionManager
from dyadscope.stream import kinds
from dyadscope.stream.types import ROLES, Feature, Role
from dyadscope.xdf.recorder import RecordingError


class SessionRequest(BaseModel):
    """Body of ``POST /api/sessions``."""

    id: str = Field(description="1-64 letters, digits, '_' or '-'")
    lsl: bool = Field(default=True, description="ingest the LSL streams that can be assigned")
    participants: dict[Role, str] = Field(
        default_factory=dict,
        description="pseudonymous participant id per role, for within-person history (never names)",
    )
    therapists: list[str] = Field(
        default_factory=list, max_length=8, description="user names of the therapists who may see and run it"
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


def _manager(request: Request) -> SessionManager:
    return request.app.state.manager


def _config(request: Request) -> Config:
    return request.app.state.config


def permitted(action: str) -> Callable[..., Any]:
    """A dependency: 403 unless the request's principal may do ``action`` (a session-less one); audits it."""

    def check(request: Request, principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if not allowed(principal, action):
            audit(request, action, status="refused")
            raise HTTPException(status_code=403, detail=f"a {principal.role} may not do {action}")
        return principal

    return check


def session_for(action: str) -> Callable[..., Any]:
    """A dependency: the running session of the path (404), if the principal may do ``action`` on it (403); audits."""

    def check(
        session_id: str,
        request: Request,
        manager: Annotated[SessionManager, Depends(_manager)],
        principal: Annotated[Principal, Depends(authenticated)],
    ) -> Session:
        session = manager.get(session_id)
        if session is None:
            raise HTTPException(status_code=404, detail="no such session")
        if not allowed(principal, action, session.therapists):
            audit(request, action, session.id, status="refused")
            raise HTTPException(status_code=403, detail=f"this {principal.role} may not do {action} in this session")
        audit(request, action, session.id)
        return session

    return check


Manager = Annotated[SessionManager, Depends(_manager)]

router = APIRouter(prefix="/api/sessions", dependencies=[Depends(authenticated)])


@router.get("")
async def list_sessions(
    request: Request, manager: Manager, principal: Annotated[Principal, Depends(permitted("sessions.list"))]
) -> list[dict[str, Any]]:
    audit(request, "sessions.list")
    return [s.describe() for s in manager.all() if allowed(principal, "session.view", s.therapists)]


@router.post("", status_code=201, dependencies=[Depends(permitted("session.create"))])
async def create_session(request: Request, body: SessionRequest, manager: Manager) -> dict[str, Any]:
    users = request.app.state.users
    for name in body.therapists:
        user = users.get(name)
        if users.any() and (user is None or user.role != "therapist"):
            raise HTTPException(status_code=422, detail=f"{name!r} is not a therapist's user name")
    try:
        session = await manager.create(
            body.id, lsl=body.lsl, participants=body.participants, therapists=tuple(body.therapists)
        )
    except SessionExists as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except SessionError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    audit(request, "session.create", session.id)
    return session.describe()


@router.get("/{session_id}")
async def get_session(session: Annotated[Session, Depends(session_for("session.view"))]) -> dict[str, Any]:
    return session.describe()


@router.delete("/{session_id}", status_code=204)
async def stop_session(session: Annotated[Session, Depends(session_for("session.stop"))], manager: Manager) -> None:
    await manager.stop(session.id)


@router.post("/{session_id}/baseline", status_code=202)
async def start_baseline(
    body: BaselineRequest,
    session: Annotated[Session, Depends(session_for("baseline.start"))],
    config: Annotated[Config, Depends(_config)],
    manager: Manager,
) -> dict[str, Any]:
    data = {"duration_s": body.duration_s or config.baseline_s, "roles": body.roles}
    await manager.bus.check()
    await session.publish([Feature(kinds.BASELINE_START, None, local_clock(), data)])
    return data


@router.post("/{session_id}/markers", status_code=202)
async def add_marker(
    body: MarkerRequest, session: Annotated[Session, Depends(session_for("marker.add"))], manager: Manager
) -> dict[str, Any]:
    t = local_clock()  # the audit has the action, not the text: it may describe the patient
    await manager.bus.check()
    await session.publish([Feature(kinds.MARKER, None, t, {"text": body.text})])
    return {"t": t, "text": body.text}


@router.post("/{session_id}/recording", status_code=201)
async def start_recording(
    body: RecordingRequest, session: Annotated[Session, Depends(session_for("recording.start"))], manager: Manager
) -> dict[str, Any]:
    try:
        return await manager.start_recording(session.id, subject=body.subject, session=body.session, task=body.task)
    except RecordingBusy as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except RecordingError as exc:
        raise HTTPException(status_code=507, detail=str(exc)) from None


@router.delete("/{session_id}/recording")
async def stop_recording(
    session: Annotated[Session, Depends(session_for("recording.stop"))], manager: Manager
) -> dict[str, Any]:
    return await manager.stop_recording(session.id)
