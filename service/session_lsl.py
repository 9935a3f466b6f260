"""Feeding a session from LSL: its ingest, its recording, and the rig's preview of every stream."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from dyadscope.service.preview import StreamPreview
from dyadscope.service.session import Session
from dyadscope.stream import kinds
from dyadscope.stream.selection import StreamClaims
from dyadscope.stream.types import Chunk, StreamInfo


def _session_clock() -> float:
    from dyadscope.sensors.lsl import local_clock  # loads liblsl only when needed

    return local_clock()


def attach_lsl(
    session: Session,
    assign: tuple[str, ...] = (),
    select: Callable[[StreamInfo], bool] | None = None,
    *,
    claims: StreamClaims | None = None,
) -> None:
    """Feed a session from the LSL streams its selection takes and that can be assigned a role and modality.

    ``assign`` (the service's) and the session's own ``selection.assign``
    are the ingest's overrides; ``claims`` keeps other sessions' streams out
    (owner: the session's id). Every chunk and status also goes to the
    session's recording (which keeps only what arrives while it records): the
    chunk before it is queued for processing, in the ingest's thread. Each
    stream's :class:`StreamPreview` becomes a ``stream_preview`` event every
    half second of its data.
    """
    from dyadscope.sensors.lsl import LslIngest

    recording = session.recording.lsl
    previews: dict[str, StreamPreview] = {}
    lock = threading.Lock()

    def on_chunk(chunk: Chunk) -> None:
        recording.on_chunk(chunk)
        with lock:
            preview = previews.setdefault(chunk.info.key, StreamPreview(chunk.info))
        data = preview.add(chunk)
        if data is not None:
            session.report(kinds.STREAM_PREVIEW, chunk.info, t=float(chunk.timestamps[-1]), **data)
        session.submit(chunk)

    def on_status(kind: str, info: StreamInfo, data: dict) -> None:
        recording.on_status(kind, info, data)
        if kind in (kinds.STREAM_FOUND, kinds.STREAM_RETURNED):
            session.stream_seen(info)
        elif kind == kinds.STREAM_UNASSIGNED:
            session.stream_unassigned(info)
        logged = {k: v for k, v in data.items() if k != "xml"}  # the sender's header is for the file only
        session.report(kind, info, t=_session_clock(), **logged)

    ingest = LslIngest(
        on_chunk=on_chunk,
        on_status=on_status,
        overrides=(*assign, *session.selection.assign),
        select=select,
        selection=session.selection,
        claims=claims,
        owner=session.id,
    )
    session.ingest = ingest
    ingest.start()
    session.on_stop(lambda: asyncio.to_thread(ingest.stop))
