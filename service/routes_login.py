"""Logging in and out: ``POST /api/login``, ``POST /api/logout``, ``GET /api/me``.

``POST /api/login`` takes ``{"name", "password"}`` and answers the user's
name and role with the session cookie of :mod:`dyadscope.service.web_sessions`
(401 for a wrong name or password, 429 while the name is locked, 409 when the
service has no accounts and runs on its shared token). Every attempt is
audited, never the password.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from dyadscope.service.access import Principal
from dyadscope.service.auth import audit, authenticated
from dyadscope.service.web_sessions import COOKIE

router = APIRouter(prefix="/api")


class LoginRequest(BaseModel):
    """Body of ``POST /api/login``."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login")
async def login(body: LoginRequest, request: Request, response: Response) -> dict[str, Any]:
    state = request.app.state
    if not state.users.any():
        raise HTTPException(status_code=409, detail="this service has no accounts: use its access token")
    known = state.users.get(body.name) is not None
    request.state.principal = Principal(body.name if known else "unknown user", "-")
    if state.web_sessions.locked(body.name):
        audit(request, "login", status="locked")
        raise HTTPException(status_code=429, detail="too many wrong passwords: try again in 15 minutes")
    user = await asyncio.to_thread(state.users.authenticate, body.name, body.password)  # Argon2: ~50 ms of CPU
    if user is None:
        state.web_sessions.failed(body.name)
        audit(request, "login", status="refused")
        raise HTTPException(status_code=401, detail="wrong name or password")
    state.web_sessions.succeeded(user.name)
    sid = state.web_sessions.create(user.name)
    response.set_cookie(
        COOKIE, sid, httponly=True, secure=state.config.tls, samesite="strict", path="/",
        max_age=int(state.web_sessions.lifetime_s),
    )  # fmt: skip
    audit(request, "login", status="ok")
    return {"name": user.name, "role": user.role}


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, _: Annotated[Principal, Depends(authenticated)]) -> None:
    request.app.state.web_sessions.end(request.cookies.get(COOKIE))
    response.delete_cookie(COOKIE, path="/")
    audit(request, "logout")


@router.get("/me")
async def me(principal: Annotated[Principal, Depends(authenticated)]) -> dict[str, str]:
    """Who this request is logged in as."""
    return {"name": principal.name, "role": principal.role}
