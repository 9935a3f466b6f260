"""``/api/recordings``: the researcher's way to the recorded sessions.

* ``GET /api/recordings`` — every finished XDF file under
  ``<data_dir>/recordings``: its ``path`` (relative to that folder, the name
  to download it by), ``size_bytes``, ``modified`` (Unix s) and the
  ``session`` it recorded (from the file's header).
* ``GET /api/recordings/{path}`` — the file itself (``application/octet-stream``);
  404 for anything that is not a recording below the folder, 409 while it is
  still being recorded (its end is not written yet).

Both need the ``recordings.read`` permission (admins and researchers,
:mod:`dyadscope.service.access`) and are audited; a download by the hash of
the file's name, which holds the subject id (as ``dyadscope export`` does).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from dyadscope.service.auth import audit
from dyadscope.service.routes_sessions import permitted
from dyadscope.service.sessions import recordings_root

router = APIRouter(prefix="/api/recordings", tags=["recordings"], dependencies=[Depends(permitted("recordings.read"))])


def _recording_now(request: Request) -> set[Path]:
    """The files the running sessions are writing into."""
    root = recordings_root(request.app.state.config)
    paths = set()
    for session in request.app.state.manager.all():
        state = session.recording.describe()
        if state["recording"] and state["path"]:
            paths.add((root / state["path"]).resolve())
    return paths


def _session_of(path: Path) -> str | None:
    """The session a recording says it recorded; None for another tool's file or an unreadable header."""
    from dyadscope.xdf.reader import read_file_metadata

    try:
        return read_file_metadata(path).get("dyadscope_session")
    except (OSError, ValueError, SyntaxError):  # XdfFormatError, a torn chunk, XML ParseError
        return None


def _listing(root: Path, busy: set[Path]) -> list[dict[str, Any]]:
    """The finished recordings below ``root``, newest first."""
    found = []
    for path in root.rglob("*.xdf") if root.is_dir() else ():
        if path.resolve() in busy or not path.is_file():
            continue
        stat = path.stat()
        found.append(
            {
                "path": path.relative_to(root).as_posix(),
                "size_bytes": stat.st_size,
                "modified": stat.st_mtime,
                "session": _session_of(path),
            }
        )
    return sorted(found, key=lambda item: item["modified"], reverse=True)


@router.get("")
async def list_recordings(request: Request) -> list[dict[str, Any]]:
    root = recordings_root(request.app.state.config)
    found = await asyncio.to_thread(_listing, root, _recording_now(request))
    audit(request, "recordings.list")
    return found


@router.get("/{path:path}")
async def download_recording(path: str, request: Request) -> FileResponse:
    root = recordings_root(request.app.state.config).resolve()
    file = (root / path).resolve()
    if not file.is_relative_to(root) or file.suffix != ".xdf" or not file.is_file():
        raise HTTPException(status_code=404, detail="no such recording")
    if file in _recording_now(request):
        raise HTTPException(status_code=409, detail="still being recorded: stop the recording first")
    audit(request, "recording.download", file=hashlib.sha256(file.name.encode()).hexdigest()[:16])
    return FileResponse(str(file), media_type="application/octet-stream", filename=file.name)
