"""``/api/rigs``: saved rig profiles; ``/api/streams``: what is on the LSL network, and who holds it.

* ``GET /api/rigs`` — every profile as ``{name: selection}``.
* ``GET /api/rigs/{name}`` / ``PUT /api/rigs/{name}`` — one profile
  (``{"streams": [...], "assign": [...], "required": [...]}``, see
  :mod:`dyadscope.stream.selection`), saved as ``<data_dir>/rigs/NAME.json`` (0600).
* ``GET /api/streams`` — every visible stream's short header (no inlet is
  opened) with ``session``: the session that holds it, or None.

Rig actions (``rigs.read``, ``rigs.save``: admins and assistants); audited.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from dyadscope.service.access import Principal
from dyadscope.service.auth import audit, authenticated
from dyadscope.service.rigs import ProfileMissing
from dyadscope.service.routes_sessions import Manager, permitted
from dyadscope.stream.selection import SelectionError, StreamSelection

router = APIRouter(dependencies=[Depends(authenticated)])


class ProfileBody(BaseModel):
    """A rig profile (see :mod:`dyadscope.stream.selection`)."""

    streams: list[str] = Field(default_factory=list, max_length=64)
    assign: list[str] = Field(default_factory=list, max_length=64)
    required: list[str] = Field(default_factory=list, max_length=16)


@router.get("/api/rigs")
async def list_profiles(
    request: Request, manager: Manager, _: Annotated[Principal, Depends(permitted("rigs.read"))]
) -> dict[str, Any]:
    audit(request, "rigs.read")
    profiles = manager.profiles
    found: dict[str, Any] = {}
    for name in await asyncio.to_thread(profiles.names):
        try:
            found[name] = (await asyncio.to_thread(profiles.load, name)).to_json()
        except SelectionError:  # a hand-edited file gone wrong: left out, the single GET says why
            continue
    return found


@router.get("/api/rigs/{name}")
async def get_profile(
    name: str, request: Request, manager: Manager, _: Annotated[Principal, Depends(permitted("rigs.read"))]
) -> dict[str, Any]:
    audit(request, "rigs.read")
    try:
        return (await asyncio.to_thread(manager.profiles.load, name)).to_json()
    except ProfileMissing as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except SelectionError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.put("/api/rigs/{name}")
async def save_profile(
    name: str,
    body: ProfileBody,
    request: Request,
    manager: Manager,
    _: Annotated[Principal, Depends(permitted("rigs.save"))],
) -> dict[str, Any]:
    try:
        selection = StreamSelection(tuple(body.streams), tuple(body.assign), tuple(body.required))
        await asyncio.to_thread(manager.profiles.save, name, selection)
    except SelectionError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    audit(request, "rigs.save")
    return selection.to_json()


@router.get("/api/streams")
async def network_streams(
    request: Request, manager: Manager, _: Annotated[Principal, Depends(permitted("rigs.read"))]
) -> list[dict[str, Any]]:
    from dyadscope.sensors.lsl import visible_streams

    audit(request, "streams.list")
    found = await asyncio.to_thread(visible_streams, 1.0)
    return [{**s, "session": manager.claims.owner(s["source_id"] or s["name"])} for s in found]
