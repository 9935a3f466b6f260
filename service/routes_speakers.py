"""``/api/sessions/{id}/speakers``: who is speaking, enrolled from the rig.

* ``POST /api/sessions/{id}/speakers/enrol`` — ``role`` spoke alone over a
  window of the session clock: ``{"role", "start", "end"}`` (session seconds),
  ``{"role", "last_s": N}`` (the last N s, e.g. of the resting baseline) or
  ``{"role", "duration_s": N}`` (from now for N s). Held speech inside the
  window is enrolled at once, later speech as it comes; the reply is the
  person's enrolment so far (``speech_s``, ``partials``, ``windows``).
* ``GET /api/sessions/{id}/speakers`` — every person's enrolment.
* ``DELETE /api/sessions/{id}/speakers/{role}`` — forget a voice, to enrol it again.

Enrolling is a rig action (``speakers.enrol``: admin, assistant, the
session's own therapist; :mod:`dyadscope.service.access`). 503 while the
speaker encoder is not installed (``dyadscope models build``). The audit
has the action, never the times or the voice.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, model_validator

from dyadscope.models.library import ModelMissing
from dyadscope.perception.speaker_room import SpeakerRoom, Window
from dyadscope.service.auth import authenticated
from dyadscope.service.routes_sessions import session_for
from dyadscope.service.session import Session
from dyadscope.stream.types import Role

#: Longest enrolment window (s).
MAX_WINDOW_S = 600.0


class EnrolRequest(BaseModel):
    """Body of ``POST /api/sessions/{id}/speakers/enrol``: a person and one way to give the window."""

    role: Role
    start: float | None = Field(default=None, description="window start, session clock (s)")
    end: float | None = Field(default=None, description="window end, session clock (s)")
    last_s: float | None = Field(default=None, gt=0, le=MAX_WINDOW_S, description="the last N seconds")
    duration_s: float | None = Field(default=None, gt=0, le=MAX_WINDOW_S, description="from now for N seconds")

    @model_validator(mode="after")
    def _one_window(self) -> EnrolRequest:
        given = [self.start is not None or self.end is not None, self.last_s is not None, self.duration_s is not None]
        if sum(given) != 1:
            raise ValueError("give the window one way: start and end, last_s, or duration_s")
        if given[0] and (self.start is None or self.end is None or not 0 < self.end - self.start <= MAX_WINDOW_S):
            raise ValueError(f"start and end must both be given, end after start, at most {MAX_WINDOW_S:.0f} s apart")
        return self

    def window(self, now: float) -> Window:
        """The window on the session clock, ``now`` being the session clock's time."""
        if self.last_s is not None:
            return Window(self.role, now - self.last_s, now)
        if self.duration_s is not None:
            return Window(self.role, now, now + self.duration_s)
        return Window(self.role, self.start, self.end)


router = APIRouter(prefix="/api/sessions/{session_id}/speakers", dependencies=[Depends(authenticated)])


async def _room(request: Request, session: Session) -> SpeakerRoom:
    try:
        room = await request.app.state.webrtc.room(session.id)
    except ModelMissing as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    if room is None:
        raise HTTPException(status_code=503, detail="no speaker encoder installed: run dyadscope models build")
    return room


@router.post("/enrol")
async def enrol(
    body: EnrolRequest, request: Request, session: Annotated[Session, Depends(session_for("speakers.enrol"))]
) -> dict[str, Any]:
    room = await _room(request, session)
    window = body.window(request.app.state.webrtc.clock())
    enrolled = await asyncio.to_thread(room.enrol, window)  # runs the encoder on held speech
    return {"role": body.role, "start": window.start, "end": window.end, **enrolled}


@router.get("")
async def speakers(request: Request, session: Annotated[Session, Depends(session_for("session.view"))]) -> dict:
    return (await _room(request, session)).state()


@router.delete("/{role}", status_code=204)
async def forget(
    role: Role, request: Request, session: Annotated[Session, Depends(session_for("speakers.enrol"))]
) -> None:
    (await _room(request, session)).forget(role)
